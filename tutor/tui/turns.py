"""One question and its answer in the chat log, and the question box."""
from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static, TextArea

from ..history import Turn, cited_numbers
from .claims import claim as claim_info
from .panels import AnswerView

if TYPE_CHECKING:
    from textual.timer import Timer
    from textual.widgets import Markdown
    from textual.widgets.markdown import MarkdownStream


class PromptInput(TextArea):
    """The question box: Enter sends, Ctrl+J (or Shift+Enter) starts a new line."""

    BINDINGS = [
        Binding("enter", "submit", "Send", priority=False),
        Binding("ctrl+j", "newline", "New line", key_display="^j"),
    ]

    last_key_at = 0.0  # monotonic time of the latest key typed in any question box

    class Submitted(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id, soft_wrap=True, show_line_numbers=False, tab_behavior="focus",
                         placeholder="Ask about the eight claims, in English or Japanese…  "
                                     "(Enter sends · Ctrl+J new line)")

    async def _on_key(self, event: events.Key) -> None:
        PromptInput.last_key_at = time.monotonic()
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


FLUSH_S = 0.15  # how often streamed tokens reach the Markdown widget
TYPING_QUIET_S = 0.3  # while the learner types, the stream waits this long after a key...
MAX_DEFER_S = 1.0  # ...but never holds text back longer than this
SEGMENT_BLOCKS = 6  # blocks in the live Markdown widget before it is frozen (long answers)


def segment_cut(segment: str, chunk: str) -> int | None:
    """Where in ``chunk`` a long live segment may end: at a blank line that closes a block.

    Only once the segment holds SEGMENT_BLOCKS blocks, never inside a fenced code block, and
    never before an indented line (a list item's continuation).
    """
    if segment.count("\n\n") < SEGMENT_BLOCKS:
        return None
    text = segment + chunk
    start = max(0, len(segment) - 1)
    while (i := text.find("\n\n", start)) != -1:
        after = text[i + 2:]
        stripped = after.lstrip("\n")
        if stripped and not stripped[0].isspace() and text[:i].count("```") % 2 == 0:
            cut = i + 2 - len(segment)
            return cut if 0 < cut <= len(chunk) else None
        start = i + 1
    return None


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
        self.knobs: tuple[int, str, int | None] | None = None  # a re-run with the inspector's knobs
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
        self._pending: list[str] = []
        self._pending_since = 0.0
        self._segment = ""  # the Markdown written to the live widget so far
        self._stream_done = False
        self._flush_timer: Timer | None = None

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
        if self.finished:
            yield FinishedAnswer(self.view.answer)
        else:
            from textual.widgets import Markdown  # imported at the first answer, not at start-up

            yield Markdown("", classes="answer live")
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
        from textual.widgets import Markdown

        return self.query_one(".live", Markdown)

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
        """Queue a token; the Markdown stream gets what came every FLUSH_S seconds.

        Each write reflows the chat log, which costs tens of milliseconds on a slow machine;
        writing a few times a second instead of at every token keeps the loop free for keys.
        """
        self.streamed += text
        if not self._pending:
            self._pending_since = time.monotonic()
        self._pending.append(text)
        if self._stream is None:  # the first words show at once
            await self._write_pending()
        elif self._flush_timer is None:
            # The screen owns the timer: its callback then runs in the screen's message loop,
            # in turn with the token and done handlers, so stream writes never overlap.
            self._flush_timer = self.screen.set_timer(FLUSH_S, self._flush)

    async def _flush(self) -> None:
        """Write what came to the Markdown stream, unless the learner is typing.

        A write reflows the whole screen (tens of milliseconds on these machines); when it
        lands just after a key, the key's echo waits for it. So while keys come, writes wait
        for a pause in the typing, up to MAX_DEFER_S: typing stays crisp, the answer catches up
        in bigger pieces.
        """
        self._flush_timer = None
        if self._stream_done or not self._pending:
            return
        now = time.monotonic()
        since_key = now - PromptInput.last_key_at
        if since_key < TYPING_QUIET_S and now - self._pending_since < MAX_DEFER_S:
            wait = min(TYPING_QUIET_S - since_key, MAX_DEFER_S - (now - self._pending_since))
            self._flush_timer = self.screen.set_timer(max(0.02, wait), self._flush)
            return
        await self._write_pending()

    async def _write_pending(self) -> None:
        if not self._pending:
            return
        chunk = "".join(self._pending)
        self._pending.clear()
        if self._stream is None:
            markdown = self.markdown
            self._stream = type(markdown).get_stream(markdown)
        cut = segment_cut(self._segment, chunk)
        if cut is None:
            self._segment += chunk
            await self._stream.write(chunk)
            return
        # The live Markdown holds SEGMENT_BLOCKS blocks: freeze it, stream on into a new one.
        head, tail = chunk[:cut], chunk[cut:].lstrip("\n")
        await self._stream.write(head)
        await self._stream.stop()
        self._stream = None
        live = self.markdown
        await self.mount(FinishedAnswer(self._segment + head, segment=True), before=live)
        await live.remove()
        from textual.widgets import Markdown

        fresh = Markdown("", classes="answer live")
        await self.mount(fresh, before=self.query_one(".meta"))
        self._stream = Markdown.get_stream(fresh)
        self._segment = tail
        if tail:
            await self._stream.write(tail)

    async def _end_stream(self) -> None:
        if self._flush_timer is not None:
            self._flush_timer.stop()
            self._flush_timer = None
        if self._stream_done:
            return
        self._stream_done = True
        if self._pending and self._stream is not None:
            await self._write_pending()
        self._pending.clear()
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
        self.view.plan = [str(line) for line in (getattr(done, "plan", None) or {}).get("explain", [])]
        if done.prompt:
            self.view.prompt = done.prompt
            self.view.budget = dict(done.budget)
        self.stopped_by = done.stopped_by
        self.status = "stopped" if done.stopped_by == "cancelled" else "done"
        self.view.state = self.status
        self.streamed = done.answer
        await self._freeze(done.answer)
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
        await self._freeze(self.view.answer or "_(stopped before the first word)_")
        self.refresh_meta()

    async def _freeze(self, answer: str) -> None:
        """Swap the streaming Markdown widget tree for one leaf widget.

        Textual reflows every widget on the screen at each update, and a Markdown answer is
        dozens of widgets (each list item is four); a long chat of them made every streamed
        token cost a full reflow of all earlier answers. A finished answer never changes, so
        it is drawn by one widget instead.
        """
        old = list(self.query(".answer"))  # a list: the query is lazy
        await self.mount(FinishedAnswer(answer), before=self.query_one(".meta"))
        await self.remove_children(old)

    async def fail(self, error: str) -> None:
        await self._end_stream()
        self.finished = True
        self.status = "error"
        self.error = error
        self.view.state = "error"
        self.refresh_meta()


class FinishedAnswer(Static):
    """A finished answer: Markdown drawn by Rich inside one widget (cheap to lay out)."""

    def __init__(self, answer: str, segment: bool = False) -> None:
        from rich.markdown import Markdown as RichMarkdown

        super().__init__(RichMarkdown(answer or "_(no answer)_", hyperlinks=False),
                         classes="answer " + ("segment" if segment else "finished"))
        self.answer = answer


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def claim_question(number: int, japanese: bool) -> str:
    info = claim_info(number)
    return info.question_ja if japanese else info.question
