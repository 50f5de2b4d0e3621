"""Spaced repetition with FSRS (py-fsrs 6, default parameters) and progress in SQLite.

Progress lives in ``<home>/quiz.sqlite``: one FSRS card per item id (so rewording an item
keeps its history) and a log of every review. All times are UTC. The schema is versioned with
``PRAGMA user_version`` and upgraded by numbered migrations.

Ratings: wrong (or gave up) is Again; partial, or right after a hint, is Hard; right is Good;
Easy only when the learner says so. Each review row keeps the card as it was before, so a
verdict the learner overrides is re-applied to that card rather than stacked on top.
"""
from __future__ import annotations

import sqlite3
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fsrs import Card, Rating, Scheduler, State

from .bank import Item
from ..migrate import migrate

DB_NAME = "quiz.sqlite"
NEW_PER_SESSION = 8   # new items introduced in one session at most
SESSION_SIZE = 15     # questions in one session at most (before re-asking missed ones)
RECENT = 3            # reviews of an item that count towards mastery
CREDIT = {Rating.Again: 0.0, Rating.Hard: 0.6, Rating.Good: 1.0, Rating.Easy: 1.0}
WEIGHTS = (1.0, 0.5, 0.25)  # most recent review first

MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE cards (
        item_id TEXT PRIMARY KEY,
        card TEXT NOT NULL,            -- fsrs Card.to_json()
        due TEXT NOT NULL,             -- UTC ISO 8601, for ordering and 'due now'
        first_seen TEXT NOT NULL,
        last_review TEXT NOT NULL
    );
    CREATE INDEX cards_due ON cards(due);
    CREATE TABLE reviews (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        item_id TEXT NOT NULL,
        claim INTEGER,
        session TEXT,
        reviewed_at TEXT NOT NULL,
        answer TEXT NOT NULL DEFAULT '',
        verdict TEXT NOT NULL,         -- correct | partial | wrong (after any override)
        grader_verdict TEXT NOT NULL,  -- what the grader said
        rating INTEGER NOT NULL,       -- fsrs Rating 1-4
        hints INTEGER NOT NULL DEFAULT 0,
        revealed INTEGER NOT NULL DEFAULT 0,
        overridden INTEGER NOT NULL DEFAULT 0,
        card_before TEXT,              -- NULL for an item seen for the first time
        due_after TEXT NOT NULL
    );
    CREATE INDEX reviews_item ON reviews(item_id, id);
    """,
}
SCHEMA_VERSION = max(MIGRATIONS)


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="seconds")


def rating_for(verdict: str, *, hints: int = 0, revealed: bool = False, easy: bool = False) -> Rating:
    if revealed or verdict == "wrong":
        return Rating.Again
    if verdict == "partial" or hints:
        return Rating.Hard
    return Rating.Easy if easy else Rating.Good


def default_scheduler() -> Scheduler:
    return Scheduler()  # default parameters, desired retention 0.9, fuzzing on


@dataclass(frozen=True)
class Review:
    id: int
    item_id: str
    verdict: str
    rating: Rating
    reviewed_at: datetime
    due: datetime
    overridden: bool


class QuizStoreError(Exception):
    """The progress database cannot be opened or is from a newer tutor."""


class QuizStore:
    """FSRS cards and the review log in ``<home>/quiz.sqlite``."""

    def __init__(self, home: Path, scheduler: Scheduler | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.path = home / DB_NAME
        self.scheduler = scheduler or default_scheduler()
        self.clock = clock
        self._lock = threading.Lock()
        try:
            self.db = sqlite3.connect(self.path, timeout=30, check_same_thread=False,
                                      isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self._migrate()
        except sqlite3.Error as exc:
            raise QuizStoreError(f"{self.path}: cannot open the quiz progress: {exc}") from None

    def _migrate(self) -> None:
        migrate(self.db, MIGRATIONS, lambda found, known: QuizStoreError(
            f"{self.path}: made by a newer tutor (schema {found})"))

    def close(self) -> None:
        self.db.close()

    # ------------------------------------------------------------ reading

    def card(self, item_id: str) -> Card | None:
        row = self.db.execute("SELECT card FROM cards WHERE item_id=?", (item_id,)).fetchone()
        return Card.from_json(row[0]) if row else None

    def due_dates(self) -> dict[str, datetime]:
        return {i: datetime.fromisoformat(d) for i, d in self.db.execute("SELECT item_id, due FROM cards")}

    def recent_ratings(self, limit: int = RECENT) -> dict[str, list[Rating]]:
        """The last ``limit`` ratings of every item seen, most recent first."""
        out: dict[str, list[Rating]] = defaultdict(list)
        for item_id, rating in self.db.execute("SELECT item_id, rating FROM reviews ORDER BY id DESC"):
            if len(out[item_id]) < limit:
                out[item_id].append(Rating(rating))
        return dict(out)

    def reviews(self, item_id: str) -> list[Review]:
        rows = self.db.execute("SELECT id, item_id, verdict, rating, reviewed_at, due_after, overridden "
                               "FROM reviews WHERE item_id=? ORDER BY id", (item_id,)).fetchall()
        return [_review(r) for r in rows]

    # ------------------------------------------------------------ writing

    def record(self, item: Item, verdict: str, rating: Rating, *, answer: str = "",
               hints: int = 0, revealed: bool = False, session: str | None = None,
               when: datetime | None = None, grader_verdict: str | None = None) -> Review:
        """Apply one review to the item's card and log it; returns the logged review."""
        when = when or self.clock()
        with self._lock:
            before = self.card(item.id)
            card, _ = self.scheduler.review_card(before or Card(), rating, when)
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self._save_card(item.id, card, when)
                cur = self.db.execute(
                    "INSERT INTO reviews(item_id, claim, session, reviewed_at, answer, verdict, "
                    "grader_verdict, rating, hints, revealed, card_before, due_after) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (item.id, item.claim, session, iso(when), answer, verdict, grader_verdict or verdict,
                     int(rating), hints, int(revealed), before.to_json() if before else None,
                     iso(card.due)))
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            return Review(cur.lastrowid or 0, item.id, verdict, rating, when, card.due, False)

    def amend(self, review_id: int, verdict: str, rating: Rating) -> Review:
        """Replace the verdict of the item's latest review (a learner's override)."""
        with self._lock:
            row = self.db.execute("SELECT item_id, reviewed_at, card_before FROM reviews WHERE id=?",
                                  (review_id,)).fetchone()
            if row is None:
                raise KeyError(review_id)
            item_id, reviewed_at, before_json = row
            latest = self.db.execute("SELECT MAX(id) FROM reviews WHERE item_id=?", (item_id,)).fetchone()[0]
            if latest != review_id:
                raise ValueError(f"review {review_id} of {item_id} is not the latest one")
            when = datetime.fromisoformat(reviewed_at)
            before = Card.from_json(before_json) if before_json else None
            card, _ = self.scheduler.review_card(before or Card(), rating, when)
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self._save_card(item_id, card, when)
                self.db.execute("UPDATE reviews SET verdict=?, rating=?, overridden=1, due_after=? "
                                "WHERE id=?", (verdict, int(rating), iso(card.due), review_id))
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            return Review(review_id, item_id, verdict, rating, when, card.due, True)

    def _save_card(self, item_id: str, card: Card, when: datetime) -> None:
        self.db.execute(
            "INSERT INTO cards(item_id, card, due, first_seen, last_review) VALUES (?,?,?,?,?) "
            "ON CONFLICT(item_id) DO UPDATE SET card=excluded.card, due=excluded.due, "
            "last_review=excluded.last_review",
            (item_id, card.to_json(), iso(card.due), iso(when), iso(when)))


