"""Answer quality per model, on questions in learners' own wording.

    .venv/bin/python benchmarks/answers.py [--questions FILE] [--model GGUF ...] [--no-llm]
                                           [--split NAME|all] [--sample N] [--write-readme]

``--questions`` picks a set (default benchmarks/learner_questions.jsonl; the others are
learner_questions_heldout2..11.jsonl and learner_questions_final.jsonl, each held out until its
first run). For each model and each split it asks every question through the real pipeline
(follow-ups after their earlier turns, as in a chat) and counts:

- empty or fragment answers: under 25 characters once citations are removed, or ending mid-sentence;
- Japanese questions answered mostly in Japanese: most of the answer's sentences are Japanese;
- the key fact stated: one of the question's ``key`` alternatives (``a|b``) is in the answer;
- off-topic sentences: a sentence cited to a source about another claim or topic than the
  question's note (``doc``);
- declines: out-of-scope questions must be declined, covered ones must not;
- first words: Enter to the planned sentences (warm engine), and to the model's first token;
- the KV cache: the model's first token with the system prompt's prefix cached from the last
  question, against a cleared cache.
"""
from __future__ import annotations

import argparse
import json
import re
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
from tutor.ingest import language_of  # noqa: E402
from tutor.pipeline import MIN_ANSWER_CHARS, Done, Tutor, content_length  # noqa: E402
from tutor.sentences import sentences_of  # noqa: E402
from readme_block import write_block  # noqa: E402

OUT = ROOT / "benchmarks" / "out"
QUESTIONS = ROOT / "benchmarks" / "learner_questions.jsonl"


def norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).lower().split())


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def ask(tutor: Tutor, question: str, history: list[tuple[str, str]], use_llm: bool = True) -> Done:
    done = None
    for event in tutor.ask(question, history=history, use_llm=use_llm):
        if isinstance(event, Done):
            done = event
    assert done is not None
    return done


def is_fragment(answer: str) -> bool:
    text = re.sub(r"\[\d+\]", "", answer).strip()
    return content_length(answer) < MIN_ANSWER_CHARS or not re.search(r"[.!?。！？)）」』\"”]$", text)


def mostly_japanese(answer: str) -> bool:
    sents = [s for s in sentences_of(re.sub(r"\[\d+\]", "", answer)) if s.strip()]
    return bool(sents) and sum(language_of(s) == "ja" for s in sents) * 2 > len(sents)


def off_topic(tutor: Tutor, done: Done, doc: str) -> int:
    """Sentences cited to a source whose note is neither the question's nor about its claims."""
    info = tutor.index.document(doc)
    claims = set(info.claims) if info else set()
    count = 0
    for seg in re.findall(r"(.+?)((?:\s*\[\d+\])+)", done.answer, flags=re.S):
        for n in {int(x) for x in re.findall(r"\d+", seg[1])}:
            if not 1 <= n <= len(done.sources):
                continue
            hit = done.sources[n - 1]
            if hit.doc_id == doc or hit.doc_id == "glossary":
                continue
            if claims and set(hit.claims) & claims and len(hit.claims) <= 2:
                continue
            count += len(sentences_of(seg[0])) or 1
    return count


def run_model(settings, questions: list[dict], model: Path | None,  # type: ignore[no-untyped-def]
              use_llm: bool = True, sample: int = 0) -> dict:
    s = replace(settings, home=Path(tempfile.mkdtemp(prefix="bench-answers-")))
    if model is not None:
        s = replace(s, model=model)
    tutor = Tutor(s)
    tutor.prepare()
    if use_llm:
        tutor.load_model()
    ask(tutor, "What is claim 1?", [], use_llm)  # warm: embedder, model, caches
    out: dict = {"model": tutor.model.name if tutor.model else "answer plan only (--no-llm)",
                 "languages": list(tutor.model.languages) if tutor.model else [], "splits": {}}
    rows = []
    for q in questions:
        history: list[tuple[str, str]] = []
        for earlier in q.get("history", []):
            history.append((earlier, ask(tutor, earlier, history, use_llm).answer))
        done = ask(tutor, q["question"], history, use_llm)
        rows.append({"q": q, "done": done})
        print(f"{len(rows)}/{len(questions)} {done.timings['total_ms']:.0f} ms {q['question']}",
              file=sys.stderr, flush=True)
    for split in dict.fromkeys(r["q"]["split"] for r in rows):
        part = [r for r in rows if r["q"]["split"] == split]
        inside = [r for r in part if r["q"].get("scope") != "out"]
        outside = [r for r in part if r["q"].get("scope") == "out"]
        ja = [r for r in inside if r["q"]["lang"] == "ja"]
        answered = [r for r in inside if r["done"].covered]
        fw = [r["done"].timings.get("first_words_ms", 0) for r in answered]
        ft = [r["done"].timings["first_token_ms"] for r in answered if r["done"].timings.get("completion_tokens")]
        out["splits"][split] = {
            "questions": len(inside), "out_of_scope": len(outside),
            "fragments": sum(is_fragment(r["done"].answer) for r in answered),
            "ja": len(ja), "ja_mostly_ja": sum(mostly_japanese(r["done"].answer) for r in ja),
            "key": sum(any(norm(k) in norm(r["done"].answer) for k in r["q"]["key"].split("|"))
                       for r in inside),
            "off_topic_sentences": sum(off_topic(tutor, r["done"], r["q"]["doc"]) for r in answered),
            "covered_declined": len(inside) - len(answered),
            "out_declined": sum(not r["done"].covered for r in outside),
            "first_words_p50_ms": statistics.median(fw) if fw else 0.0,
            "first_words_max_ms": max(fw) if fw else 0.0,
            "model_first_token_p50_ms": statistics.median(ft) if ft else 0.0,
            "model_ran": len(ft),
        }
    out["kv_cache"] = kv_cache(tutor, 1 if sample else 3) if use_llm else {}
    out["answers"] = [{"question": r["q"]["question"], "split": r["q"]["split"],
                       "answer": r["done"].answer, "covered": r["done"].covered,
                       "stopped_by": r["done"].stopped_by, "plan": r["done"].plan.get("explain")}
                      for r in rows]
    return out


