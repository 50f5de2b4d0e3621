"""The shared-corpus path: a real `chroma run` server on 127.0.0.1, reached through HttpClient."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import run_tutor

CHROMA = str(Path(sys.executable).parent / "chroma")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory):
    data = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    log = open(data / "server.log", "w")
    proc = subprocess.Popen([CHROMA, "run", "--path", str(data / "db"), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1)
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"chroma run exited: {(data / 'server.log').read_text()[-500:]}")
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("chroma server did not start within 60 s")
    yield url
    proc.terminate()
    proc.wait(timeout=20)
    log.close()


def test_cli_indexes_and_searches_through_the_server(chroma_url, tmp_path):
    env = {"TUTOR_CHROMA_URL": chroma_url}
    proc = run_tutor(["search", "What is sycophancy?", "--json", "-k", "3"], tmp_path / "a", env=env)
    assert proc.returncode == 0, proc.stderr
    hits = json.loads(proc.stdout)["results"]
    assert hits[0]["doc_id"] == "claim-4" and "dense" in hits[0]["legs"]
    # the vectors live in the server, not under the home
    assert not (tmp_path / "a" / "chroma").exists()


def test_a_second_home_sees_the_shared_vectors(chroma_url, tmp_path):
    """A learner added a document through the server; another home finds it by the dense leg."""
    doc = tmp_path / "shared.md"
    doc.write_text("# Class note\n\nThe zebrafish mnemonic helps remember scaling exponents.\n")
    env = {"TUTOR_CHROMA_URL": chroma_url}
    added = run_tutor(["add", str(doc), "--json"], tmp_path / "teacher", env=env)
    assert added.returncode == 0, added.stderr
    proc = run_tutor(["search", "zebrafish mnemonic", "--json", "-k", "3"], tmp_path / "student", env=env)
    assert proc.returncode == 0, proc.stderr
    assert any("zebrafish" in h["text"] for h in json.loads(proc.stdout)["results"])


def test_unreachable_server_is_one_line(tmp_path):
    proc = run_tutor(["search", "x"], tmp_path / "c",
                     env={"TUTOR_CHROMA_URL": f"http://127.0.0.1:{free_port()}"})
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: cannot open the vector store at http://127.0.0.1:")
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