def _review(row: Sequence) -> Review:  # type: ignore[type-arg]
    return Review(row[0], row[1], row[2], Rating(row[3]), datetime.fromisoformat(row[4]),
                  datetime.fromisoformat(row[5]), bool(row[6]))


# ---------------------------------------------------------------- planning a session

def _group_key(item: Item) -> str:
    return f"claim-{item.claim}" if item.claim else item.topic


def mix_kinds(items: Sequence[Item], offset: int = 0) -> list[Item]:
    """Round-robin over the three kinds, starting at a different kind for each ``offset``."""
    kinds = ["multiple_choice", "cloze", "short_answer"]
    kinds = kinds[offset % 3:] + kinds[:offset % 3]
    by_kind = {k: [i for i in items if i.kind == k] for k in kinds}
    out: list[Item] = []
    while any(by_kind.values()):
        for k in kinds:
            if by_kind[k]:
                out.append(by_kind[k].pop(0))
    return out


def interleave(items: Sequence[Item]) -> list[Item]:
    """Round-robin over claims, keeping each claim's own order."""
    groups: dict[str, list[Item]] = {}
    for item in items:
        groups.setdefault(_group_key(item), []).append(item)
    out: list[Item] = []
    while groups:
        for key in list(groups):
            out.append(groups[key].pop(0))
            if not groups[key]:
                del groups[key]
    return out


