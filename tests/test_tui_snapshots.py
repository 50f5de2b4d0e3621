"""Snapshot tests of the main screens (pytest-textual-snapshot), over the scripted engine.

Update the baselines with `pytest tests/test_tui_snapshots.py --snapshot-update` and look at
the SVGs in tests/__snapshots__ before committing them.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from tutor.tui.app import TutorApp
from tutor.tui.screens import DocumentScreen, HelpScreen, ModelPicker, SessionsScreen
from tutor.tui.sidebar import ClaimsSidebar
from tutor.tui.testing import Script, ScriptedBackend
from tutor.tui.turns import PromptInput

from test_tui_support import SIZE, ask, make_app, press_on_claim, ready, settings_for, wait_until

STAMP = "2026-05-01T09:30:00.000000+00:00"
MODELS = Path("/tmp/tutor-snapshot-models")  # a fixed path: the picker shows it


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TUTOR_CONFIG", str(tmp_path / "config.toml"))
    for var in ("TUTOR_HOME", "TUTOR_MODEL", "TUTOR_K", "TUTOR_TEMPERATURE", "TUTOR_N_CTX"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr("tutor.history.now_utc", lambda: STAMP)
    return tmp_path / "home"


async def steady(pilot: Pilot[Any], app: TutorApp, idle: bool = True) -> None:
    """No blinking cursor, no pending work: the same pixels every run."""
    for sidebar in app.chat.query(ClaimsSidebar):
        await wait_until(pilot, lambda: sidebar.mastery_loaded, what="the mastery bars")
    for box in app.chat.query(PromptInput):
        box.cursor_blink = False
        if box.has_focus:  # a focused box draws a cursor whose blink phase varies
            app.set_focus(None)
    if idle:
        await wait_until(pilot, lambda: not app.chat.busy, what="the chat to settle")
    await pilot.pause(0.1)


def answered(app: TutorApp, question: str = "What does claim 1 say?", keys: tuple[str, ...] = ()):
    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot, app)
        await ask(pilot, app, question)
        for key in keys:
            await pilot.press(key)
        await steady(pilot, app)
    return run_before


def test_chat_with_a_cited_answer(snap_compare: Any, home: Path) -> None:
    app, _ = make_app(home)
    assert snap_compare(app, terminal_size=SIZE, run_before=answered(app))


def test_prompt_inspector(snap_compare: Any, home: Path) -> None:
    app, _ = make_app(home)
    assert snap_compare(app, terminal_size=SIZE, run_before=answered(app, keys=("f5",)))


def test_loading_with_a_queued_question(snap_compare: Any, home: Path) -> None:
    gate = threading.Event()
    settings = settings_for(home)
    app, _ = make_app(home, backend=ScriptedBackend(settings, load_gate=gate))

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_until(pilot, lambda: "4/10 chunks" in app.chat._status_text().plain)
        await ask(pilot, app, "主張8とは何ですか？", wait=False)
        await steady(pilot, app, idle=False)  # the question waits in the queue

    try:
        assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
    finally:
        gate.set()


def test_claim_explanation(snap_compare: Any, home: Path) -> None:
    settings = settings_for(home)
    script = Script(answer="Claim 4 says there are **no reliable techniques** for steering LLMs "
                           "[1]. Instructions, fine-tuning and RLHF all help, yet none of them "
                           "guarantees the behaviour [2].")
    app, _ = make_app(home, backend=ScriptedBackend(settings, [script]))

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot, app)
        sidebar = app.chat.query_one(ClaimsSidebar)
        await wait_until(pilot, lambda: sidebar.mastery_loaded, what="the mastery bars")
        await press_on_claim(pilot, app, 4, "enter")
        await wait_until(pilot, lambda: app.chat.turns and app.chat.turns[-1].finished)
        await steady(pilot, app)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_error_keeps_the_question(snap_compare: Any, home: Path) -> None:
    settings = settings_for(home)
    backend = ScriptedBackend(settings, [Script(error="llama_decode returned -3")])
    app, _ = make_app(home, backend=backend)
    assert snap_compare(app, terminal_size=SIZE,
                        run_before=answered(app, "Why do small models repeat themselves?"))


def opened(app: TutorApp, key: str, screen: type, after_question: str | None = None,
           until: Callable[[], object] | None = None):
    """Ready (and optionally answered), then ``key`` opens a screen of type ``screen`` (and
    ``until`` holds, when given)."""
    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot, app)
        if after_question:
            await ask(pilot, app, after_question)
        await pilot.press(key)
        await wait_until(pilot, lambda: isinstance(app.screen, screen))
        if until is not None:
            await wait_until(pilot, until)
        await steady(pilot, app)
    return run_before


def test_help_screen(snap_compare: Any, home: Path) -> None:
    app, _ = make_app(home)
    assert snap_compare(app, terminal_size=SIZE, run_before=opened(app, "f1", HelpScreen))


def test_sessions_screen(snap_compare: Any, home: Path) -> None:
    app, _ = make_app(home)

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot, app)
        await ask(pilot, app, "What does claim 1 say?")
        await pilot.press("ctrl+n")
        await ask(pilot, app, "主張8とは何ですか？")
        await pilot.press("f2")
        await wait_until(pilot, lambda: isinstance(app.screen, SessionsScreen))
        await steady(pilot, app)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_model_picker(snap_compare: Any, home: Path) -> None:
    MODELS.mkdir(exist_ok=True)
    for name in ("SmolLM2-135M-Instruct.Q4_1.gguf", "Qwen2.5-0.5B-Instruct.Q4_K_M.gguf"):
        (MODELS / name).write_bytes(b"GGUF" + b"\0" * 16)
    settings = settings_for(home, model=str(MODELS / "SmolLM2-135M-Instruct.Q4_1.gguf"))
    app, _ = make_app(home, settings=settings, models_dir=MODELS)
    assert snap_compare(app, terminal_size=SIZE, run_before=opened(app, "f4", ModelPicker))


def test_document_viewer(snap_compare: Any, home: Path) -> None:
    app, _ = make_app(home)
    assert snap_compare(app, terminal_size=SIZE, run_before=opened(
        app, "ctrl+o", DocumentScreen, after_question="What does claim 1 say?"))


def test_narrow_terminal(snap_compare: Any, home: Path) -> None:
    app, _ = make_app(home)
    assert snap_compare(app, terminal_size=(80, 24), run_before=answered(app))


def test_rag_lab_side_by_side(snap_compare: Any, home: Path) -> None:
    from tutor.tui.lab_screen import LabScreen

    app, _ = make_app(home)
    assert snap_compare(app, terminal_size=SIZE, run_before=opened(
        app, "f7", LabScreen, after_question="What does claim 1 say?",
        until=lambda: not app.screen.running))


def test_rag_lesson_fusion_step(snap_compare: Any, home: Path) -> None:
    from tutor.tui.lesson import LessonScreen

    app, _ = make_app(home)

    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot, app)
        await ask(pilot, app, "What does claim 1 say?")
        app.chat.action_lesson()
        await wait_until(pilot, lambda: isinstance(app.screen, LessonScreen)
                         and not app.screen.running, what="the lesson's data")
        for _ in range(3):
            await pilot.press("right")
        await steady(pilot, app)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
