"""The Textual app: ``run_app(settings, screen)`` opens the chat (or the quiz) and returns the
exit code. The first screen paints before anything heavy is imported; the engine loads in a
thread worker of the chat screen."""
from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import App, SystemCommand
from textual.driver import Driver
from textual.screen import Screen

from ..config import MODELS_DIR, ConfigError, Settings, write_setting
from .chat import ChatScreen
from .claims import CLAIMS

if TYPE_CHECKING:
    from .backend import Backend


class TutorApp(App[int]):
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses live elsewhere
    TITLE = "tutor"
    ENABLE_COMMAND_PALETTE = True

    def __init__(self, settings: Settings, start_screen: str = "chat",
                 backend_factory: Callable[[Settings], Backend] | None = None,
                 models_dir: Path = MODELS_DIR, persist_settings: bool = True,
                 use_llm: bool = True, quiz_claim: int | None = None) -> None:
        super().__init__()
        self.settings = settings
        self.start_screen = start_screen
        self.quiz_claim = quiz_claim
        self.persist_settings = persist_settings
        self.chat = ChatScreen(settings, backend_factory, models_dir, persist_settings, use_llm)
        self.terminal_lost: str | None = None  # why the app ended without its terminal

    def get_driver_class(self) -> type[Driver]:
        if sys.platform.startswith("linux") and not os.environ.get("TEXTUAL_DRIVER"):
            from .terminal import TerminalDriver

            return TerminalDriver
        return super().get_driver_class()

    def get_default_screen(self) -> Screen[None]:
        return self.chat

    def on_mount(self) -> None:
        if self.settings.theme in self.available_themes:
            self.theme = self.settings.theme
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        if not self.is_headless:  # a closed window, `kill`: save and go, like a quit
            from .terminal import install_signal_handlers

            install_signal_handlers(self, asyncio.get_running_loop())
        if self.start_screen == "quiz":
            self.open_quiz(self.quiz_claim)

    def _theme_changed(self, theme: object) -> None:
        name = getattr(theme, "name", str(theme))
        if not self.persist_settings or name == self.settings.theme:
            return
        try:
            write_setting("theme", name)
        except (ConfigError, OSError) as exc:
            self.notify(f"could not save the theme: {exc}", severity="warning")

    async def action_quit(self) -> None:
        await self.chat.shutdown()  # the model thread stops at its next token; exit does not wait
        await super().action_quit()

    async def terminal_gone(self, reason: str) -> None:
        """The terminal was closed (or a SIGHUP/SIGTERM came): stop the workers, save the
        chat (an answer being written is kept as stopped) and exit, within a second."""
        if self.terminal_lost is not None:
            return
        self.terminal_lost = reason
        from .terminal import hard_exit_later

        hard_exit_later()  # a thread stuck in a long call must not keep the process
        try:
            await self.chat.shutdown(keep_queued=True)
        finally:
            self.exit(129)

    def open_quiz(self, claim: int | None = None) -> None:
        """The quiz over the chat; ``claim`` limits the session to that claim's items."""
        try:
            from .quiz_screen import QuizScreen  # type: ignore[import-not-found]
        except ImportError:
            self.notify("quiz not available", severity="warning")
            return
        try:
            self.push_screen(QuizScreen(self.settings, claim=claim))
        except Exception as exc:
            self.notify(f"quiz not available: {exc}", severity="error")

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        chat = self.chat

        def act(action: str) -> Callable[[], object]:
            return lambda: self.call_later(self.run_action, action, chat)

        yield SystemCommand("Ask: new chat", "Start a new conversation (Ctrl+N)", act("new_chat"))
        yield SystemCommand("Chats", "Resume, rename, delete or export saved chats (F2)",
                            act("sessions"))
        yield SystemCommand("Export chat to Markdown", "Save this conversation with its sources "
                            "(Ctrl+S)", act("export"))
        yield SystemCommand("Stop the answer", "Stop generating and keep what came (Esc)",
                            act("stop"))
        yield SystemCommand("Open the cited source document", "The whole document, scrolled to "
                            "the passage (Ctrl+O)", act("open_source"))
        yield SystemCommand("Show sources", "Passages retrieval found for the selected answer",
                            act("show_tab('sources-tab')"))
        yield SystemCommand("Show prompt inspector", "The exact prompt and its token budget (F5)",
                            act("show_tab('inspector-tab')"))
        yield SystemCommand("Compare without sources", "The selected question answered with and "
                            "without retrieval, side by side: the RAG lab (F7)", act("compare"))
        yield SystemCommand("RAG lesson", "One question step by step: both retrieval legs, "
                            "fusion, the prompt, the answer with and without sources (EN/日本語)",
                            act("lesson"))
        yield SystemCommand("Previous answer", "Select the previous answer (Ctrl+Up)",
                            act("select_turn(-1)"))
        yield SystemCommand("Next answer", "Select the next answer (Ctrl+Down)",
                            act("select_turn(1)"))
        yield SystemCommand("Toggle claims sidebar", "Show or hide the eight claims (Ctrl+L)",
                            act("toggle_sidebar"))
        for c in CLAIMS:
            yield SystemCommand(f"Explain claim {c.number}", c.title,
                                lambda n=c.number: self.call_later(chat.explain_claim, n))
            yield SystemCommand(f"主張{c.number}を説明 (Explain claim {c.number} in Japanese)",
                                c.title_ja,
                                lambda n=c.number: self.call_later(chat.explain_claim, n, True),
                                discover=False)
            yield SystemCommand(f"Quiz on claim {c.number}", f"Practise claim {c.number}'s questions",
                                lambda n=c.number: self.open_quiz(claim=n), discover=False)
        yield SystemCommand("Pick model", "Choose a GGUF from models/ (F4)", act("pick_model"))
        yield SystemCommand("Settings", "Number of sources, temperature, embedder (F8)",
                            act("settings"))
        yield SystemCommand("Quiz", "Test yourself on the eight claims (F3)", act("quiz"))
        yield SystemCommand("Help", "Every key, and how an answer is made (F1)", act("help"))
        yield SystemCommand("Add documents", "Add Markdown, text, HTML or PDF files to the "
                            "corpus (F6)", act("add_documents"))


def run_app(settings: Settings, screen: str = "chat", use_llm: bool = True,
            quiz_claim: int | None = None) -> int:
    """Run the TUI until the learner quits; the exit code for the shell."""
    app = TutorApp(settings, start_screen=screen, use_llm=use_llm, quiz_claim=quiz_claim)
    app.run()
    if app.terminal_lost is not None:
        # nobody is left to read a message; threads still in a model call or a batch of
        # embeddings would hold the exit (the chat is saved, the index journalled)
        os._exit(app.return_code or 129)
    return app.return_code or 0
