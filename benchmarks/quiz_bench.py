#!/usr/bin/env python3
"""Quiz grading benchmark: the whole bank plus the labelled short answers.

    .venv/bin/python benchmarks/quiz_bench.py              # figures as a markdown table
    .venv/bin/python benchmarks/quiz_bench.py --calibrate  # search the short-answer thresholds

Figures:
- bank: every item's own answer must grade "correct"; every wrong option (by text and by
  letter) and every listed wrong answer must grade "wrong";
- labelled set (benchmarks/short_answers.jsonl): agreement of the verdict with the human label
  (three classes), false accepts (graded "correct" though labelled partial or wrong), split
  by split: "calibration" rows (thresholds and terms were tuned on them), "holdout-1" rows
  (written after the first freeze; their misses led to one more round of changes) and
  "holdout-2" rows (written after the second freeze, untouched since);
- latency of one grade call, p50/p95 by kind, over all of the above with the embedder loaded
  and the reference answers embedded once (as the quiz screen does while the learner reads).

History of the held-out figures: holdout-1, measured once before any change, gave 83.3%
agreement with 2 false accepts of 16 rows not labelled correct; its misses led to three changes
(a stricter strong-similarity band, 0.80 -> 0.90; a one-concept design for k20-model-shape; a
few misconception phrases for claim 6), after which holdout-2 was written and measured once.
"""
from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tutor.quiz.bank import Item, load_bank  # noqa: E402
from tutor.quiz.grade import (DEFAULT_THRESHOLDS, EmbeddingSimilarity, Grader,  # noqa: E402
                              Thresholds, decide)
from readme_block import write_block  # noqa: E402

LABELLED = ROOT / "benchmarks" / "short_answers.jsonl"


def load_labelled(path: Path = LABELLED) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def bank_cases(items: list[Item]) -> list[tuple[Item, str, str]]:
    """(item, answer, expected verdict) for the bank's own right and wrong answers."""
    cases: list[tuple[Item, str, str]] = []
    for item in items:
        cases.append((item, item.answer, "correct"))
        for i, option in enumerate(item.options):
            if not option.correct:
                cases += [(item, option.text, "wrong"), (item, "ABCD"[i], "wrong")]
            else:
                cases += [(item, "ABCD"[i], "correct"), (item, str(i + 1), "correct")]
        cases += [(item, w.text, "wrong") for w in item.wrong]
    return cases


def score_rows(rows: list[dict], verdicts: list[str]) -> dict[str, float]:
    n = len(rows)
    agree = sum(r["label"] == v for r, v in zip(rows, verdicts))
    not_correct = [v for r, v in zip(rows, verdicts) if r["label"] != "correct"]
    fa = sum(v == "correct" for v in not_correct)
    labelled_wrong = [v for r, v in zip(rows, verdicts) if r["label"] == "wrong"]
    return {"n": n, "agreement": agree / n if n else 0.0,
            "false_accepts": fa, "fa_of_all": fa / n if n else 0.0,
            "fa_of_not_correct": fa / len(not_correct) if not_correct else 0.0,
            "wrong_accepted": sum(v == "correct" for v in labelled_wrong)}


