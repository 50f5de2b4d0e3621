"""The chat screen: claims on the left, the conversation in the middle, sources and the prompt
inspector on the right.

Threading: the engine is loaded and every answer is produced in thread workers
(``@work(thread=True)``) that only post messages (:mod:`tutor.tui.messages`); the handlers here
update the widgets on the event loop. Answers run one at a time in the ``model`` group; a
question sent while another is being answered, or while the engine loads, waits in a queue.
"""
from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static, TabbedContent, TabPane
from textual.worker import get_current_worker

from ..config import MODELS_DIR, ConfigError, Settings, config_path, write_setting
from ..history import History, HistoryError, default_title
from . import messages as msg
from .panels import InspectorPanel, SourceCard, SourcesPanel, hit_dict, prompt_body, sentences
from .sidebar import ClaimsSidebar
from .turns import PromptInput, TurnView, claim_question

if TYPE_CHECKING:
    from textual.widgets import ProgressBar

    from .app import TutorApp
    from .backend import Backend
    from .screens import SessionChoice

# The dialogs and the document viewer (tutor.tui.screens) are imported when first opened, and
# the progress bar when indexing starts: the first paint needs neither.

WELCOME = (
    "Welcome. Ask about Bowman's *Eight Things to Know about Large Language Models* in English "
    "or Japanese, or choose a claim on the left for a guided explanation.\n\n"
    "Each answer cites numbered sources. The **Sources** panel shows the passages retrieval "
    "found (score, and which leg found them: dense embeddings or lexical BM25); **F5** shows "
    "the exact prompt and its token budget. **F1** lists every key."
)


class ChatScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "stop", "Stop", show=True),
        Binding("f1", "help", "Help"),
        Binding("f2", "sessions", "Chats"),
        Binding("f3", "quiz", "Quiz"),
        Binding("f4", "pick_model", "Model"),
        Binding("f5", "toggle_panel", "Sources/Prompt"),
        Binding("f6", "add_documents", "Add docs", priority=True),  # over TextArea's select_line
        Binding("f7", "compare", "Compare", priority=True),  # over TextArea's select_all
        Binding("ctrl+n", "new_chat", "New chat"),
        Binding("f8", "settings", "Settings", show=False),
        Binding("ctrl+s", "export", "Export", show=False),
        Binding("ctrl+o", "open_source", "Open source", show=False),
        Binding("ctrl+l", "toggle_sidebar", "Claims", show=False),  # not ^B: tmux's prefix
        Binding("ctrl+up", "select_turn(-1)", "Previous answer", show=False),
        Binding("ctrl+down", "select_turn(1)", "Next answer", show=False),
    ]

    def __init__(self, settings: Settings,
                 backend_factory: Callable[[Settings], Backend] | None = None,
                 models_dir: Path = MODELS_DIR, persist_settings: bool = True,
                 use_llm: bool = True) -> None:
        super().__init__()
        self.settings = settings
        self.backend_factory = backend_factory
        self.models_dir = models_dir
        self.persist_settings = persist_settings
        self.backend: Backend | None = None
        self.engine_state = "starting"  # starting | loading | ready | no-model | error
        self.engine_detail = "starting…"
        self.use_llm = use_llm  # False: --no-llm, or "no model" chosen in the picker
        self._no_llm_flag = not use_llm
        self.history: History | None = None
        self.session_id: int | None = None
        self.turns: list[TurnView] = []
        self.selected: TurnView | None = None
        self._active: TurnView | None = None
        self._queue: deque[TurnView] = deque()
        self._keys = 0
        self._load_started = False
        self._doc_request: dict[str, Any] | None = None
        self._quitting = threading.Event()  # set on quit: background work stops early
        self._refreshing = 0

    @property
    def tutor_app(self) -> TutorApp:
        return self.app  # type: ignore[return-value]

    # ------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="◆")
        with Horizontal(id="main"):
            yield ClaimsSidebar(id="sidebar")
            with Vertical(id="chat-column"):
                with VerticalScroll(id="chat-log"):
                    yield Static(WELCOME, id="welcome", markup=False)
                yield PromptInput(id="prompt")
                with Horizontal(id="statusbar"):
                    yield Static(self._status_text(), id="status")
            with TabbedContent(id="panel", initial="sources-tab"):
                with TabPane("Sources", id="sources-tab"):
                    yield SourcesPanel(id="sources")
                with TabPane("Inspector", id="inspector-tab"):
                    yield InspectorPanel(self.settings.k, id="inspector")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "tutor"
        self.sub_title = "new chat"
        self.query_one("#chat-log", VerticalScroll).anchor()
        self.query_one("#welcome", Static).update(_markdown_light(WELCOME))
        self.query_one(PromptInput).focus()
        # everything else waits for the first paint: the history database, the quiz's mastery
        # (a thread that imports the quiz) and the engine
        self.call_after_refresh(self._after_first_paint)

    def _after_first_paint(self) -> None:
        self.open_history()
        self.maybe_start_engine()

    def open_history(self) -> None:
        if self.history is not None:
            return
        try:
            self.history = History(self.settings.home)
        except (HistoryError, OSError, sqlite3.Error) as exc:
            self.notify(f"chat history unavailable: {exc}", severity="error", timeout=10)

    def on_resize(self) -> None:
        self.set_class(self.size.width < 110, "-narrow")

    def on_screen_resume(self) -> None:
        if self._load_started:  # back from the quiz or a dialog: mastery may have changed
            self.load_mastery()
        else:
            self.call_after_refresh(self.maybe_start_engine)

    def maybe_start_engine(self) -> None:
        if not self._load_started and self.app.screen is self:
            self._load_started = True
            self.load_mastery()
            self.load_engine()

    # ------------------------------------------------------------ status bar

    def _status_text(self) -> Text:
        marks = {"starting": ("◌", "yellow"), "loading": ("◌", "yellow"), "ready": ("●", "green"),
                 "no-model": ("▲", "yellow"), "error": ("✖", "red")}
        mark, style = marks.get(self.engine_state, ("?", ""))
        out = Text()
        out.append(f"{mark} ", style=f"bold {style}")
        if self.engine_state == "ready" and not self.use_llm:
            why = "--no-llm" if self._no_llm_flag else "chosen in the model picker"
            out.append(f"retrieval only ({why}; F4 to pick a model)")
        else:
            out.append(self.engine_detail)
        if self._active is not None:
            out.append("  ·  answering (Esc stops)", style="italic")
        if self._queue:
            out.append(f"  ·  {len(self._queue)} queued", style="italic")
        return out

    def refresh_status(self) -> None:
        self.query_one("#status", Static).update(self._status_text())
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "stop":
            return self._active is not None
        return True

    # ------------------------------------------------------------ engine start-up

    @work(thread=True, exclusive=True, group="engine", name="load engine")
    def load_engine(self) -> None:
        post = self.post_message
        post(msg.EngineStatus("loading", "loading: opening the index…"))
        try:
            if self.backend_factory is not None:
                backend = self.backend_factory(self.settings)
            else:
                from .backend import TutorBackend

                backend = TutorBackend(self.settings)
            post(msg.EngineStatus("loading", "loading: opening the index…", backend=backend))
            from .backend import PostingProgress

            progress = PostingProgress(lambda *a: post(msg.IndexProgress(*a)), self._quitting)
            for notice in backend.open(progress):
                post(msg.EngineNotice(notice))
            post(msg.EngineStatus("loading", "loading: the embedder…"))
            backend.load_embedder()
        except Exception as exc:  # any failure here leaves the app up, with the reason shown
            post(msg.EngineStatus("error", f"error: {_describe(exc)}"))
            return
        if not self.use_llm:  # --no-llm: the model is not even loaded (F4 loads one later)
            post(msg.EngineStatus("ready", self._ready_detail("no model"), model=None))
            return
        post(msg.EngineStatus("loading", f"loading: the model {self.settings.model.name}…"))
        try:
            name = backend.load_model()
        except Exception as exc:
            post(msg.EngineStatus("no-model", f"model unavailable: {_describe(exc)}; answers come "
                                  "from retrieval alone", model=None))
            return
        post(msg.EngineStatus("ready", self._ready_detail(name), model=name))

    def _ready_detail(self, model: str) -> str:
        s = self.settings
        return f"ready · {model} · {s.k} sources · n_ctx {s.n_ctx} · temperature {s.temperature:g}"

    def on_engine_status(self, message: msg.EngineStatus) -> None:
        if message.backend is not None:
            self.backend = message.backend
        self.engine_state = message.state
        self.engine_detail = message.detail
        if message.state != "loading":
            for bar in self.query("#progress"):
                bar.display = False
        self.refresh_status()
        if message.state in ("ready", "no-model", "error"):
            self._pump_queue()

    def on_index_progress(self, message: msg.IndexProgress) -> None:
        if message.chunks_total:  # new or changed files: embedding (first run: the whole corpus)
            bar = self._progress_bar()
            bar.display = True
            bar.update(total=message.chunks_total, progress=message.chunks_done)
            self.engine_detail = (f"indexing the corpus: {message.chunks_done}/"
                                  f"{message.chunks_total} chunks, {message.files_done}/"
                                  f"{message.files_total} files")
        else:
            self.engine_detail = (f"loading: checking the corpus, {message.files_done}/"
                                  f"{message.files_total} files")
        self.refresh_status()

    def _progress_bar(self) -> ProgressBar:
        from textual.widgets import ProgressBar

        found = self.query("#progress")
        if found:
            return found.first(ProgressBar)
        bar = ProgressBar(id="progress", show_eta=False, show_percentage=False)
        self.query_one("#statusbar").mount(bar)
        return bar

    def on_engine_notice(self, message: msg.EngineNotice) -> None:
        self.notify(message.text, severity=message.severity)  # type: ignore[arg-type]

    # ------------------------------------------------------------ asking

    @on(PromptInput.Submitted)
    async def on_submitted(self, event: PromptInput.Submitted) -> None:
        question = event.text.strip()
        if not question:
            return
        self.query_one(PromptInput).clear()
        await self.ask(question)

    async def ask(self, question: str, claim: int | None = None,
                  knobs: tuple[int, str, int | None] | None = None) -> TurnView:
        self._keys += 1
        turn = TurnView(self._keys, question, claim)
        turn.knobs = knobs
        log = self.query_one("#chat-log", VerticalScroll)
        welcome = self.query("#welcome")
        if welcome:
            await welcome.remove()
        await log.mount(turn)
        self.turns.append(turn)
        self._queue.append(turn)
        await self.select(turn)
        log.anchor()
        self._pump_queue()
        return turn

    def _pump_queue(self) -> None:
        if self._active is not None:
            for turn in self._queue:
                turn.set_state("queued")
            self.refresh_status()
            return
        while self._queue:
            if self.engine_state in ("starting", "loading"):
                for turn in self._queue:
                    turn.set_state("queued-loading")
                break
            turn = self._queue.popleft()
            if self.engine_state == "error" or self.backend is None:
                self.call_later(self._fail, turn, f"the tutor could not start: {self.engine_detail}")
                continue
            self._start(turn)
            break
        self.refresh_status()

    def _start(self, turn: TurnView) -> None:
        assert self.backend is not None
        self._active = turn
        turn.cancel = threading.Event()
        earlier = self.turns[: self.turns.index(turn)]
        history = [(t.question, t.view.answer) for t in earlier
                   if t.finished and t.status in ("done", "stopped") and t.view.answer.strip()
                   and t.view.covered]
        turn.view.history_offered = len(history)
        turn.set_state("retrieving")
        use_llm = self._model_ready()
        self.run_answer(self.backend, turn.key, turn.question, history, turn.claim, use_llm,
                        turn.cancel, turn.knobs)

    @work(thread=True, exclusive=True, group="model", name="answer")
    def run_answer(self, backend: Backend, key: int, question: str,
                   history: Sequence[tuple[str, str]], claim: int | None, use_llm: bool,
                   cancel: threading.Event,
                   knobs: tuple[int, str, int | None] | None = None) -> None:
        from ..pipeline import Done, Notice, PromptReady, Retrieved, Token

        worker = get_current_worker()
        post = self.post_message
        try:
            pinned: list[Any] = []
            if claim:
                from ..ingest import language_of

                pinned = backend.claim_passages(claim, language_of(question))
            if knobs is not None:  # the inspector's re-run: other retrieval, no history
                k, leg, only_claim = knobs
                events = backend.ask_tuned(question, k=k, leg=leg, claim=only_claim,
                                           use_llm=use_llm, cancel=cancel)
            else:
                events = backend.ask(question, history=history, claim=claim, pinned=pinned,
                                     use_llm=use_llm, cancel=cancel)
            with contextlib.closing(events):  # type: ignore[type-var]
                for event in events:
                    if worker.is_cancelled:
                        cancel.set()
                    if isinstance(event, Token):
                        post(msg.AnswerToken(key, event.text))
                    elif isinstance(event, Retrieved):
                        post(msg.AnswerRetrieved(key, event))
                    elif isinstance(event, PromptReady):
                        post(msg.AnswerPrompt(key, event))
                    elif isinstance(event, Notice):
                        post(msg.AnswerNotice(key, event.text))
                    elif isinstance(event, Done):
                        post(msg.AnswerDone(key, event))
        except Exception as exc:  # shown inline; the question goes back into the box
            post(msg.AnswerFailed(key, _describe(exc)))

    def _live(self, key: int) -> TurnView | None:
        turn = next((t for t in self.turns if t.key == key), None)
        return None if turn is None or turn.finished else turn

    async def on_answer_retrieved(self, message: msg.AnswerRetrieved) -> None:
        if (turn := self._live(message.key)) is None:
            return
        turn.view.sources = [hit_dict(h) for h in message.retrieved.hits]
        turn.view.covered = message.retrieved.covered
        turn.set_state("reading")
        await self._refresh_panels(turn)

    async def on_answer_prompt(self, message: msg.AnswerPrompt) -> None:
        if (turn := self._live(message.key)) is None:
            return
        turn.view.prompt = message.ready.prompt
        turn.view.budget = dict(message.ready.budget)
        await self._refresh_panels(turn, sources=False)

    async def on_answer_token(self, message: msg.AnswerToken) -> None:
        if (turn := self._live(message.key)) is None:
            return
        if turn.view.state != "streaming":
            turn.set_state("streaming")
        await turn.add_token(message.text)

    def on_answer_notice(self, message: msg.AnswerNotice) -> None:
        if (turn := self._live(message.key)) is None:
            return
        turn.notices.append(message.text)
        turn.refresh_meta()

    async def on_answer_done(self, message: msg.AnswerDone) -> None:
        if (turn := self._live(message.key)) is None:
            return
        done = message.done
        await turn.complete(done, [hit_dict(h) for h in done.sources])
        self._save(turn)
        await self._finish(turn)

    async def on_answer_failed(self, message: msg.AnswerFailed) -> None:
        if (turn := self._live(message.key)) is None:
            return
        await self._fail(turn, message.error)

    async def _fail(self, turn: TurnView, error: str) -> None:
        await turn.fail(error)
        self._save(turn)
        box = self.query_one(PromptInput)
        if not box.text.strip():
            box.load_text(turn.question)
            box.move_cursor(box.document.end)
        else:
            self.notify("The failed question is kept in the chat above.", severity="warning")
        await self._finish(turn)

    async def _finish(self, turn: TurnView) -> None:
        if self._active is turn:
            self._active = None
        await self._refresh_panels(turn)
        self._pump_queue()

    def action_stop(self) -> None:
        turn = self._active
        if turn is None:
            return
        self.call_later(self._stop, turn)

    def cancel_all(self) -> None:
        self._quitting.set()
        for turn in [self._active, *self._queue]:
            if turn is not None and turn.cancel is not None:
                turn.cancel.set()

    async def shutdown(self, keep_queued: bool = False) -> None:
        """Before quitting: stop the model and close the answer's Markdown stream; with
        ``keep_queued`` (the terminal is gone), questions still waiting are saved as stopped."""
        self.cancel_all()
        waiting = list(self._queue) if keep_queued else []
        if keep_queued:
            self._queue.clear()  # so stopping the active answer starts none of them
        if self._active is not None:
            await self._stop(self._active)
        for turn in waiting:
            await self._stop(turn)

    def on_unmount(self) -> None:
        self.cancel_all()

    async def _stop(self, turn: TurnView) -> None:
        if turn.finished:
            return
        await turn.stop_now()
        self._save(turn)
        await self._finish(turn)

    # ------------------------------------------------------------ claims

    @on(ClaimsSidebar.Explain)
    async def on_explain(self, event: ClaimsSidebar.Explain) -> None:
        await self.explain_claim(event.claim, event.japanese)

    @on(ClaimsSidebar.Practise)
    def on_practise(self, event: ClaimsSidebar.Practise) -> None:
        self.tutor_app.open_quiz(claim=event.claim)

    async def explain_claim(self, number: int, japanese: bool = False) -> None:
        await self.ask(claim_question(number, japanese), claim=number)
        self.query_one(PromptInput).focus()

    @work(thread=True, exclusive=True, group="mastery", name="mastery")
    def load_mastery(self) -> None:
        try:
            from ..quiz import mastery_by_claim  # type: ignore[attr-defined]
        except ImportError:
            return
        try:
            mastery = mastery_by_claim(self.settings.home)
        except Exception:  # the quiz's store is not ours to repair; no bars then
            return
        self.post_message(msg.MasteryLoaded(dict(mastery)))

    def on_mastery_loaded(self, message: msg.MasteryLoaded) -> None:
        self.query_one(ClaimsSidebar).set_mastery(message.mastery)

    # ------------------------------------------------------------ selection and panels

    async def select(self, turn: TurnView | None) -> None:
        for t in self.turns:
            t.set_class(t is turn, "-selected")
        self.selected = turn
        await self._refresh_panels(turn, force=True)

    @property
    def busy(self) -> bool:
        """An answer is on its way, queued, or the panels are being redrawn (tests wait on it)."""
        return self._active is not None or bool(self._queue) or self._refreshing > 0

    async def _refresh_panels(self, turn: TurnView | None, sources: bool = True,
                              force: bool = False) -> None:
        if turn is not self.selected and not force:
            return
        view = turn.view if turn else None
        self._refreshing += 1
        try:
            if sources:
                await self.query_one(SourcesPanel).show(view)
            self.query_one(InspectorPanel).show(view)
        finally:
            self._refreshing -= 1

    @on(TurnView.Clicked)
    async def on_turn_clicked(self, event: TurnView.Clicked) -> None:
        await self.select(event.turn)

    async def action_select_turn(self, step: int) -> None:
        if not self.turns:
            return
        index = self.turns.index(self.selected) if self.selected in self.turns else len(self.turns)
        target = self.turns[max(0, min(len(self.turns) - 1, index + step))]
        await self.select(target)
        self.query_one("#chat-log", VerticalScroll).scroll_to_widget(target, animate=False)

    def action_toggle_panel(self) -> None:
        tabs = self.query_one("#panel", TabbedContent)
        tabs.active = "inspector-tab" if tabs.active == "sources-tab" else "sources-tab"

    def action_show_tab(self, tab: str) -> None:
        self.query_one("#panel", TabbedContent).active = tab

    def action_toggle_sidebar(self) -> None:
        sidebar = self.query_one("#sidebar")
        if self.has_class("-narrow"):
            sidebar.set_class(not sidebar.has_class("-shown"), "-shown")
        else:
            sidebar.set_class(not sidebar.has_class("-hidden"), "-hidden")

    # ------------------------------------------------------------ documents

    @on(SourceCard.Open)
    def on_source_open(self, event: SourceCard.Open) -> None:
        self.open_document(event.source)

    def action_open_source(self) -> None:
        source = self.query_one(SourcesPanel).current()
        if source is None:
            self.notify("No sources to open yet.", severity="warning")
            return
        self.open_document(source)

    def open_document(self, source: dict[str, Any]) -> None:
        if self.backend is None or self.engine_state in ("starting", "loading", "error"):
            self.notify("The index is not open yet; try again when the tutor is ready.",
                        severity="warning")
            return
        self._doc_request = source
        self.load_document(self.backend, str(source.get("doc_id", "")))

    @work(thread=True, exclusive=True, group="docs", name="document")
    def load_document(self, backend: Backend, doc_id: str) -> None:
        try:
            chunks = backend.document_chunks(doc_id)
        except Exception as exc:
            self.post_message(msg.DocumentLoaded(doc_id, [], _describe(exc)))
            return
        self.post_message(msg.DocumentLoaded(doc_id, chunks))

    def on_document_loaded(self, message: msg.DocumentLoaded) -> None:
        source = self._doc_request or {}
        if message.error or not message.chunks:
            self.notify(f"{message.doc_id}: {message.error or 'no longer in the index'}",
                        severity="error")
            return
        target = _match_chunk(message.chunks, source)
        prompt = self.selected.view.prompt if self.selected else ""
        body = prompt_body(prompt, int(source.get("rank") or 0)) if prompt else None
        cited: list[str] = []
        if body is not None:
            flat = " ".join(body.split())
            parts = sentences(str(source.get("text", "")))
            cited = [p for p in parts if " ".join(p.split()) in flat]
            if len(cited) == len(parts):
                cited = []
        first = message.chunks[0]
        from .screens import DocumentScreen

        self.app.push_screen(DocumentScreen(first.title, first.source, message.chunks, target,
                                            cited))

    # ------------------------------------------------------------ chats (history)

    def _save(self, turn: TurnView) -> None:
        if self.history is None:
            return
        try:
            if self.session_id is None:
                self.session_id = self.history.new_session().id
            record = self.history.add_turn(
                self.session_id, turn.question, answer=turn.view.answer,
                sources=turn.view.sources, model=turn.view.model, timings=turn.view.timings,
                budget=turn.view.budget, prompt=turn.view.prompt, status=turn.status,
                stopped_by=turn.stopped_by, covered=turn.view.covered, claim=turn.claim,
                notices=turn.notices, error=turn.error)
            turn.record_id = record.id
            session = self.history.session(self.session_id)
            self.sub_title = session.title if session else default_title(turn.question)
        except Exception as exc:  # e.g. disk full: the chat goes on, unsaved
            self.notify(f"could not save this answer: {exc}", severity="error")

    async def action_new_chat(self) -> None:
        await self._clear()
        self.session_id = None
        self.sub_title = "new chat"
        log = self.query_one("#chat-log", VerticalScroll)
        await log.mount(Static(_markdown_light(WELCOME), id="welcome"))
        self.query_one(PromptInput).focus()

    async def _clear(self) -> None:
        if self._active is not None:
            await self._stop(self._active)
        for turn in list(self._queue):
            turn.finished = True
        self._queue.clear()
        await self.query_one("#chat-log", VerticalScroll).remove_children()
        self.turns = []
        await self.select(None)
        self.refresh_status()

    async def resume(self, session_id: int) -> None:
        if self.history is None:
            return
        session = self.history.session(session_id)
        if session is None:
            self.notify("That chat no longer exists.", severity="warning")
            return
        await self._clear()
        self.session_id = session_id
        self.sub_title = session.title
        views = []
        for record in self.history.turns(session_id):
            self._keys += 1
            views.append(TurnView.from_record(self._keys, record))
        log = self.query_one("#chat-log", VerticalScroll)
        if views:
            await log.mount_all(views)
        self.turns = views
        await self.select(views[-1] if views else None)
        log.anchor()
        self.query_one(PromptInput).focus()

    def action_sessions(self) -> None:
        from .screens import SessionsScreen

        if self.history is None:
            self.notify("Chat history is unavailable.", severity="error")
            return

        async def chosen(choice: SessionChoice | None) -> None:
            if self.history and self.session_id is not None and \
                    self.history.session(self.session_id) is None:
                await self.action_new_chat()  # the open chat was deleted
            if choice is None:
                return
            if choice.action == "open" and choice.session_id is not None:
                if choice.session_id != self.session_id or not self.turns:
                    await self.resume(choice.session_id)
            elif choice.action == "new":
                await self.action_new_chat()
            elif choice.action == "export" and choice.session_id is not None:
                self.export(choice.session_id)

        self.app.push_screen(SessionsScreen(self.history, self.session_id), chosen)

    def action_export(self) -> None:
        if self.history is None or self.session_id is None:
            self.notify("Nothing to export yet: ask a question first.", severity="warning")
            return
        self.export(self.session_id)

    def export(self, session_id: int) -> None:
        assert self.history is not None
        session = self.history.session(session_id)
        if session is None:
            return
        slug = "".join(ch if ch.isalnum() else "-" for ch in session.title.lower())[:40].strip("-")
        default = self.settings.home / "exports" / f"chat-{session_id}-{slug or 'untitled'}.md"

        def chosen(path: str | None) -> None:
            if not path or self.history is None:
                return
            try:
                out = self.history.export_to(session_id, Path(path))
            except Exception as exc:
                self.notify(f"export failed: {exc}", severity="error")
                return
            self.notify(f"Exported to {out}", title="Chat exported", timeout=8)

        from .screens import TextPrompt

        self.app.push_screen(TextPrompt("Export the chat to Markdown: file", str(default)), chosen)

    # ------------------------------------------------------------ the RAG lab

    @on(InspectorPanel.Rerun)
    async def on_rerun(self, event: InspectorPanel.Rerun) -> None:
        """Ask the selected question again with the inspector's retrieval knobs."""
        if self.selected is None:
            self.notify("Select an answer first, then re-run it with other retrieval.",
                        severity="warning")
            return
        await self.ask(self.selected.question, knobs=(event.k, event.leg, event.claim))
        self.notify(f"Re-asked with {event.label}.", title="Retrieval knobs")

    def action_compare(self) -> None:
        """Compare without sources: the selected answer beside the bare model's (the RAG lab)."""
        turn = self.selected
        if turn is None or not turn.finished or turn.status not in ("done", "stopped"):
            self.notify("Select a finished answer first (Ctrl+↑/↓), then compare it without "
                        "sources.", severity="warning")
            return
        if self.backend is None or self.engine_state in ("starting", "loading", "error"):
            self.notify("The tutor is not ready yet; compare when it is.", severity="warning")
            return
        if self._active is not None:
            self.notify("Wait for the answer to finish (or press Esc) before comparing.",
                        severity="warning")
            return
        from .lab_screen import LabScreen

        self.app.push_screen(LabScreen(self.backend, turn.view, self._model_ready(),
                                       self.settings.k))

    def action_lesson(self) -> None:
        """The RAG lesson: the selected question (or a default one) walked through step by step."""
        if self.backend is None or self.engine_state in ("starting", "loading", "error"):
            self.notify("The tutor is not ready yet; open the lesson when it is.",
                        severity="warning")
            return
        if self._active is not None:
            self.notify("Wait for the answer to finish (or press Esc) before the lesson.",
                        severity="warning")
            return
        from .lesson import DEFAULT_QUESTION, LessonScreen

        question = self.selected.question if self.selected is not None else DEFAULT_QUESTION
        self.app.push_screen(LessonScreen(self.backend, question, self._model_ready(),
                                          self.settings.k))

    def _model_ready(self) -> bool:
        return self.use_llm and self.engine_state == "ready"

    # ------------------------------------------------------------ other screens

    def action_help(self) -> None:
        from .screens import HelpScreen

        self.app.push_screen(HelpScreen())

    def action_quiz(self) -> None:
        self.tutor_app.open_quiz()

    def action_add_documents(self) -> None:
        if self.backend is None or self.engine_state in ("starting", "loading"):
            self.notify("still loading: add documents when the index is open",
                        title="Add documents")
            return
        from .add_screen import AddScreen

        self.app.push_screen(AddScreen(self.backend))

    def action_pick_model(self) -> None:
        from .screens import NO_MODEL, ModelPicker

        if self._active is not None:
            self.notify("Wait for the answer to finish (or press Esc) before switching models.",
                        severity="warning")
            return
        if self.engine_state in ("starting", "loading") or self.backend is None:
            self.notify("The tutor is still loading; pick a model when it is ready.",
                        severity="warning")
            return

        def chosen(choice: Path | str | None) -> None:
            if choice is None:
                return
            if choice == NO_MODEL:
                self.use_llm, self._no_llm_flag = False, False
                self.refresh_status()
                self.notify("Answers now come from retrieval alone (no model).")
                return
            assert isinstance(choice, Path)
            self.use_llm = True
            if self.persist_settings:
                value = choice.name if choice.parent.resolve() == MODELS_DIR.resolve() else str(choice)
                try:
                    write_setting("model", value)
                except (ConfigError, OSError) as exc:
                    self.notify(f"could not save the model choice: {exc}", severity="error")
            self.settings = replace(self.settings, model=choice)
            self.engine_state = "loading"
            self.engine_detail = f"loading: the model {choice.name}…"
            self.refresh_status()
            assert self.backend is not None
            self.switch_model(self.backend, choice)

        loaded = self.engine_state == "ready" and self.use_llm
        self.app.push_screen(ModelPicker(self.models_dir, self.settings.model, loaded), chosen)

    @work(thread=True, exclusive=True, group="model", name="switch model")
    def switch_model(self, backend: Backend, path: Path) -> None:
        try:
            name = backend.switch_model(path)
        except Exception as exc:
            self.post_message(msg.ModelSwitched(None, _describe(exc)))
            return
        self.post_message(msg.ModelSwitched(name, None))

    def on_model_switched(self, message: msg.ModelSwitched) -> None:
        if message.error:
            self.engine_state = "no-model"
            self.engine_detail = (f"model unavailable: {message.error}; answers come from "
                                  "retrieval alone")
            self.notify(message.error, title="Model not loaded", severity="error")
        else:
            self.engine_state = "ready"
            self.engine_detail = self._ready_detail(message.model or "")
            self.notify(f"Now answering with {message.model}.")
        self.refresh_status()
        self._pump_queue()

    def action_settings(self) -> None:
        def chosen(changes: dict[str, Any] | None) -> None:
            if not changes:
                return
            try:
                updated = _apply(self.settings, changes)
            except ValueError as exc:
                self.notify(str(exc), title="Setting not saved", severity="error")
                return
            if self.persist_settings:
                try:
                    for key, value in changes.items():
                        write_setting(key, getattr(updated, key) if key != "embedder" else value)
                except (ConfigError, OSError) as exc:
                    self.notify(str(exc), title="Setting not saved", severity="error")
                    return
            self.settings = updated
            self.tutor_app.settings = updated
            if self.backend is not None:
                self.update_backend_settings(self.backend, updated)
            if self.engine_state == "ready" and self.backend and self.backend.model_name:
                self.engine_detail = self._ready_detail(self.backend.model_name)
            self.refresh_status()
            note = "; the embedder change takes effect at the next start" if "embedder" in changes else ""
            self.notify(f"Saved: {', '.join(sorted(changes))}{note}.")

        from .screens import SettingsScreen

        self.app.push_screen(SettingsScreen(self.settings, config_path()), chosen)

    @work(thread=True, exclusive=True, group="settings", name="settings")
    def update_backend_settings(self, backend: Backend, settings: Settings) -> None:
        backend.update_settings(replace(settings, embedder=backend.settings.embedder))


