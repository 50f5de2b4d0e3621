"""Chat history: sessions and their turns in SQLite (``history.sqlite`` in the tutor home).

Each turn keeps what is needed to show it again exactly as it was answered: the question, the
answer, the sources it cited (``Hit.as_json()`` dicts), the model, the timings, the prompt and
its token budget. The schema carries its version in ``PRAGMA user_version``; ``MIGRATIONS[i]``
upgrades a database from version ``i`` to ``i + 1``, each in one transaction.

This module knows nothing about the TUI; the TUI calls it from its event loop (every call is a
few milliseconds of SQLite).
"""
from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .migrate import migrate

DB_NAME = "history.sqlite"

MIGRATIONS: list[str] = [
    # 0 -> 1: sessions and turns
    """
    CREATE TABLE sessions (
        id INTEGER PRIMARY KEY,
        title TEXT NOT NULL,
        created TEXT NOT NULL,
        updated TEXT NOT NULL,
        titled INTEGER NOT NULL DEFAULT 0  -- 1 once the learner renamed it
    );
    CREATE TABLE turns (
        id INTEGER PRIMARY KEY,
        session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        created TEXT NOT NULL,
        question TEXT NOT NULL,
        answer TEXT NOT NULL DEFAULT '',
        sources TEXT NOT NULL DEFAULT '[]',   -- JSON list of Hit.as_json()
        model TEXT,
        timings TEXT NOT NULL DEFAULT '{}',   -- JSON
        budget TEXT NOT NULL DEFAULT '{}',    -- JSON: n_ctx, prompt, sources, history, ...
        prompt TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL DEFAULT 'done',  -- done | stopped | error
        stopped_by TEXT NOT NULL DEFAULT 'stop',
        covered INTEGER NOT NULL DEFAULT 1,
        claim INTEGER,
        notices TEXT NOT NULL DEFAULT '[]',   -- JSON list of strings
        error TEXT
    );
    CREATE INDEX turns_session ON turns(session_id, id);
    CREATE INDEX sessions_updated ON sessions(updated);
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


class HistoryError(Exception):
    """The history database cannot be used (e.g. it was written by a newer tutor)."""


def now_utc() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


@dataclass
class Session:
    id: int
    title: str
    created: str
    updated: str
    turns: int = 0


@dataclass
class Turn:
    id: int
    session_id: int
    created: str
    question: str
    answer: str = ""
    sources: list[dict[str, Any]] = field(default_factory=list)
    model: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    budget: dict[str, int] = field(default_factory=dict)
    prompt: str = ""
    status: str = "done"
    stopped_by: str = "stop"
    covered: bool = True
    claim: int | None = None
    notices: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def cited(self) -> list[int]:
        """Source numbers the answer cites, in order of first mention."""
        return cited_numbers(self.answer)


def cited_numbers(answer: str) -> list[int]:
    seen: list[int] = []
    for m in re.finditer(r"\[(\d+)\]", answer):
        n = int(m.group(1))
        if n not in seen:
            seen.append(n)
    return seen


def default_title(question: str, limit: int = 48) -> str:
    line = " ".join(question.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


class History:
    def __init__(self, home: Path) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.path = home / DB_NAME
        self.db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.execute("PRAGMA journal_mode=WAL")
        self._migrate()

    def close(self) -> None:
        self.db.close()

    # ------------------------------------------------------------ schema

    @property
    def version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        migrate(self.db, dict(enumerate(MIGRATIONS, 1)), lambda found, known: HistoryError(
            f"{self.path}: made by a newer tutor (schema {found}, this one knows {known})"))

    # ------------------------------------------------------------ sessions

    def new_session(self, title: str = "New chat") -> Session:
        stamp = now_utc()
        cur = self.db.execute("INSERT INTO sessions(title, created, updated) VALUES (?,?,?)",
                              (title, stamp, stamp))
        return Session(int(cur.lastrowid or 0), title, stamp, stamp, 0)

    def sessions(self) -> list[Session]:
        rows = self.db.execute(
            "SELECT s.id, s.title, s.created, s.updated, COUNT(t.id) FROM sessions s "
            "LEFT JOIN turns t ON t.session_id = s.id GROUP BY s.id "
            "ORDER BY s.updated DESC, s.id DESC").fetchall()
        return [Session(*r) for r in rows]

    def session(self, session_id: int) -> Session | None:
        return next((s for s in self.sessions() if s.id == session_id), None)

    def latest_session(self) -> Session | None:
        found = self.sessions()
        return found[0] if found else None

    def rename(self, session_id: int, title: str) -> None:
        title = " ".join(title.split()) or "Untitled chat"
        self.db.execute("UPDATE sessions SET title=?, titled=1 WHERE id=?", (title, session_id))

    def delete(self, session_id: int) -> None:
        self.db.execute("DELETE FROM sessions WHERE id=?", (session_id,))

    # ------------------------------------------------------------ turns

    def add_turn(self, session_id: int, question: str, *, answer: str = "",
                 sources: Sequence[dict[str, Any]] = (), model: str | None = None,
                 timings: dict[str, float] | None = None, budget: dict[str, int] | None = None,
                 prompt: str = "", status: str = "done", stopped_by: str = "stop",
                 covered: bool = True, claim: int | None = None,
                 notices: Sequence[str] = (), error: str | None = None) -> Turn:
        stamp = now_utc()
        self.db.execute("BEGIN IMMEDIATE")
        try:
            cur = self.db.execute(
                "INSERT INTO turns(session_id, created, question, answer, sources, model, timings, "
                "budget, prompt, status, stopped_by, covered, claim, notices, error) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (session_id, stamp, question, answer, json.dumps(list(sources), ensure_ascii=False),
                 model, json.dumps(timings or {}), json.dumps(budget or {}), prompt, status,
                 stopped_by, int(covered), claim, json.dumps(list(notices), ensure_ascii=False),
                 error))
            self.db.execute(
                "UPDATE sessions SET updated=?, "
                "title=CASE WHEN titled=0 AND title IN ('New chat', '') THEN ? ELSE title END "
                "WHERE id=?", (stamp, default_title(question), session_id))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return Turn(int(cur.lastrowid or 0), session_id, stamp, question, answer,
                    list(sources), model, dict(timings or {}), dict(budget or {}), prompt, status,
                    stopped_by, covered, claim, list(notices), error)

    def turns(self, session_id: int) -> list[Turn]:
        rows = self.db.execute(
            "SELECT id, session_id, created, question, answer, sources, model, timings, budget, "
            "prompt, status, stopped_by, covered, claim, notices, error FROM turns "
            "WHERE session_id=? ORDER BY id", (session_id,)).fetchall()
        return [Turn(r[0], r[1], r[2], r[3], r[4], json.loads(r[5] or "[]"), r[6],
                     json.loads(r[7] or "{}"), json.loads(r[8] or "{}"), r[9], r[10], r[11],
                     bool(r[12]), r[13], json.loads(r[14] or "[]"), r[15]) for r in rows]

    def pairs(self, session_id: int) -> list[tuple[str, str]]:
        """(question, answer) of the answered turns, oldest first: the chat history for the
        prompt (the pipeline drops the oldest ones that do not fit n_ctx)."""
        return [(t.question, t.answer) for t in self.turns(session_id)
                if t.status != "error" and t.answer.strip()]

    # ------------------------------------------------------------ export

    def export_markdown(self, session_id: int) -> str:
        session = self.session(session_id)
        if session is None:
            raise HistoryError(f"no chat with id {session_id}")
        return render_markdown(session, self.turns(session_id))

    def export_to(self, session_id: int, path: Path) -> Path:
        text = self.export_markdown(session_id)
        path = path.expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
        return path


def _quote(text: str, limit: int = 400) -> str:
    flat = " ".join(text.split())
    if len(flat) > limit:
        flat = flat[: limit - 1].rstrip() + "…"
    return flat


def render_markdown(session: Session, turns: Sequence[Turn]) -> str:
    lines = [f"# {session.title}", "",
             f"_Exported from tutor on {now_utc()[:10]}; started {session.created[:16].replace('T', ' ')} UTC; "
             f"{len(turns)} question{'s' if len(turns) != 1 else ''}._", ""]
    for n, turn in enumerate(turns, 1):
        lines += [f"## {n}. {turn.question.strip()}", ""]
        if turn.claim:
            lines += [f"_Guided explanation of claim {turn.claim}._", ""]
        if turn.status == "error":
            lines += [f"> **Error:** {turn.error or 'the request failed'}", ""]
        else:
            lines += [turn.answer.strip() or "_(no answer)_", ""]
            if turn.status == "stopped" or turn.stopped_by == "cancelled":
                lines += ["_(stopped before the end)_", ""]
        for note in turn.notices:
            lines += [f"> note: {note}", ""]
        if turn.sources:
            cited = set(turn.cited)
            lines += ["**Sources**" if turn.covered else "**Closest passages (not covered)**", ""]
            for i, src in enumerate(turn.sources, 1):
                rank = int(src.get("rank") or i)
                legs = " + ".join(str(x) for x in src.get("legs", [])) or "?"
                mark = " (cited)" if rank in cited else ""
                lines.append(f"{rank}. **{src.get('title', '')}** — {src.get('location', '')}{mark}  ")
                lines.append(f"   `{src.get('source', '')}` · score {float(src.get('score') or 0):.2f} · {legs}")
                lines.append(f"   > {_quote(str(src.get('text', '')))}")
            lines.append("")
        t = turn.timings
        facts = []
        if turn.model:
            facts.append(turn.model)
        else:
            facts.append("retrieval only")
        if t.get("total_ms"):
            facts.append(f"{t['total_ms'] / 1000:.1f} s")
        if t.get("tokens_per_s"):
            facts.append(f"{t['tokens_per_s']:.0f} tokens/s")
        lines += [f"_{' · '.join(facts)} · {turn.created[:16].replace('T', ' ')} UTC_", ""]
    return "\n".join(lines).rstrip() + "\n"
