"""Benchmarks: retrieval quality and speed, ingestion, and the model against raw llama-cpp-python.

    .venv/bin/python benchmarks/run.py [--write-readme] [--skip-llm] [--scale N]

Every figure is measured in this run, baselines included (dense-only and BM25-only retrieval;
raw llama-cpp-python on the same model and prompt). Results go to benchmarks/out/results.json
and, with --write-readme, to the table between the bench markers in README.md.
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
import unicodedata
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tutor.config import load_settings  # noqa: E402
from tutor.index import Index  # noqa: E402
from tutor.retrieve import Retriever  # noqa: E402
from readme_block import write_block  # noqa: E402

OUT = ROOT / "benchmarks" / "out"


def norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).lower().split())


def load_questions(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def retrieval(index: Index, questions: list[dict]) -> dict:
    out: dict = {}
    retriever = Retriever(index)
    for mode in ("dense", "lexical", "hybrid"):
        per_lang: dict[str, list[int | None]] = {"en": [], "ja": []}
        for q in questions:
            res = retriever.search(q["question"], k=10, mode=mode)
            rank = next((h.rank for h in res.hits if norm(q["answer"]) in norm(h.text)), None)
            per_lang[q["lang"]].append(rank)
        out[mode] = {}
        for lang, ranks in per_lang.items():
            n = len(ranks) or 1
            out[mode][lang] = {
                "n": len(ranks),
                "recall@1": sum(1 for r in ranks if r and r <= 1) / n,
                "recall@5": sum(1 for r in ranks if r and r <= 5) / n,
                "mrr": sum(1 / r for r in ranks if r and r <= 10) / n,
                "misses@5": [q["question"] for q, r in zip([x for x in questions if x["lang"] == lang], ranks)
                             if not r or r > 5],
            }
    # latency, warm process: every question once more, hybrid, k=5
    lat = []
    for q in questions * 2:
        t0 = time.perf_counter()
        retriever.search(q["question"], k=5)
        lat.append((time.perf_counter() - t0) * 1000)
    lat.sort()
    out["latency_ms"] = {"p50": statistics.median(lat), "p95": lat[int(0.95 * (len(lat) - 1))],
                         "n": len(lat)}
    return out


def leads(index: Index, settings, questions: list[dict]) -> dict:  # type: ignore[no-untyped-def]
    """How often the answer plan's sentences (no model involved) state the key fact, against
    how often the key fact is in the sources at all: the floor a learner gets from any model."""
    from tutor.pipeline import Tutor

    tutor = Tutor(settings, index=index)
    out: dict = {}
    for lang in ("en", "ja"):
        keyed = [q for q in questions if q.get("key") and q["lang"] == lang]
        in_lead = in_sources = 0
        for q in keyed:
            hits = tutor.retrieve(q["question"]).hits
            lead = tutor.plan(q["question"], hits)[0].text
            in_lead += norm(q["key"]) in norm(lead)
            in_sources += any(norm(q["key"]) in norm(h.text) for h in hits)
        out[lang] = {"n": len(keyed), "in_lead": in_lead, "in_sources": in_sources}
    return out


def ingestion(settings) -> dict:  # type: ignore[no-untyped-def]
    home = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    s = replace(settings, home=home)
    index = Index(s)
    index.embedder.load()
    t0 = time.perf_counter()
    results = index.sync_bundled()
    elapsed = time.perf_counter() - t0
    chunks = sum(r.chunks for r in results)
    return {"documents": len(results), "chunks": chunks, "seconds": elapsed,
            "chunks_per_s": chunks / elapsed}


def scale(settings, n_chunks: int) -> dict:  # type: ignore[no-untyped-def]
    """N synthetic chunks and a 300-page PDF, each ingested in a fresh process (peak memory of
    its own), then searched at that size: see benchmarks/scale.py."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from scale import scale as measure  # noqa: E402

    return measure(settings, n_chunks)


