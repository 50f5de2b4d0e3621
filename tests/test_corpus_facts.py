"""The course material against its references: figures, claim tags, quiz quotes, glossary.

Checks that would have caught the errors of the expert review (../shared/reference/review.md)
where a machine can:

- every figure in a note appears in facts.md, review.md or the article, and not only on a line
  the references mark as unverified ("verify", "could not be confirmed", ...);
- every `claims` tag of a note is named in its text ("claim 4", 「主張4」), and every quiz item's
  claim is a tag of the section its quote comes from;
- every quiz item's quote supports its answer: a cloze answer is in the quote, a multiple-choice
  answer shares more of its words with the quote than any wrong option, a short answer's
  required concepts are all in the quote;
- the glossary keeps the format shared with the answer code (issue 8): a `Terms:` line first,
  English and Japanese text, a `Notes:` line naming notes in which one of the terms occurs.

The reference folder is `../shared/reference` beside the repository (in CI a copy next to the
clone). Each checker is also run on a mutated copy, to show it fails when things drift apart.
"""
from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pytest

from tutor.config import CORPUS_DIR, PROJECT_ROOT
from tutor.ingest import load_markdown, parse_front_matter
from tutor.quiz.bank import Item, load_bank, squash

REFERENCE = PROJECT_ROOT.parent / "shared" / "reference"
REF_FILES = ("facts.md", "review.md", "article-eight-things.ja.txt")
NOTES = sorted((CORPUS_DIR / "notes").glob("*.md"))
BANK = load_bank(CORPUS_DIR / "quiz")

needs_reference = pytest.mark.skipif(
    not all((REFERENCE / f).is_file() for f in REF_FILES),
    reason=f"reference material not found at {REFERENCE} (expected beside the repository)")


def norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


# ---------------------------------------------------------------- figures

_SCALE = {"k": 3, "m": 6, "b": 9, "t": 12, "万": 4, "億": 8, "兆": 12,
          "thousand": 3, "million": 6, "billion": 9, "trillion": 12}
# a number with optional thousands separators, decimals, exponent or magnitude suffix
_NUMBER = re.compile(r"(?<![A-Za-z0-9_.])(\d+(?:,\d{3})*(?:\.\d+)?)"
                     r"(?:e(\d+)|([kKMBT万億兆])(?![a-zA-Z])|\s(thousand|million|billion|trillion)\b)?")
_ARXIV = re.compile(r"\b\d{4}\.\d{4,5}\b")
_UNVERIFIED = re.compile(r"verify|unverified|could not be confirmed|\bcheck\b", re.I)
# numbers that are names, not figures: claim numbers, footnote-style [n], model names, years of
# a citation are still figures (they must match a reference); small integers are counts
_NOT_FIGURE = re.compile(r"(?:[Cc]laims?|主張|thing)\s*\d(?:\s*(?:,|and|or|to|、|と)\s*\d)*|"
                         r"GPT-\d|SmolLM2-|\[\d+\]|MiniLM-L6-v2|"
                         r"\d+(?:つ目|番目|つの)|pass@1|top-1|alpha_\w+|N\^0\.74")


def figures(text: str, names_are_figures: bool = False) -> set[Decimal]:
    """The figures of a text as values: "10,000x" = "1万" = 10000, "70B" = "700億" = 7e10.

    ``names_are_figures`` keeps numbers inside names ("SmolLM2-135M"): the code is the source
    of the RAG note's figures, and there a model's name is where its size is written down."""
    text = unicodedata.normalize("NFKC", text)
    out = {Decimal(m.group(0).replace(".", "")) for m in _ARXIV.finditer(text)}
    text = _ARXIV.sub(" ", text)
    if not names_are_figures:
        text = _NOT_FIGURE.sub(" ", text)
    for m in _NUMBER.finditer(text):
        try:
            value = Decimal(m.group(1).replace(",", ""))
        except InvalidOperation:
            continue
        if m.group(2):
            value *= Decimal(10) ** int(m.group(2))
        elif m.group(3) or m.group(4):
            value *= Decimal(10) ** _SCALE[(m.group(3) or m.group(4)).lower()]
        if value == value.to_integral_value() and value <= 10:
            continue  # small counts ("two reasons", "8x") are words more than figures
        out.add(value.normalize())
    return out


