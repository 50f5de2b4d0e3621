"""The embedder: offline from its package folder; the index notices when it changes."""
from __future__ import annotations

import json
import shutil
from dataclasses import replace

import pytest

from tutor.embed import Embedder, EmbedderError, default_embedder_path
from tutor.index import Index


def test_default_embedder_is_a_local_folder_and_embeds_offline():
    path = default_embedder_path()
    assert (path / "config.json").exists() or (path / "modules.json").exists()
    emb = Embedder()
    vec = emb.embed_query("scaling laws")
    assert len(vec) == 384
    assert abs(sum(v * v for v in vec) - 1.0) < 1e-3  # normalised: cosine = dot product
    assert emb.count_tokens("能力ガチャ") >= 5  # word pieces, not whitespace words


def test_a_folder_that_is_not_a_model_is_a_clear_error(tmp_path):
    with pytest.raises(EmbedderError, match="not a sentence-transformers model folder"):
        Embedder(tmp_path)


def test_changing_the_embedder_re_embeds_the_index(indexed_settings, tmp_path):
    src = default_embedder_path()
    copy = tmp_path / "my-embedder"
    shutil.copytree(src, copy)
    cfg = copy / "config.json"
    data = json.loads(cfg.read_text())
    data["_tutor_test_marker"] = 1  # same weights, different identity
    cfg.write_text(json.dumps(data))
    settings = replace(indexed_settings, home=tmp_path / "home", corpus_dir=tmp_path / "corpus")
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "note.md").write_text("# Note\n\nZebrafish learn scaling laws.\n")
    first = Index(settings)
    first.prepare()
    before = first.store.count()
    first.db.close()
    second = Index(replace(settings, embedder=copy))
    notices = second.prepare()
    assert any("embedder changed" in n for n in notices)
    assert second.store.count() == before
    assert second._meta("embedder") == second.embedder.identity
