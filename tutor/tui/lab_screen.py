"""The RAG lab screen: the selected question with sources (left) and without (right).

The left side starts as the chat's answer; the knobs (k, leg, claim filter) and Ctrl+R re-run
it with other retrieval. The right side is the same model asked the bare question
(:func:`tutor.lab.bare_answer`). Figures and names in either answer are marked green when a
passage gives them and red when none does; the line at the bottom reads the difference.

Answers run in one thread worker (group ``lab``) that only posts :class:`~tutor.tui.messages.LabEvent`
messages; Esc stops it (and closes the screen when nothing runs).
"""
from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.worker import get_current_worker

from ..history import cited_numbers
from ..lab import difference, figures, given, names, supported
from . import messages as msg
from .knobs import RetrievalKnobs
from .panels import AnswerView, hit_dict

if TYPE_CHECKING:
    from ..pipeline import Event
    from .backend import Backend

SIDES = {"with": "With sources", "without": "Without sources (the bare model)"}


@dataclass
class Side:
    """One column of the lab: an answer as it streams, and what it was made from."""

    answer: str = ""
    sources: list[dict[str, Any]] = field(default_factory=list)
    prompt_tokens: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    model: str | None = None
    state: str = "waiting"  # waiting | running | done | stopped | error
    note: str = ""
    prompt: str = ""

    @classmethod
    def from_view(cls, view: AnswerView) -> Side:
        return cls(view.answer, list(view.sources), int(view.budget.get("prompt", 0)),
                   dict(view.timings), view.model, "done")

    def apply(self, event: Event) -> None:
        """Take in one answer event (:meth:`tutor.pipeline.Tutor.ask` or the bare answer's)."""
        from ..pipeline import Done, Notice, PromptReady, Retrieved, Token

        self.state = "running"
        if isinstance(event, Retrieved):
            self.sources = [hit_dict(h) for h in event.hits]
        elif isinstance(event, PromptReady):
            self.prompt_tokens, self.prompt = event.prompt_tokens, event.prompt
        elif isinstance(event, Token):
            self.answer += event.text
        elif isinstance(event, Notice):
            self.note = event.text
        elif isinstance(event, Done):
            self.answer, self.model, self.timings = event.answer, event.model, dict(event.timings)
            self.sources = [hit_dict(h) for h in event.sources]
            self.state = "stopped" if event.stopped_by == "cancelled" else "done"


def stream_side(backend: Backend, post: Callable[[Message], object], run: int, side: str,
                question: str, *, k: int, leg: str, claim: int | None, use_llm: bool,
                cancel: threading.Event) -> None:
    """In a thread worker: answer one side (``with``: the knobs' retrieval; ``without``: the
    bare model) and post each event as a :class:`~tutor.tui.messages.LabEvent`."""
    worker = get_current_worker()
    events = (backend.ask_tuned(question, k=k, leg=leg, claim=claim, use_llm=use_llm,
                                cancel=cancel) if side == "with"
              else backend.ask_bare(question, use_llm=use_llm, cancel=cancel))
    with contextlib.closing(events):  # type: ignore[type-var]
        for event in events:
            if worker.is_cancelled:
                cancel.set()
            post(msg.LabEvent(run, side, event))


def _plain(answer: str) -> str:
    """The answer without Markdown emphasis marks (the lab shows text, not Markdown)."""
    return re.sub(r"\*\*(.+?)\*\*|\*(.+?)\*", lambda m: m.group(1) or m.group(2), answer)


def marked(answer: str, passages: Sequence[str]) -> Text:
    """The answer with each figure and name marked: green when a passage gives it, red when not."""
    text = Text(_plain(answer))
    sources = given(passages)
    for term in figures(answer) + names(answer):
        style = "bold green" if supported(term, sources) else "bold red underline"
        text.highlight_regex(rf"(?<![A-Za-z0-9_.]){re.escape(term)}(?![A-Za-z0-9_])", style)
    return text


