"""Pilot tests of the Add documents screen: progress bar, one line per file, cancel, real index."""
from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Input, ProgressBar, RichLog, Static

from tutor.config import load_settings
from tutor.tui.add_screen import AddScreen
from tutor.tui.testing import ScriptedBackend

from test_tui_support import SIZE, make_app, ready, settings_for, wait_until

pytestmark = pytest.mark.asyncio


class Host(App[None]):
    """A bare app that opens the Add screen over whatever adds the files."""

    def __init__(self, adder: Any, start: Path) -> None:
        super().__init__()
        self.adder = adder
        self.start = start
        self.screen_: AddScreen | None = None

    def compose(self) -> ComposeResult:
        yield Static("host")

    def on_mount(self) -> None:
        self.screen_ = AddScreen(self.adder, start=self.start)
        self.push_screen(self.screen_)


def log_text(screen: AddScreen) -> str:
    return "\n".join(line.text for line in screen.query_one("#add-log", RichLog).lines)


def label(screen: AddScreen) -> str:
    return str(screen.query_one("#add-file").render())  # type: ignore[attr-defined]


async def attached(pilot: Any, app: Host) -> AddScreen:
    """The Add screen, once the host has pushed it and it is on screen."""
    await wait_until(pilot, lambda: app.screen_ is not None and app.screen_.is_attached)
    assert app.screen_ is not None
    return app.screen_


async def type_path(pilot: Any, screen: AddScreen, path: str) -> None:
    box = screen.query_one("#add-path", Input)
    box.focus()
    box.value = path
    await pilot.pause()
    await pilot.press("enter")