def reference_figures(texts: list[str]) -> tuple[set[Decimal], set[Decimal]]:
    """(figures stated anywhere, figures stated only on lines marked as unverified)."""
    sure: set[Decimal] = set()
    doubtful: set[Decimal] = set()
    for text in texts:
        for line in text.splitlines():  # a clause ends at ";": "(verify)" marks its own clause
            for clause in line.split(";"):
                (doubtful if _UNVERIFIED.search(clause) else sure).update(figures(clause))
    return sure, doubtful - sure


def figure_problems(note_texts: dict[str, str], ref_texts: list[str],
                    code_texts: list[str] = ()) -> list[str]:
    sure, doubtful = reference_figures(ref_texts)
    code = figures("\n".join(code_texts), names_are_figures=True)
    problems = []
    for name, text in note_texts.items():
        _, body = parse_front_matter(text)
        own = figures(body)
        allowed = sure | (code if name == "rag" else set())
        for value in sorted(own - allowed):
            why = "only on a line the references mark as unverified" if value in doubtful \
                else "in no reference"
            problems.append(f"{name}: figure {value} is {why}")
    return problems


# ---------------------------------------------------------------- claim tags

_CLAIM_NAMED = re.compile(r"(?:claims?|主張)\s*((?:\d\s*(?:,|and|or|to|、|と|・)?\s*)+)", re.I)


def named_claims(text: str) -> set[int]:
    """Claims a text names: "claim 4", "claims 4, 6 and 7", 「主張4」, "claims 1 to 4"."""
    out: set[int] = set()
    for m in _CLAIM_NAMED.finditer(unicodedata.normalize("NFKC", text)):
        nums = [int(n) for n in re.findall(r"\d", m.group(1))]
        if " to " in m.group(1) and len(nums) == 2:
            nums = list(range(nums[0], nums[1] + 1))
        out.update(n for n in nums if 1 <= n <= 8)
    return out


def claim_tag_problems(note_texts: dict[str, str]) -> list[str]:
    problems = []
    for name, text in note_texts.items():
        meta, body = parse_front_matter(text)
        tags = {int(c) for c in meta.get("claims") or []}
        for tag in sorted(tags - named_claims(body)):
            problems.append(f"{name}: tagged claim {tag} but the text never names it")
        m = re.fullmatch(r"claim-(\d)", name)
        if m and tags != {int(m.group(1))}:
            problems.append(f"{name}: a claim's own note must carry exactly its claim, not {tags}")
    return problems


def item_claim_problems(items: list[Item], corpus_dir: Path) -> list[str]:
    """An item's claim must be a tag of the section its quote is taken from."""
    from tutor.quiz.bank import corpus_documents

    sections = {}
    for doc_id, path in corpus_documents(corpus_dir).items():
        _, secs, _ = load_markdown(path.read_text(encoding="utf-8"), doc_id)
        sections[doc_id] = [(squash(s.text), set(s.claims)) for s in secs]
    problems = []
    for item in items:
        if item.claim is None or item.doc_id not in sections:
            continue
        quote = squash(item.quote)
        tags = next((c for text, c in sections[item.doc_id] if quote in text), None)
        if tags is not None and item.claim not in tags:
            problems.append(f"{item.id}: claim {item.claim}, but its quote comes from a part "
                            f"of {item.doc_id} tagged {sorted(tags)}")
    return problems


# ---------------------------------------------------------------- quotes support answers

_STOP = set("""a an the of to in on at by for from with and or but not no is are was were be been
it its this that these those as than then so such into onto about over under only one two three
four more most less many much very can could may might will would should does did do has have had
their there they them what which who whom whose when where why how all any some each every both
other same than own just also even""".split())