def meta_line(side: Side) -> Text:
    out = Text(style="dim")
    if side.state == "waiting":
        return Text("waiting…", style="dim italic")
    if side.state == "running" and not side.answer:
        out.append("thinking…", style="italic")
    out.append(side.model or "no model (retrieval only)")
    if side.prompt_tokens:
        out.append(f" · prompt {side.prompt_tokens} tokens")
    out.append(f" · {len(side.sources)} sources")
    if side.timings.get("total_ms"):
        out.append(f" · {side.timings['total_ms'] / 1000:.1f} s")
    if side.state == "stopped":
        out.append(" · stopped", style="yellow")
    return out


def sources_table(sources: Sequence[dict[str, Any]], answer: str = "") -> Table | Text:
    """The passages with each leg's rank side by side (why a passage won the fusion); ✓ marks
    the ones the answer cites."""
    if not sources:
        return Text("No passages.", style="dim")
    table = Table(box=None, padding=(0, 1), show_edge=False, header_style="bold", expand=True,
                  title="passages: rank in each leg, fused score (✓ cited)", title_style="dim",
                  title_justify="left")
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("passage", ratio=1, no_wrap=True, overflow="ellipsis")
    for name in ("dense", "BM25", "fused"):
        table.add_column(name, justify="right", no_wrap=True, min_width=5)
    cited = set(cited_numbers(answer))
    for src in sources:
        dense = f"#{src['dense_rank']}" if src.get("dense_rank") else "—"
        lexical = f"#{src['lexical_rank']}" if src.get("lexical_rank") else "—"
        if src.get("pinned"):
            dense = lexical = "pin"
        rank = int(src.get("rank") or 0)
        table.add_row(f"{'✓' if rank in cited else ''}[{rank}]", str(src.get("title", "")),
                      dense, lexical,
                      f"{float(src.get('score') or 0):.2f}")
    return table


def bare_prompt_text(prompt: str) -> Text:
    """The whole prompt the bare model got: no passages, nothing to cite."""
    if not prompt:
        return Text("")
    out = Text("the whole prompt (no passages, nothing to cite):\n", style="dim")
    out.append(prompt.strip(), style="dim italic")
    return out