def llm(settings, questions: list[dict], n: int) -> dict:  # type: ignore[no-untyped-def]
    """tutor ask against raw llama-cpp-python on the same model and the same prompt."""
    from llama_cpp import Llama

    from tutor.pipeline import Done, PromptReady, Tutor

    home = Path(tempfile.mkdtemp(prefix="bench-llm-"))
    tutor = Tutor(replace(settings, home=home))
    tutor.prepare()
    tutor.load_model()
    rows = []
    facts = [q for q in questions if q.get("key")]
    step = max(1, len(facts) // n)
    facts = facts[::step][:n]  # an even sample across the set (English and Japanese)
    for q in facts:
        prompt = ""
        done = None
        for ev in tutor.ask(q["question"]):
            if isinstance(ev, PromptReady):
                prompt = ev.prompt
            elif isinstance(ev, Done):
                done = ev
        rows.append({"q": q, "done": done, "prompt": prompt})
    answered = [r for r in rows if r["done"] and r["done"].model]
    tutor_tps = [r["done"].timings["tokens_per_s"] for r in answered if r["done"].timings["completion_tokens"] > 8]
    tutor_ttft = [r["done"].timings["first_token_ms"] for r in answered]
    key_hits = [norm(r["q"]["key"]) in norm(r["done"].answer) for r in rows if r["done"]]
    with_sources = [bool(r["done"].sources) for r in rows if r["done"]]

    # raw llama-cpp-python: same file, same n_ctx and threads, same prompts, same sampling
    raw = Llama(model_path=str(settings.model), n_ctx=settings.n_ctx, n_threads=settings.threads,
                n_threads_batch=settings.threads, verbose=False)
    raw_tps, raw_ttft = [], []
    for r in answered:
        t0 = time.perf_counter()
        first = last = None
        count = 0
        for piece in raw.create_completion(r["prompt"], max_tokens=settings.max_tokens,
                                           temperature=settings.temperature, top_p=0.9, top_k=40,
                                           repeat_penalty=1.15, stop=["<|im_end|>", "<|endoftext|>"],
                                           stream=True, seed=7):
            now = time.perf_counter()
            first = first or now
            last = now
            count += 1
        raw_ttft.append(((first or t0) - t0) * 1000)
        if count > 8 and last and first and last > first:
            raw_tps.append((count - 1) / (last - first))
    med = statistics.median
    return {
        "questions": len(rows),
        "with_sources": sum(with_sources) / max(len(with_sources), 1),
        "key_fact_rate": sum(key_hits) / max(len(key_hits), 1),
        "tutor_tokens_per_s": med(tutor_tps) if tutor_tps else 0.0,
        "raw_tokens_per_s": med(raw_tps) if raw_tps else 0.0,
        "tutor_first_token_ms": med(tutor_ttft) if tutor_ttft else 0.0,
        "raw_first_token_ms": med(raw_ttft) if raw_ttft else 0.0,
        "prompt_tokens": med([r["done"].timings.get("prompt_tokens", 0) for r in answered]) if answered else 0,
        "samples": [{"question": r["q"]["question"], "key": r["q"]["key"], "answer": r["done"].answer}
                    for r in rows[:6] if r["done"]],
    }


def table(res: dict) -> str:
    lines = ["| retrieval (own question set) | recall@1 | recall@5 | MRR |", "|---|---|---|---|"]
    r = res["retrieval"]
    for lang in ("en", "ja"):
        for mode in ("dense", "lexical", "hybrid"):
            m = r[mode][lang]
            name = {"dense": "dense only", "lexical": "BM25 only", "hybrid": "**hybrid (RRF)**"}[mode]
            lines.append(f"| {lang} ({m['n']} q), {name} | {m['recall@1']:.2f} | {m['recall@5']:.2f} | {m['mrr']:.2f} |")
    lat = r["latency_ms"]
    lines += ["", "| speed | figure |", "|---|---|",
              f"| search latency, warm, hybrid k=5 | p50 {lat['p50']:.1f} ms, p95 {lat['p95']:.1f} ms |"]
    ing = res["ingestion"]
    lines.append(f"| ingest bundled corpus ({ing['documents']} docs, {ing['chunks']} chunks, embedding included) "
                 f"| {ing['chunks_per_s']:.0f} chunks/s ({ing['seconds']:.1f} s) |")
    if "scale" in res:
        sc = res["scale"]
        lines.append(f"| ingest {sc['chunks']} synthetic chunks | {sc['chunks_per_s']:.0f} chunks/s, "
                     f"peak RSS {sc['peak_rss_mb']:.0f} MB |")
        lines.append(f"| search at {sc['chunks']} chunks | p50 {sc['search_p50_ms']:.1f} ms, "
                     f"p95 {sc['search_p95_ms']:.1f} ms; cold `tutor search` process "
                     f"{sc.get('search_cold_s', float('nan')):.2f} s |")
        if "pdf" in sc:
            p = sc["pdf"]
            lines.append(f"| ingest {p['case']}: {p['chunks']} chunks, cited by page | {p['seconds']:.0f} s "
                         f"({p['chunks_per_s']:.0f} chunks/s, text extraction {p['text_extraction_s']:.0f} s), "
                         f"peak RSS {p['peak_rss_mb']:.0f} MB |")
    if "leads" in res:
        ld = res["leads"]
        lines.append("| key fact in the answer's extractive lead (no model) / in the sources given "
                     + "| " + ", ".join(f"{lang} {v['in_lead']}/{v['n']} / {v['in_sources']}/{v['n']}"
                                        for lang, v in ld.items()) + " |")
    if "llm" in res:
        m = res["llm"]
        ratio = m["tutor_tokens_per_s"] / m["raw_tokens_per_s"] if m["raw_tokens_per_s"] else 0
        lines += [
            f"| decode speed, `tutor ask` vs raw llama-cpp-python (same prompt) | {m['tutor_tokens_per_s']:.0f} vs "
            f"{m['raw_tokens_per_s']:.0f} tokens/s (ratio {ratio:.2f}) |",
            f"| time to first token, `tutor ask` (retrieval included) vs raw | {m['tutor_first_token_ms']:.0f} ms vs "
            f"{m['raw_first_token_ms']:.0f} ms (median prompt {m['prompt_tokens']:.0f} tokens) |",
            f"| answers with at least one source | {m['with_sources']:.0%} of {m['questions']} |",
            f"| answers stating the key fact (lead + model) | {m['key_fact_rate']:.0%} of {m['questions']} |",
        ]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--write-readme", action="store_true")
    ap.add_argument("--skip-llm", action="store_true")
    ap.add_argument("--scale", type=int, default=0, help="also ingest N synthetic chunks")
    ap.add_argument("--llm-questions", type=int, default=30, help="questions asked of the model")
    args = ap.parse_args()
    settings = load_settings({"home": tempfile.mkdtemp(prefix="bench-home-")})
    questions = load_questions(ROOT / "benchmarks" / "questions.jsonl")
    res: dict = {"ingestion": ingestion(settings)}
    index = Index(settings)
    index.prepare()
    res["retrieval"] = retrieval(index, questions)
    res["leads"] = leads(index, settings, questions)
    if args.scale:
        res["scale"] = scale(settings, args.scale)
    if not args.skip_llm:
        res["llm"] = llm(settings, questions, args.llm_questions)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(res, indent=1, ensure_ascii=False), encoding="utf-8")
    text = table(res)
    print(text)
    for mode in ("hybrid",):
        for lang in ("en", "ja"):
            for miss in res["retrieval"][mode][lang]["misses@5"]:
                print(f"miss@5 ({mode}, {lang}): {miss}")
    if args.write_readme:
        write_block("bench", "on 2 cores, no GPU (`make bench`)", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