def _apply(settings: Settings, changes: dict[str, Any]) -> Settings:
    values: dict[str, Any] = {}
    for key, raw in changes.items():
        try:
            if key in ("k", "max_tokens"):
                values[key] = int(raw)
                if values[key] < 1:
                    raise ValueError
            elif key == "temperature":
                values[key] = float(raw)
                if not 0 <= values[key] <= 2:
                    raise ValueError
            elif key == "embedder":
                values[key] = Path(raw).expanduser() if raw else None
        except ValueError:
            raise ValueError(f"{key} = {raw!r} is not a valid value") from None
    return replace(settings, **values)


def _match_chunk(chunks: list[Any], source: dict[str, Any]) -> str | None:
    """The chunk an answer cited; by id, else by position (the document changed), else text."""
    wanted = str(source.get("chunk_id", ""))
    ids = [c.chunk_id for c in chunks]
    if wanted in ids:
        return wanted
    ord_ = wanted.rpartition("#")[2]
    for c in chunks:
        if ord_.isdigit() and c.ord == int(ord_):
            return str(c.chunk_id)
    text = str(source.get("text", ""))[:80]
    return next((c.chunk_id for c in chunks if text and text in c.text), None)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    name = type(exc).__name__
    if not text:
        return name
    return text if name in ("ModelError", "EmbedderError", "StoreError", "IndexBusy",
                            "ConfigError") else f"{name}: {text}"


def _markdown_light(text: str) -> Text:
    """The welcome text with **bold** and *italic*, without a Markdown widget (fast first paint)."""
    import re

    out = Text()
    pos = 0
    for m in re.finditer(r"\*\*(.+?)\*\*|\*(.+?)\*", text):
        out.append(text[pos:m.start()])
        if m.group(1):
            out.append(m.group(1), style="bold")
        else:
            out.append(m.group(2), style="italic")
        pos = m.end()
    out.append(text[pos:])
    return out
