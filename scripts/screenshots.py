"""Screenshots for the README: SVGs saved by the app itself, driven by Textual's Pilot.

    .venv/bin/python scripts/screenshots.py [--home DIR] [--out docs/screenshots] [--scripted]

By default the real engine answers (the bundled corpus, indexed on first use, and the default
model), so the pictures show real retrieval scores and a real prompt; --scripted uses the
scripted engine of the tests instead (seconds instead of a minute or two).
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from textual.pilot import Pilot  # noqa: E402

from tutor.config import load_settings  # noqa: E402
from tutor.tui.app import TutorApp  # noqa: E402
from tutor.tui.screens import DocumentScreen, HelpScreen, SessionsScreen  # noqa: E402
from tutor.tui.sidebar import ClaimList  # noqa: E402
from tutor.tui.turns import PromptInput  # noqa: E402

SIZE = (150, 44)


async def wait_until(pilot: Pilot[Any], predicate: Callable[[], object], timeout: float,
                     what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"error: timed out waiting for {what}")
        await pilot.pause(0.05)


async def shoot(app: TutorApp, out: Path) -> list[Path]:
    saved: list[Path] = []

    async def save(pilot: Pilot[Any], name: str) -> None:
        for box in app.screen.query(PromptInput):
            box.cursor_blink = False
        await pilot.pause(0.3)
        app.save_screenshot(f"{name}.svg", path=str(out))
        saved.append(out / f"{name}.svg")
        print(f"saved {out / name}.svg", flush=True)

    async def open_and_save(pilot: Pilot[Any], key: str, screen: type, name: str) -> None:
        """``key`` opens a screen of type ``screen``: save it as ``name``, then Esc back."""
        await pilot.press(key)
        await wait_until(pilot, lambda: isinstance(app.screen, screen), 60, f"the {name} screen")
        await save(pilot, name)
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is app.chat, 10, "the chat")

    async with app.run_test(size=SIZE) as pilot:
        chat = app.chat
        await wait_until(pilot, lambda: chat.engine_state in ("ready", "no-model", "error"), 900,
                         "the engine to load")
        if chat.engine_state == "error":
            raise SystemExit(f"error: {chat.engine_detail}")
        await chat.ask("What does claim 1 say about scaling laws?")
        await wait_until(pilot, lambda: chat.turns[-1].finished and not chat.busy, 900,
                         "the answer")
        await save(pilot, "chat")

        await pilot.press("f5")
        await save(pilot, "inspector")
        await pilot.press("f5")

        await open_and_save(pilot, "ctrl+o", DocumentScreen, "document")

        claims = chat.query_one(ClaimList)
        claims.focus()
        claims.highlighted = 7
        await pilot.press("j")  # claim 8, explained in Japanese
        await wait_until(pilot, lambda: len(chat.turns) == 2 and chat.turns[-1].finished
                         and not chat.busy, 900, "the claim explanation")
        chat.query_one(PromptInput).focus()
        await save(pilot, "claim")

        await open_and_save(pilot, "f2", SessionsScreen, "chats")
        await open_and_save(pilot, "f1", HelpScreen, "help")

        await pilot.press("ctrl+p")
        await pilot.pause(0.5)
        await pilot.press(*"explain")
        await pilot.pause(1.0)
        await save(pilot, "palette")
        await pilot.press("escape")
        await chat.shutdown()
    return saved


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", default=None, help="tutor home (default: a fresh one)")
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument("--scripted", action="store_true", help="use the scripted engine")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    home = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="tutor-shots-"))
    config = home / "screenshots-config.toml"  # defaults, not the learner's config
    import os

    os.environ["TUTOR_CONFIG"] = str(config)
    settings = load_settings({"home": str(home)})
    factory = None
    if args.scripted:
        from tutor.tui.testing import ScriptedBackend

        factory = ScriptedBackend
    app = TutorApp(settings, backend_factory=factory, persist_settings=False)
    asyncio.run(shoot(app, out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
