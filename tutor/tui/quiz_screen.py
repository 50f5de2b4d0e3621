"""The quiz screen: one question at a time, instant graded feedback, hints, overrides, mastery.

Keys (also in the footer): A-D or 1-4 pick an option; Enter submits a typed answer; Ctrl+T gives a
hint (twice), then reveals the answer; after the verdict: N or Enter next question, O open the
source document, R / W mark your answer right / wrong, E "that was easy"; Esc ends the session
(with a summary). Loading the bank, the index (for items from your documents) and the embedder
(for short answers) all happen in thread workers; the screen never waits on them.
"""
from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Static

from ..config import Settings
from ..quiz import CLAIM_SHORT, CLAIMS
from ..quiz.bank import Item, corpus_documents, load_bank, squash
from ..quiz.grade import EmbeddingSimilarity, Grade, Grader
from ..quiz.schedule import QuizStore, utcnow
from ..quiz.session import Attempt, QuizSession, Summary

KIND_LABEL = {"multiple_choice": "multiple choice", "cloze": "fill in the blank",
              "short_answer": "short answer"}
VERDICT_STYLE = {"correct": ("✔ Correct", "bold green"), "partial": ("◐ Partly right", "bold yellow"),
                 "wrong": ("✘ Not right", "bold red")}


def when_text(due: datetime | None, now: datetime) -> str:
    """A due time for people: "now", "in 10 min", "in 5 h", "in 3 days" (UTC underneath)."""
    if due is None:
        return "nothing scheduled"
    seconds = (due - now).total_seconds()
    if seconds <= 0:
        return "now"
    if seconds < 3600:
        return f"in {max(1, round(seconds / 60))} min"
    if seconds < 2 * 86400:
        return f"in {round(seconds / 3600)} h"
    return f"in {round(seconds / 86400)} days"


def mastery_text(mastery: dict[int, float], before: dict[int, float] | None = None) -> Text:
    out = Text()
    for n in CLAIMS:
        value = max(0.0, min(1.0, mastery.get(n, 0.0)))
        full = round(value * 10)
        out.append(f"{n} ", style="bold")
        out.append(f"{CLAIM_SHORT[n]}\n  ", style="")
        out.append("▰" * full, style="green")
        out.append("▱" * (10 - full), style="bright_black")
        out.append(f" {value * 100:3.0f}%", style="dim")
        if before is not None and abs(value - before.get(n, 0.0)) > 1e-9:
            delta = (value - before.get(n, 0.0)) * 100
            out.append(f" {delta:+.0f}", style="green" if delta > 0 else "red")
        out.append("\n")
    return out


