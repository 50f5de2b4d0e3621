"""Helpers for the TUI tests: a tutor home, an app over the scripted engine, wait_until."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from tutor.config import DEFAULT_MODEL_NAME, MODELS_DIR, Settings, load_settings
from tutor.tui.app import TutorApp
from tutor.tui.testing import ScriptedBackend
from tutor.tui.turns import PromptInput, TurnView

SIZE = (140, 40)
needs_model = pytest.mark.skipif(not (MODELS_DIR / DEFAULT_MODEL_NAME).exists(),
                                 reason="the default model is not downloaded (make setup)")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh tutor home with its own config file and no TUTOR_* settings from outside."""
    monkeypatch.setenv("TUTOR_CONFIG", str(tmp_path / "config" / "config.toml"))
    for var in ("TUTOR_HOME", "TUTOR_MODEL", "TUTOR_K", "TUTOR_TEMPERATURE", "TUTOR_N_CTX"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path / "home"


async def wait_until(pilot: Pilot[Any], predicate: Callable[[], object], timeout: float = 30.0,
                     what: str = "the condition") -> None:
    """Poll ``predicate`` between event-loop turns; fail after ``timeout`` seconds (2 slow cores)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        await pilot.pause(0.02)


def settings_for(home: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {"home": str(home)}
    values.update(overrides)
    return load_settings(values)


def make_app(home: Path, *, backend: ScriptedBackend | None = None, settings: Settings | None = None,
             **kwargs: Any) -> tuple[TutorApp, ScriptedBackend]:
    settings = settings or settings_for(home)
    made = backend or ScriptedBackend(settings)
    app = TutorApp(settings, backend_factory=lambda s: made, **kwargs)
    return app, made


async def ready(pilot: Pilot[Any], app: TutorApp) -> None:
    await wait_until(pilot, lambda: app.chat.engine_state in ("ready", "no-model", "error"),
                     what="the engine to load")


def real_app(settings: Settings, max_tokens: int) -> TutorApp:
    """The TUI over the real engine, answers bounded to ``max_tokens`` (2 slow cores)."""
    return TutorApp(replace(settings, max_tokens=max_tokens), persist_settings=False)


async def real_engine_ready(pilot: Pilot[Any], app: TutorApp) -> None:
    """The real index, embedder and model loaded (first use indexes the bundled corpus)."""
    await wait_until(pilot, lambda: app.chat.engine_state in ("ready", "no-model", "error"),
                     timeout=600, what="the real engine to load")
    assert app.chat.engine_state == "ready", app.chat.engine_detail


async def press_on_claim(pilot: Pilot[Any], app: TutorApp, number: int, key: str) -> None:
    """Highlight claim ``number`` in the chat's claims sidebar and press ``key`` on it."""
    from tutor.tui.sidebar import ClaimList

    claims = app.chat.query_one(ClaimList)
    claims.focus()
    claims.highlighted = number - 1
    await pilot.press(key)


async def type_question(pilot: Pilot[Any], app: TutorApp, text: str) -> None:
    box = app.chat.query_one(PromptInput)
    box.focus()
    box.insert(text)
    await pilot.pause()


async def ask(pilot: Pilot[Any], app: TutorApp, text: str, wait: bool = True) -> TurnView:
    await type_question(pilot, app, text)
    before = len(app.chat.turns)
    await pilot.press("enter")
    await wait_until(pilot, lambda: len(app.chat.turns) > before, what="the question to appear")
    turn = app.chat.turns[-1]
    if wait:
        await wait_until(pilot, lambda: turn.finished and not app.chat.busy,
                         what=f"the answer to {text!r}")
        await pilot.pause()
    return turn
