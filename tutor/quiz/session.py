"""One quiz session: the plan, hints, grading results, overrides and the summary.

Pure logic over :class:`QuizStore` and a :class:`Grader`, so the quiz screen stays thin and
the whole flow can be tested without a terminal. Grading itself may run in a worker thread:
:meth:`QuizSession.submit` takes a finished :class:`Grade`.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .bank import Item
from .grade import Grade, Grader
from .schedule import (NEW_PER_SESSION, SESSION_SIZE, QuizStore, Rating, mastery, next_due_summary,
                       plan_session, rating_for)

REASK_WITHIN = timedelta(minutes=30)  # a missed item due again this soon is asked once more


@dataclass
class Attempt:
    item: Item
    answer: str
    grade: Grade | None  # None when the learner gave up (revealed the answer)
    verdict: str
    hints: int
    revealed: bool
    rating: Rating
    review_id: int
    due: datetime
    overridden: bool = False


@dataclass
class Summary:
    answered: int
    correct: int
    partial: int
    wrong: int
    mastery_before: dict[int, float]
    mastery_after: dict[int, float]
    next_due: datetime | None
    due_now: int
    due_24h: int
    new_left: int
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def score(self) -> float:
        """Correct counts 1, partial one half."""
        return (self.correct + 0.5 * self.partial) / self.answered if self.answered else 0.0

    @property
    def changes(self) -> dict[int, tuple[float, float]]:
        return {n: (self.mastery_before[n], self.mastery_after[n]) for n in self.mastery_after
                if abs(self.mastery_after[n] - self.mastery_before[n]) > 1e-9}


class QuizSession:
    def __init__(self, store: QuizStore, items: Sequence[Item], grader: Grader | None = None, *,
                 claim: int | None = None, new_limit: int = NEW_PER_SESSION,
                 size: int = SESSION_SIZE) -> None:
        self.store = store
        self.items = list(items)
        self.grader = grader or Grader()
        self.id = uuid.uuid4().hex[:12]
        self.clock: Callable[[], datetime] = store.clock
        self.queue = plan_session(self.items, store.due_dates(), self.clock(), new_limit=new_limit,
                                  size=size, claim=claim)
        self.planned = len(self.queue)
        self.position = 0
        self.hints = 0
        self.answered: Attempt | None = None  # the attempt on the current question, once made
        self.attempts: list[Attempt] = []
        self._reasked: set[str] = set()
        self.mastery_before = self.mastery()

    # ------------------------------------------------------------ state

    @property
    def current(self) -> Item | None:
        return self.queue[self.position] if self.position < len(self.queue) else None

    @property
    def finished(self) -> bool:
        return self.current is None

    def mastery(self) -> dict[int, float]:
        return mastery(self.items, self.store.recent_ratings())

    # ------------------------------------------------------------ one question

    def hint(self) -> str | None:
        """The next hint of the ladder; None once both have been shown (next step: reveal)."""
        item = self.current
        if item is None or self.answered is not None or self.hints >= len(item.hints):
            return None
        self.hints += 1
        return item.hints[self.hints - 1]

    def grade(self, answer: str) -> Grade:
        assert self.current is not None
        return self.grader.grade(self.current, answer)

    def submit(self, answer: str, grade: Grade) -> Attempt:
        """Record a graded answer to the current question."""
        item = self.current
        assert item is not None and self.answered is None and grade.item_id == item.id
        rating = rating_for(grade.verdict, hints=self.hints)
        review = self.store.record(item, grade.verdict, rating, answer=answer, hints=self.hints,
                                   session=self.id)
        return self._attempt(Attempt(item, answer, grade, grade.verdict, self.hints, False, rating,
                                     review.id, review.due))

    def answer(self, answer: str) -> Attempt:
        return self.submit(answer, self.grade(answer))

    def reveal(self) -> Attempt:
        """Give up: show the answer and record Again."""
        item = self.current
        assert item is not None and self.answered is None
        review = self.store.record(item, "wrong", Rating.Again, hints=self.hints, revealed=True,
                                   session=self.id, grader_verdict="wrong")
        return self._attempt(Attempt(item, "", None, "wrong", self.hints, True, Rating.Again,
                                     review.id, review.due))

    def override(self, verdict: str | None = None, *, easy: bool = False) -> Attempt:
        """The learner's judgement replaces the grader's: "correct", "wrong", or easy (right
        and easy). Re-applied to the card as it was before this answer."""
        attempt = self.answered
        assert attempt is not None
        if easy:
            verdict = "correct"
        assert verdict in ("correct", "wrong")
        rating = rating_for(verdict, hints=attempt.hints, easy=easy and not attempt.hints)
        review = self.store.amend(attempt.review_id, verdict, rating)
        attempt.verdict, attempt.rating, attempt.due = verdict, rating, review.due
        attempt.overridden = True
        self._requeue(attempt)
        return attempt

    def advance(self) -> Item | None:
        self.position += 1
        self.hints = 0
        self.answered = None
        return self.current

    def _attempt(self, attempt: Attempt) -> Attempt:
        self.attempts.append(attempt)
        self.answered = attempt
        self._requeue(attempt)
        return attempt

    def _requeue(self, attempt: Attempt) -> None:
        """Ask a missed item once more at the end of the session; undo that if overridden."""
        item = attempt.item
        later = [k for k in range(self.position + 1, len(self.queue)) if self.queue[k] is item]
        missed = attempt.rating == Rating.Again and attempt.due - self.clock() <= REASK_WITHIN
        if missed and not later and item.id not in self._reasked:
            self._reasked.add(item.id)
            self.queue.append(item)
        elif not missed and later and item.id in self._reasked:
            self._reasked.discard(item.id)
            del self.queue[later[-1]]

    # ------------------------------------------------------------ the end

    def summary(self) -> Summary:
        final = {a.item.id: a for a in self.attempts}  # the last attempt on each item
        counted = self.attempts
        due = self.store.due_dates()
        now = self.clock()
        next_due, due_now, due_24h = next_due_summary(due, now, self.items)
        return Summary(
            answered=len(counted),
            correct=sum(a.verdict == "correct" for a in counted),
            partial=sum(a.verdict == "partial" for a in counted),
            wrong=sum(a.verdict == "wrong" for a in counted),
            mastery_before=self.mastery_before, mastery_after=self.mastery(),
            next_due=next_due, due_now=due_now, due_24h=due_24h,
            new_left=sum(1 for i in self.items if i.id not in due),
            attempts=list(final.values()))
