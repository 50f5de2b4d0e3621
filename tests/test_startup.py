"""Fast from the first keystroke: the query path without torch, the lexical index kept on disk,
bulk embedding on every core unless a model is generating."""
from __future__ import annotations

import subprocess
import sys
import pytest

from tutor import lexical
from tutor.embed import Embedder, onnx_files
from tutor.index import LEXICAL_SNAPSHOT, Index

from conftest import ROOT, run_tutor
from test_index import HashEmbedder, settings_for

NO_TORCH_CHECK = """
import sys
sys.argv = ["tutor", *sys.argv[1:]]
from tutor.cli import main
code = main()
heavy = sorted(m for m in ("torch", "sentence_transformers", "transformers") if m in sys.modules)
print("IMPORTED:" + ",".join(heavy))
sys.exit(code)
"""


def test_the_default_embedder_has_a_checked_onnx_export():
    emb = Embedder()
    onnx, record = onnx_files(emb.identity)
    assert onnx.is_file() and record.is_file(), "run `make setup` (python -m tutor.embed export)"
    assert emb.backend == "onnx" and emb.notice is None
    assert emb.runtime == f"onnx:{onnx.name}"


def test_the_onnx_path_agrees_with_sentence_transformers_on_the_question_set():
    import json

    import numpy as np

    questions = [json.loads(line)["question"] for line in
                 (ROOT / "benchmarks" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
                 if line.strip()]
    onnx = np.array(Embedder(backend="onnx").embed(questions))
    st = np.array(Embedder(backend="sentence-transformers").embed(questions))
    cosine = (onnx * st).sum(axis=1)
    assert len(questions) >= 100 and cosine.min() >= 0.999, cosine.min()
    assert np.allclose(np.linalg.norm(onnx, axis=1), 1.0, atol=1e-4)


def test_cold_search_and_ask_do_not_import_torch(cli_home):
    for args in (["search", "What is sycophancy?", "--json"],
                 ["ask", "--no-llm", "What is sycophancy?", "--json"]):
        proc = subprocess.run([sys.executable, "-c", NO_TORCH_CHECK, "--home", str(cli_home), *args],
                              capture_output=True, text=True, timeout=300, cwd=ROOT)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.splitlines()[-1] == "IMPORTED:", proc.stdout[-300:]
        assert "sycophancy" in proc.stdout.lower()


def test_without_an_export_the_embedder_says_why_it_is_slower(tmp_path):
    emb = Embedder(onnx_dir=tmp_path / "no-exports")
    assert emb.backend == "sentence-transformers"
    assert emb.notice and "no ONNX export" in emb.notice and "start-up" in emb.notice
    index = Index(settings_for(tmp_path / "home"), embedder=emb)
    assert emb.notice in index.prepare()


def test_a_stale_export_record_is_not_used(tmp_path):
    real_onnx, real_record = onnx_files(Embedder().identity)
    folder = tmp_path / "exports"
    folder.mkdir()
    onnx, record = onnx_files(Embedder().identity, folder)
    onnx.symlink_to(real_onnx)
    record.write_text(real_record.read_text().replace('"identity": "', '"identity": "other-'))
    emb = Embedder(onnx_dir=folder)
    assert emb.backend == "sentence-transformers"
    assert "another model" in (emb.notice or "")


def test_bulk_embedding_leaves_a_core_while_a_model_generates(monkeypatch):
    monkeypatch.setattr("tutor.embed._bulk_threads", lambda: 4)
    emb = Embedder()
    assert emb.threads() == 4
    with emb.sharing_cores():
        assert emb.threads() == 3
    assert emb.threads() == 4
    assert Embedder(threads=1).threads() == 1


def test_embedding_keeps_the_order_given_while_batches_are_sorted_by_length():
    emb = Embedder()
    texts = ["a much longer sentence about scaling laws and compute budgets " * 3, "short",
             "a middling sentence about emergence"]
    together = emb.embed(texts, batch_size=2)
    for text, vec in zip(texts, together):
        alone = emb.embed_query(text)
        assert sum(a * b for a, b in zip(vec, alone)) > 0.9999


def test_the_lexical_index_is_kept_on_disk_and_updated_by_what_changed(tmp_path, monkeypatch):
    settings = settings_for(tmp_path / "home")
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, word in (("a", "zebrafish"), ("b", "axolotl")):
        (docs / f"{name}.md").write_text(f"# {name}\n\nThe {word} learns scaling laws.\n")
    first = Index(settings, embedder=HashEmbedder(threads=1))
    first.add_paths([str(docs / "a.md")])
    found = [h.chunk_id for h in first.lexical.search("zebrafish")]
    assert found and (settings.home / LEXICAL_SNAPSHOT).exists()

    tokenised: list[str] = []
    real = lexical.tokenize
    monkeypatch.setattr(lexical, "tokenize", lambda text: tokenised.append(text) or real(text))
    second = Index(settings, embedder=HashEmbedder(threads=1))
    assert [h.chunk_id for h in second.lexical.search("zebrafish")] == found
    assert tokenised == ["zebrafish"]  # the query only: the chunks came from the snapshot

    second.add_paths([str(docs / "b.md")])
    second.remove(next(d.doc_id for d in second.documents() if d.title == "a"))
    tokenised.clear()
    third = Index(settings, embedder=HashEmbedder(threads=1))
    assert third.lexical.search("axolotl") and not third.lexical.search("zebrafish")
    # the snapshot written after the first search held a; only b's chunk is new to it
    assert sum("learns" in t for t in tokenised) == 1


def test_a_damaged_lexical_snapshot_is_rebuilt(tmp_path):
    settings = settings_for(tmp_path / "home")
    (tmp_path / "a.md").write_text("# a\n\nThe zebrafish learns scaling laws.\n")
    Index(settings, embedder=HashEmbedder(threads=1)).add_paths([str(tmp_path / "a.md")])
    (settings.home / LEXICAL_SNAPSHOT).write_bytes(b"not a pickle")
    assert Index(settings, embedder=HashEmbedder(threads=1)).lexical.search("zebrafish")


@pytest.mark.slow
def test_cli_search_on_a_home_indexed_before_still_finds_the_same(cli_home):
    """The CLI on a home whose lexical snapshot is gone answers as before (it is only a cache)."""
    before = run_tutor(["search", "critical batch size", "--json"], cli_home)
    (cli_home / LEXICAL_SNAPSHOT).unlink(missing_ok=True)
    after = run_tutor(["search", "critical batch size", "--json"], cli_home)
    assert before.returncode == after.returncode == 0
    assert before.stdout.split('"elapsed_ms"')[0] == after.stdout.split('"elapsed_ms"')[0]
