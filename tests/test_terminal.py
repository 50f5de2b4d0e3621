"""A closed terminal ends the app: the TUI runs under a real pseudo-terminal, started as `tutor`
and as `make run`; the terminal is closed (the master side of the pty, as a terminal window or
`tmux kill-session` does), and no process may be left 2 s later, the chat saved."""
from __future__ import annotations

import fcntl
import os
import pty
import signal
import sqlite3
import struct
import sys
import termios
import threading
import time
from pathlib import Path

import pytest

from conftest import ROOT, TUTOR

BIN = str(Path(sys.executable).parent)
QUESTION = "What is a scaling law?"


class Terminal:
    """A program on a pseudo-terminal of its own (its session, its controlling terminal)."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: the pty's slave is its stdin, stdout and controlling tty
            os.chdir(cwd)
            os.execvpe(argv[0], argv, env)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        self.output = bytearray()
        self.closed = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while not self.closed:
            try:
                data = os.read(self.fd, 65536)
            except OSError:
                return
            if not data:
                return
            self.output += data

    def type(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def close(self) -> None:
        """Close the terminal: the kernel hangs up the pty (SIGHUP to the session leader)."""
        self.closed = True
        os.close(self.fd)

    def session(self) -> list[int]:
        """Pids of the processes still in the program's session (the program and children)."""
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[3]) == self.pid and fields[0] != "Z":  # session id, state
                pids.append(int(entry.name))
        return pids

    def reap(self) -> None:
        try:
            os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            pass

    def kill(self) -> None:
        for pid in self.session():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.reap()


def turns(home: Path) -> list[tuple[str, str, str]]:
    path = home / "history.sqlite"
    if not path.exists():
        return []
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        return db.execute("SELECT question, status, answer FROM turns ORDER BY id").fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        db.close()


def wait_for(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "note.md").write_text(
        "# Scaling laws\n\nA scaling law says that loss falls as a power law of compute.\n")
    return dict(os.environ, TUTOR_HOME=str(tmp_path / "home"), TUTOR_CORPUS=str(tmp_path / "corpus"),
                TUTOR_CONFIG=str(tmp_path / "no-config.toml"), TERM="xterm-256color")


LAUNCHERS = {
    "tutor": lambda: [TUTOR, "--no-llm"],
    # `make run` as a user types it; setup is taken as done (this venv is the one it made)
    "make run": lambda: ["make", "--no-print-directory", "-o", "setup", "run", f"BIN={BIN}",
                         "TUTOR_ARGS=--no-llm"],
}


@pytest.mark.slow
@pytest.mark.parametrize("launcher", list(LAUNCHERS))
def test_closing_the_terminal_ends_the_app_and_keeps_the_chat(env, tmp_path, launcher):
    home = Path(env["TUTOR_HOME"])
    term = Terminal(LAUNCHERS[launcher](), env, ROOT)
    try:
        wait_for(lambda: b"new chat" in term.output, 120, "the chat screen")
        wait_for(lambda: (home / "index.sqlite").exists(), 120, "the index")
        time.sleep(1.0)
        term.type(QUESTION + "\r")
        wait_for(lambda: turns(home), 120, "the answer to be saved")
        tutor_pids = [p for p in term.session() if "tutor" in Path(f"/proc/{p}/cmdline").read_text()]
        assert tutor_pids
        term.close()
        t0 = time.monotonic()
        wait_for(lambda: not term.session(), 2.0, f"every process of `{launcher}` to end")
        gone_after = time.monotonic() - t0
        assert gone_after < 2.0
        saved = turns(home)
        assert saved[0][0] == QUESTION and saved[0][1] == "done" and saved[0][2]
    finally:
        term.kill()


@pytest.mark.slow
def test_an_answer_being_written_is_saved_as_stopped(env, tmp_path):
    """With the real model: the terminal closes while the question waits for the model or is
    being answered; the question and what came of the answer are saved as stopped."""
    home = Path(env["TUTOR_HOME"])
    term = Terminal([TUTOR], env, ROOT)
    try:
        wait_for(lambda: b"new chat" in term.output, 120, "the chat screen")
        time.sleep(1.0)
        term.type(QUESTION + "\r")
        time.sleep(1.5)
        term.close()
        wait_for(lambda: not term.session(), 2.0, "the app to end")
        saved = turns(home)
        assert [q for q, _, _ in saved] == [QUESTION]
        assert saved[0][1] in ("stopped", "done")
    finally:
        term.kill()


@pytest.mark.slow
def test_sighup_and_sigterm_save_and_exit(env, tmp_path):
    home = Path(env["TUTOR_HOME"])
    for sig in (signal.SIGHUP, signal.SIGTERM):
        term = Terminal([TUTOR, "--no-llm"], env, ROOT)
        try:
            wait_for(lambda: b"new chat" in term.output, 120, "the chat screen")
            before = len(turns(home))
            time.sleep(1.0)
            term.type(f"{QUESTION} ({sig.name})\r")
            wait_for(lambda: len(turns(home)) > before, 120, "the answer to be saved")
            os.kill(term.pid, sig)
            wait_for(lambda: not term.session(), 2.0, f"the app to end on {sig.name}")
        finally:
            term.kill()
