"""Pilot tests of the RAG lab screen (Compare without sources, F7) over the scripted engine."""
from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from textual.pilot import Pilot
from textual.widgets import Select, Static

from tutor.config import DEFAULT_MODEL_NAME
from tutor.tui.app import TutorApp
from tutor.tui.lab_screen import LabScreen
from tutor.tui.testing import BARE_ANSWER, Script, ScriptedBackend

from test_tui_support import (SIZE, ask, home, make_app, needs_model, ready,  # noqa: F401
                              real_app, real_engine_ready, settings_for, wait_until)

pytestmark = pytest.mark.asyncio


def text_of(screen: LabScreen, selector: str) -> str:
    """What a Static shows, as plain text (a Rich table included)."""
    console = Console(width=1000, record=True, file=io.StringIO())
    console.print(screen.query_one(selector, Static).content)
    return console.export_text()


async def open_lab(pilot: Pilot[Any], app: TutorApp, wait: bool = True) -> LabScreen:
    await pilot.press("f7")
    await wait_until(pilot, lambda: isinstance(app.screen, LabScreen), what="the lab screen")
    lab = app.screen
    assert isinstance(lab, LabScreen)
    if wait:
        await wait_until(pilot, lambda: not lab.running, what="both answers")
    return lab


async def test_compare_shows_both_answers_and_reads_the_difference(home: Path) -> None:
    app, backend = make_app(home)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await pilot.press("f7")  # nothing selected yet: a hint, no screen
        await pilot.pause()
        assert not isinstance(app.screen, LabScreen)
        turn = await ask(pilot, app, "What does claim 1 say?")
        lab = await open_lab(pilot, app)
        assert any(c.get("bare") for c in backend.calls)
        left, right = lab.sides["with"], lab.sides["without"]
        assert left.answer == turn.view.answer and len(left.sources) == 3
        assert right.answer == BARE_ANSWER and right.sources == [] and right.prompt_tokens > 0
        assert right.prompt_tokens < left.prompt_tokens
        assert "Smith" in text_of(lab, "#side-without .side-answer")
        meta = text_of(lab, "#side-without .side-meta")
        assert "prompt" in meta and "0 sources" in meta and "0.7 s" in meta
        diff = text_of(lab, "#lab-difference")
        assert "Only with sources: 0.95" in diff
        assert "12%, 2019, Smith, Kaplan" in diff and "3 that no source supports" in diff
        sources = text_of(lab, "#side-with .side-sources")
        assert "dense" in sources and "BM25" in sources and "#1" in sources
        await pilot.press("escape")  # nothing running: back to the chat
        await wait_until(pilot, lambda: app.screen is app.chat, what="the chat")


async def test_knobs_rerun_the_sourced_side(home: Path) -> None:
    app, backend = make_app(home)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await ask(pilot, app, "What does claim 1 say?")
        lab = await open_lab(pilot, app)
        lab.query_one("#knob-k", Select).value = 1
        lab.query_one("#knob-leg", Select).value = "lexical"
        await pilot.pause()
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: not lab.running and lab.sides["with"].state == "done",
                         what="the re-run")
        call = backend.calls[-1]
        assert call["leg"] == "lexical" and call["k"] == 1
        (only,) = lab.sides["with"].sources
        assert only["lexical_rank"] == 1 and only["dense_rank"] is None  # BM25's own first
        assert "claim-2" in only["doc_id"]
        lab.query_one("#knob-leg", Select).value = "hybrid"
        lab.query_one("#knob-claim", Select).value = 2
        lab.query_one("#knob-k", Select).value = 3
        await pilot.pause()
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: not lab.running and backend.calls[-1]["claim"] == 2,
                         what="the claim-filtered re-run")
        await wait_until(pilot, lambda: lab.sides["with"].state == "done")
        assert [s["doc_id"] for s in lab.sides["with"].sources] == ["claim-2"]


async def test_escape_stops_the_bare_answer_then_closes(home: Path) -> None:
    gate = threading.Event()
    settings = settings_for(home)
    script = Script(answer="Claim one [1].", bare="The bare model keeps on talking about "
                    "things that no passage says at all.", gate=gate, gate_after=3)
    app, _ = make_app(home, backend=ScriptedBackend(settings, lambda q: script))
    try:
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot, app)
            await ask(pilot, app, "What does claim 1 say?")
            lab = await open_lab(pilot, app, wait=False)
            await wait_until(pilot, lambda: lab.sides["without"].answer, what="the first tokens")
            assert lab.running
            await pilot.press("escape")
            await wait_until(pilot, lambda: not lab.running, what="the stop")
            assert lab.sides["without"].state == "stopped"
            assert "stopped" in text_of(lab, "#side-without .side-meta")
            assert isinstance(app.screen, LabScreen)
            await pilot.press("escape")
            await wait_until(pilot, lambda: app.screen is app.chat, what="the chat")
    finally:
        gate.set()


