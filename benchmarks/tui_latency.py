"""Keypress latency in the chat TUI while an answer streams in.

    .venv/bin/python benchmarks/tui_latency.py [--engine scripted|real] [--keys N] [--rate TOK_S]

The app runs headless under Textual's Pilot. While the answer streams, a key event is sent
every 120 ms to the focused question box, as the terminal driver would send it, and two
moments are recorded:

* handled: TextArea inserted the character and its Changed message reached the app (the key
  went through the event loop, past every queued token message);
* frame: the first screen update that includes the character (headless: the compositor's
  update is made but not written to a terminal).

``--engine scripted`` streams a long Markdown answer from the scripted engine at ``--rate``
tokens a second (default 60, faster than the real model on these machines). ``--engine real``
loads the real index and model (a fresh home unless --home) and asks a real question: the
model's threads compete with the UI for the two cores. Prints p50/p95/max in ms and writes
appends one JSON line to benchmarks/out/tui_latency.jsonl.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from textual import events  # noqa: E402

from tutor.config import load_settings  # noqa: E402
from tutor.tui.app import TutorApp  # noqa: E402
from tutor.tui.testing import Script, ScriptedBackend  # noqa: E402
from tutor.tui.turns import PromptInput  # noqa: E402

OUT = ROOT / "benchmarks" / "out"
LONG_ANSWER = "\n\n".join(
    f"**Point {i}.** Scaling laws predict the loss [1], not which skill appears [2]; "
    f"see the table below and the list.\n\n| size | loss |\n| --- | --- |\n| {i}B | 2.{i:02d} |\n\n"
    f"- one [1]\n- two [2]" for i in range(60))


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class LatencyApp(TutorApp):
    """The app, plus a note of when each typed character was handled and first drawn."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent: list[float] = []
        self.handled: list[float] = []
        self.frames: list[float] = []
        self.measuring = False

    def _typed(self) -> int:
        return self.chat.query_one(PromptInput).text.count("x")

    def on_text_area_changed(self, event: Any) -> None:
        if not self.measuring or not isinstance(event.text_area, PromptInput):
            return
        now = time.perf_counter()
        while len(self.handled) < min(self._typed(), len(self.sent)):
            self.handled.append((now - self.sent[len(self.handled)]) * 1000)

    def _display(self, screen: Any, renderable: Any) -> None:
        if renderable is not None and self.measuring:
            # the frame being drawn shows every character in the box by now
            now = time.perf_counter()
            while len(self.frames) < min(self._typed(), len(self.sent)):
                self.frames.append((now - self.sent[len(self.frames)]) * 1000)
        super()._display(screen, renderable)


async def measure(app: LatencyApp, keys: int, questions: list[str], timeout: float,
                  history: int) -> dict[str, Any]:
    """Ask the questions one after another; while each answer streams, type a key every
    120 ms into the question box (the questions go in through the chat, not the box)."""
    streamed_chars = 0
    streaming_seconds = 0.0
    still_streaming = False
    async with app.run_test(size=(140, 40)) as pilot:
        deadline = time.monotonic() + timeout
        while app.chat.engine_state not in ("ready", "no-model", "error"):
            if time.monotonic() > deadline:
                raise SystemExit("error: the engine did not load in time")
            await pilot.pause(0.05)
        if app.chat.engine_state == "error":
            raise SystemExit(f"error: {app.chat.engine_detail}")
        if history:
            await app.chat.resume(history)
        box = app.chat.query_one(PromptInput)
        box.focus()
        driver = app._driver
        assert driver is not None
        for question in questions:
            if len(app.sent) >= keys:
                break
            turn = await app.chat.ask(question)
            # the pipeline's lead sentence comes at once; wait for the model's own tokens
            while turn.view.state != "streaming" and not turn.finished:
                if time.monotonic() > deadline:
                    raise SystemExit("error: the answer did not start streaming in time")
                await pilot.pause(0.01)
            lead = len(turn.streamed)
            while len(turn.streamed) == lead and not turn.finished:
                if time.monotonic() > deadline:
                    raise SystemExit("error: the model did not start writing in time")
                await pilot.pause(0.01)
            chars_before = len(turn.streamed)
            app.measuring = True
            t_start = next_at = time.perf_counter()
            while len(app.sent) < keys and not turn.finished:
                event = events.Key("x", "x")
                event.set_sender(app)
                app.sent.append(time.perf_counter())
                driver.send_message(event)
                next_at += 0.12
                await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
            while len(app.handled) < len(app.sent) and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.2)
            streaming_seconds += time.perf_counter() - t_start
            app.measuring = False
            streamed_chars += len(turn.streamed) - chars_before
            still_streaming = not turn.finished
            if still_streaming:
                await app.chat.shutdown()
            while app.chat.busy and time.monotonic() < deadline:
                await pilot.pause(0.05)
    return {"sent": len(app.sent), "handled": app.handled, "frames": app.frames,
            "seconds": streaming_seconds, "streamed_chars": streamed_chars,
            "streaming_throughout": still_streaming}