async def test_add_fills_the_bar_and_lists_each_file(tmp_path: Path) -> None:
    backend = ScriptedBackend(settings_for(tmp_path / "home"))
    app = Host(backend, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await attached(pilot, app)
        await type_path(pilot, screen, str(tmp_path / "notes"))
        await wait_until(pilot, lambda: screen.last_summary, what="the add to finish")
        bar = screen.query_one("#add-progress", ProgressBar)
        assert bar.total == 6 and bar.progress == 6
        assert screen.last_summary == "2 added, 0 unchanged, 0 failed"
        text = log_text(screen)
        assert text.count("added") == 2 and "notes-1.md — 3 chunks" in text
        assert label(screen) == "2 added, 0 unchanged, 0 failed"
        assert backend.added == [str(tmp_path / "notes" / "notes-1.md"),
                                 str(tmp_path / "notes" / "notes-2.md")]
        assert not screen.busy
        await pilot.press("escape")  # idle: Esc closes
        await wait_until(pilot, lambda: not isinstance(app.screen, AddScreen), what="close")


async def test_a_bad_file_gets_its_one_line_reason(tmp_path: Path) -> None:
    backend = ScriptedBackend(settings_for(tmp_path / "home"),
                              add_files=[("scan.pdf", "scanned PDF: no text layer (OCR it first)"),
                                         ("ok.md", 2)])
    app = Host(backend, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await attached(pilot, app)
        await type_path(pilot, screen, "docs")
        await wait_until(pilot, lambda: screen.last_summary, what="the add to finish")
        assert screen.last_summary == "1 added, 0 unchanged, 1 failed"
        lines = log_text(screen).splitlines()
        (bad,) = [line for line in lines if line.startswith("error")]
        assert bad == "error     docs/scan.pdf — scanned PDF: no text layer (OCR it first)"
        assert any(line.startswith("added") and "ok.md" in line for line in lines)
        bar = screen.query_one("#add-progress", ProgressBar)
        assert bar.total == 2 and bar.progress == 2


async def test_escape_cancels_a_running_add_and_keeps_nothing(tmp_path: Path) -> None:
    gate = threading.Event()  # never set: the first file stalls after one chunk
    backend = ScriptedBackend(settings_for(tmp_path / "home"), add_gate=gate)
    app = Host(backend, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await attached(pilot, app)
        await type_path(pilot, screen, "notes")
        await wait_until(pilot, lambda: screen.chunks_done == 1, what="the first chunk")
        assert screen.busy
        await wait_until(pilot, lambda: label(screen) == "file 1/2: notes-1.md — 1/3 chunks",
                         what="the file label")
        bar = screen.query_one("#add-progress", ProgressBar)
        assert (bar.total, bar.progress) == (3, 1)
        rate = str(screen.query_one("#add-rate").render())  # type: ignore[attr-defined]
        assert rate.endswith(" chunks/s") and float(rate.split()[0]) > 0
        await pilot.press("escape")
        await wait_until(pilot, lambda: not screen.busy, what="the cancel")
        assert isinstance(app.screen, AddScreen)  # Esc while adding cancels, it does not close
        assert screen.last_summary == "cancelled: 0 added, 0 unchanged, 2 failed"
        text = log_text(screen)
        assert "notes/notes-1.md — cancelled; nothing of it was kept" in text
        assert "notes/notes-2.md — cancelled before it started" in text
        assert backend.added == []
        gate.set()
        # the next add starts afresh
        await type_path(pilot, screen, "more")
        await wait_until(pilot, lambda: screen.last_summary.startswith("2 added"),
                         what="a second add")


async def test_f6_opens_the_add_screen_from_the_chat(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUTOR_CONFIG", str(tmp_path / "config" / "config.toml"))
    app, backend = make_app(tmp_path / "home")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await pilot.press("f6")
        await wait_until(pilot, lambda: isinstance(app.screen, AddScreen), what="the Add screen")
        screen = app.screen
        assert isinstance(screen, AddScreen) and screen.adder is backend
        await type_path(pilot, screen, "notes")
        await wait_until(pilot, lambda: screen.last_summary, what="the add to finish")
        assert len(backend.added) == 2
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is app.chat, what="back to the chat")


async def test_real_index_adds_a_file_that_is_searchable_at_once(tmp_path: Path) -> None:
    from tutor.index import Index
    from tutor.retrieve import Retriever
    from tutor.tui.backend import TutorBackend

    empty = tmp_path / "empty-corpus"
    empty.mkdir()
    settings = replace(load_settings({"home": str(tmp_path / "home")}), corpus_dir=empty)
    index = Index(settings)
    backend = TutorBackend(settings)

    class Opened:  # the one piece of Tutor the Add screen uses
        pass

    backend._tutor = Opened()  # type: ignore[assignment]
    backend._tutor.index = index  # type: ignore[union-attr]
    note = tmp_path / "axolotl.md"
    note.write_text("# Axolotl husbandry\n\nThe axolotl regrows lost limbs; keep the water "
                    "between 14 and 18 degrees Celsius and feed it bloodworms.\n")
    app = Host(backend, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await attached(pilot, app)
        await type_path(pilot, screen, str(note))
        await wait_until(pilot, lambda: screen.last_summary, timeout=180,
                         what="the real add to finish")
        assert screen.last_summary == "1 added, 0 unchanged, 0 failed", log_text(screen)
        bar = screen.query_one("#add-progress", ProgressBar)
        assert bar.total is not None and bar.progress == bar.total >= 1
    hits = Retriever(index).search("how warm should the water be for an axolotl", k=3).hits
    assert hits and hits[0].source == str(note.resolve())
    assert "bloodworms" in hits[0].text


async def test_an_encrypted_pdf_asks_for_its_password(tmp_path: Path) -> None:
    """Issue 10: the password box opens for the locked file; a wrong password asks again, the
    right one adds it; the box is emptied at once and Esc skips a file."""
    backend = ScriptedBackend(settings_for(tmp_path / "home"),
                              add_files=[("pack.pdf", ("password", "pw1", 2)), ("ok.md", 1)])
    app = Host(backend, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await attached(pilot, app)
        row = screen.query_one("#add-password-row")
        assert not row.has_class("-asking")
        await type_path(pilot, screen, "docs")
        await wait_until(pilot, lambda: screen.last_summary, what="the add to finish")
        assert screen.last_summary == "1 added, 0 unchanged, 1 failed"
        await wait_until(pilot, lambda: row.has_class("-asking"), what="the password box")
        box = screen.query_one("#add-password", Input)
        assert box.password and box.has_focus
        assert "pack.pdf is encrypted" in str(screen.query_one("#add-password-label").render())
        for typed, summary in (("guess", "0 added, 0 unchanged, 1 failed"),
                               ("pw1", "1 added, 0 unchanged, 0 failed")):
            screen.last_summary = ""
            box.value = typed
            await pilot.press("enter")
            assert box.value == ""
            await wait_until(pilot, lambda: screen.last_summary, what="the add with a password")
            assert screen.last_summary == summary
        assert "encrypted PDF: wrong password" in log_text(screen)
        assert backend.added == ["docs/ok.md", "docs/pack.pdf"]
        await wait_until(pilot, lambda: not row.has_class("-asking"), what="the box to close")
        assert "pw1" not in log_text(screen) and "guess" not in log_text(screen)
        # Esc skips a file whose password is not known
        screen.last_summary = ""
        await type_path(pilot, screen, "again")
        await wait_until(pilot, lambda: row.has_class("-asking"), what="the password box")
        await pilot.press("escape")
        assert not row.has_class("-asking") and isinstance(app.screen, AddScreen)
        assert "skipped again/pack.pdf: no password given" in log_text(screen)


async def test_real_index_adds_an_encrypted_pdf_with_the_password_typed(tmp_path: Path) -> None:
    from pdfs import make_paper_pdf
    from test_ingest import encrypt_pdf
    from tutor.index import Index

    empty = tmp_path / "empty-corpus"
    empty.mkdir()
    settings = replace(load_settings({"home": str(tmp_path / "home")}), corpus_dir=empty)
    index = Index(settings)
    pdf = tmp_path / "locked.pdf"
    pdf.write_bytes(encrypt_pdf(make_paper_pdf("A locked course pack", "A lecturer",
                                               [["The glimmerfax of week one."]]), "open-sesame"))
    app = Host(index, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await attached(pilot, app)
        await type_path(pilot, screen, str(pdf))
        row = screen.query_one("#add-password-row")
        await wait_until(pilot, lambda: row.has_class("-asking"), timeout=120,
                         what="the password box")
        screen.last_summary = ""
        screen.query_one("#add-password", Input).value = "open-sesame"
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen.last_summary, timeout=180, what="the add")
        assert screen.last_summary == "1 added, 0 unchanged, 0 failed", log_text(screen)
        assert "A locked course pack" in log_text(screen)
    [doc] = index.documents()
    assert doc.title == "A locked course pack"
