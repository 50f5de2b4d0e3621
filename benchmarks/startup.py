"""Start-up and ingestion speed, each against its baseline measured in the same run.

    .venv/bin/python benchmarks/startup.py [--papers 3] [--pages 14] [--rounds 3] [--write-readme]

* cold ``tutor search`` and ``tutor ask --no-llm`` on an indexed home (a new process each time,
  wall time from spawn to exit, median of ``--rounds``), against the time a new process takes
  just to import torch and sentence-transformers; and whether the search imported torch at all;
* the chat app: seconds from its first paint to the engine being ready (index open, embedder and
  model loaded), on an indexed home and on a fresh one (which indexes the bundled corpus first);
* ``tutor add`` of ``--papers`` arXiv-paper-like PDFs (pages of English text from the corpus
  notes, with title, abstract, numbered sections and page numbers) as a whole process, PDF
  reading included, against the raw sentence-transformers embedder on every core encoding the
  very same chunk texts (model loaded beforehand, so the raw figure is the embedder's ceiling);
  with each process's peak memory.

Results go to benchmarks/out/startup.json and, with --write-readme, to the README block
between the ``startup`` markers.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from readme_block import write_block  # noqa: E402
from scale import make_pdf  # noqa: E402

OUT = ROOT / "benchmarks" / "out"
PY = sys.executable
TUTOR = str(Path(PY).with_name("tutor"))
QUESTION = "What is sycophancy?"


CPU: dict[str, list[float]] = {}  # CPU seconds (user + system) of each command's runs


def run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MB) and stdout of one process; its CPU seconds go to ``CPU``."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})}, cwd=ROOT)
    streams: dict[str, str] = {}
    readers = [threading.Thread(target=lambda n=n, f=f: streams.__setitem__(n, f.read()))
               for n, f in (("out", proc.stdout), ("err", proc.stderr))]
    for t in readers:
        t.start()
    _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak memory
    wall = time.perf_counter() - t0
    for t in readers:
        t.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    CPU.setdefault(" ".join(cmd), []).append(usage.ru_utime + usage.ru_stime)
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{streams['err'][-2000:]}")
    return wall, usage.ru_maxrss / 1024, streams["out"]


def median_wall(cmd: list[str], rounds: int) -> float:
    return statistics.median(run(cmd)[0] for _ in range(rounds))


def median_cpu(cmd: list[str]) -> float:
    """CPU seconds of the runs so far: unlike wall time, barely moved by other load."""
    return statistics.median(CPU[" ".join(cmd)])


# ---------------------------------------------------------------- the papers


def _paragraphs() -> list[str]:
    paras = []
    for note in sorted((ROOT / "corpus" / "notes").glob("*.md")):
        body = re.sub(r"^---.*?---\s*", "", note.read_text(encoding="utf-8"), flags=re.S)
        for p in re.split(r"\n\s*\n", body):
            p = re.sub(r"[#*_`>\[\]]", "", " ".join(p.split())).strip()
            if len(p) > 200 and not p.startswith("|"):
                paras.append(p)
    return paras


def make_papers(folder: Path, papers: int, pages: int) -> list[Path]:
    """PDFs laid out like arXiv papers: title, authors, abstract, numbered sections of English
    prose (the corpus notes' paragraphs, shuffled per paper), a page number on every page."""
    paras = _paragraphs()
    sections = ["Introduction", "Background", "Method", "Experiments", "Results", "Analysis",
                "Related Work", "Limitations", "Discussion", "Conclusion"]
    out = []
    for n in range(papers):
        rng = random.Random(n)
        lines = [f"On Predictable Scaling and Unpredictable Abilities, Part {n + 1}",
                 "A. Author, B. Author and C. Author (2023)", "", "Abstract"]
        order = paras[:]
        rng.shuffle(order)
        lines += textwrap.wrap(order[0], 105) + [""]
        s = 0
        texts: list[str] = []
        i = 1
        while len(texts) < pages:
            if i % 4 == 1:
                s += 1
                lines += [f"{s} {sections[(s - 1) % len(sections)]}", ""]
            lines += textwrap.wrap(order[i % len(order)], 105) + [""]
            i += 1
            while len(lines) >= 62 and len(texts) < pages:
                page, lines = lines[:60], lines[60:]
                texts.append("\n".join(page + ["", f"{len(texts) + 1}"]))
        path = folder / f"paper-{n + 1}.pdf"
        path.write_bytes(make_pdf(texts))
        out.append(path)
    return out


RAW = """
import json, os, sqlite3, sys, time
import torch
from sentence_transformers import SentenceTransformer
sys.path.insert(0, sys.argv[2])
from tutor.embed import default_embedder_path
texts = [r[0] for r in sqlite3.connect(sys.argv[1]).execute("SELECT embed_text FROM chunks")]
torch.set_num_threads(os.cpu_count() or 2)
model = SentenceTransformer(str(default_embedder_path()), device="cpu")
model.encode(texts[:32], batch_size=32)
t0, c0 = time.perf_counter(), time.process_time()
model.encode(texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False)
print(json.dumps({"chunks": len(texts), "seconds": time.perf_counter() - t0,
                  "cpu_seconds": time.process_time() - c0, "threads": torch.get_num_threads()}))
"""

TORCH_CHECK = """
import sys
sys.argv = ["tutor", *sys.argv[1:]]
from tutor.cli import main
code = main()
print("TORCH_IMPORTED" if "torch" in sys.modules else "NO_TORCH")
sys.exit(code)
"""

ENGINE_READY = """
import asyncio, json, sys, time
t_start = float(sys.argv[2])
from tutor.config import load_settings
from tutor.tui.app import TutorApp

async def go():
    app = TutorApp(load_settings({"home": sys.argv[1]}), persist_settings=False)
    async with app.run_test(size=(120, 36)) as pilot:
        painted = time.time()
        while app.chat.engine_state not in ("ready", "no-model", "error"):
            await pilot.pause(0.05)
        ready = time.time()
        print(json.dumps({"state": app.chat.engine_state, "first_paint_s": painted - t_start,
                          "ready_after_paint_s": ready - painted}))

asyncio.run(go())
"""


def engine_ready(home: Path) -> dict:
    _, _, out = run([PY, "-c", ENGINE_READY, str(home), repr(time.time())])
    return json.loads(out.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--papers", type=int, default=3)
    ap.add_argument("--pages", type=int, default=14)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--skip-tui", action="store_true")
    ap.add_argument("--write-readme", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    home = work / "home"
    res: dict = {"cores": os.cpu_count()}

    # an indexed home (the bundled corpus), then cold processes on it
    res["first_start_s"] = run([TUTOR, "--home", str(home), "corpus", "list"])[0]
    imp = [PY, "-c", "import torch, sentence_transformers"]
    search = [TUTOR, "--home", str(home), "search", QUESTION]
    ask = [TUTOR, "--home", str(home), "ask", "--no-llm", QUESTION]
    walls: dict[str, list[float]] = {"imp": [], "search": [], "ask": []}
    for _ in range(args.rounds):  # interleaved, so load from elsewhere falls on all three alike
        for key, cmd in (("imp", imp), ("search", search), ("ask", ask)):
            walls[key].append(run(cmd)[0])
    res["import_torch_st_s"] = statistics.median(walls["imp"])
    res["search_cold_s"] = statistics.median(walls["search"])
    res["ask_no_llm_cold_s"] = statistics.median(walls["ask"])
    res["import_torch_st_cpu_s"] = median_cpu(imp)
    res["search_cold_cpu_s"] = median_cpu(search)
    res["ask_no_llm_cold_cpu_s"] = median_cpu(ask)
    res["load_average"] = os.getloadavg()[0]
    out = run([PY, "-c", TORCH_CHECK, "--home", str(home), "search", QUESTION])[2]
    res["search_imports_torch"] = "TORCH_IMPORTED" in out
    res["search_ratio"] = res["search_cold_s"] / res["import_torch_st_s"]
    res["search_cpu_ratio"] = res["search_cold_cpu_s"] / res["import_torch_st_cpu_s"]

    if not args.skip_tui:
        res["chat_ready_indexed"] = engine_ready(home)
        res["chat_ready_fresh"] = engine_ready(work / "fresh-home")

    # ingestion: tutor add (whole process) against the raw embedder on the same chunks
    papers = make_papers(work, args.papers, args.pages)
    add_home = work / "add-home"
    add = [TUTOR, "--home", str(add_home), "add", "--json", *map(str, papers)]
    wall, rss, out = run(add)
    chunks = sum(json.loads(line)["chunks"] for line in out.splitlines() if line.strip())
    raw_wall, raw_rss, raw_out = run([PY, "-c", RAW, str(add_home / "index.sqlite"), str(ROOT)])
    raw = json.loads(raw_out.strip().splitlines()[-1])
    res["ingest"] = {
        "papers": args.papers, "pages": args.papers * args.pages,
        "pdf_mb": round(sum(p.stat().st_size for p in papers) / 1e6, 2), "chunks": chunks,
        "add_seconds": round(wall, 2), "add_chunks_per_s": round(chunks / wall, 2),
        "add_peak_rss_mb": round(rss, 1), "add_cpu_s": round(median_cpu(add), 2),
        "raw_cpu_s": round(raw["cpu_seconds"], 2),
        "raw_seconds": round(raw["seconds"], 2), "raw_chunks_per_s": round(raw["chunks"] / raw["seconds"], 2),
        "raw_threads": raw["threads"], "raw_peak_rss_mb": round(raw_rss, 1)}
    res["ingest"]["ratio"] = round(res["ingest"]["add_chunks_per_s"] / res["ingest"]["raw_chunks_per_s"], 3)
    # chunks per CPU-second, the whole add process against the raw encode alone
    res["ingest"]["cpu_ratio"] = round(res["ingest"]["raw_cpu_s"] / res["ingest"]["add_cpu_s"], 3)

    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "startup.json").write_text(json.dumps(res, indent=1), encoding="utf-8")
    text = table(res)
    print(text)
    if args.write_readme:
        write_block("startup", f"on {res['cores']} cores, no GPU, load average "
                    f"{res['load_average']:.1f} from other jobs (`benchmarks/startup.py`)", text)
    return 0


def table(res: dict) -> str:
    g = res["ingest"]
    lines = ["| start-up and ingestion (one run) | figure | baseline in the same run |",
             "|---|---|---|",
             f"| cold `tutor search` (indexed home, new process) | {res['search_cold_s']:.2f} s "
             f"wall, {res['search_cold_cpu_s']:.2f} s CPU; torch imported: "
             f"{'yes' if res['search_imports_torch'] else 'no'} | a process that only imports torch "
             f"+ sentence-transformers: {res['import_torch_st_s']:.2f} s wall, "
             f"{res['import_torch_st_cpu_s']:.2f} s CPU (ratio {res['search_ratio']:.2f} wall, "
             f"{res['search_cpu_ratio']:.2f} CPU) |",
             f"| cold `tutor ask --no-llm` (same home) | {res['ask_no_llm_cold_s']:.2f} s wall, "
             f"{res['ask_no_llm_cold_cpu_s']:.2f} s CPU | the same import (ratio "
             f"{res['ask_no_llm_cold_s'] / res['import_torch_st_s']:.2f} wall, "
             f"{res['ask_no_llm_cold_cpu_s'] / res['import_torch_st_cpu_s']:.2f} CPU) |"]
    for key, name in (("chat_ready_indexed", "indexed home"), ("chat_ready_fresh", "fresh home")):
        if key in res:
            r = res[key]
            lines.append(f"| chat app: engine ready after the first paint, {name} | "
                         f"{r['ready_after_paint_s']:.1f} s (first paint {r['first_paint_s']:.1f} s "
                         f"after launch) | |")
    lines.append(f"| `tutor add` of {g['papers']} arXiv-like PDFs ({g['pages']} pages, {g['chunks']} "
                 f"chunks), whole process | {g['add_chunks_per_s']:.1f} chunks/s ({g['add_seconds']:.1f} s), "
                 f"peak RSS {g['add_peak_rss_mb']:.0f} MB | raw sentence-transformers on "
                 f"{g['raw_threads']} threads, same chunks: {g['raw_chunks_per_s']:.1f} chunks/s, peak RSS "
                 f"{g['raw_peak_rss_mb']:.0f} MB (ratio {g['ratio']:.2f}; per CPU-second "
                 f"{g['cpu_ratio']:.2f}) |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
