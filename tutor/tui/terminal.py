"""Noticing that the terminal is gone: a closed window, a killed tmux session, a dropped ssh.

Run directly, the tutor gets SIGHUP from the kernel and dies of it. Run through ``make run`` it
does not (make is the session leader: it takes the SIGHUP and waits for its child), and
Textual's input thread then reads end-of-input from the dead terminal in a loop, at 100% of a
core, for ever. :class:`TerminalDriver` is Textual's Linux driver that notices, either way:

* a watch thread polls the terminal for a hang-up (``POLLHUP``/``POLLERR``/``POLLNVAL``);
* an I/O error in the input thread (EIO from a hung-up terminal) is a hang-up, not a crash;
* SIGHUP and SIGTERM (:func:`install_signal_handlers`, before the app runs).

Each calls the app's ``terminal_gone(reason)`` once, on the event loop; from then on output is
dropped (writing to a hung-up terminal fails or blocks). Each also arms :func:`hard_exit_later`
at once: the clean exit takes about 0.15 s, but a starved event loop (the engine still
loading) or a thread deep in a model call must not keep the process alive past a second.
"""
from __future__ import annotations

import asyncio
import errno
import os
import select
import signal
import threading
from typing import Any

from textual.drivers.linux_driver import LinuxDriver

WATCH_INTERVAL_S = 0.2
HARD_EXIT_S = 1.0
_armed = threading.Event()
HUNG_UP = select.POLLHUP | select.POLLERR | select.POLLNVAL


def hung_up(fd: int) -> bool:
    """True when the terminal (or pipe) behind ``fd`` has been closed or hung up."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    try:
        return any(mask & HUNG_UP for _, mask in poller.poll(0))
    except OSError:
        return True


class TerminalDriver(LinuxDriver):
    """Textual's Linux driver, told that a terminal can go away (see the module doc)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gone = threading.Event()
        self._stop_watch = threading.Event()
        self._watch: threading.Thread | None = None

    def start_application_mode(self) -> None:
        super().start_application_mode()
        self._stop_watch.clear()
        self._watch = threading.Thread(target=self._watch_terminal, name="tutor-terminal-watch",
                                       daemon=True)
        self._watch.start()

    def _watch_terminal(self) -> None:
        while not self._stop_watch.wait(WATCH_INTERVAL_S):
            if hung_up(self.fileno):
                self.lost("the terminal was closed")
                return

    def run_input_thread(self) -> None:
        try:
            super().run_input_thread()
        except OSError as exc:
            if exc.errno not in (errno.EIO, errno.EBADF, errno.ENXIO) and not self.gone.is_set():
                raise
            self.lost(f"the terminal cannot be read ({exc.strerror or exc})")

    def lost(self, reason: str) -> None:
        """The terminal is gone: stop reading and writing it, and tell the app (once)."""
        if self.gone.is_set():
            return
        self.gone.set()
        hard_exit_later()
        self.exit_event.set()  # the input thread stops instead of spinning on end of input
        handler = getattr(self._app, "terminal_gone", None)
        if handler is None:
            return
        try:
            self._app.call_from_thread(handler, reason)
        except RuntimeError:  # already on the event loop's thread, or the loop has stopped
            self._app.call_later(handler, reason)

    def write(self, data: str) -> None:
        if not self.gone.is_set():
            super().write(data)

    def flush(self) -> None:
        if not self.gone.is_set():
            super().flush()

    def stop_application_mode(self) -> None:
        self._stop_watch.set()
        if self.gone.is_set():  # nothing to restore on a terminal that is gone
            self.exit_event.set()
            return
        super().stop_application_mode()

    def close(self) -> None:
        if self.gone.is_set():  # the writer thread may be stuck on the dead terminal
            return
        super().close()


def hard_exit_later(seconds: float = HARD_EXIT_S, code: int = 129) -> None:
    """Exit the process after ``seconds`` whatever still runs (a thread in the middle of a
    model call or a batch of embeddings); the index's journal and SQLite's transactions make
    that safe. Armed once; later calls do nothing."""
    if _armed.is_set():
        return
    _armed.set()
    timer = threading.Timer(seconds, os._exit, (code,))
    timer.daemon = True
    timer.start()


def install_signal_handlers(app: Any, loop: asyncio.AbstractEventLoop) -> None:
    """SIGHUP (the terminal closed) and SIGTERM (`kill`): arm the hard exit, then run the
    app's ``terminal_gone`` on its event loop. Python runs the handler in the main thread,
    which is the loop's, between two bytecodes, even when the loop is busy."""

    def on_signal(signum: int, frame: object) -> None:
        hard_exit_later(code=128 + signum)
        why = "hang-up signal" if signum == signal.SIGHUP else "terminate signal"
        loop.call_soon_threadsafe(app.call_later, app.terminal_gone, why)

    for sig in (signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, on_signal)