def content_terms(text: str) -> set[str]:
    """Word stems (first 5 letters of words of 3+ letters, stop words dropped) and CJK bigrams."""
    t = norm(text)
    words = {w[:5] for w in re.findall(r"[a-z][a-z0-9'-]{2,}", t) if w not in _STOP}
    words |= set(re.findall(r"\d+(?:\.\d+)?", t))
    cjk = re.sub(r"[^\u3040-\u30ff\u3400-\u9fff]+", " ", t)
    for run in cjk.split():
        words |= {run[i:i + 2] for i in range(len(run) - 1)} or {run}
    return words


def overlap(answer: str, quote: str) -> float:
    terms = content_terms(answer)
    return len(terms & content_terms(quote)) / len(terms) if terms else 0.0


def _in_quote(term: str, quote: str) -> bool:
    t = norm(term.lstrip("!"))
    return bool(t) and t in quote


_ODD_ONE_OUT = re.compile(r"合わない|当てはまらない|誤っている|含まれない|\bNOT\b")


def support_problems(items: list[Item]) -> list[str]:
    problems = []
    for item in items:
        if item.generated:
            continue
        quote = norm(item.quote) + " " + norm(item.quote).replace(",", "")
        if item.kind == "cloze":
            if not any(norm(a).replace(",", "") in quote for a in (item.answer, *item.accept)):
                problems.append(f"{item.id}: the cloze answer {item.answer!r} is not in its quote")
        elif item.kind == "multiple_choice" and _ODD_ONE_OUT.search(item.prompt):
            # "which does not match?": the quote is the evidence for a wrong option instead
            right = overlap(item.answer, item.quote)
            wrong = max(overlap(o.text, item.quote) for o in item.options if not o.correct)
            if wrong < 0.25 or wrong <= right:
                problems.append(f"{item.id}: the quote of an odd-one-out item must support a "
                                f"wrong option (best wrong {wrong:.2f}, answer {right:.2f})")
        elif item.kind == "multiple_choice":
            right = overlap(item.answer, item.quote)
            wrong = max(overlap(o.text, item.quote) for o in item.options if not o.correct)
            if right < 0.25 or right < wrong:
                problems.append(f"{item.id}: the quote does not support the marked answer "
                                f"(word overlap {right:.2f}, best wrong option {wrong:.2f})")
        else:
            for concept in item.concepts:
                if concept.required and not any(_in_quote(t, quote) for t in concept.terms):
                    problems.append(f"{item.id}: required concept {concept.name!r} is not in "
                                    f"its quote")
    return problems


# ---------------------------------------------------------------- glossary

GLOSSARY = CORPUS_DIR / "notes" / "glossary.md"
REQUIRED_TERMS = [
    ("scaling laws", "スケーリング則"), ("emergence", "創発"),
    ("RLHF", "人間のフィードバックによる強化学習"), ("reward model", "報酬モデル"),
    ("instruction tuning", "指示チューニング"), ("sycophancy", "迎合"),
    ("sandbagging", "サンドバッギング"), ("hallucination", "ハルシネーション"),
    ("interpretability", "解釈可能性"), ("world model", "世界モデル"), ("Chinchilla", "チンチラ"),
    ("in-context learning", "文脈内学習"), ("chain of thought", "思考の連鎖"),
    ("RAG", "検索拡張生成"), ("token", "トークン"), ("parameter", "パラメータ"),
    ("compute", "計算量"), ("loss", "損失"), ("GPT-4", "GPT-4"), ("capability gacha", "能力ガチャ"),
    ("Kaplan", "カプラン"), ("Bowman", "ボウマン"), ("Bubeck", "ブベック"), ("Wei", "ウェイ"),
    ("Hoffmann", "ホフマン"), ("Schaeffer", "シェーファー"), ("Burns", "バーンズ"),
    ("Kadavath", "カダヴァス"), ("Kadavath", "カダバス"), ("Ouyang", "オウヤン"), ("Perez", "ペレス"),
]


