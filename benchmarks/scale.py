"""Ingestion at scale: N synthetic chunks, and a long PDF (300 pages by default).

Each case runs in a fresh process, so its peak memory is its own and not the benchmark's; the
resident set size is also sampled while it embeds (at each batch), which shows whether memory
stays flat as the chunks pile up. After the ingest, the same process times searches at that
size (hybrid, k=5, warm; the first search, which builds BM25, is reported apart).

    .venv/bin/python benchmarks/scale.py [--chunks 10000] [--pdf-pages 300]

benchmarks/run.py --scale N calls :func:`scale` from here.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUERIES = ["scaling laws compute", "model size power law", "critical batch size", "overfitting data",
           "emergent abilities", "sycophancy in language models"]


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _words() -> list[str]:
    text = (ROOT / "corpus" / "notes" / "kaplan-2020.md").read_text(encoding="utf-8")
    return re.findall(r"[A-Za-z]+", text)


def make_pdf(pages: list[str]) -> bytes:
    """A PDF with a Helvetica text layer, one content stream a page (no reportlab needed)."""
    objs: list[bytes] = [b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>", b""]
    kids = []
    for text in pages:
        lines, y = [], 760
        for line in text.split("\n"):
            esc = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            lines.append(f"BT /F1 9 Tf 36 {y} Td ({esc}) Tj ET")
            y -= 11
        stream = "\n".join(lines).encode("latin-1", "replace")
        objs.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        objs.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
                    b"/Resources << /Font << /F1 1 0 R >> >> >>" % len(objs))
        kids.append(len(objs))
    objs[1] = (b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % k for k in kids)
               + b"] /Count %d >>" % len(kids))
    objs.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objs) + 1, len(objs), xref)
    return bytes(out)


def _index(home: Path):  # type: ignore[no-untyped-def]
    from tutor.config import load_settings
    from tutor.index import Index

    settings = load_settings({"home": str(home)})
    settings = replace(settings, home=home, corpus_dir=home / "no-bundled-corpus")
    index = Index(settings)
    index.embedder.load()
    return index


def _ingest_and_search(index, paths: list[str]) -> dict:  # type: ignore[no-untyped-def]
    from tutor.index import Progress
    from tutor.retrieve import Retriever

    class Sampler(Progress):
        def __init__(self) -> None:
            self.planned = 0
            self.done = 0
            self.samples: list[tuple[int, float]] = []
            self.first_file_started: float | None = None
            self.embedding_started: float | None = None

        def file_started(self, path: str, index: int, total: int) -> None:
            self.first_file_started = self.first_file_started or time.perf_counter()

        def chunks_planned(self, path: str, chunks: int) -> None:
            self.planned += chunks
            self.embedding_started = self.embedding_started or time.perf_counter()

        def embedded(self, n: int) -> None:
            self.done += n
            self.samples.append((self.done, _rss_mb()))

    rss_before = _rss_mb()
    progress = Sampler()
    t0 = time.perf_counter()
    results = index.add_paths(paths, progress)
    elapsed = time.perf_counter() - t0
    errors = [r.error for r in results if r.status == "error"]
    if errors:
        raise SystemExit(f"ingest failed: {errors[:3]}")
    chunks = sum(r.chunks for r in results)
    quarters = {}
    for q in (0.25, 0.5, 0.75, 1.0):
        at = [rss for done, rss in progress.samples if done <= q * chunks]
        quarters[f"{int(q * 100)}%"] = round(max(at), 1) if at else None
    retriever = Retriever(index)
    t1 = time.perf_counter()
    retriever.search("warm up: the first search builds BM25", k=5)
    first_ms = (time.perf_counter() - t1) * 1000
    lat = []
    for q in QUERIES * 7:
        t1 = time.perf_counter()
        retriever.search(q, k=5)
        lat.append((time.perf_counter() - t1) * 1000)
    lat.sort()
    cold = _cold_search(index)
    return {"chunks": chunks, "seconds": round(elapsed, 1), "chunks_per_s": round(chunks / elapsed, 2),
            "search_cold_s": cold,
            "rss_before_ingest_mb": round(rss_before, 1), "rss_during_ingest_mb": quarters,
            "peak_rss_mb": round(_peak_mb(), 1), "search_first_ms": round(first_ms, 1),
            "search_p50_ms": round(statistics.median(lat), 1),
            "search_p95_ms": round(lat[int(0.95 * (len(lat) - 1))], 1), "searches": len(lat),
            "prepare_s": round((progress.embedding_started or t0) - t0, 2)}


def _cold_search(index) -> float:  # type: ignore[no-untyped-def]
    """Wall time of a new `tutor search` process on this home (median of three): start-up,
    the index check, loading the query embedder and the lexical index, and the search."""
    tutor = str(Path(sys.executable).with_name("tutor"))
    env = {**os.environ, "TUTOR_CORPUS": str(index.settings.corpus_dir)}
    walls = []
    for q in QUERIES[:3]:
        t0 = time.perf_counter()
        subprocess.run([tutor, "--home", str(index.home), "search", q], capture_output=True,
                       check=True, env=env, cwd=ROOT)
        walls.append(time.perf_counter() - t0)
    return round(statistics.median(walls), 2)


def _synthetic_child(n_chunks: int) -> dict:
    home = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    index = _index(home)
    words = _words()
    rng = random.Random(1)
    docs = home / "docs"
    docs.mkdir()
    per_file = 500
    for f in range(max(1, n_chunks // per_file)):
        paras = [f"## Section {i}\n\n" + " ".join(rng.choice(words) for _ in range(120)) + "."
                 for i in range(per_file)]
        (docs / f"synthetic-{f}.md").write_text("\n\n".join(paras), encoding="utf-8")
    out = _ingest_and_search(index, [str(docs)])
    out["case"] = f"{n_chunks} synthetic chunks ({n_chunks // per_file} Markdown files)"
    return out


def _pdf_child(pages: int) -> dict:
    home = Path(tempfile.mkdtemp(prefix="bench-pdf-"))
    index = _index(home)
    words = _words()
    rng = random.Random(2)
    texts = []
    for p in range(1, pages + 1):
        lines = [f"Page {p}, marker pagemark{p:03d}."]
        lines += [" ".join(rng.choice(words) for _ in range(14)) + "." for _ in range(48)]
        texts.append("\n".join(lines))
    pdf = home / f"long-{pages}-pages.pdf"
    pdf.write_bytes(make_pdf(texts))
    from tutor.ingest import load_document

    t0 = time.perf_counter()
    doc = load_document(pdf)
    extract_s = time.perf_counter() - t0
    out = _ingest_and_search(index, [str(pdf)])
    from tutor.retrieve import Retriever

    middle = pages // 2
    hits = Retriever(index).search(f"pagemark{middle:03d}", k=5).hits
    out.update({"case": f"a {pages}-page PDF ({pdf.stat().st_size / 1e6:.1f} MB)",
                "pdf_bytes": pdf.stat().st_size, "pages_with_text": len(doc.sections),
                "text_extraction_s": round(extract_s, 1),
                "cited_page": [h.location for h in hits if f"pagemark{middle:03d}" in h.text],
                "cited_page_rank": next((h.rank for h in hits if f"pagemark{middle:03d}" in h.text), None)})
    return out


def _run_child(kind: str, n: int) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", kind, str(n)], capture_output=True,
                          text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"scale benchmark ({kind} {n}) failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def scale(settings, n_chunks: int, pdf_pages: int = 300) -> dict:  # type: ignore[no-untyped-def]
    """For benchmarks/run.py: the synthetic case (its keys at the top level, as before) and the
    PDF case under "pdf"."""
    out = _run_child("synthetic", n_chunks)
    if pdf_pages:
        out["pdf"] = _run_child("pdf", pdf_pages)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chunks", type=int, default=10000)
    ap.add_argument("--pdf-pages", type=int, default=300)
    ap.add_argument("--child", nargs=2, metavar=("KIND", "N"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kind, n = args.child[0], int(args.child[1])
        result = _synthetic_child(n) if kind == "synthetic" else _pdf_child(n)
        print(json.dumps(result))
        return 0
    res = {}
    if args.pdf_pages:
        res["pdf"] = _run_child("pdf", args.pdf_pages)
        print(json.dumps(res["pdf"], indent=1), flush=True)
    if args.chunks:
        res["synthetic"] = _run_child("synthetic", args.chunks)
        print(json.dumps(res["synthetic"], indent=1), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
