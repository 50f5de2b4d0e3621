"""With the network switched off, a fresh home indexes the corpus and answers; no connect()."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TUTOR = str(Path(sys.executable).parent / "tutor")


def _can_unshare() -> bool:
    if not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _can_unshare(), reason="unshare -n needs root or user namespaces")
def test_fresh_home_answers_offline_without_any_network_connection(tmp_path):
    home = tmp_path / "home"
    env = dict(os.environ, TUTOR_HOME=str(home), TUTOR_CONFIG=str(tmp_path / "none.toml"))
    cmd = ["unshare", "-n"]
    trace = tmp_path / "connect.log"
    if shutil.which("strace"):
        cmd += ["strace", "-f", "-qq", "-e", "trace=connect", "-o", str(trace)]
    cmd += [TUTOR, "ask", "What is sycophancy?", "--json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    answer = json.loads(proc.stdout)
    assert answer["sources"] and answer["model"] and "[" in answer["answer"]
    if trace.exists():
        inet = [line for line in trace.read_text().splitlines()
                if re.search(r"AF_INET6?|sin_port|sin6_port", line)]
        assert not inet, inet[:5]