def glossary_entries(text: str) -> list[dict]:
    _, body = parse_front_matter(text)
    entries = []
    for part in re.split(r"^## ", body, flags=re.M)[1:]:
        heading, _, rest = part.partition("\n")
        lines = [ln.strip() for ln in rest.splitlines() if ln.strip()]
        first = lines[0] if lines else ""
        terms = [t.strip() for t in first[len("Terms:"):].split(";")] if first.startswith("Terms:") else []
        notes_line = next((ln for ln in lines if ln.startswith("Notes:")), "")
        prose = [ln for ln in lines[1:] if not ln.startswith("Notes:")]
        entries.append({"heading": heading.strip(), "first": first, "terms": [t for t in terms if t],
                        "notes": [n.strip() for n in notes_line[len("Notes:"):].split(",") if n.strip()],
                        "prose": prose})
    return entries


def glossary_problems(text: str, note_texts: dict[str, str]) -> list[str]:
    problems = []
    for e in glossary_entries(text):
        h = e["heading"]
        if not e["first"].startswith("Terms:") or not e["terms"]:
            problems.append(f"{h}: the first line must be 'Terms: a; b; ...', not {e['first'][:40]!r}")
            continue
        en = [p for p in e["prose"] if re.search(r"[A-Za-z]{4,}", p) and not re.search(r"[\u3040-\u30ff]", p)]
        ja = [p for p in e["prose"] if re.search(r"[\u3040-\u30ff]", p)]
        if not en or not ja:
            problems.append(f"{h}: needs an English and a Japanese explanation")
        if not e["notes"]:
            problems.append(f"{h}: needs a 'Notes:' line")
        for note in e["notes"]:
            body = note_texts.get(note)
            if body is None:
                problems.append(f"{h}: Notes names {note!r}, which is not a note")
            elif not any(norm(t) in norm(body) for t in e["terms"]):
                problems.append(f"{h}: none of its terms occurs in {note}")
    return problems


# ---------------------------------------------------------------- the tests

def note_texts() -> dict[str, str]:
    return {p.stem: p.read_text(encoding="utf-8") for p in NOTES}


def ref_texts() -> list[str]:
    return [(REFERENCE / f).read_text(encoding="utf-8") for f in REF_FILES]


def code_texts() -> list[str]:
    return [p.read_text(encoding="utf-8") for p in (PROJECT_ROOT / "tutor").rglob("*.py")]


@needs_reference
def test_every_figure_in_a_note_is_in_the_references():
    assert figure_problems(note_texts(), ref_texts(), code_texts()) == []


@needs_reference
def test_a_changed_or_unverified_figure_is_caught():
    notes = note_texts()
    drifted = {"kaplan-2020": notes["kaplan-2020"].replace("0.076", "0.079"),
               "claim-6": notes["claim-6"] + "\nHumans guessed right roughly 29.5% of the time.\n",
               "x": "---\nid: x\n---\nThe old figure: humans 29% and GPT-3 49% top-1.\n"}
    problems = figure_problems(drifted, ref_texts())
    assert any("kaplan-2020: figure 0.079 is in no reference" in p for p in problems)
    assert any("claim-6: figure 29.5" in p for p in problems)
    assert any("x: figure 49 is only on a line the references mark as unverified" in p
               for p in problems)


def test_figures_read_values_not_spellings():
    assert figures("about 10,000x smaller") == figures("1万分の1") == {Decimal(10000)}
    assert figures("70B parameters, 1.4T tokens") == figures("700億パラメータ・1.4兆トークン")
    assert figures("arXiv:2304.00612, claim 4, claims 4, 6 and 7") == {Decimal("230400612")}
    assert Decimal("2.3e10") in figures("about 2.3e10 tokens")


def test_every_claim_tag_is_named_in_the_note():
    assert claim_tag_problems(note_texts()) == []


def test_a_wrong_claim_tag_is_caught():
    notes = note_texts()
    drifted = {"claim-4": notes["claim-4"].replace("claims: [4]", "claims: [4, 6]", 1),
               "rlhf": notes["rlhf"].replace("claims: [4, 6, 7]", "claims: [3, 4, 6, 7]", 1)}
    problems = claim_tag_problems(drifted)
    assert any(p.startswith("claim-4: a claim's own note") for p in problems)
    assert "rlhf: tagged claim 3 but the text never names it" in problems
    assert named_claims("claims 4, 6 and 7; 主張2と主張5; claims 1 to 3") == {1, 2, 3, 4, 5, 6, 7}