class LabScreen(Screen[None]):
    """Compare without sources: the RAG lab for one question."""

    DEFAULT_CSS = """
    LabScreen #lab-title { padding: 0 1; text-style: bold; color: $text-accent; }
    LabScreen #lab-knobs { height: 3; padding: 0 1; }
    LabScreen #lab-knobs .hint { padding: 1 0 0 2; color: $text-muted; }
    LabScreen #lab-sides { height: 1fr; }
    LabScreen .lab-side { width: 1fr; height: 1fr; padding: 0 1; border: round $foreground 30%; }
    LabScreen .lab-side .side-title { text-style: bold; }
    LabScreen .lab-side .side-meta { color: $text-muted; }
    LabScreen .lab-side .side-note { color: $warning; }
    LabScreen .lab-side VerticalScroll { height: 1fr; }
    LabScreen .lab-side .side-sources, LabScreen .lab-side .side-prompt { margin: 1 0 0 0; }
    LabScreen #lab-difference { height: auto; padding: 0 1; border-top: solid $accent; }
    """

    BINDINGS = [
        Binding("escape", "stop_or_close", "Stop / back"),
        Binding("ctrl+r", "rerun", "Re-run with these knobs", priority=True),
    ]

    def __init__(self, backend: Backend, view: AnswerView, use_llm: bool, k: int) -> None:
        super().__init__()
        self.backend = backend
        self.question = view.question
        self.use_llm = use_llm
        self.sides = {"with": Side.from_view(view), "without": Side()}
        self.k = max(1, k)
        self._run = 0
        self._cancel: threading.Event | None = None

    # ------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield Static(Text.assemble("RAG lab  ", ("· " + self.question, "not bold")),
                     id="lab-title")
        with Horizontal(id="lab-knobs"):
            yield RetrievalKnobs(self.k)
            yield Static("Ctrl+R re-runs the left side with these knobs", classes="hint")
        with Horizontal(id="lab-sides"):
            for side, title in SIDES.items():
                with Vertical(classes="lab-side", id=f"side-{side}"):
                    yield Static(title, classes="side-title")
                    yield Static("", classes="side-meta")
                    yield Static("", classes="side-note")
                    with VerticalScroll():
                        yield Static("", classes="side-answer")
                        yield Static("", classes="side-sources" if side == "with"
                                     else "side-prompt")
        yield Static("", id="lab-difference")
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_side("with")
        self.start(["without"])

    # ------------------------------------------------------------ running

    @property
    def running(self) -> bool:
        return any(s.state in ("waiting", "running") for s in self.sides.values())

    def start(self, sides: list[str]) -> None:
        self._run += 1
        self._cancel = threading.Event()
        for name in sides:
            self.sides[name] = Side()
            self.refresh_side(name)
        self.query_one("#lab-difference", Static).update(
            Text("Answering… (Esc stops)", style="italic dim"))
        k, leg, claim = self.query_one(RetrievalKnobs).values()
        self.run_sides(self.backend, self._run, sides, self.question, k, leg, claim,
                       self.use_llm, self._cancel)

    @work(thread=True, exclusive=True, group="lab", name="lab")
    def run_sides(self, backend: Backend, run: int, sides: list[str], question: str, k: int,
                  leg: str, claim: int | None, use_llm: bool, cancel: threading.Event) -> None:
        from .chat import _describe

        for side in sides:
            if cancel.is_set():
                break
            try:
                stream_side(backend, self.post_message, run, side, question, k=k, leg=leg,
                            claim=claim, use_llm=use_llm, cancel=cancel)
            except Exception as exc:  # shown in the column; the screen stays up
                self.post_message(msg.LabFailed(run, side, _describe(exc)))

    def on_lab_event(self, message: msg.LabEvent) -> None:
        if message.run != self._run:
            return
        self.sides[message.side].apply(message.event)
        self.refresh_side(message.side)
        if not self.running:
            self.show_difference()

    def on_lab_failed(self, message: msg.LabFailed) -> None:
        if message.run != self._run:
            return
        side = self.sides[message.side]
        side.state, side.note = "error", f"error: {message.error}"
        self.refresh_side(message.side)
        if not self.running:
            self.show_difference()

    def action_rerun(self) -> None:
        if self.running:
            self.notify("Wait for the answers (or press Esc) before re-running.",
                        severity="warning")
            return
        self.start(["with"])

    def action_stop_or_close(self) -> None:
        if not self.running:
            self.dismiss()
            return
        if self._cancel is not None:
            self._cancel.set()
        self._run += 1  # late events of the stopped run are dropped
        for name, side in self.sides.items():
            if side.state in ("waiting", "running"):
                side.state = "stopped"
                self.refresh_side(name)
        self.show_difference()

    def on_unmount(self) -> None:
        if self._cancel is not None:
            self._cancel.set()

    # ------------------------------------------------------------ drawing

    def _source_texts(self) -> list[str]:
        return [str(s.get("text", "")) for s in self.sides["with"].sources]

    def refresh_side(self, name: str) -> None:
        side = self.sides[name]
        column = self.query_one(f"#side-{name}", Vertical)
        column.query_one(".side-meta", Static).update(meta_line(side))
        note = column.query_one(".side-note", Static)
        note.update(side.note)
        note.display = bool(side.note)
        answer = column.query_one(".side-answer", Static)
        if side.answer:
            answer.update(marked(side.answer, self._source_texts()))
        else:
            answer.update(Text("…" if side.state in ("waiting", "running") else "(no answer)",
                               style="dim"))
        if name == "with":
            column.query_one(".side-sources", Static).update(sources_table(side.sources, side.answer))
        else:
            column.query_one(".side-prompt", Static).update(bare_prompt_text(side.prompt))

    def show_difference(self) -> None:
        w, wo = self.sides["with"], self.sides["without"]
        diff = difference(w.answer, wo.answer, self._source_texts(), model=wo.model is not None)
        out = Text()
        out.append("Difference: ", style="bold")
        out.append(diff.summary)
        out.append("\n")
        out.append("green", style="bold green")
        out.append(": supported by a passage (or the system prompt) · ", style="dim")
        out.append("red", style="bold red underline")
        out.append(": nothing the model was given has it", style="dim")
        self.query_one("#lab-difference", Static).update(out)
