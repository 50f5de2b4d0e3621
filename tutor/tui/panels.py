"""The right-hand panels: the sources of the selected answer, and the prompt inspector.

Both render from plain data (``Hit.as_json()`` dicts, the prompt text, the budget dict), so an
answer reloaded from history looks the same as a live one.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Static, TextArea

from ..history import cited_numbers


@dataclass
class AnswerView:
    """What the panels show for one answer."""

    question: str = ""
    answer: str = ""
    sources: list[dict[str, Any]] = field(default_factory=list)
    prompt: str = ""
    budget: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    model: str | None = None
    covered: bool = True
    history_offered: int = 0  # earlier turns offered to the prompt (the pipeline may trim them)
    state: str = "done"
    plan: list[str] = field(default_factory=list)  # why these sentences (tutor.plan.Plan.explain)


def hit_dict(hit: Any) -> dict[str, Any]:
    """``Hit.as_json()`` plus the ranks of each leg, for the sources panel and history."""
    data = dict(hit.as_json())
    data.update({"dense_rank": hit.dense_rank, "lexical_rank": hit.lexical_rank,
                 "coverage": None if hit.coverage is None else round(hit.coverage, 3),
                 "pinned": bool(hit.pinned)})
    return data


def prompt_body(prompt: str, n: int) -> str | None:
    """The text of source ``n`` as it went into the prompt (None: it did not fit)."""
    m = re.search(rf"<source id={n}>\n(.*?)\n</source>", prompt, flags=re.S)
    if not m:
        return None
    return m.group(1).split("\n", 1)[1] if "\n" in m.group(1) else ""


def sentences(text: str) -> list[str]:
    from ..ingest import split_sentences

    return split_sentences(text)


def highlighted_text(text: str, body: str | None) -> tuple[Text, str]:
    """The passage with the sentences that reached the prompt highlighted, and a summary."""
    out = Text()
    if body is None:
        out.append(text, style="dim")
        return out, "not in the prompt (no room left in n_ctx)"
    flat_body = " ".join(body.split())
    parts = sentences(text)
    used = [p for p in parts if " ".join(p.split()) in flat_body]
    if not parts or len(used) == len(parts):
        out.append(text)
        return out, "whole passage in the prompt"
    pos = 0
    for part in parts:
        start = text.find(part, pos)
        if start < 0:
            continue
        if start > pos:
            out.append(text[pos:start])
        inside = part in used
        out.append(part, style="bold underline" if inside else "dim")
        pos = start + len(part)
    if pos < len(text):
        out.append(text[pos:], style="dim")
    return out, f"{len(used)} of {len(parts)} sentences in the prompt (underlined)"


def legs_of(src: dict[str, Any]) -> str:
    return "+".join(str(x) for x in src.get("legs", [])) or "?"


class SourceCard(Static, can_focus=True):
    """One retrieved passage. Enter or ``o`` opens its document at this passage."""

    BINDINGS = [Binding("enter,o", "open", "Open document", show=True)]

    class Open(Message):
        def __init__(self, source: dict[str, Any]) -> None:
            super().__init__()
            self.source = source

    def __init__(self, source: dict[str, Any], prompt: str, cited: bool) -> None:
        super().__init__(classes="source-card" + (" -cited" if cited else ""))
        self.source = source
        self.prompt = prompt
        self.cited = cited

    def render_card(self) -> Text:
        src = self.source
        rank = int(src.get("rank") or 0)
        out = Text()
        out.append(f"[{rank}] ", style="bold")
        out.append(str(src.get("title", "")), style="bold")
        if src.get("authors"):
            out.append(f" — {src['authors']}", style="italic")
        if self.cited:
            out.append("  ✓ cited", style="bold green")
        out.append("\n")
        where = str(src.get("location", ""))
        if src.get("page"):
            where += f" · page {src['page']}"
        out.append(f"{where}\n", style="italic")
        facts = [f"score {float(src.get('score') or 0):.2f}"]
        if src.get("pinned"):
            facts.append("pinned for the claim")
        if src.get("dense") is not None:
            rank_d = f" #{src['dense_rank']}" if src.get("dense_rank") else ""
            facts.append(f"dense cos {float(src['dense']):.3f}{rank_d}")
        if src.get("lexical") is not None:
            rank_l = f" #{src['lexical_rank']}" if src.get("lexical_rank") else ""
            facts.append(f"BM25 {float(src['lexical']):.2f}{rank_l}")
        out.append(" · ".join(facts))
        out.append(f"  [{legs_of(src)}]\n", style="bold cyan")
        body = prompt_body(self.prompt, rank) if self.prompt else None
        text = str(src.get("text", ""))
        if self.prompt:
            shown, summary = highlighted_text(text, body)
            out.append(summary + "\n", style="dim italic")
            out.append_text(shown)
        else:
            out.append(text)
        out.append(f"\n{src.get('source', '')}", style="dim")
        return out

    def on_mount(self) -> None:
        self.update(self.render_card())

    def action_open(self) -> None:
        self.post_message(self.Open(self.source))


class SourcesPanel(VerticalScroll):
    """The passages the retriever found for the selected answer."""

    BINDINGS = [Binding("down,j", "move(1)", "Next", show=False),
                Binding("up,k", "move(-1)", "Previous", show=False)]

    def compose(self) -> ComposeResult:
        yield Static("Sources appear here: the passages retrieval found for the selected answer, "
                     "with their scores and the leg (dense, lexical) that found them.",
                     id="sources-empty", classes="hint")

    async def show(self, view: AnswerView | None) -> None:
        await self.remove_children()
        if view is None or not view.sources:
            text = ("Searching the sources…" if view and view.state in ("retrieving", "queued")
                    else "No sources yet: ask a question, or pick a claim on the left.")
            await self.mount(Static(text, id="sources-empty", classes="hint"))
            return
        cited = set(cited_numbers(view.answer))
        head = Text()
        head.append(f"{len(view.sources)} passages", style="bold")
        head.append(" for: " + _short(view.question, 80))
        if not view.covered:
            head.append("\nNot covered: the best score is below the threshold, so the tutor "
                        "declined to answer. These are the closest passages.", style="yellow")
        cards: list[Static] = [Static(head, classes="sources-head")]
        cards += [SourceCard(src, view.prompt, int(src.get("rank") or 0) in cited)
                  for src in view.sources]
        await self.mount_all(cards)

    def cards(self) -> list[SourceCard]:
        return list(self.query(SourceCard))

    def current(self) -> dict[str, Any] | None:
        """The focused card, else the first cited one, else the first."""
        cards = self.cards()
        if not cards:
            return None
        for card in cards:
            if card.has_focus:
                return card.source
        cited = [c for c in cards if c.cited]
        return (cited or cards)[0].source

    def action_move(self, step: int) -> None:
        cards = self.cards()
        if not cards:
            return
        focused = next((i for i, c in enumerate(cards) if c.has_focus), -1)
        target = cards[max(0, min(len(cards) - 1, focused + step))]
        target.focus()
        self.scroll_to_widget(target, animate=False)


def budget_table(budget: dict[str, int], history_offered: int, width: int = 36) -> Table | Text:
    if not budget:
        return Text("No prompt: this answer came from retrieval alone (no model), so there is "
                    "no token budget to show.", style="dim")
    n_ctx = max(1, int(budget.get("n_ctx", 0)))
    prompt = int(budget.get("prompt", 0))
    src = int(budget.get("sources", 0))
    hist = int(budget.get("history", 0))
    fixed = max(0, prompt - src - hist)
    reserved = int(budget.get("answer_reserved", 0))
    free = max(0, n_ctx - prompt - reserved)
    parts = [("system + question", fixed, "magenta"), ("sources", src, "green"),
             ("history", hist, "cyan"), ("answer (reserved)", reserved, "yellow"),
             ("free", free, "bright_black")]
    bar = Text()
    used = 0
    for i, (_, value, style) in enumerate(parts):
        cells = round(width * value / n_ctx) if i < len(parts) - 1 else width - used
        cells = max(0, min(cells, width - used))
        bar.append(("░" if style == "bright_black" else "█") * cells, style=style)
        used += cells
    table = Table.grid(padding=(0, 1))
    table.add_column()
    table.add_column(justify="right")
    table.add_column(justify="right")
    table.add_row(Text(f"prompt {prompt} of n_ctx {n_ctx} tokens", style="bold"), "", "")
    table.add_row(bar, "", "")
    for name, value, style in parts:
        table.add_row(Text("■ ", style=style) + Text(name), str(value),
                      f"{100 * value / n_ctx:.0f}%")
    used_sources = budget.get("sources_used")
    if used_sources is not None:
        table.add_row(Text(f"sources in the prompt: {used_sources}", style="dim"), "", "")
    turns = int(budget.get("history_turns", 0))
    if history_offered:
        dropped = max(0, history_offered - turns)
        note = f"earlier turns in the prompt: {turns} of {history_offered}"
        if dropped:
            note += f" ({dropped} oldest trimmed to fit)"
        table.add_row(Text(note, style="dim"), "", "")
    return table


def timings_text(view: AnswerView) -> Text:
    t = view.timings
    out = Text()
    out.append("model ", style="dim")
    out.append(view.model or "none (retrieval only)")
    if t:
        out.append("\nretrieval ", style="dim")
        out.append(f"{t.get('retrieval_ms', 0):.0f} ms")
        if t.get("first_words_ms"):
            out.append(" · first words ", style="dim")
            out.append(f"{t['first_words_ms'] / 1000:.1f} s")
        if t.get("first_token_ms"):
            out.append(" · first token ", style="dim")
            out.append(f"{t['first_token_ms'] / 1000:.1f} s")
        if t.get("total_ms"):
            out.append(" · total ", style="dim")
            out.append(f"{t['total_ms'] / 1000:.1f} s")
        if t.get("tokens_per_s"):
            out.append(" · ", style="dim")
            out.append(f"{t['tokens_per_s']:.0f} tokens/s")
    if view.plan:
        out.append("\nwhy these sentences", style="bold")
        for line in view.plan:
            out.append(f"\n· {_short(line, 160)}", style="dim")
    return out


class InspectorPanel(Vertical):
    """The exact prompt the model received and its token budget against n_ctx; above them, the
    retrieval knobs and a button that re-asks the selected question with them."""

    class Rerun(Message):
        def __init__(self, k: int, leg: str, claim: int | None, label: str) -> None:
            super().__init__()
            self.k, self.leg, self.claim, self.label = k, leg, claim, label

    def __init__(self, k: int = 3, id: str | None = None) -> None:
        super().__init__(id=id)
        self.k = k

    def compose(self) -> ComposeResult:
        from .knobs import RetrievalKnobs

        with Horizontal(id="inspector-knobs"):
            yield RetrievalKnobs(self.k)
            yield Button("Re-run", id="rerun", tooltip="ask the selected question again with "
                         "these retrieval knobs")
        yield Static(Text("Select an answer to see its prompt.", style="dim"), id="budget")
        yield Static("", id="timings")
        yield TextArea("", id="prompt-text", read_only=True, soft_wrap=True,
                       show_line_numbers=False)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        from .knobs import RetrievalKnobs

        event.stop()
        knobs = self.query_one(RetrievalKnobs)
        self.post_message(self.Rerun(*knobs.values(), knobs.describe()))

    def show(self, view: AnswerView | None) -> None:
        budget = self.query_one("#budget", Static)
        timings = self.query_one("#timings", Static)
        area = self.query_one("#prompt-text", TextArea)
        if view is None:
            budget.update(Text("Select an answer to see its prompt.", style="dim"))
            timings.update("")
            area.load_text("")
            return
        budget.update(budget_table(view.budget, view.history_offered))
        timings.update(timings_text(view))
        text = view.prompt or ("(the model has not received a prompt for this answer yet)"
                               if view.state in ("queued", "retrieving") else
                               "(no prompt: answered from retrieval alone)")
        if area.text != text:
            area.load_text(text)


def _short(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
