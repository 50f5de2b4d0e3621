"""FSRS scheduling, the SQLite progress store, session planning and mastery."""
from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fsrs import Card, Rating, Scheduler

from tutor.config import CORPUS_DIR
from tutor.quiz import mastery_by_claim
from tutor.quiz.bank import load_bank
from tutor.quiz.grade import Grader
from tutor.quiz.schedule import (DB_NAME, QuizStore, QuizStoreError, item_mastery, mastery,
                                 plan_session, rating_for)
from tutor.quiz.session import QuizSession

BANK = load_bank(CORPUS_DIR / "quiz")
START = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def store_at(home: Path, clock: Clock | None = None) -> QuizStore:
    return QuizStore(home, Scheduler(enable_fuzzing=False), clock or Clock())


def test_ratings_follow_the_rules():
    assert rating_for("wrong") == Rating.Again
    assert rating_for("correct", revealed=True) == Rating.Again
    assert rating_for("partial") == Rating.Hard
    assert rating_for("correct", hints=1) == Rating.Hard
    assert rating_for("correct") == Rating.Good
    assert rating_for("correct", easy=True) == Rating.Easy


# Intervals of py-fsrs 6 with default parameters and fuzzing off, each review made when due.
SCRIPTS = [
    (["Good", "Good", "Good", "Again", "Good"],
     [timedelta(minutes=10), timedelta(days=2), timedelta(days=11), timedelta(minutes=10), timedelta(days=2)]),
    (["Easy", "Good", "Hard"], [timedelta(days=8), timedelta(days=39), timedelta(days=108)]),
    (["Again", "Again", "Good", "Good"],
     [timedelta(minutes=1), timedelta(minutes=1), timedelta(minutes=10), timedelta(days=1)]),
]


@pytest.mark.parametrize("ratings, intervals", SCRIPTS)
def test_fsrs_intervals_for_scripted_histories(tmp_path: Path, ratings, intervals):
    item = BANK.get("c1-investment-inputs")
    clock = Clock()
    store = store_at(tmp_path, clock)
    reference, card = Scheduler(enable_fuzzing=False), Card()
    for name, interval in zip(ratings, intervals):
        review = store.record(item, "correct" if name != "Again" else "wrong", Rating[name])
        card, _ = reference.review_card(card, Rating[name], clock.now)
        assert review.due - clock.now == interval
        assert store.card(item.id).due == card.due
        clock.now = review.due  # come back exactly when due


def test_progress_survives_a_restart(tmp_path: Path):
    clock = Clock()
    store = store_at(tmp_path, clock)
    item = BANK.get("c4-sycophancy")
    first = store.record(item, "correct", Rating.Good, answer="A")
    store.close()
    again = store_at(tmp_path, clock)
    assert again.card(item.id).due == first.due
    assert again.due_dates()[item.id] == first.due.replace(microsecond=0)
    assert [r.rating for r in again.reviews(item.id)] == [Rating.Good]
    db = sqlite3.connect(tmp_path / DB_NAME)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 1
    stamp = db.execute("SELECT reviewed_at FROM reviews").fetchone()[0]
    assert stamp.endswith("+00:00")  # stored in UTC


def test_a_newer_schema_is_refused(tmp_path: Path):
    db = sqlite3.connect(tmp_path / DB_NAME)
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(QuizStoreError, match="newer tutor"):
        QuizStore(tmp_path)


def test_an_override_replaces_the_review_instead_of_stacking(tmp_path: Path):
    store = store_at(tmp_path)
    item = BANK.get("c2-ja-gacha")
    good = store.record(item, "correct", Rating.Good)
    wrong = store.record(item, "wrong", Rating.Again, when=good.due)
    amended = store.amend(wrong.id, "correct", Rating.Good)
    # same as if the second review had been Good in the first place
    reference = Scheduler(enable_fuzzing=False)
    card, _ = reference.review_card(Card(), Rating.Good, START)
    card, _ = reference.review_card(card, Rating.Good, good.due)
    assert amended.due == card.due and store.card(item.id).due == card.due
    assert [r.rating for r in store.reviews(item.id)] == [Rating.Good, Rating.Good]
    assert store.reviews(item.id)[-1].overridden
    with pytest.raises(ValueError):
        store.amend(good.id, "wrong", Rating.Again)  # only the latest review can change


def test_plan_puts_due_items_first_caps_new_ones_and_interleaves_claims():
    now = START
    due = {"c3-unicorn-tikz": now - timedelta(days=1), "c3-othello-edit": now - timedelta(days=2),
           "c5-induction-heads": now - timedelta(hours=1), "c1-gpt-series-scale": now + timedelta(days=3)}
    plan = plan_session(BANK.items, due, now, new_limit=4, size=10)
    assert [i.id for i in plan[:3]] == ["c3-othello-edit", "c5-induction-heads", "c3-unicorn-tikz"]
    new = plan[3:]
    assert len(new) == 4 and not any(i.id in due for i in new)
    assert all(a.claim != b.claim for a, b in zip(plan, plan[1:]))
    assert plan_session(BANK.items, due, now, new_limit=0, size=2)[0].id == "c3-othello-edit"
    # nothing due and nothing new: practise what comes due soonest
    everything = {i.id: now + timedelta(days=k + 1) for k, i in enumerate(BANK.items)}
    ahead = plan_session(BANK.items, everything, now, size=3)
    assert [i.id for i in ahead] and set(i.id for i in ahead) <= set(i.id for i in BANK.items[:3])


def test_mastery_from_recent_results():
    assert item_mastery([]) == 0.0
    assert item_mastery([Rating.Good]) == 1.0
    assert item_mastery([Rating.Again, Rating.Good, Rating.Good]) == pytest.approx(0.75 / 1.75)
    claim7 = BANK.for_claim(7)
    recent = {i.id: [Rating.Good] for i in claim7}
    result = mastery(BANK.items, recent)
    assert result[7] == 1.0 and result[1] == 0.0 and set(result) == set(range(1, 9))
    half = {i.id: [Rating.Good] for i in claim7[: len(claim7) // 2]}
    assert mastery(BANK.items, half)[7] == pytest.approx((len(claim7) // 2) / len(claim7))


def test_mastery_by_claim_without_any_progress_creates_nothing(tmp_path: Path):
    assert mastery_by_claim(tmp_path) == {n: 0.0 for n in range(1, 9)}
    assert not (tmp_path / DB_NAME).exists()


def test_a_session_reasks_a_missed_item_and_sums_up(tmp_path: Path):
    clock = Clock()
    store = store_at(tmp_path, clock)
    session = QuizSession(store, BANK.items, Grader(), new_limit=3, size=3)
    assert len(session.queue) == 3
    first = session.current
    attempt = session.answer("definitely not the answer")
    assert attempt.verdict == "wrong" and attempt.rating == Rating.Again
    assert session.queue[-1] is first and len(session.queue) == 4
    session.override("correct")  # the learner disagrees: no need to ask again
    assert len(session.queue) == 3
    while session.advance() is not None:
        session.answer(session.current.answer)
    summary = session.summary()
    assert (summary.answered, summary.correct, summary.wrong) == (3, 3, 0)
    assert summary.changes and all(after > before for before, after in summary.changes.values())
    assert summary.next_due is not None and summary.next_due > clock.now
    assert summary.new_left == len(BANK.items) - 3
