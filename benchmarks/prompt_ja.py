"""How much shorter the prompt is when an English-only model gets the sources without their
Japanese sentences (tutor.pipeline.Tutor.build_prompt), on the English questions of
benchmarks/learner_questions.jsonl:

    .venv/bin/python benchmarks/prompt_ja.py
"""
from __future__ import annotations

import json
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tutor.config import load_settings  # noqa: E402
from tutor.pipeline import Tutor  # noqa: E402


def main() -> int:
    tutor = Tutor(load_settings({"home": tempfile.mkdtemp(prefix="bench-prompt-")}))
    tutor.prepare()
    model = tutor.load_model()
    qs = [json.loads(line) for line in (ROOT / "benchmarks" / "learner_questions.jsonl").open()]
    qs = [q for q in qs if q["lang"] == "en" and q.get("scope") != "out" and not q.get("history")]
    dropped, kept = [], []
    own = model.languages
    for q in qs:
        plan, hits = tutor.plan(q["question"], tutor.retrieve(q["question"]).hits)
        dropped.append(tutor.build_prompt(model, q["question"], hits, (), plan.text).prompt_tokens)
        model.languages = ("en", "ja")  # as if the model read Japanese: the sources unchanged
        kept.append(tutor.build_prompt(model, q["question"], hits, (), plan.text).prompt_tokens)
        model.languages = own
    print(f"{model.name}, {len(qs)} English questions: median prompt {statistics.median(dropped):.0f} "
          f"tokens with the sources' Japanese sentences left out, {statistics.median(kept):.0f} with them")
    return 0


if __name__ == "__main__":
    sys.exit(main())
