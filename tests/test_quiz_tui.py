"""A whole quiz session driven through the Textual Pilot, and progress that survives it."""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.widgets import Input, Static

from tutor.config import Settings
from tutor.quiz import mastery_by_claim
from tutor.quiz.grade import Grader
from tutor.quiz.schedule import QuizStore
from tutor.tui.quiz_screen import QuizApp, QuizScreen, SummaryScreen


async def wait_until(pilot, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise AssertionError("condition not reached in time")
        await pilot.pause(0.02)


def quiz_app(home: Path, **options) -> QuizApp:
    options = {"grader": Grader(), "load_generated": False, **options}
    return QuizApp(Settings(home=home), **options)


def text_of(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def answer_current(pilot, screen: QuizScreen, right: bool = True) -> None:
    item = screen.session.current
    if item.kind == "multiple_choice":
        index = item.correct_index if right else (item.correct_index + 1) % 4
        await pilot.press(str(index + 1) if right else "abcd"[index])  # digits and letters both work
    else:
        box = screen.query_one("#quiz-answer", Input)
        box.value = item.answer if right else "something else entirely"
        await pilot.press("enter")
    await wait_until(pilot, lambda: screen.phase == "feedback")


@pytest.mark.asyncio
async def test_a_whole_session(tmp_path: Path):
    app = quiz_app(tmp_path, session_size=6, new_limit=6)
    async with app.run_test(size=(120, 45)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, QuizScreen) and app.screen.phase == "answer")
        screen: QuizScreen = app.screen  # type: ignore[assignment]
        kinds = {i.kind for i in screen.session.queue}
        assert kinds == {"multiple_choice", "cloze", "short_answer"}
        assert "Question 1 of 6" in text_of(screen, "#quiz-head")

        # question 1: the hint ladder, then a right answer (counts as Hard)
        first = screen.session.current
        await pilot.press("ctrl+t")
        await pilot.press("ctrl+t")
        hints = text_of(screen, "#quiz-hints")
        assert first.hints[0] in hints and first.hints[1] in hints and "reveal" in hints
        await answer_current(pilot, screen)
        assert "Correct" in text_of(screen, "#quiz-verdict")
        assert first.quote in text_of(screen, "#quiz-source")
        assert screen.session.answered.rating.name == "Hard"
        await pilot.press("n")

        # question 2: wrong, with why; then the learner overrides it to right
        await wait_until(pilot, lambda: screen.phase == "answer")
        second = screen.session.current
        await answer_current(pilot, screen, right=False)
        assert "Not right" in text_of(screen, "#quiz-verdict")
        assert second.answer in text_of(screen, "#quiz-explain")
        await pilot.press("r")
        assert "Correct" in text_of(screen, "#quiz-verdict") and "your verdict" in text_of(screen, "#quiz-verdict")
        await pilot.press("e")
        assert screen.session.answered.rating.name == "Easy"
        await pilot.press("enter")

        # question 3: give up through the ladder (two hints, then reveal)
        await wait_until(pilot, lambda: screen.phase == "answer")
        third = screen.session.current
        for _ in range(3):
            await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: screen.phase == "feedback")
        assert "revealed" in text_of(screen, "#quiz-verdict") and third.answer in text_of(screen, "#quiz-explain")
        assert third in screen.session.queue[screen.session.position + 1:]  # asked once more later
        await pilot.press("n")

        # the rest: right answers until the summary
        while not isinstance(app.screen, SummaryScreen):
            await wait_until(pilot, lambda: screen.phase == "answer" or isinstance(app.screen, SummaryScreen))
            if isinstance(app.screen, SummaryScreen):
                break
            await answer_current(pilot, screen)
            await pilot.press("n")
            await pilot.pause()
        summary = str(app.screen.query_one("#summary-text", Static).render())
        assert "Score:" in summary and "Mastery by claim" in summary and "Next review" in summary
        assert app.screen.summary.answered == 7 and app.screen.summary.wrong == 1
        mastery_in_ui = text_of(screen, "#quiz-mastery")
        assert "%" in mastery_in_ui
        await pilot.press("escape")
        await wait_until(pilot, lambda: not app.is_running)

    # progress survives: a fresh store on the same home sees every card, in UTC
    store = QuizStore(tmp_path)
    due = store.due_dates()
    assert {first.id, second.id, third.id} <= set(due)
    assert all(d.utcoffset().total_seconds() == 0 for d in due.values())
    assert store.recent_ratings()[second.id][0].name == "Easy"
    mastery = mastery_by_claim(tmp_path)
    assert set(mastery) == set(range(1, 9)) and any(v > 0 for v in mastery.values())


@pytest.mark.asyncio
async def test_a_japanese_item_in_the_screen(tmp_path: Path):
    app = quiz_app(tmp_path, claim=2, session_size=8, new_limit=8)
    async with app.run_test(size=(110, 40)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, QuizScreen) and app.screen.phase == "answer")
        screen: QuizScreen = app.screen  # type: ignore[assignment]
        while screen.session.current.id != "c2-ja-gacha":
            await answer_current(pilot, screen)
            await pilot.press("n")
            await wait_until(pilot, lambda: screen.phase == "answer")
        assert "能力____" in text_of(screen, "#quiz-prompt")
        screen.query_one("#quiz-answer", Input).value = "ｶﾞﾁｬ"  # half-width katakana
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen.phase == "feedback")
        assert "Correct" in text_of(screen, "#quiz-verdict")
        assert "正解" in text_of(screen, "#quiz-explain")
        assert "能力ガチャ" in text_of(screen, "#quiz-source")


@pytest.mark.asyncio
async def test_open_the_source_document(tmp_path: Path):
    app = quiz_app(tmp_path, session_size=1, new_limit=1)
    async with app.run_test(size=(110, 40)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, QuizScreen) and app.screen.phase == "answer")
        screen: QuizScreen = app.screen  # type: ignore[assignment]
        await answer_current(pilot, screen)
        await pilot.press("o")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "DocumentScreen")
        target = app.screen.query_one(".-target")
        assert screen.session.answered.item.quote.split()[0] in str(target.render())
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is screen)


@pytest.mark.asyncio
async def test_short_answers_are_graded_in_a_worker(tmp_path: Path):
    class SlowGrader(Grader):
        def __init__(self) -> None:
            super().__init__()
            import threading
            self.release = threading.Event()

        def grade(self, item, answer):  # type: ignore[no-untyped-def]
            if item.kind == "short_answer":
                assert self.release.wait(5)
            return super().grade(item, answer)

    grader = SlowGrader()
    app = quiz_app(tmp_path, grader=grader, claim=3, session_size=8, new_limit=8)
    async with app.run_test(size=(110, 40)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, QuizScreen) and app.screen.phase == "answer")
        screen: QuizScreen = app.screen  # type: ignore[assignment]
        while screen.session.current.kind != "short_answer":
            await answer_current(pilot, screen)
            await pilot.press("n")
            await wait_until(pilot, lambda: screen.phase == "answer")
        screen.query_one("#quiz-answer", Input).value = screen.session.current.answer
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen.phase == "grading")
        assert "Grading" in text_of(screen, "#quiz-next")  # the UI is live while the worker waits
        grader.release.set()
        await wait_until(pilot, lambda: screen.phase == "feedback")
        assert "Correct" in text_of(screen, "#quiz-verdict")
