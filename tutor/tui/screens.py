"""Screens around the chat: help, chats (sessions), model picker, settings, document viewer,
and two small dialogs (a line of text, a yes/no question)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Footer, Input, Label, Markdown, OptionList, Static
from textual.widgets.option_list import Option

from ..config import Settings
from ..history import History, Session

KEYS: list[tuple[str, str]] = [
    ("Enter", "send the question"),
    ("Ctrl+J  (Shift+Enter where the terminal allows)", "new line in the question"),
    ("Esc", "stop the answer being written (keeps what came)"),
    ("Ctrl+↑ / Ctrl+↓", "select the previous / next answer (the panels follow)"),
    ("Ctrl+O", "open the selected source's document at the cited passage"),
    ("Enter or o (on a source)", "open that source's document"),
    ("F5", "switch the right panel: Sources ↔ Inspector (prompt and token budget)"),
    ("Ctrl+L", "show or hide the eight claims (list)"),
    ("Enter / j (on a claim)", "explain the claim (j: in Japanese)"),
    ("p (on a claim)", "a quiz session on that claim's questions"),
    ("Ctrl+N", "new chat"),
    ("F2", "chats: resume, rename (r), delete (d), export (e), new (n)"),
    ("Ctrl+S", "export this chat to Markdown"),
    ("F3", "quiz"),
    ("F4", "pick the model (GGUF files in models/)"),
    ("F6", "add documents: a path, folder or glob; Esc cancels a running add"),
    ("F7", "RAG lab: the selected question answered with and without sources"),
    ("F8", "settings (number of sources, temperature, embedder)"),
    ("Ctrl+P", "command palette: every action, plus themes"),
    ("Tab / Shift+Tab", "move between the panels"),
    ("F1", "this help"),
    ("Ctrl+Q", "quit"),
]

HOW = """\
**How an answer is made.** Your question goes to two retrievers: a *dense* one (sentence
embeddings, cosine similarity) and a *lexical* one (BM25 over words, or character pairs for
Japanese). Their rankings are fused; the best passages become the numbered sources. The
prompt holds the system instructions, the key sentences of each source, as many earlier turns
as fit, and your question, all within the model's context window (`n_ctx`). The small model
then writes an answer citing the sources as [1], [2]…  The **Sources** panel shows what was
found and why; the **Inspector** shows the exact prompt and its token budget.
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,f1,q", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        rows = "\n".join(f"| {k} | {v} |" for k, v in KEYS)
        text = f"# Keys\n\n| key | does |\n| --- | --- |\n{rows}\n\n{HOW}"
        with VerticalScroll(id="help-body", classes="dialog"):
            yield Markdown(text)
            yield Static("Esc closes this help.", classes="hint")


