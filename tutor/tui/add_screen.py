"""The Add documents screen: a path box, a directory tree, a progress bar and one line per file.

Type a path, a folder or a glob (``~/notes/*.md``) in the box, or pick one in the tree, and
press Enter: the files are added in a thread worker through ``backend.add_paths(specs,
progress)`` (the real backend adds to the same index the chat searches, so a new document is
searchable at once). The bar counts the chunks embedded out of those planned; the label names
the file. Esc while adding cancels: the engine stops between batches and keeps nothing of the
file it was embedding; Esc when idle closes the screen. The worker never touches a widget: its
:class:`ScreenProgress` hands every callback to the event loop with ``app.call_from_thread``.

An encrypted PDF whose password is needed (or was wrong) opens a password box under the path
box: Enter adds that file again with the password typed, Esc skips it. The password goes to
that one add and is cleared from the box at once; it is kept and shown nowhere.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import (Button, DirectoryTree, Footer, Header, Input, Label, ProgressBar,
                             RichLog)

from ..index import AddResult, Progress

AddFunc = Callable[..., list[AddResult]]  # (specs, progress[, password=...])

STATUS_STYLE = {"added": "green", "updated": "cyan", "unchanged": "dim", "removed": "yellow",
                "duplicate": "yellow", "error": "red"}


class ScreenProgress(Progress):
    """Engine callbacks, forwarded to the screen on the event loop; cancel via an Event."""

    def __init__(self, screen: AddScreen, cancel: threading.Event) -> None:
        self.screen = screen
        self.cancel = cancel

    def _call(self, fn: Callable[..., object], *args: object) -> None:
        def guarded() -> None:
            if self.screen.is_attached:  # the learner may have closed the screen meanwhile
                fn(*args)

        try:
            self.screen.app.call_from_thread(guarded)
        except Exception:  # the app is closing: stop adding at the next check
            self.cancel.set()

    def file_started(self, path: str, index: int, total: int) -> None:
        self._call(self.screen.on_file_started, path, index, total)

    def chunks_planned(self, path: str, chunks: int) -> None:
        self._call(self.screen.on_chunks_planned, path, chunks)

    def embedded(self, n: int) -> None:
        self._call(self.screen.on_embedded, n)

    def file_done(self, result: AddResult) -> None:
        self._call(self.screen.on_file_done, result)

    def message(self, text: str) -> None:
        self._call(self.screen.on_note, text)

    def cancelled(self) -> bool:
        return self.cancel.is_set()


def result_line(result: AddResult) -> Text:
    """One line per file: status, name, chunks or the reason (errors in red)."""
    style = STATUS_STYLE.get(result.status, "")
    line = Text()
    line.append(f"{result.status:<9}", style=f"bold {style}")
    line.append(" ")
    line.append(result.path, style="red" if result.status == "error" else "")
    if result.status == "error":
        line.append(f" — {result.error or 'failed'}", style="red")
    elif result.status == "duplicate":
        line.append(f" — of {result.duplicate_of}, not indexed", style="dim")
    else:
        line.append(f" — {result.chunks} chunks", style="dim")
        if result.title:
            line.append(f" — {result.title}")
        if result.note:
            line.append(f" ({result.note})", style="dim")
    return line


def summary_text(results: Sequence[AddResult]) -> str:
    added = sum(r.status in ("added", "updated") for r in results)
    unchanged = sum(r.status == "unchanged" for r in results)
    failed = sum(r.status == "error" for r in results)
    duplicate = sum(r.status == "duplicate" for r in results)
    return f"{added} added, {unchanged} unchanged, {failed} failed" + (
        f", {duplicate} duplicate" if duplicate else "")


class AddScreen(Screen[None]):
    """Add Markdown, text, HTML or PDF files; ``adder`` is a backend or ``(specs, progress)``."""

    BINDINGS = [
        Binding("escape", "cancel_or_close", "Cancel / close"),
    ]

    DEFAULT_CSS = """
    AddScreen #add-body { height: 1fr; }
    AddScreen #add-tree { width: 40%; min-width: 24; border: round $primary; }
    AddScreen #add-right { width: 1fr; padding: 0 1; }
    AddScreen #add-row { height: auto; }
    AddScreen #add-path { width: 1fr; }
    AddScreen #add-go { min-width: 8; }
    AddScreen #add-file { height: 1; margin-top: 1; }
    AddScreen #add-progress { margin-bottom: 0; }
    AddScreen #add-rate { height: 1; margin-bottom: 1; color: $text-muted; }
    AddScreen #add-log { height: 1fr; border: round $secondary; }
    AddScreen #add-help { height: auto; color: $text-muted; }
    AddScreen #add-password-row { height: auto; display: none; }
    AddScreen #add-password-row.-asking { display: block; }
    AddScreen #add-password-label { height: auto; color: $warning; }
    """

    def __init__(self, adder: Any, start: Path | None = None) -> None:
        super().__init__()
        self.adder = adder
        self.start = start or Path.home()
        self.cancel_event: threading.Event | None = None
        self.busy = False
        self.results: list[AddResult] = []
        self.notes: list[str] = []
        self.last_summary = ""
        self.files_total = 0
        self.file_index = 0
        self.file_name = ""
        self.chunks_total = 0
        self.chunks_done = 0
        self.locked: list[str] = []  # encrypted PDFs waiting for their password
        self.embed_started: float | None = None  # when this add's first chunks were planned

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="add-body"):
            start = self.start if self.start.is_dir() else Path.cwd()
            yield DirectoryTree(str(start), id="add-tree")
            with Vertical(id="add-right"):
                yield Label("Add Markdown, text, HTML or PDF files: a file, a folder or a glob "
                            "(*.md). Enter adds; Esc cancels a running add, or closes.",
                            id="add-help")
                with Horizontal(id="add-row"):
                    yield Input(placeholder="path, folder or glob, e.g. ~/notes/*.md",
                                id="add-path")
                    yield Button("Add", id="add-go", variant="primary")
                with Vertical(id="add-password-row"):
                    yield Label("", id="add-password-label")
                    yield Input(placeholder="password (Enter adds the file, Esc skips it)",
                                password=True, id="add-password")
                yield Label("idle", id="add-file")
                yield ProgressBar(id="add-progress", total=None, show_eta=False)
                yield Label("", id="add-rate")
                yield RichLog(id="add-log", wrap=False, markup=False, highlight=False)
        yield Footer()

    def on_mount(self) -> None:
        self.title = "tutor"
        self.sub_title = "add documents"
        self.query_one("#add-path", Input).focus()

    # ------------------------------------------------------------ picking a path

    @on(DirectoryTree.FileSelected)
    @on(DirectoryTree.DirectorySelected)
    def _picked(self, event: DirectoryTree.FileSelected | DirectoryTree.DirectorySelected) -> None:
        box = self.query_one("#add-path", Input)
        box.value = str(event.path)
        box.cursor_position = len(box.value)

    @on(Input.Submitted, "#add-path")
    def _submitted(self, event: Input.Submitted) -> None:
        self.start_add(event.value)

    @on(Button.Pressed, "#add-go")
    def _pressed(self) -> None:
        self.start_add(self.query_one("#add-path", Input).value)

    # ------------------------------------------------------------ adding

    @on(Input.Submitted, "#add-password")
    def _password_submitted(self, event: Input.Submitted) -> None:
        password = event.value
        event.input.value = ""  # not kept in the widget
        if not self.locked or self.busy:
            return
        path = self.locked.pop(0)
        self._ask_password()
        self.start_add(path, password=password or None)

    def _ask_password(self) -> None:
        """Show the password box for the next locked file, or hide it when none is left."""
        row = self.query_one("#add-password-row")
        row.set_class(bool(self.locked), "-asking")
        if self.locked:
            self.query_one("#add-password-label", Label).update(
                f"{Path(self.locked[0]).name} is encrypted: type its password")
            self.query_one("#add-password", Input).focus()
        else:
            self.query_one("#add-path", Input).focus()

    def start_add(self, value: str, password: str | None = None) -> None:
        spec = value.strip()
        if not spec:
            self.notify("type a path, a folder or a glob first", severity="warning")
            return
        if self.busy:
            self.notify("still adding; Esc cancels", severity="warning")
            return
        spec = str(Path(spec).expanduser()) if spec.startswith("~") else spec
        self.busy = True
        self.cancel_event = threading.Event()
        self.files_total = self.file_index = self.chunks_total = self.chunks_done = 0
        self.file_name = ""
        self.embed_started = None
        self.query_one("#add-rate", Label).update("")
        bar = self.query_one("#add-progress", ProgressBar)
        bar.update(total=None, progress=0)
        self.query_one("#add-file", Label).update(f"adding {spec}…")
        self.query_one("#add-go", Button).disabled = True
        self.run_add([spec], self.cancel_event, password)

    def _add(self, specs: Sequence[str], progress: Progress,
             password: str | None = None) -> list[AddResult]:
        add = getattr(self.adder, "add_paths", self.adder)
        if password is None:
            return list(add(specs, progress))
        return list(add(specs, progress, password=password))

    @work(thread=True, exclusive=True, group="add")
    def run_add(self, specs: list[str], cancel: threading.Event,
                password: str | None = None) -> None:
        progress = ScreenProgress(self, cancel)
        try:
            results = self._add(specs, progress, password)
        except Exception as exc:  # index busy, store or embedder failure: the whole add stops
            progress._call(self.on_add_failed, f"{type(exc).__name__}: {exc}" if not str(exc)
                           else str(exc))
            return
        progress._call(self.on_add_finished, results, cancel.is_set())

    # event-loop side of the progress callbacks

    def _update_label(self) -> None:
        name = self.file_name or "…"
        self.query_one("#add-file", Label).update(
            f"file {self.file_index}/{self.files_total}: {name} — "
            f"{self.chunks_done}/{self.chunks_total} chunks")

    def on_file_started(self, path: str, index: int, total: int) -> None:
        self.file_index, self.files_total, self.file_name = index + 1, total, Path(path).name
        self._update_label()

    def on_chunks_planned(self, path: str, chunks: int) -> None:
        if self.embed_started is None:
            self.embed_started = time.perf_counter()
        self.chunks_total += chunks
        self.query_one("#add-progress", ProgressBar).update(total=max(1, self.chunks_total),
                                                            progress=self.chunks_done)
        self._update_label()

    def on_embedded(self, n: int) -> None:
        self.chunks_done += n
        self.query_one("#add-progress", ProgressBar).update(progress=self.chunks_done)
        self._update_label()
        elapsed = time.perf_counter() - (self.embed_started or time.perf_counter())
        if elapsed > 0:
            self.query_one("#add-rate", Label).update(f"{self.chunks_done / elapsed:.1f} chunks/s")

    def on_file_done(self, result: AddResult) -> None:
        self.results.append(result)
        self.query_one("#add-log", RichLog).write(result_line(result))

    def on_note(self, text: str) -> None:
        self.notes.append(text)
        self.query_one("#add-log", RichLog).write(Text(text, style="dim"))

    def on_add_finished(self, results: list[AddResult], cancelled: bool) -> None:
        log = self.query_one("#add-log", RichLog)
        shown = {id(r) for r in self.results}
        for r in results:  # bad inputs (no such file, empty pattern) never reach file_done
            if id(r) not in shown:
                self.results.append(r)
                log.write(result_line(r))
        summary = summary_text(results)
        if cancelled:
            summary = "cancelled: " + summary
        self.last_summary = summary
        self.query_one("#add-file", Label).update(summary)
        bar = self.query_one("#add-progress", ProgressBar)
        if bar.total is None:
            bar.update(total=1, progress=0 if cancelled or not results else 1)
        self._idle()
        failed = any(r.status == "error" for r in results)
        self.notify(summary, title="Add documents",
                    severity="warning" if cancelled or failed else "information")
        if not cancelled:
            self.locked += [r.path for r in results if r.needs_password and r.path not in self.locked]
            self._ask_password()

    def on_add_failed(self, reason: str) -> None:
        self.last_summary = f"failed: {reason}"
        self.query_one("#add-file", Label).update(self.last_summary)
        self.query_one("#add-log", RichLog).write(Text(f"failed: {reason}", style="red"))
        self._idle()
        self.notify(reason, title="Add documents failed", severity="error")

    def _idle(self) -> None:
        self.busy = False
        self.cancel_event = None
        self.query_one("#add-go", Button).disabled = False

    # ------------------------------------------------------------ keys

    def action_cancel_or_close(self) -> None:
        if self.locked and not self.busy:  # skip the file whose password is asked
            skipped = self.locked.pop(0)
            self.query_one("#add-log", RichLog).write(Text(f"skipped {skipped}: no password given",
                                                           style="dim"))
            self._ask_password()
            return
        if self.busy and self.cancel_event is not None:
            self.cancel_event.set()
            self.query_one("#add-file", Label).update("cancelling: the current file is rolled "
                                                      "back…")
            return
        self.app.pop_screen()

    def on_unmount(self) -> None:
        if self.cancel_event is not None:
            self.cancel_event.set()