REAL_QUESTIONS = [
    "What does claim 1 say about scaling laws? Explain in detail with examples.",
    "Why are emergent abilities hard to predict?",
    "What is Othello-GPT and what does it show?",
    "Why is RLHF not a reliable way to steer a model?",
    "主張8について詳しく説明してください。",
    "How can a model outperform the humans who wrote its training data?",
]

TYPICAL_ANSWER = " ".join([
    "Claim 1 says that LLMs get predictably better as developers spend more on data, parameters "
    "and compute [1]. The evidence is the scaling laws: the test loss falls along a smooth power "
    "law, about 0.95 per doubling of parameters [2].",
    "\n\n- What is predictable is the loss, not each skill [2].\n- Which skills appear, and "
    "when, is the subject of claim 2 [3].\n\n",
] * 8)


def seed_history(home: Path, turns: int) -> int:
    """A saved chat of ``turns`` answered questions, as a long session would leave."""
    from tutor.history import History
    from tutor.tui.panels import hit_dict
    from tutor.tui.testing import make_hits

    history = History(home)
    session = history.new_session()
    sources = [hit_dict(h) for h in make_hits()]
    for i in range(turns):
        history.add_turn(session.id, f"Earlier question {i}?", answer=TYPICAL_ANSWER[:900],
                         sources=sources, model="SmolLM2-135M-Instruct.Q4_1.gguf")
    return session.id


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=("scripted", "real"), default="scripted")
    parser.add_argument("--answer", choices=("typical", "long"), default="typical",
                        help="scripted engine: a tutor-sized answer (paragraphs and lists, "
                             "~2.5k characters) or a stress test (~10k characters with tables)")
    parser.add_argument("--history", type=int, default=0,
                        help="resume a saved chat of N earlier answers first (a long session)")
    parser.add_argument("--keys", type=int, default=60, help="key presses to send (default 60)")
    parser.add_argument("--rate", type=float, default=60.0,
                        help="scripted engine: tokens per second (default 60)")
    parser.add_argument("--home", default=None, help="real engine: tutor home (default: fresh)")
    parser.add_argument("--question", action="append", default=None,
                        help="question(s) to ask in turn until --keys keys were typed")
    args = parser.parse_args()

    home = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="tutor-latency-"))
    session = seed_history(home, args.history) if args.history else 0
    if args.engine == "scripted":
        settings = load_settings({"home": str(home)})
        answer = LONG_ANSWER if args.answer == "long" else TYPICAL_ANSWER
        script = Script(answer=answer, token_delay=1.0 / args.rate)
        app = LatencyApp(settings, persist_settings=False,
                         backend_factory=lambda s: ScriptedBackend(s, lambda q: script))
        timeout = 180.0
    else:
        settings = load_settings({"home": str(home)})
        app = LatencyApp(settings, persist_settings=False)
        timeout = 900.0
    questions = args.question or REAL_QUESTIONS
    result = asyncio.run(measure(app, args.keys, questions, timeout, session))
    handled, frames = result["handled"], result["frames"]
    summary = {
        "engine": args.engine, "answer": args.answer if args.engine == "scripted" else "model",
        "history_turns": args.history, "keys_sent": result["sent"], "keys_handled": len(handled),
        "handled_ms": {"p50": round(statistics.median(handled), 1) if handled else None,
                       "p95": round(pct(handled, 0.95), 1), "max": round(max(handled, default=0), 1)},
        "frame_ms": {"p50": round(statistics.median(frames), 1) if frames else None,
                     "p95": round(pct(frames, 0.95), 1), "max": round(max(frames, default=0), 1)},
        "streamed_chars_during": result["streamed_chars"],
        "seconds": round(result["seconds"], 1),
    }
    if args.engine == "scripted":
        summary["tokens_per_s"] = args.rate
    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / "tui_latency.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(summary) + "\n")
    label = f"{args.engine}" + (f"/{args.answer}" if args.engine == "scripted" else "")
    label += f", {args.history} earlier turns" if args.history else ""
    print(f"{label}: {len(handled)}/{result['sent']} key presses while answers streamed "
          f"({result['streamed_chars']} characters streamed in {result['seconds']:.1f} s)")
    print(f"  key -> handled:    p50 {summary['handled_ms']['p50']} ms, "
          f"p95 {summary['handled_ms']['p95']} ms, max {summary['handled_ms']['max']} ms")
    print(f"  key -> next frame: p50 {summary['frame_ms']['p50']} ms, "
          f"p95 {summary['frame_ms']['p95']} ms, max {summary['frame_ms']['max']} ms")
    return 0 if handled and pct(handled, 0.95) < 100 else 1


if __name__ == "__main__":
    sys.exit(main())
