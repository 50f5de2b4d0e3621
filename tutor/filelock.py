"""Waiting for an exclusive ``flock`` with a deadline (the index's writer lock, the store's lock)."""
from __future__ import annotations

import fcntl
import time


def flock_within(fd: int, seconds: float, poll: float) -> bool:
    """Take an exclusive lock on ``fd``, retrying every ``poll`` s; False after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(poll)
