"""One question and its answer in the chat log, and the question box."""
from __future__ import annotations

import threading
from typing import Any

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Markdown, Static, TextArea
from textual.widgets.markdown import MarkdownStream

from ..history import Turn, cited_numbers
from .claims import claim as claim_info
from .panels import AnswerView


class PromptInput(TextArea):
    """The question box: Enter sends, Ctrl+J (or Shift+Enter) starts a new line."""

    BINDINGS = [
        Binding("enter", "submit", "Send", priority=False),
        Binding("ctrl+j", "newline", "New line", key_display="^j"),
    ]

    class Submitted(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id, soft_wrap=True, show_line_numbers=False, tab_behavior="focus",
                         placeholder="Ask about the eight claims, in English or Japanese…  "
                                     "(Enter sends · Ctrl+J new line)")

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            self.action_submit()
            return
        if event.key in ("ctrl+j", "shift+enter", "newline"):
            event.stop()
            event.prevent_default()
            self.action_newline()
            return
        await super()._on_key(event)

    def action_submit(self) -> None:
        self.post_message(self.Submitted(self.text))

    def action_newline(self) -> None:
        self.insert("\n")


STATE_NOTES = {
    "queued-loading": "◌ queued: the tutor is still loading; it will answer when ready",
    "queued": "◌ queued: waiting for the answer above",
    "retrieving": "◌ searching the sources…",
    "reading": "◌ the model is reading the prompt…",
    "streaming": "◌ writing… (Esc stops)",
}


class TurnView(Vertical):
    """A question, its answer (Markdown, streamed) and a line about sources and timing."""

    class Clicked(Message):
        def __init__(self, turn: TurnView) -> None:
            super().__init__()
            self.turn = turn

    def __init__(self, key: int, question: str, claim: int | None = None) -> None:
        super().__init__(classes="turn")
        self.key = key
        self.question = question
        self.claim = claim
        self.view = AnswerView(question=question, state="queued")
        self.streamed = ""
        self.notices: list[str] = []
        self.status = "pending"  # pending | done | stopped | error
        self.stopped_by = "stop"
        self.error: str | None = None
        self.finished = False
        self.cancel: threading.Event | None = None
        self.record_id: int | None = None
        self._stream: MarkdownStream | None = None

    @classmethod
    def from_record(cls, key: int, turn: Turn) -> TurnView:
        view = cls(key, turn.question, turn.claim)
        view.view = AnswerView(question=turn.question, answer=turn.answer, sources=turn.sources,
                               prompt=turn.prompt, budget=turn.budget, timings=turn.timings,
                               model=turn.model, covered=turn.covered, state=turn.status)
        view.streamed = turn.answer
        view.notices = list(turn.notices)
        view.status = turn.status
        view.stopped_by = turn.stopped_by
        view.error = turn.error
        view.finished = True
        view.record_id = turn.id
        return view

    def compose(self) -> ComposeResult:
        yield Static(self._question_text(), classes="question")
        yield Markdown(self.view.answer if self.finished else "", classes="answer")
        yield Static(self.meta_text(), classes="meta")

    def on_mount(self) -> None:
        self.set_class(self.status == "error", "-error")

    def on_click(self, event: events.Click) -> None:
        self.post_message(self.Clicked(self))

    def _question_text(self) -> Text:
        out = Text()
        if self.claim:
            out.append(f"Claim {self.claim} · guided explanation\n", style="bold")
        out.append("› ", style="bold")
        out.append(self.question)
        return out

    @property
    def markdown(self) -> Markdown:
        return self.query_one(".answer", Markdown)

    # ------------------------------------------------------------ state

    def set_state(self, state: str) -> None:
        self.view.state = state
        self.refresh_meta()

    def refresh_meta(self) -> None:
        if self.is_mounted:
            self.query_one(".meta", Static).update(self.meta_text())
            self.set_class(self.status == "error", "-error")

    def meta_text(self) -> Text:
        out = Text()
        if self.status == "error":
            out.append(f"✖ {self.error or 'the request failed'}", style="bold red")
            out.append("\nThe question is back in the box below: edit it or press Enter to retry.",
                       style="dim")
            return out
        if not self.finished:
            note = STATE_NOTES.get(self.view.state, "")
            if self.view.state in ("retrieving", "reading", "streaming") and self.view.sources:
                note += f"  ({len(self.view.sources)} sources found)"
            out.append(note, style="italic")
        for n in self.notices:
            out.append(("\n" if out.plain else "") + f"note: {n}", style="yellow")
        if self.finished:
            if self.status == "stopped":
                out.append(("\n" if out.plain else "") + "■ stopped: kept what came",
                           style="bold yellow")
            if not self.view.covered:
                out.append(("\n" if out.plain else "") +
                           "Not covered by the course material; the closest passages are in "
                           "the Sources panel.", style="yellow")
            cited = cited_numbers(self.view.answer)
            by_rank = {int(s.get("rank") or 0): s for s in self.view.sources}
            refs = [(n, by_rank[n]) for n in cited if n in by_rank]
            if refs:
                out.append("\n" if out.plain else "")
                out.append("Sources: ", style="bold")
                for i, (n, src) in enumerate(refs):
                    if i:
                        out.append(" · ")
                    out.append(f"[{n}] ", style="bold")
                    out.append(_short(str(src.get("title", "")), 38))
            facts = [self.view.model or "retrieval only"]
            t = self.view.timings
            if t.get("first_token_ms"):
                facts.append(f"first token {t['first_token_ms'] / 1000:.1f} s")
            if t.get("tokens_per_s"):
                facts.append(f"{t['tokens_per_s']:.0f} tokens/s")
            out.append(("\n" if out.plain else "") + " · ".join(facts), style="dim")
        return out

    # ------------------------------------------------------------ streaming

    async def add_token(self, text: str) -> None:
        if self._stream is None:
            self._stream = Markdown.get_stream(self.markdown)
        self.streamed += text
        await self._stream.write(text)

    async def _end_stream(self) -> None:
        if self._stream is not None:
            stream, self._stream = self._stream, None
            await stream.stop()

    async def complete(self, done: Any, sources: list[dict[str, Any]]) -> None:
        await self._end_stream()
        self.finished = True
        self.view.answer = done.answer
        self.view.sources = sources
        self.view.covered = done.covered
        self.view.model = done.model
        self.view.timings = dict(done.timings)
        if done.prompt:
            self.view.prompt = done.prompt
            self.view.budget = dict(done.budget)
        self.stopped_by = done.stopped_by
        self.status = "stopped" if done.stopped_by == "cancelled" else "done"
        self.view.state = self.status
        if done.answer.strip() != self.streamed.strip():
            await self.markdown.update(done.answer)
        self.streamed = done.answer
        self.refresh_meta()

    async def stop_now(self) -> None:
        """Esc: keep what came, now; the model notices the cancel at its next token."""
        if self.cancel is not None:
            self.cancel.set()
        await self._end_stream()
        self.finished = True
        self.status = "stopped"
        self.stopped_by = "cancelled"
        self.view.state = "stopped"
        self.view.answer = self.streamed.strip()
        if not self.view.answer:
            await self.markdown.update("_(stopped before the first word)_")
        self.refresh_meta()

    async def fail(self, error: str) -> None:
        await self._end_stream()
        self.finished = True
        self.status = "error"
        self.error = error
        self.view.state = "error"
        self.refresh_meta()


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def claim_question(number: int, japanese: bool) -> str:
    info = claim_info(number)
    return info.question_ja if japanese else info.question