def test_every_item_claim_matches_its_source_section():
    assert item_claim_problems(BANK.items, CORPUS_DIR) == []


def test_a_mistagged_item_is_caught():
    from dataclasses import replace

    item = replace(BANK.get("b23-humaneval"), claim=6)  # the review's mis-tag
    assert item_claim_problems([item], CORPUS_DIR) == [
        "b23-humaneval: claim 6, but its quote comes from a part of bubeck-2023 tagged [2, 3, 5, 8]"]


def test_every_quote_supports_its_answer():
    assert support_problems(BANK.items) == []


def test_a_quote_that_no_longer_supports_the_answer_is_caught():
    from dataclasses import replace

    cloze = BANK.get("c8-abcd-accuracy")
    mc = BANK.get("c4-sycophancy")
    short = BANK.get("c6-judging-easier")
    drifted = [replace(cloze, quote=cloze.quote.replace("to 0%", "to almost nothing")),
               replace(mc, quote=BANK.get("c4-sandbagging").quote),
               replace(short, quote="Models read more text than any person.")]
    problems = support_problems(drifted)
    assert len(problems) == 3, problems
    assert problems[0].startswith("c8-abcd-accuracy: the cloze answer")
    assert problems[1].startswith("c4-sycophancy: the quote does not support")
    assert problems[2].startswith("c6-judging-easier: required concept")


def test_glossary_format_and_required_terms():
    text = GLOSSARY.read_text(encoding="utf-8")
    meta, _ = parse_front_matter(text)
    assert meta.get("id") == "glossary" and "title_ja" in meta and "language" in meta
    assert glossary_problems(text, note_texts()) == []
    spellings = {norm(t) for e in glossary_entries(text) for t in e["terms"]}
    missing = [(en, ja) for en, ja in REQUIRED_TERMS
               if norm(en) not in spellings or norm(ja) not in spellings]
    assert missing == []


def test_a_broken_glossary_entry_is_caught():
    notes = note_texts()
    broken = ("---\nid: glossary\n---\n## Loss\n\nLoss is cross-entropy.\nTerms: loss; 損失\n"
              "Notes: claim-1\n\n## Token\n\nTerms: token; トークン\n\nA token is a unit.\n\n"
              "Notes: kaplan-2020, no-such-note, rag\n")
    problems = glossary_problems(broken, {**notes, "rag": "nothing relevant here"})
    assert problems[0].startswith("Loss: the first line must be 'Terms:")
    assert "Token: needs an English and a Japanese explanation" in problems
    assert "Token: Notes names 'no-such-note', which is not a note" in problems
    assert "Token: none of its terms occurs in rag" in problems


def test_new_notes_have_front_matter_a_japanese_summary_and_quiz_items():
    from collections import Counter

    by_topic = Counter(i.topic for i in BANK.items)
    kinds: dict[str, set[str]] = {}
    langs: dict[str, set[str]] = {}
    for i in BANK.items:
        kinds.setdefault(i.topic, set()).add(i.kind)
        langs.setdefault(i.topic, set()).add(i.lang)
    for name in ("rlhf", "emergence-debate", "hallucination", "gpt4-loss-prediction",
                 "scaling-after-chinchilla", "world-models", "closing-discussion"):
        text = (CORPUS_DIR / "notes" / f"{name}.md").read_text(encoding="utf-8")
        meta, body = parse_front_matter(text)
        assert {"id", "title", "title_ja", "source", "claims", "language"} <= set(meta), name
        assert meta["id"] == name and meta["claims"], name
        assert "## 日本語の要点" in body, name
        assert by_topic[name] >= 4, (name, by_topic[name])
        assert kinds[name] == {"multiple_choice", "cloze", "short_answer"}, (name, kinds[name])
        assert langs[name] == {"en", "ja"}, (name, langs[name])
