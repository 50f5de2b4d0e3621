"""Numbered schema migrations for the tutor's SQLite files (history, quiz progress).

The schema version lives in ``PRAGMA user_version``; each migration runs in its own
transaction, so a crash mid-upgrade leaves the file at the last complete version.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping


def statements(script: str) -> list[str]:
    """Split a migration script on semicolons (the scripts hold no string literals with ';')."""
    body = "\n".join(line.split("--", 1)[0] for line in script.splitlines())
    return [s.strip() for s in body.split(";") if s.strip()]


def migrate(db: sqlite3.Connection, scripts: Mapping[int, str],
            too_new: Callable[[int, int], Exception]) -> None:
    """Bring ``db`` (opened with ``isolation_level=None``) up to ``max(scripts)``.

    ``scripts[n]`` upgrades version n-1 to n; ``too_new(found, known)`` is raised for a file
    written by a newer tutor, which is never touched.
    """
    latest = max(scripts)
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    if version > latest:
        raise too_new(version, latest)
    for target in range(version + 1, latest + 1):
        db.execute("BEGIN IMMEDIATE")
        try:
            for statement in statements(scripts[target]):
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {target}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
