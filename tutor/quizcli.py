"""`tutor quiz`: the quiz screen, or `list` and `grade` for scripts.

    tutor quiz                          the TUI on the quiz screen
    tutor quiz list [--json] [--claim N]
    tutor quiz grade ITEM_ID ANSWER [--json]
    tutor quiz grade - [--json]         one {"item_id", "answer"} JSON object a line on stdin

Grading from the command line records nothing: progress changes only in the quiz screen.
Exit status: 0 success, 1 some inputs failed (each named on stderr), 2 usage error.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from .config import Settings
from .quiz.bank import Bank, BankError, Item, load_bank
from .quiz.generate import PREFIX as GENERATED_PREFIX
from .quiz.grade import EmbeddingSimilarity, Grade, Grader


def _err(message: str) -> None:
    print(f"error: {message}", file=sys.stderr, flush=True)


def _note(message: str) -> None:
    print(f"note: {message}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace, settings_factory: Callable[[argparse.Namespace], Settings]) -> int:
    settings = settings_factory(args)
    action = getattr(args, "quiz_cmd", None)
    if action is None:
        return open_quiz(settings, getattr(args, "claim", None))
    try:
        bank = load_bank(settings.corpus_dir / "quiz")
    except BankError as exc:
        _err(str(exc))
        return 1
    if action == "list":
        return cmd_list(args, settings, bank)
    if action == "grade":
        return cmd_grade(args, settings, bank)
    _err(f"quiz: unknown action {action!r}")
    return 2


def open_quiz(settings: Settings, claim: int | None = None) -> int:
    try:
        from .tui.app import run_app
    except ImportError:
        from .tui.quiz_screen import run_quiz_app

        return run_quiz_app(settings, claim)
    return run_app(settings, screen="quiz", quiz_claim=claim)


def _with_generated(settings: Settings, bank: Bank) -> Bank:
    """The bank plus items generated from the learner's own documents."""
    from .quiz.generate import items_for_settings

    try:
        bank.extend(items_for_settings(settings))
    except Exception as exc:  # the index is someone else's; the bundled bank still works
        _note(f"no items from your documents: {exc}")
    return bank


# ---------------------------------------------------------------- list

def cmd_list(args: argparse.Namespace, settings: Settings, bank: Bank) -> int:
    bank = _with_generated(settings, Bank(list(bank.items)))
    items = [i for i in bank.items if args.claim is None or i.claim == args.claim]
    if args.json:
        print(json.dumps([i.as_json() for i in items], ensure_ascii=False, indent=1))
        return 0
    print(f"{'id':30} {'claim':>5} {'kind':15} {'lang':4} prompt")
    for i in items:
        prompt = " ".join(i.prompt.split())
        print(f"{i.id[:30]:30} {i.claim or '-':>5} {i.kind:15} {i.lang:4} {prompt[:70]}")
    generated = sum(i.generated for i in items)
    print(f"{len(items)} items ({generated} from your documents)", file=sys.stderr)
    return 0


# ---------------------------------------------------------------- grade

class _LazyGrader:
    """Loads the embedder only when a short answer comes, and only once."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._grader: Grader | None = None
        self._plain = Grader()

    def for_item(self, item: Item) -> Grader:
        if item.kind != "short_answer":
            return self._plain
        if self._grader is None:
            try:
                from .embed import Embedder, EmbedderError

                try:
                    embedder = Embedder(self.settings.embedder, threads=1)
                    embedder.load()
                    self._grader = Grader(EmbeddingSimilarity(embedder))
                except EmbedderError as exc:
                    _note(f"{exc}; grading short answers by key concepts only")
                    self._grader = self._plain
            except ImportError as exc:
                _note(f"no embedder ({exc}); grading short answers by key concepts only")
                self._grader = self._plain
        return self._grader


def _find(settings: Settings, bank: Bank, item_id: str, generated_loaded: list[bool]) -> Item | None:
    item = bank.get(item_id)
    if item is None and item_id.startswith(GENERATED_PREFIX) and not generated_loaded[0]:
        generated_loaded[0] = True
        _with_generated(settings, bank)
        item = bank.get(item_id)
    return item


def _print_grade(grade: Grade, as_json: bool) -> None:
    if as_json:
        print(json.dumps(grade.as_json(), ensure_ascii=False), flush=True)
        return
    print(f"{grade.item_id}: {grade.verdict.upper()} (score {grade.score:.2f})")
    print(grade.feedback)
    print(f"Source: {grade.doc_id}: “{grade.quote}”\n", flush=True)


def cmd_grade(args: argparse.Namespace, settings: Settings, bank: Bank) -> int:
    grader = _LazyGrader(settings)
    loaded = [False]
    if args.item_id != "-":
        if args.answer is None:
            print("usage: tutor quiz grade ITEM_ID ANSWER [--json]  (or - to read JSON lines)",
                  file=sys.stderr)
            return 2
        item = _find(settings, bank, args.item_id, loaded)
        if item is None:
            _err(f"{args.item_id}: no such quiz item")
            return 1
        _print_grade(grader.for_item(item).grade(item, args.answer), args.json)
        return 0
    failed = 0
    for n, line in enumerate(sys.stdin, 1):
        if not line.strip():
            continue
        item_id, answer, problem = _parse_line(line)
        item = None
        if not problem:
            item = _find(settings, bank, item_id, loaded)
            if item is None:
                problem = f"{item_id}: no such quiz item"
        if problem or item is None:
            failed += 1
            _err(problem)
            if args.json:
                print(json.dumps({"item_id": item_id or None, "verdict": None, "error": problem},
                                 ensure_ascii=False), flush=True)
            continue
        _print_grade(grader.for_item(item).grade(item, answer), args.json)
    return 1 if failed else 0


def _parse_line(line: str) -> tuple[str, str, str]:
    """(item_id, answer, problem); problem is "" for a good line."""
    try:
        obj: Any = json.loads(line)
    except json.JSONDecodeError as exc:
        return "", "", f"line is not JSON: {exc.msg}"
    if not isinstance(obj, dict) or not isinstance(obj.get("item_id"), str):
        return "", "", "line needs {\"item_id\": ..., \"answer\": ...}"
    answer = obj.get("answer")
    if not isinstance(answer, (str, int, float)) or isinstance(answer, bool):
        return obj["item_id"], "", f"{obj['item_id']}: 'answer' must be a string"
    return obj["item_id"], str(answer), ""