def plan_session(items: Sequence[Item], due: dict[str, datetime], now: datetime, *,
                 new_limit: int = NEW_PER_SESSION, size: int = SESSION_SIZE,
                 claim: int | None = None) -> list[Item]:
    """Due items first (most overdue first), then up to ``new_limit`` new ones; claims
    interleaved. With nothing due and nothing new, the items due soonest (practice ahead)."""
    pool = [i for i in items if claim is None or i.claim == claim]
    due_now = sorted((i for i in pool if i.id in due and due[i.id] <= now), key=lambda i: due[i.id])
    fresh = [i for i in pool if i.id not in due]
    fresh.sort(key=lambda i: (i.generated, not i.topic.startswith("claim-")))  # stable: bank order
    groups: dict[str, list[Item]] = {}
    for item in fresh:
        groups.setdefault(_group_key(item), []).append(item)
    # each claim's new items alternate kinds, and neighbouring claims start with different kinds
    fresh = [i for n, g in enumerate(groups.values()) for i in mix_kinds(g, n)]
    first = interleave(due_now)[:size]
    new = interleave(fresh)[:max(0, min(new_limit, size - len(first)))]
    if first and new and _group_key(first[-1]) == _group_key(new[0]):
        swap = next((k for k, i in enumerate(new) if _group_key(i) != _group_key(first[-1])), None)
        if swap is not None:
            new.insert(0, new.pop(swap))
    plan = first + new
    if not plan:
        ahead = sorted((i for i in pool if i.id in due), key=lambda i: due[i.id])
        plan = interleave(ahead[:size])
    return plan


# ---------------------------------------------------------------- mastery

def item_mastery(ratings: Sequence[Rating]) -> float:
    """Weighted credit of an item's recent ratings (most recent first); 0 when never seen."""
    if not ratings:
        return 0.0
    pairs = list(zip(WEIGHTS, ratings))
    return sum(w * CREDIT[r] for w, r in pairs) / sum(w for w, _ in pairs)


def mastery(items: Iterable[Item], recent: dict[str, list[Rating]]) -> dict[int, float]:
    """Per claim 1-8: mean item mastery over the claim's bank items (unseen items count 0)."""
    by_claim: dict[int, list[float]] = {n: [] for n in range(1, 9)}
    for item in items:
        if item.claim and not item.generated:
            by_claim[item.claim].append(item_mastery(recent.get(item.id, [])))
    return {n: (sum(v) / len(v) if v else 0.0) for n, v in by_claim.items()}


def read_recent_ratings(home: Path, limit: int = RECENT) -> dict[str, list[Rating]]:
    """Like :meth:`QuizStore.recent_ratings`, read-only and without creating the database."""
    path = home / DB_NAME
    if not path.exists():
        return {}
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return {}
    try:
        out: dict[str, list[Rating]] = defaultdict(list)
        for item_id, rating in db.execute("SELECT item_id, rating FROM reviews ORDER BY id DESC"):
            if len(out[item_id]) < limit:
                out[item_id].append(Rating(rating))
        return dict(out)
    except sqlite3.Error:
        return {}
    finally:
        db.close()


def next_due_summary(due: dict[str, datetime], now: datetime, items: Iterable[Item]) -> tuple[datetime | None, int, int]:
    """(the earliest future due time, items due now, items due within 24 hours) over ``items``."""
    ids = {i.id for i in items}
    times = [d for i, d in due.items() if i in ids]
    future = [d for d in times if d > now]
    return (min(future) if future else None, sum(d <= now for d in times),
            sum(d <= now + timedelta(hours=24) for d in times))


__all__ = ["NEW_PER_SESSION", "SESSION_SIZE", "QuizStore", "QuizStoreError", "Rating", "Review",
           "State", "interleave", "item_mastery", "mastery", "plan_session", "rating_for",
           "read_recent_ratings", "utcnow"]