async def test_without_a_model_compare_says_so_and_keeps_the_retrieval_side(home: Path) -> None:
    app, _ = make_app(home, use_llm=False)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await ask(pilot, app, "What does claim 1 say?")
        lab = await open_lab(pilot, app)
        assert "no model loaded" in text_of(lab, "#side-without .side-note")
        assert lab.sides["with"].sources and lab.sides["with"].answer
        assert "No comparison" in text_of(lab, "#lab-difference")


async def test_compare_is_in_the_palette(home: Path) -> None:
    app, _ = make_app(home)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        titles = [c.title for c in app.get_system_commands(app.chat)]
        assert "Compare without sources" in titles
        assert any(b.key == "f7" and b.show for b in app.chat.BINDINGS if hasattr(b, "key"))


async def test_rag_lesson_walks_through_every_step(home: Path) -> None:
    from tutor.tui.lesson import STEPS, LessonScreen

    app, backend = make_app(home)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        assert "RAG lesson" in [c.title for c in app.get_system_commands(app.chat)]
        await ask(pilot, app, "What does claim 1 say?")
        app.chat.action_lesson()
        await wait_until(pilot, lambda: isinstance(app.screen, LessonScreen), what="the lesson")
        lesson = app.screen
        assert isinstance(lesson, LessonScreen)
        await wait_until(pilot, lambda: not lesson.running, what="the lesson's data")
        seen = []
        for step in STEPS:
            title = text_of(lesson, "#lesson-title")
            assert step.title in title and text_of(lesson, "#lesson-ja").strip()
            seen.append(text_of(lesson, "#lesson-data"))
            await pilot.press("right")
        question, dense, lexical, fusion, prompt, with_, without = seen
        assert "What does claim 1 say?" in question
        assert "cosine" in dense and "Claim 2" not in dense  # the dense leg did not find it
        assert "BM25" in lexical and lexical.index("Claim 2") < lexical.index("Kaplan")
        assert "dense" in fusion and "fused" in fusion
        assert "of n_ctx" in prompt and "<source id=1>" in prompt
        assert "predictably better" in with_
        assert "Smith" in without and "Difference:" in without
        assert "step 7 of 7" in text_of(lesson, "#lesson-title")  # the last step stays
        await pilot.press("left")
        assert "step 6 of 7" in text_of(lesson, "#lesson-title")
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is app.chat, what="the chat")
        assert {c.get("leg") for c in backend.calls if "leg" in c} == {"hybrid"}


async def test_inspector_knobs_rerun_the_selected_question(home: Path) -> None:
    from tutor.tui.panels import InspectorPanel, SourcesPanel

    app, backend = make_app(home)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await ask(pilot, app, "What does claim 1 say?")
        await pilot.press("f5")
        inspector = app.chat.query_one(InspectorPanel)
        inspector.query_one("#knob-k", Select).value = 2
        inspector.query_one("#knob-leg", Select).value = "dense"
        await pilot.pause()
        await pilot.click("#rerun")
        await wait_until(pilot, lambda: len(app.chat.turns) == 2 and app.chat.turns[-1].finished
                         and not app.chat.busy, what="the re-run answer")
        call = backend.calls[-1]
        assert call["k"] == 2 and call["leg"] == "dense" and call["history"] == []
        rerun = app.chat.turns[-1]
        assert rerun.question == "What does claim 1 say?" and app.chat.selected is rerun
        assert [s["dense_rank"] for s in rerun.view.sources] == [1, 2]
        assert all(s["lexical_rank"] is None for s in rerun.view.sources)
        assert len(app.chat.query_one(SourcesPanel).cards()) == 2


@pytest.mark.slow
@needs_model
async def test_the_lab_over_the_real_engine(indexed_settings) -> None:  # type: ignore[no-untyped-def]
    app = real_app(indexed_settings, max_tokens=48)
    async with app.run_test(size=SIZE) as pilot:
        await real_engine_ready(pilot, app)
        turn = await ask(pilot, app, "How many tokens per parameter does Chinchilla use?",
                         wait=False)
        await wait_until(pilot, lambda: turn.finished and not app.chat.busy, timeout=600,
                         what="the real answer")
        lab = await open_lab(pilot, app, wait=False)
        await wait_until(pilot, lambda: not lab.running, timeout=600, what="the bare answer")
        left, right = lab.sides["with"], lab.sides["without"]
        assert "20" in left.answer and left.sources
        assert right.answer and right.sources == [] and right.model == DEFAULT_MODEL_NAME
        assert 0 < right.prompt_tokens < left.prompt_tokens and right.answer != left.answer
        assert "Difference:" in text_of(lab, "#lab-difference")
