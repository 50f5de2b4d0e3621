"""Q4_1 (as shipped) against a Q4_0 requantization of the default model, through `tutor ask`.

    .venv/bin/python benchmarks/quant_compare.py [--questions 30]

Requantizes models/SmolLM2-135M-Instruct.Q4_1.gguf to Q4_0 in a temporary folder with
llama.cpp's own quantizer, then asks both the same questions (an even sample of
benchmarks/questions.jsonl, English and Japanese) with the same settings, and reports time to
first token, decode speed, how often the answer states the key fact, why answers stopped, and
the perplexity of each model on the corpus notes.
"""
from __future__ import annotations

import argparse
import ctypes
import statistics
import sys
import tempfile
from collections import Counter
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from run import load_questions, norm  # noqa: E402

from tutor.config import load_settings  # noqa: E402
from tutor.pipeline import Done, Tutor  # noqa: E402


def requantize(src: Path, dst: Path) -> None:
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_0
    params.allow_requantize = True
    params.nthread = 2
    if llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(params)):
        raise SystemExit(f"error: {src}: requantization failed")


def perplexity(model_path: Path, text: str, n_ctx: int = 512) -> float:
    """Perplexity over ``text`` in windows of n_ctx tokens (lower is better)."""
    import math

    import numpy as np
    from llama_cpp import Llama

    llm = Llama(model_path=str(model_path), n_ctx=n_ctx, n_threads=2, n_threads_batch=2,
                logits_all=True, verbose=False)
    tokens = llm.tokenize(text.encode(), add_bos=False)
    nll, count = 0.0, 0
    for start in range(0, len(tokens) - 1, n_ctx):
        window = tokens[start:start + n_ctx]
        if len(window) < 2:
            break
        llm.reset()
        llm.eval(window)
        logits = np.array(llm.scores[: len(window) - 1])
        logits -= logits.max(axis=1, keepdims=True)
        logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        nll -= float(sum(logp[i, window[i + 1]] for i in range(len(window) - 1)))
        count += len(window) - 1
    return math.exp(nll / max(count, 1))


def ask_all(settings, questions: list[dict]) -> dict:  # type: ignore[no-untyped-def]
    tutor = Tutor(settings)
    tutor.prepare()
    tutor.load_model()
    ttft, tps, keys, stops = [], [], [], Counter()
    for q in questions:
        done = next(e for e in tutor.ask(q["question"]) if isinstance(e, Done))
        t = done.timings
        ttft.append(t["first_token_ms"])
        if t["completion_tokens"] > 8:
            tps.append(t["tokens_per_s"])
        keys.append(norm(q["key"]) in norm(done.answer))
        stops[done.stopped_by] += 1
    return {"ttft_ms": statistics.median(ttft), "tokens_per_s": statistics.median(tps) if tps else 0,
            "key_fact": sum(keys) / len(keys), "stops": dict(stops)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--questions", type=int, default=30)
    args = ap.parse_args()
    src = ROOT / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
    tmp = Path(tempfile.mkdtemp(prefix="quant-"))
    q40 = tmp / "SmolLM2-135M-Instruct.Q4_0.gguf"
    requantize(src, q40)
    facts = [q for q in load_questions(ROOT / "benchmarks" / "questions.jsonl") if q.get("key")]
    step = max(1, len(facts) // args.questions)
    sample = facts[::step][: args.questions]
    notes = "\n\n".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "corpus" / "notes").glob("*.md")))
    base = load_settings({"home": str(tmp / "home")})
    rows = {}
    for name, path in (("Q4_1 (shipped)", src), ("Q4_0 (requantized)", q40)):
        res = ask_all(replace(base, model=path), sample)
        res["perplexity"] = perplexity(path, notes[:60000])
        res["size_mb"] = path.stat().st_size / 1e6
        rows[name] = res
    print("| model | size | perplexity on the notes | time to first token (median) | decode | key fact | stops |")
    print("|---|---|---|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['size_mb']:.0f} MB | {r['perplexity']:.2f} | {r['ttft_ms']:.0f} ms "
              f"| {r['tokens_per_s']:.0f} tokens/s | {r['key_fact']:.0%} of {len(sample)} | {r['stops']} |")
    a, b = rows["Q4_1 (shipped)"], rows["Q4_0 (requantized)"]
    print(f"\nQ4_0 / Q4_1: first token {b['ttft_ms'] / a['ttft_ms']:.2f}x, decode "
          f"{b['tokens_per_s'] / max(a['tokens_per_s'], 1e-9):.2f}x, perplexity {b['perplexity'] / a['perplexity']:.3f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