class _Embedding:
    """The embedder for short answers, loaded once on first use (in a worker thread)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._similarity: EmbeddingSimilarity | None = None
        self.error: str | None = None

    def get(self) -> EmbeddingSimilarity | None:
        with self._lock:
            if self._similarity is None and self.error is None:
                try:
                    from ..embed import Embedder

                    embedder = Embedder(self.settings.embedder, threads=1)
                    embedder.load()
                    self._similarity = EmbeddingSimilarity(embedder)
                except Exception as exc:  # EmbedderError, missing packages: concepts only
                    self.error = str(exc)
            return self._similarity


class QuizScreen(Screen[None]):
    """``QuizScreen(settings)``; tests may pass a ``grader`` (then no embedder is loaded)."""

    DEFAULT_CSS = """
    QuizScreen { layout: vertical; }
    #quiz-body { height: 1fr; }
    #quiz-main { width: 1fr; height: 1fr; padding: 0 1; }
    #quiz-side { width: 34; height: 1fr; border-left: vkey $foreground 20%; padding: 0 1; }
    #quiz-head { color: $text-muted; height: auto; margin: 1 0 0 0; }
    #quiz-prompt { height: auto; margin: 1 0; text-style: bold; }
    #quiz-choices { height: auto; }
    #quiz-choices Button { width: 1fr; height: auto; min-height: 3; margin: 0 0 0 0; }
    #quiz-choices Button.-chosen { border: tall $error; }
    #quiz-choices Button.-right { border: tall $success; }
    #quiz-answer { margin: 0 0 1 0; }
    #quiz-hints { height: auto; color: $text-warning; }
    #quiz-feedback { height: 1fr; margin: 1 0 0 0; }
    #quiz-verdict { height: auto; }
    #quiz-explain { height: auto; margin: 1 0 0 0; }
    #quiz-source { height: auto; margin: 1 0 0 0; padding: 0 1; border-left: outer $accent; }
    #quiz-next { height: auto; margin: 1 0 0 0; color: $text-muted; }
    .side-title { text-style: bold; color: $text-accent; margin: 1 0 0 0; }
    #quiz-progress { height: auto; color: $text-muted; }
    .-hidden { display: none; }
    """

    BINDINGS = [
        Binding("1,a", "choose(0)", "Option A", show=False),
        Binding("2,b", "choose(1)", "Option B", show=False),
        Binding("3,c", "choose(2)", "Option C", show=False),
        Binding("4,d", "choose(3)", "Option D", show=False),
        Binding("ctrl+t", "hint", "Hint / reveal"),
        Binding("n,enter", "next", "Next"),
        Binding("o", "open_source", "Open source"),
        Binding("r", "override('correct')", "Mark right"),
        Binding("w", "override('wrong')", "Mark wrong"),
        Binding("e", "easy", "Easy"),
        Binding("escape", "finish", "End quiz"),
    ]

    class Ready(Message):
        def __init__(self, session: QuizSession | None, error: str = "") -> None:
            super().__init__()
            self.session = session
            self.error = error

    class Graded(Message):
        def __init__(self, item_id: str, answer: str, grade: Grade, note: str = "") -> None:
            super().__init__()
            self.item_id = item_id
            self.answer = answer
            self.grade = grade
            self.note = note

    class DocumentReady(Message):
        def __init__(self, item: Item, chunks: list[Any], error: str = "") -> None:
            super().__init__()
            self.item = item
            self.chunks = chunks
            self.error = error

    def __init__(self, settings: Settings, *, grader: Grader | None = None,
                 store: QuizStore | None = None, session_size: int | None = None,
                 new_limit: int | None = None, claim: int | None = None,
                 load_generated: bool = True) -> None:
        super().__init__()
        self.settings = settings
        self.fixed_grader = grader
        self.store = store
        self.session_options: dict[str, Any] = {k: v for k, v in (
            ("size", session_size), ("new_limit", new_limit), ("claim", claim)) if v is not None}
        self.load_generated = load_generated
        self.session: QuizSession | None = None
        self.items: list[Item] = []
        self.embedding = _Embedding(settings)
        self.phase = "loading"  # loading | answer | grading | feedback | done
        self.hint_lines: list[str] = []

    # ------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        with Horizontal(id="quiz-body"):
            with Vertical(id="quiz-main"):
                yield Static("Loading the question bank…", id="quiz-head")
                yield Static("", id="quiz-prompt")
                with Vertical(id="quiz-choices", classes="-hidden"):
                    for i in range(4):
                        yield Button("", id=f"choice-{i}")
                yield Input(placeholder="Type your answer and press Enter (English or 日本語)",
                            id="quiz-answer", classes="-hidden")
                yield Static("", id="quiz-hints")
                with VerticalScroll(id="quiz-feedback", can_focus=True):
                    yield Static("", id="quiz-verdict")
                    yield Static("", id="quiz-explain")
                    yield Static("", id="quiz-source", classes="-hidden")
                    yield Static("", id="quiz-next")
            with Vertical(id="quiz-side"):
                yield Static("Mastery by claim", classes="side-title")
                yield Static(mastery_text({}), id="quiz-mastery")
                yield Static("", id="quiz-progress")
        yield Footer()

    def on_mount(self) -> None:
        self.prepare()

    # ------------------------------------------------------------ loading (thread workers)

    @work(thread=True, exclusive=True, group="quiz-load")
    def prepare(self) -> None:
        try:
            items = list(load_bank(self.settings.corpus_dir / "quiz").items)
            note = ""
            if self.load_generated:
                try:
                    from ..quiz.generate import items_for_settings

                    items += items_for_settings(self.settings)
                except Exception as exc:  # the index belongs to the chat side; the bank still works
                    note = f"no items from your documents ({exc})"
            store = self.store or QuizStore(self.settings.home)
            session = QuizSession(store, items, self.fixed_grader or Grader(), **self.session_options)
        except Exception as exc:
            self.post_message(self.Ready(None, str(exc)))
            return
        self.items = items
        self.store = store
        self.post_message(self.Ready(session, note))

    def on_quiz_screen_ready(self, message: Ready) -> None:
        if message.session is None:
            self.query_one("#quiz-head", Static).update(Text(f"The quiz cannot start: {message.error}",
                                                            style="bold red"))
            return
        if message.error:
            self.notify(message.error, severity="warning")
        self.session = message.session
        self.update_side()
        if self.fixed_grader is None and any(i.kind == "short_answer" for i in self.session.queue):
            self.warm_embedder(list(self.session.queue))
        self.show_question()

    @work(thread=True, exclusive=True, group="quiz-embedder")
    def warm_embedder(self, items: Sequence[Item]) -> None:
        similarity = self.embedding.get()
        if similarity is not None:
            similarity.warm(items)

    # ------------------------------------------------------------ one question

    def set_phase(self, phase: str) -> None:
        self.phase = phase
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        answered = self.phase == "feedback"
        attempt = self.session.answered if self.session else None
        # False hides a key from the footer: only the keys of the current step are shown
        if action == "choose":
            return self.phase == "answer" and self._current_kind() == "multiple_choice"
        if action == "hint":
            return self.phase == "answer"
        if action in ("next", "open_source", "override"):
            return answered
        if action == "easy":
            return answered and attempt is not None and attempt.verdict != "wrong"
        return True

    def _current_kind(self) -> str:
        item = self.session.current if self.session else None
        return item.kind if item else ""

    def show_question(self) -> None:
        session = self.session
        assert session is not None
        item = session.current
        if item is None:
            self.finish_session()
            return
        self.hint_lines = []
        n = session.position + 1
        total = len(session.queue)
        seen = "review" if self.store and self.store.card(item.id) else "new"
        claim = f"Claim {item.claim}" if item.claim else item.topic
        gen = " · from your document" if item.generated else ""
        self.query_one("#quiz-head", Static).update(
            f"Question {n} of {total} · {claim} · {KIND_LABEL[item.kind]} · {seen}{gen}")
        self.query_one("#quiz-prompt", Static).update(Text(item.prompt))
        choices = self.query_one("#quiz-choices")
        answer = self.query_one("#quiz-answer", Input)
        for w in ("#quiz-verdict", "#quiz-explain", "#quiz-next", "#quiz-hints"):
            self.query_one(w, Static).update("")
        self.query_one("#quiz-source").add_class("-hidden")
        if item.kind == "multiple_choice":
            choices.remove_class("-hidden")
            answer.add_class("-hidden")
            answer.disabled = True
            for i, text in enumerate(item.choices):
                button = self.query_one(f"#choice-{i}", Button)
                button.label = Text(f"{'ABCD'[i]}  {text}")
                button.disabled = False
                button.remove_class("-chosen", "-right")
            self.query_one("#choice-0", Button).focus()
            tip = "Press A-D or 1-4 (or click) to answer · Ctrl+T for a hint"
        else:
            choices.add_class("-hidden")
            answer.remove_class("-hidden")
            answer.disabled = False
            answer.value = ""
            answer.placeholder = ("答えを入力して Enter" if item.lang == "ja"
                                  else "Type your answer and press Enter (English or 日本語)")
            answer.focus()
            tip = "Enter to submit · Ctrl+T for a hint"
        self.query_one("#quiz-next", Static).update(Text(tip, style="dim"))
        self.set_phase("answer")

    def action_choose(self, index: int) -> None:
        if self.phase != "answer" or self.session is None or self.session.current is None:
            return
        item = self.session.current
        if item.kind != "multiple_choice":
            return
        self.submit(str(index + 1), self.session.grade(str(index + 1)))

    @on(Button.Pressed, "#quiz-choices Button")
    def choice_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_choose(int((event.button.id or "choice-0").rsplit("-", 1)[1]))

    @on(Input.Submitted, "#quiz-answer")
    def answer_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.phase != "answer" or self.session is None or self.session.current is None:
            return
        text = event.value.strip()
        if not text:
            self.notify("Type an answer first, or press Ctrl+T for a hint.")
            return
        item = self.session.current
        if item.kind == "short_answer":
            self.set_phase("grading")
            self.query_one("#quiz-answer", Input).disabled = True
            wait = "" if self.fixed_grader else " (the first one loads the embedder)"
            self.query_one("#quiz-next", Static).update(Text(f"Grading…{wait}", style="italic"))
            self.grade_in_background(item, text)
        else:
            self.submit(text, self.session.grade(text))

    @work(thread=True, exclusive=True, group="quiz-grade")
    def grade_in_background(self, item: Item, answer: str) -> None:
        grader = self.fixed_grader
        note = ""
        if grader is None:
            similarity = self.embedding.get()
            if similarity is None:
                note = f"graded by key concepts only ({self.embedding.error})"
            grader = Grader(similarity)
        self.post_message(self.Graded(item.id, answer, grader.grade(item, answer), note))

    def on_quiz_screen_graded(self, message: Graded) -> None:
        session = self.session
        if session is None or session.current is None or session.current.id != message.item_id \
                or self.phase != "grading":
            return
        if message.note:
            self.notify(message.note, severity="warning")
        self.submit(message.answer, message.grade)

    def submit(self, answer: str, grade: Grade) -> None:
        assert self.session is not None
        attempt = self.session.submit(answer, grade)
        self.show_feedback(attempt)

    def action_hint(self) -> None:
        if self.phase != "answer" or self.session is None or self.session.current is None:
            return
        hint = self.session.hint()
        if hint is None:
            self.show_feedback(self.session.reveal())
            return
        item = self.session.current
        left = len(item.hints) - self.session.hints
        more = (f"Ctrl+T again for hint {self.session.hints + 1}" if left
                else "Ctrl+T again to reveal the answer (counts as a miss)")
        self.hint_lines.append(f"Hint {self.session.hints}: {hint}")
        self.query_one("#quiz-hints", Static).update(
            Text("\n".join(self.hint_lines) + f"\n({more}; a right answer after a hint counts as Hard)"))

    # ------------------------------------------------------------ feedback

    def show_feedback(self, attempt: Attempt) -> None:
        item = attempt.item
        now = self.session.clock() if self.session else utcnow()
        label, style = VERDICT_STYLE[attempt.verdict]
        verdict = Text(label, style=style)
        if attempt.revealed:
            verdict.append("  (answer revealed)", style="dim")
        if attempt.overridden:
            verdict.append("  (your verdict)", style="dim")
        if attempt.grade and attempt.grade.unsure and not attempt.overridden:
            verdict.append("  The grader is not sure: compare with the reference and judge.",
                           style="yellow")
        self.query_one("#quiz-verdict", Static).update(verdict)
        if attempt.grade is not None:
            body = attempt.grade.feedback
        else:
            body = f"The answer: {item.answer}\n{item.explanation}"
        self.query_one("#quiz-explain", Static).update(Text(body))
        source = Text()
        source.append(f"Source · {item.doc_id}\n", style="bold")
        source.append(f"“{item.quote}”\n", style="italic")
        source.append("O: open the whole document", style="dim")
        box = self.query_one("#quiz-source", Static)
        box.update(source)
        box.remove_class("-hidden")
        if item.kind == "multiple_choice":
            for i in range(4):
                button = self.query_one(f"#choice-{i}", Button)
                button.disabled = True
                button.set_class(i == item.correct_index, "-right")
                button.set_class(attempt.grade is not None and i == attempt.grade.chosen
                                 and i != item.correct_index, "-chosen")
        self.query_one("#quiz-answer", Input).disabled = True
        keys = ["N/Enter next", "R mark right", "W mark wrong"]
        if attempt.verdict != "wrong":
            keys.append("E easy")
        nxt = Text(f"Next review {when_text(attempt.due, now)} ({attempt.rating.name}). ",
                   style="")
        nxt.append(" · ".join(keys), style="dim")
        self.query_one("#quiz-next", Static).update(nxt)
        self.update_side()
        self.query_one("#quiz-feedback", VerticalScroll).focus()
        self.set_phase("feedback")

    def action_override(self, verdict: str) -> None:
        if self.phase != "feedback" or self.session is None or self.session.answered is None:
            return
        self.show_feedback(self.session.override(verdict))
        self.notify(f"Marked {'right' if verdict == 'correct' else 'wrong'}; the schedule follows "
                    "your verdict.")

    def action_easy(self) -> None:
        attempt = self.session.answered if self.session else None
        if self.phase != "feedback" or attempt is None or attempt.verdict == "wrong":
            return
        self.show_feedback(self.session.override(easy=True))  # type: ignore[union-attr]
        self.notify("Marked easy: it comes back later." if not attempt.hints
                    else "Noted; after a hint it stays Hard.")

    def action_next(self) -> None:
        if self.phase != "feedback" or self.session is None:
            return
        if self.session.advance() is None:
            self.finish_session()
        else:
            self.show_question()

    def update_side(self) -> None:
        session = self.session
        if session is None:
            return
        self.query_one("#quiz-mastery", Static).update(
            mastery_text(session.mastery(), session.mastery_before))
        done = len(session.attempts)
        right = sum(a.verdict == "correct" for a in session.attempts)
        self.query_one("#quiz-progress", Static).update(
            f"\nThis session: {right} right of {done} answered, "
            f"{max(0, len(session.queue) - session.position - (1 if session.answered else 0))} to go")

    # ------------------------------------------------------------ sources

    def action_open_source(self) -> None:
        if self.phase != "feedback" or self.session is None or self.session.answered is None:
            return
        self.load_document(self.session.answered.item)

    @work(thread=True, exclusive=True, group="quiz-doc")
    def load_document(self, item: Item) -> None:
        try:
            if item.generated:
                from ..index import Index

                chunks: list[Any] = list(Index(self.settings).chunks_of(item.doc_id))
            else:
                chunks = bundled_chunks(self.settings, item.doc_id)
        except Exception as exc:
            self.post_message(self.DocumentReady(item, [], str(exc)))
            return
        self.post_message(self.DocumentReady(item, chunks))

    def on_quiz_screen_document_ready(self, message: DocumentReady) -> None:
        if message.error or not message.chunks:
            self.notify(f"{message.item.doc_id}: {message.error or 'document not found'}",
                        severity="error")
            return
        from .screens import DocumentScreen

        quote = squash(message.item.quote)
        target = next((c.chunk_id for c in message.chunks if quote in squash(c.text)),
                      message.chunks[0].chunk_id)
        first = message.chunks[0]
        self.app.push_screen(DocumentScreen(first.title, first.source, message.chunks, target,
                                            [message.item.quote]))

    # ------------------------------------------------------------ the end

    def action_finish(self) -> None:
        if self.phase == "grading":
            return
        self.finish_session()

    def finish_session(self) -> None:
        session = self.session
        if session is None or not session.attempts:
            self.dismiss(None)
            return
        self.set_phase("done")
        self.app.push_screen(SummaryScreen(session.summary(), session.clock()), self._after_summary)

    def _after_summary(self, again: bool | None) -> None:
        if again:
            self.set_phase("loading")
            self.query_one("#quiz-head", Static).update("Planning the next session…")
            self.prepare()
        else:
            self.dismiss(None)


def bundled_chunks(settings: Settings, doc_id: str) -> list[Any]:
    """A bundled corpus file as the chunk-like sections the document viewer shows."""
    from ..ingest import load_document

    path = corpus_documents(settings.corpus_dir).get(doc_id)
    if path is None:
        raise LookupError("not in the bundled corpus")
    rel = path.relative_to(settings.corpus_dir.parent).as_posix()
    doc = load_document(path, source=rel)
    return [SimpleNamespace(chunk_id=f"{doc_id}#{n}", ord=n, location=s.heading, page=s.page,
                            text=s.text, title=doc.title, source=rel)
            for n, s in enumerate(doc.sections)]


class SummaryScreen(Screen[bool]):
    """Score, per-claim changes, and what is due next; Enter starts another session."""

    DEFAULT_CSS = """
    SummaryScreen { align: center top; }
    #summary { width: 90; max-width: 100%; height: 1fr; padding: 1 2; }
    """
    BINDINGS = [Binding("enter,n", "again", "Another session"),
                Binding("escape,q", "close", "Back")]

    def __init__(self, summary: Summary, now: datetime) -> None:
        super().__init__()
        self.summary = summary
        self.now = now

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="summary"):
            yield Static(self.render_summary(), id="summary-text")
        yield Footer()

    def render_summary(self) -> Text:
        s = self.summary
        out = Text()
        out.append("Session summary\n\n", style="bold")
        out.append(f"Score: {s.correct} right, {s.partial} partly, {s.wrong} wrong "
                   f"of {s.answered} answers: {s.score:.0%}\n\n")
        out.append("Mastery by claim\n", style="bold")
        changes = s.changes
        for n in CLAIMS:
            before, after = s.mastery_before[n], s.mastery_after[n]
            mark = f"{before:4.0%} → {after:4.0%}" if n in changes else f"{after:4.0%}"
            style = "green" if after > before else "red" if after < before else "dim"
            out.append(f"  {n} {CLAIM_SHORT[n]:24} {mark}\n", style=style)
        out.append("\nWhat comes next\n", style="bold")
        out.append(f"  Next review: {when_text(s.next_due, self.now)}"
                   + (f" ({s.next_due:%Y-%m-%d %H:%M} UTC)" if s.next_due else "") + "\n")
        out.append(f"  Due now: {s.due_now} · due within 24 h: {s.due_24h} · "
                   f"new items left: {s.new_left}\n\n")
        out.append("This session\n", style="bold")
        for a in s.attempts:
            label, style = VERDICT_STYLE[a.verdict]
            out.append(f"  {label:14}", style=style)
            out.append(f" {a.item.id:30} next {when_text(a.due, self.now)}\n")
        out.append("\nEnter: another session · Esc: back", style="dim")
        return out

    def action_again(self) -> None:
        self.dismiss(True)

    def action_close(self) -> None:
        self.dismiss(False)


class QuizApp(App[int]):
    """The quiz alone, for when the full TUI is not available."""

    TITLE = "tutor quiz"

    def __init__(self, settings: Settings, **screen_options: Any) -> None:
        super().__init__()
        self.settings = settings
        self.screen_options = screen_options

    def on_mount(self) -> None:
        self.push_screen(QuizScreen(self.settings, **self.screen_options),
                         lambda _: self.exit(0))


def run_quiz_app(settings: Settings, claim: int | None = None) -> int:
    app = QuizApp(settings, claim=claim)
    app.run()
    return app.return_code or 0


__all__ = ["QuizApp", "QuizScreen", "SummaryScreen", "mastery_text", "run_quiz_app", "when_text"]
