"""Shared fixtures: real embedder, real chromadb, real bundled corpus, indexed once per session."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TUTOR = str(Path(sys.executable).parent / "tutor")


def run_tutor(args: list[str], home: Path, stdin: str | None = None, timeout: float = 600,
              env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run the installed `tutor` command like a user would, in its own home."""
    full_env = dict(os.environ, TUTOR_HOME=str(home), TUTOR_CONFIG=str(home / "no-config.toml"))
    full_env.update(env or {})
    return subprocess.run([TUTOR, *args], input=stdin, capture_output=True, text=True,
                          timeout=timeout, env=full_env, cwd=ROOT)


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip().startswith("{")]


@pytest.fixture(scope="session")
def indexed_settings(tmp_path_factory: pytest.TempPathFactory):
    """Settings for a home holding the bundled corpus, indexed in this process."""
    from tutor.config import load_settings

    home = tmp_path_factory.mktemp("home-indexed")
    os.environ.setdefault("TUTOR_CONFIG", str(home / "no-config.toml"))
    return load_settings({"home": str(home)})


@pytest.fixture(scope="session")
def tutor_engine(indexed_settings):
    """A Tutor (index, retriever; model loaded on demand) over the real bundled corpus."""
    from tutor.pipeline import Tutor

    tutor = Tutor(indexed_settings)
    tutor.prepare()
    return tutor


@pytest.fixture(scope="session")
def cli_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home indexed by the CLI itself (first use), shared by the CLI tests."""
    home = tmp_path_factory.mktemp("home-cli")
    proc = run_tutor(["corpus", "list", "--json"], home)
    assert proc.returncode == 0, proc.stderr
    return home