def kv_cache(tutor: Tutor, n: int = 3) -> dict:
    """First model token for English questions: after another question (the system prompt's
    prefix is still in llama.cpp's cache) against a cleared cache."""
    model = tutor.load_model()
    qs = ["What did Kaplan et al. find?", "Why is claim 5 true?", "What is Othello-GPT?"][:n]
    warm, cold = [], []
    for q in qs:
        ask(tutor, "What is sycophancy?", [])
        warm.append(ask(tutor, q, []).timings["first_token_ms"])
        model.llm.reset()  # forget the evaluated tokens: the next prompt is read from the start
        cold.append(ask(tutor, q, []).timings["first_token_ms"])
    return {"warm_p50_ms": statistics.median(warm), "cold_p50_ms": statistics.median(cold)}


def table(results: list[dict]) -> str:
    lines = ["| answers (learners' wording) | split | empty/fragment | Japanese q. mostly Japanese "
             "| key fact | off-topic sentences | covered declined / out-of-scope declined "
             "| first words p50 (max) | model's first token p50 |",
             "|---|---|---|---|---|---|---|---|---|"]
    for res in results:
        for split, m in res["splits"].items():
            lines.append(
                f"| {res['model']} | {split} ({m['questions']} + {m['out_of_scope']} out) "
                f"| {m['fragments']} | {m['ja_mostly_ja']}/{m['ja']} "
                f"| {m['key']}/{m['questions']} ({m['key'] / max(m['questions'], 1):.0%}) "
                f"| {m['off_topic_sentences']} | {m['covered_declined']} / {m['out_declined']} of "
                f"{m['out_of_scope']} | {m['first_words_p50_ms']:.0f} ms ({m['first_words_max_ms']:.0f}) "
                f"| {m['model_first_token_p50_ms']:.0f} ms ({m['model_ran']} answers) |")
    lines += ["", "| model's first token, English question | prefix cached from the last question "
              "| cache cleared |", "|---|---|---|"]
    for res in results:
        kv = res["kv_cache"]
        if not kv:
            continue
        lines.append(f"| {res['model']} | {kv['warm_p50_ms']:.0f} ms | {kv['cold_p50_ms']:.0f} ms |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", action="append", type=Path, default=None,
                    help="a GGUF to measure (repeatable); default: the configured model")
    ap.add_argument("--split", default="all", help="dev, held-out or all")
    ap.add_argument("--questions", type=Path, default=QUESTIONS, help="a JSONL question set")
    ap.add_argument("--no-llm", action="store_true", help="the answer plan alone, no model")
    ap.add_argument("--sample", type=int, default=0,
                    help="an even sample of N questions (a slow model on a busy machine)")
    ap.add_argument("--write-readme", action="store_true")
    args = ap.parse_args()
    settings = load_settings({"home": tempfile.mkdtemp(prefix="bench-home-")})
    questions = load(args.questions)
    if args.split != "all":
        questions = [q for q in questions if q["split"] == args.split]
    if args.sample:
        step = max(1, len(questions) // args.sample)
        questions = questions[::step][: args.sample]
    for m in args.model or []:
        if not m.is_file():
            print(f"error: {m}: model file not found", file=sys.stderr)
            return 2
    t0 = time.perf_counter()
    results = [run_model(settings, questions, m, not args.no_llm, args.sample)
               for m in (args.model or [None])]
    OUT.mkdir(parents=True, exist_ok=True)
    name = "answers-" + ("no-llm" if args.no_llm else "-".join(r["model"].split(".")[0] for r in results))
    (OUT / f"{name}.json").write_text(json.dumps(results, indent=1, ensure_ascii=False), encoding="utf-8")
    text = table(results)
    print(text)
    print(f"({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    if args.write_readme:
        write_block("answers", "on 2 cores, no GPU (`benchmarks/answers.py`)", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