def calibrate(grader: Grader, bank, rows: list[dict]) -> None:
    cal = [r for r in rows if r.get("split", "calibration") == "calibration"]
    measured = []
    for r in cal:
        item = bank.get(r["item_id"])
        g = grader.grade(item, r["answer"])
        # a contradiction or a known wrong answer decides alone; keep those verdicts
        fixed = g.verdict if g.verdict == "wrong" and g.score == 0.0 and g.why_wrong else None
        req = any(c.required and c.name in g.concepts_missing for c in item.concepts)
        measured.append((r, g.coverage or 0.0, g.similarity, req, fixed))
    grid = itertools.product([0.5, 0.6, 0.66, 0.75, 1.0], [0.2, 0.3, 0.4, 0.5],
                             [0.7, 0.75, 0.8, 0.85, 0.9], [0.25, 0.34, 0.5], [0.4, 0.5, 0.6, 0.7])
    results = []
    for cc, ms, ss, wc, ws in grid:
        t = replace(DEFAULT_THRESHOLDS, correct_coverage=cc, min_similarity=ms, strong_similarity=ss,
                    wrong_coverage=wc, wrong_similarity=ws)
        verdicts = [fixed or decide(cov, sim, req, t) for _, cov, sim, req, fixed in measured]
        s = score_rows([m[0] for m in measured], verdicts)
        results.append((s["agreement"], -s["false_accepts"], t))
    results.sort(key=lambda x: (x[0], x[1]), reverse=True)
    print(f"calibration rows: {len(cal)}; best settings (agreement, false accepts):")
    for agree, fa, t in results[:10]:
        print(f"  {agree:.3f}  FA {-fa}  {t}")
    print(f"current: {DEFAULT_THRESHOLDS}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calibrate", action="store_true", help="grid-search the thresholds")
    ap.add_argument("--show", action="store_true", help="list every disagreement")
    ap.add_argument("--threads", type=int, default=1, help="torch threads for the embedder")
    ap.add_argument("--write-readme", action="store_true",
                    help="write the summary between <!-- quizbench:start/end --> in README.md")
    args = ap.parse_args()

    from tutor.embed import Embedder

    bank = load_bank(ROOT / "corpus" / "quiz")
    t0 = time.perf_counter()
    embedder = Embedder(threads=args.threads)
    embedder.load()
    sim = EmbeddingSimilarity(embedder)
    sim.warm(bank.items)
    load_s = time.perf_counter() - t0
    grader = Grader(sim)
    rows = load_labelled()
    if args.calibrate:
        calibrate(grader, bank, rows)
        return 0

    timings: dict[str, list[float]] = {k: [] for k in ("multiple_choice", "cloze", "short_answer")}

    def timed(item: Item, answer: str):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        g = grader.grade(item, answer)
        timings[item.kind].append((time.perf_counter() - start) * 1000)
        return g

    cases = bank_cases(bank.items)
    bank_fail = [(i.id, a, want, g.verdict) for i, a, want in cases
                 if (g := timed(i, a)).verdict != want]
    own = [c for c in cases if c[2] == "correct"]
    wrong = [c for c in cases if c[2] == "wrong"]
    own_fail = sum(1 for f in bank_fail if f[2] == "correct")
    wrong_fail = sum(1 for f in bank_fail if f[2] == "wrong")

    verdicts, grades = [], []
    for r in rows:
        item = bank.get(r["item_id"])
        if item is None:
            print(f"error: {r['item_id']}: no such quiz item", file=sys.stderr)
            return 1
        g = timed(item, r["answer"])
        verdicts.append(g.verdict)
        grades.append(g)
    splits = {"all": list(range(len(rows)))}
    for name in dict.fromkeys(r.get("split", "calibration") for r in rows):
        splits[name] = [i for i, r in enumerate(rows) if r.get("split", "calibration") == name]
    for lang in ("en", "ja"):
        idx = [i for i, r in enumerate(rows) if r.get("lang") == lang]
        if idx:
            splits[f"answers in {lang}"] = idx

    report: list[str] = []

    def emit(text: str = "") -> None:
        print(text)
        report.append(text)

    emit("## Quiz grading benchmark\n")
    emit(f"Bank: {len(bank.items)} items; embedder loaded and references embedded in {load_s:.1f} s.\n")
    emit("| check | result |\n| --- | --- |")
    emit(f"| own answers graded correct (answer text, letter, number) | {len(own) - own_fail}/{len(own)} |")
    emit(f"| wrong options / known wrong answers graded wrong | {len(wrong) - wrong_fail}/{len(wrong)} |")
    emit()
    emit("| labelled short answers | rows | agreement | false accepts | FA / all rows | FA / rows not labelled correct |")
    emit("| --- | --- | --- | --- | --- | --- |")
    for name, idx in splits.items():
        s = score_rows([rows[i] for i in idx], [verdicts[i] for i in idx])
        emit(f"| {name} | {s['n']} | {s['agreement']:.1%} | {s['false_accepts']} "
              f"| {s['fa_of_all']:.1%} | {s['fa_of_not_correct']:.1%} |")
    labels = ("correct", "partial", "wrong")
    emit("\nConfusion (rows: label, columns: verdict)\n")
    emit("| label \\ verdict | " + " | ".join(labels) + " |\n| --- | --- | --- | --- |")
    for lab in labels:
        counts = [sum(1 for r, v in zip(rows, verdicts) if r["label"] == lab and v == col) for col in labels]
        emit(f"| {lab} | " + " | ".join(map(str, counts)) + " |")
    emit(f"\nGrading latency (torch threads: {args.threads}; budget 50 ms an answer)\n")
    emit("| answers | n | p50 | p95 | max |\n| --- | --- | --- | --- | --- |")
    every = [t for ts in timings.values() for t in ts]
    for name, ts in [*timings.items(), ("all", every)]:
        q = statistics.quantiles(ts, n=20)
        emit(f"| {name} | {len(ts)} | {statistics.median(ts):.2f} ms | {q[18]:.2f} ms | {max(ts):.2f} ms |")
    if bank_fail:
        print("\nBank failures:")
        for f in bank_fail:
            print(f"- {f}")
    if args.show:
        print("\nDisagreements:")
        for r, g in zip(rows, grades):
            if r["label"] != g.verdict:
                print(f"- [{r.get('split')}] {r['item_id']}: label {r['label']}, verdict {g.verdict} "
                      f"(coverage {g.coverage}, sim {g.similarity}, missing {g.concepts_missing}) "
                      f"{r['answer']!r}")
    if args.write_readme:
        write_block("quizbench", "(`benchmarks/quiz_bench.py --write-readme`, part of `make bench`)",
                    "\n".join(report[1:]))
    ok = not bank_fail
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