class TextPrompt(ModalScreen[str | None]):
    """One line of text (rename a chat, choose an export path)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, value: str = "", hint: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.value = value
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog small-dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield Input(self.value, id="text-prompt")
            yield Static(self.hint or "Enter to confirm, Esc to cancel.", classes="hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class Confirm(ModalScreen[bool]):
    BINDINGS = [Binding("y", "answer(True)", "Yes"), Binding("n,escape", "answer(False)", "No")]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog small-dialog"):
            yield Label(self.question, classes="dialog-title")
            with Horizontal(classes="buttons"):
                yield Button("Yes (y)", id="yes", variant="error")
                yield Button("No (n)", id="no", variant="primary")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


@dataclass
class SessionChoice:
    action: str  # open | new | export
    session_id: int | None = None


class SessionsScreen(ModalScreen[SessionChoice | None]):
    """The saved chats: open one, start a new one, rename, delete or export."""

    BINDINGS = [Binding("escape,f2", "close", "Close"), Binding("n", "new", "New"),
                Binding("r", "rename", "Rename"), Binding("d,delete", "delete", "Delete"),
                Binding("e", "export", "Export")]

    def __init__(self, history: History, current: int | None) -> None:
        super().__init__()
        self.history = history
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="sessions-dialog"):
            yield Label("Chats", classes="dialog-title")
            yield OptionList(id="sessions")
            yield Static("Enter open · n new · r rename · d delete · e export to Markdown · "
                         "Esc close", classes="hint")

    def on_mount(self) -> None:
        self.refresh_list()

    def refresh_list(self, keep: int | None = None) -> None:
        options = self.query_one("#sessions", OptionList)
        sessions = self.history.sessions()
        options.clear_options()
        for s in sessions:
            options.add_option(Option(self._label(s), id=str(s.id)))
        if not sessions:
            options.add_option(Option(Text("No saved chats yet: ask a question to start one.",
                                           style="dim"), id="none", disabled=True))
            return
        ids = [s.id for s in sessions]
        target = keep if keep in ids else (self.current if self.current in ids else ids[0])
        options.highlighted = ids.index(target)
        options.focus()

    def _label(self, s: Session) -> Text:
        out = Text()
        out.append("● " if s.id == self.current else "  ", style="green")
        out.append(s.title, style="bold")
        out.append(f"\n  {s.turns} question{'s' if s.turns != 1 else ''} · last "
                   f"{s.updated[:16].replace('T', ' ')} UTC", style="dim")
        return out

    def _selected(self) -> Session | None:
        options = self.query_one("#sessions", OptionList)
        if options.highlighted is None:
            return None
        option = options.get_option_at_index(options.highlighted)
        if option.id in (None, "none"):
            return None
        return self.history.session(int(option.id))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id and event.option.id != "none":
            self.dismiss(SessionChoice("open", int(event.option.id)))

    def action_close(self) -> None:
        self.dismiss(None)

    def action_new(self) -> None:
        self.dismiss(SessionChoice("new"))

    def action_export(self) -> None:
        if (s := self._selected()) is not None:
            self.dismiss(SessionChoice("export", s.id))

    def action_rename(self) -> None:
        s = self._selected()
        if s is None:
            return

        def done(title: str | None) -> None:
            if title is not None and title.strip():
                self.history.rename(s.id, title)
                self.refresh_list(keep=s.id)

        self.app.push_screen(TextPrompt("Rename chat", s.title), done)

    def action_delete(self) -> None:
        s = self._selected()
        if s is None:
            return

        def done(yes: bool | None) -> None:
            if yes:
                self.history.delete(s.id)
                self.refresh_list()

        self.app.push_screen(Confirm(f"Delete the chat “{s.title}” ({s.turns} questions)?"), done)


NO_MODEL = "retrieval-only"


class ModelPicker(ModalScreen[Path | str | None]):
    """The GGUF files in the models folder; or no model (answers from retrieval alone)."""

    BINDINGS = [Binding("escape,f4", "close", "Close")]

    def __init__(self, models_dir: Path, current: Path | None, loaded: bool) -> None:
        super().__init__()
        self.models_dir = models_dir
        self.current = current
        self.loaded = loaded

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="model-dialog"):
            yield Label(f"Model  ({self.models_dir})", classes="dialog-title")
            yield OptionList(id="models")
            yield Static("Enter switches the model and saves it in the config file · Esc close",
                         classes="hint")

    def on_mount(self) -> None:
        options = self.query_one("#models", OptionList)
        files = sorted(self.models_dir.glob("*.gguf")) if self.models_dir.is_dir() else []
        highlight = 0
        for i, path in enumerate(files):
            label = Text()
            current = self.current is not None and path.resolve() == self.current.resolve()
            label.append("● " if current else "  ", style="green")
            label.append(path.name, style="bold")
            try:
                size = path.stat().st_size / 1e6
                label.append(f"  {size:.0f} MB", style="dim")
            except OSError:
                pass
            if current:
                label.append("  (in use)" if self.loaded else "  (chosen; not loaded)", style="dim")
                highlight = i
            options.add_option(Option(label, id=f"model-{i}"))
        self._files = files
        if not files:
            options.add_option(Option(Text(f"No .gguf files in {self.models_dir} "
                                           "(run `make setup`)", style="yellow"), id="none",
                                      disabled=True))
        options.add_option(Option(Text("  Retrieval only: no model, answers are the best "
                                       "passages"), id=NO_MODEL))
        options.highlighted = highlight
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        oid = event.option.id or ""
        if oid == NO_MODEL:
            self.dismiss(NO_MODEL)
        elif oid.startswith("model-"):
            self.dismiss(self._files[int(oid.removeprefix("model-"))])

    def action_close(self) -> None:
        self.dismiss(None)


class SettingsScreen(ModalScreen[dict[str, Any] | None]):
    """The settings kept in the config file; the model has its own picker (F4)."""

    BINDINGS = [Binding("escape", "close", "Cancel"), Binding("ctrl+s", "save", "Save")]

    FIELDS = [("k", "Number of sources put in front of the model"),
              ("temperature", "Temperature (0 = always the likeliest word)"),
              ("max_tokens", "Longest answer, in tokens"),
              ("embedder", "Embedder folder (empty: the bundled all-MiniLM-L6-v2; "
                           "takes effect at the next start)")]

    def __init__(self, settings: Settings, config_file: Path) -> None:
        super().__init__()
        self.settings = settings
        self.config_file = config_file

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog", id="settings-dialog"):
            yield Label("Settings", classes="dialog-title")
            for key, label in self.FIELDS:
                value = getattr(self.settings, key)
                yield Label(label)
                yield Input("" if value is None else str(value), id=f"set-{key}")
            yield Static(Text(f"Saved to {self.config_file}. Environment variables and "
                              "command-line flags override the file.", style="dim"))
            with Horizontal(classes="buttons"):
                yield Button("Save (Ctrl+S)", id="save", variant="primary")
                yield Button("Cancel (Esc)", id="cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        else:
            self.action_close()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    def action_save(self) -> None:
        changes: dict[str, Any] = {}
        for key, _ in self.FIELDS:
            raw = self.query_one(f"#set-{key}", Input).value.strip()
            old = getattr(self.settings, key)
            if raw == ("" if old is None else str(old)):
                continue
            changes[key] = raw
        self.dismiss(changes)

    def action_close(self) -> None:
        self.dismiss(None)


class DocumentScreen(Screen[None]):
    """A whole document from the index, scrolled to the passage an answer cited."""

    BINDINGS = [Binding("escape,q", "app.pop_screen", "Back"),
                Binding("n", "jump(1)", "Next passage"),
                Binding("p", "jump(-1)", "Previous passage")]

    def __init__(self, title: str, source: str, chunks: list[Any], target: str | None,
                 cited_sentences: list[str] | None = None) -> None:
        super().__init__()
        self.doc_title = title
        self.source = source
        self.chunks = chunks
        self.target = target
        self.cited_sentences = cited_sentences or []

    def compose(self) -> ComposeResult:
        yield Static(Text.assemble((self.doc_title, "bold"), "  ", (self.source, "dim")),
                     id="doc-title")
        with VerticalScroll(id="doc-body"):
            for chunk in self.chunks:
                head = chunk.location + (f" · page {chunk.page}" if chunk.page else "")
                classes = "doc-chunk" + (" -target" if chunk.chunk_id == self.target else "")
                text = Text()
                text.append(head + "\n", style="bold italic")
                text.append(chunk.text)
                if chunk.chunk_id == self.target:
                    for sentence in self.cited_sentences:
                        text.highlight_words([sentence], style="bold underline")
                    text.append("\n◀ the passage the answer used", style="bold green")
                yield Static(text, classes=classes, id=f"chunk-{chunk.ord}")
        yield Footer()

    def on_mount(self) -> None:
        self.call_after_refresh(self._scroll_to_target)

    def _scroll_to_target(self) -> None:
        for widget in self.query(".-target"):
            self.query_one("#doc-body", VerticalScroll).scroll_to_widget(widget, top=True,
                                                                          animate=False)
            widget.focus() if widget.can_focus else None
            break

    def action_jump(self, step: int) -> None:
        body = self.query_one("#doc-body", VerticalScroll)
        blocks = list(self.query(".doc-chunk"))
        if not blocks:
            return
        top = body.scroll_y
        ys = [w.virtual_region.y for w in blocks]
        if step > 0:
            nxt = next((w for w, y in zip(blocks, ys) if y > top + 0.5), blocks[-1])
        else:
            prev = [w for w, y in zip(blocks, ys) if y < top - 0.5]
            nxt = prev[-1] if prev else blocks[0]
        body.scroll_to_widget(nxt, top=True, animate=False)
