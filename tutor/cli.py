"""The command line: `tutor`, `tutor ask`, `tutor search`, `tutor add`, `tutor corpus`, `tutor quiz`.

The contract (commands, JSON shapes, exit statuses) is in README.md. Exit status: 0 success,
1 some inputs failed (each named on stderr as `error: INPUT: reason`), 2 usage error.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from . import __version__


class Failure(Exception):
    """A one-line error for the user: `error: <message>`, exit status 1."""


# ---------------------------------------------------------------- helpers


def _err(message: str) -> None:
    print(f"error: {message}", file=sys.stderr, flush=True)


def _note(message: str) -> None:
    print(f"note: {message}", file=sys.stderr, flush=True)


def _settings(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from .config import load_settings

    overrides = {"home": getattr(args, "home", None), "model": getattr(args, "model", None),
                 "embedder": getattr(args, "embedder", None), "k": getattr(args, "k", None),
                 "chroma_url": getattr(args, "chroma_url", None)}
    if getattr(args, "model", None):
        from .config import resolve_model_path

        overrides["model"] = str(resolve_model_path(args.model))
    return load_settings(overrides)


def _questions(arg: str) -> Iterator[str]:
    if arg == "-":
        for line in sys.stdin:
            if line.strip():
                yield line.strip()
    else:
        yield arg


class _CliProgress:
    """Indexing progress on stderr: a Rich bar (files, chunks embedded, chunks/s) when stderr is
    a terminal and the output is not --json; otherwise silent. Notes (skipped files) are
    printed either way, the first ``MAX_NOTES`` of them one a line, the rest counted.
    ``cancel()`` (the first Ctrl+C of `tutor add`) stops the work between batches."""

    MAX_NOTES = 20

    def __init__(self, enabled: bool) -> None:
        self._cancel = threading.Event()
        self._t0: float | None = None
        self.notes = 0
        self.bar = None
        if not enabled or not sys.stderr.isatty():
            return
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress as RichProgress,
                                   TaskProgressColumn, TextColumn, TimeElapsedColumn)

        self.bar = RichProgress(TextColumn("{task.description}"), BarColumn(),
                                MofNCompleteColumn(), TaskProgressColumn(),
                                TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
                                console=Console(stderr=True), transient=True)
        self.files = self.bar.add_task("files", total=None, rate="")
        self.chunks = self.bar.add_task("chunks embedded", total=0, rate="")
        self.bar.start()

    # the engine's callbacks (tutor.index.Progress)

    def cancel(self) -> None:
        self._cancel.set()

    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def file_started(self, path: str, index: int, total: int) -> None:
        if self.bar is not None:
            self.bar.update(self.files, total=total, completed=index,
                            description=f"files ({Path(path).name[:40]})")

    def chunks_planned(self, path: str, chunks: int) -> None:
        if self._t0 is None:
            self._t0 = time.perf_counter()
        if self.bar is not None:
            task = self.bar.tasks[self.chunks]
            self.bar.update(self.chunks, total=(task.total or 0) + chunks)

    def embedded(self, n: int) -> None:
        if self.bar is not None:
            self.bar.advance(self.chunks, n)
            elapsed = time.perf_counter() - (self._t0 or time.perf_counter())
            if elapsed > 0:
                done = self.bar.tasks[self.chunks].completed
                self.bar.update(self.chunks, rate=f"{done / elapsed:.1f}/s")

    def file_done(self, result) -> None:  # type: ignore[no-untyped-def]
        if self.bar is not None:
            self.bar.advance(self.files, 1)

    def message(self, text: str) -> None:
        self.notes += 1
        if self.notes > self.MAX_NOTES:
            return
        if self.bar is not None:
            self.bar.console.print(f"note: {text}", markup=False, highlight=False)
        else:
            _note(text)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
        if self.notes > self.MAX_NOTES:
            _note(f"... and {self.notes - self.MAX_NOTES} more skipped")
            self.notes = self.MAX_NOTES


def _open_tutor(args: argparse.Namespace, quiet: bool):  # type: ignore[no-untyped-def]
    from .pipeline import Tutor

    settings = _settings(args)
    tutor = Tutor(settings)
    progress = _CliProgress(enabled=not quiet)
    try:
        for notice in tutor.prepare(progress):
            _note(notice)
    finally:
        if hasattr(progress, "stop"):
            progress.stop()
    tutor.index.embedder.load()  # so the first question's timings measure the question
    return tutor


# ---------------------------------------------------------------- commands


def cmd_search(args: argparse.Namespace) -> int:
    tutor = _open_tutor(args, args.json)
    for query in _questions(args.query):
        result = tutor.retriever.search(query, k=args.k or 5, claim=args.claim)
        if args.json:
            print(json.dumps({"query": query, "results": [h.as_json() for h in result.hits],
                              "elapsed_ms": round(result.elapsed_ms, 2)}, ensure_ascii=False),
                  flush=True)
            continue
        print(f"# {query}  ({result.elapsed_ms:.0f} ms)")
        for h in result.hits:
            legs = "+".join(h.legs)
            print(f"[{h.rank}] {h.title} — {h.location}   score {h.score:.2f} ({legs})")
            print(f"    {h.source}")
            print("    " + h.text[:300].replace("\n", " ") + ("…" if len(h.text) > 300 else ""))
        if not result.hits:
            print("(nothing found)")
        print()
    return 0


def _print_declined(done) -> None:  # type: ignore[no-untyped-def]
    """Why a question was declined ("declined: it is about something the course never mentions:
    sourdough, kg, flour"), so a learner can rephrase."""
    if not done.covered:
        for line in (done.plan or {}).get("explain", []):
            print(f"({line})")


def _print_sources(hits) -> None:  # type: ignore[no-untyped-def]
    print("\nSources:")
    for h in hits:
        by = f" ({h.authors})" if h.authors else ""
        print(f"  [{h.rank}] {h.title}{by} — {h.location} ({h.source}, score {h.score:.2f})")


def cmd_ask(args: argparse.Namespace) -> int:
    from .llm import check_gguf, ModelError
    from .pipeline import Done, Notice, Token

    if args.question is None:
        return plain_chat(args)
    if args.question != "-" and not args.question.strip():
        raise Failure("question: the question is empty")
    tutor = _open_tutor(args, args.json)
    use_llm = not args.no_llm
    status = 0
    if use_llm:
        try:
            check_gguf(tutor.settings.model)
        except ModelError as exc:
            _err(f"{exc}; answering from the sources alone")
            use_llm, status = False, 1
    if args.leg != "hybrid":
        from .lab import tuned

        tutor = tuned(tutor, leg=args.leg)
    if args.compare:
        return _ask_compare(args, tutor, use_llm, status)
    for question in _questions(args.question):
        streamed = False
        for event in tutor.ask(question, use_llm=use_llm):
            if isinstance(event, Notice):
                _err(event.text)
                status = 1
            elif isinstance(event, Token) and not args.json:
                print(event.text, end="", flush=True)
                streamed = True
            elif isinstance(event, Done):
                if args.json:
                    print(json.dumps(event.as_json(), ensure_ascii=False), flush=True)
                else:
                    if not streamed:
                        print(event.answer, end="")
                    print()
                    _print_declined(event)
                    _print_sources(event.sources)
                    t = event.timings
                    if event.model and t.get("completion_tokens"):
                        print(f"\n({event.model}: first token {t['first_token_ms']:.0f} ms, "
                              f"{t['tokens_per_s']:.0f} tokens/s)", file=sys.stderr)
                    elif event.model:  # a Japanese question to a model that writes only English
                        print(f"\n({event.model} writes only English: the answer is the "
                              "planned source sentences)", file=sys.stderr)
                    print()
    return status


def _ask_compare(args: argparse.Namespace, tutor, use_llm: bool, status: int) -> int:  # type: ignore[no-untyped-def]
    """`tutor ask --compare`: each question with the sources, then without, then the difference.

    Without a model the bare side has nothing to say: the difference line says so (on stderr
    too, once, with --json) and the sourced side shows what retrieval found."""
    from .lab import bare_answer, compare
    from .pipeline import Done, Notice, PromptReady, Token

    said_no_model = False
    for question in _questions(args.question):
        sides: list[Done] = []
        for title, events in (("With sources", lambda: tutor.ask(question, use_llm=use_llm)),
                              ("Without sources", lambda: bare_answer(tutor, question,
                                                                      use_llm=use_llm))):
            human = not args.json
            if human and title == "With sources":
                print(f"== {title} ==")
            streamed = False
            prompt_tokens = 0
            for event in events():
                if isinstance(event, Notice):
                    if use_llm:  # the model failed to load
                        _err(event.text)
                        status = 1
                    elif args.json and not said_no_model:  # --no-llm: said once
                        _note(f"compare: {event.text}")
                        said_no_model = True
                elif isinstance(event, PromptReady):
                    prompt_tokens = event.prompt_tokens
                    if human and title == "Without sources":
                        print(f"== {title} ==")
                elif isinstance(event, Token) and human:
                    print(event.text, end="", flush=True)
                    streamed = True
                elif isinstance(event, Done):
                    sides.append(event)
                    if not human or (title == "Without sources" and event.model is None):
                        continue
                    if not streamed:
                        print(event.answer, end="")
                    print()
                    if event.sources:
                        _print_sources(event.sources)
                    size = f"prompt {prompt_tokens} tokens, " if prompt_tokens else ""
                    print(f"({event.model or 'no model'}: {size}{len(event.sources)} sources, "
                          f"total {event.timings['total_ms'] / 1000:.1f} s)\n")
        result = compare(*sides)
        if args.json:
            print(json.dumps(result.as_json(), ensure_ascii=False), flush=True)
        else:
            print(f"== Difference ==\n{result.difference.summary}\n")
    return status


def plain_chat(args: argparse.Namespace) -> int:
    """A line-by-line chat for terminals where a full-screen app is unwelcome."""
    from .llm import ModelError, check_gguf
    from .pipeline import Done, Notice, Token

    tutor = _open_tutor(args, False)
    use_llm = not args.no_llm
    if use_llm:
        try:
            check_gguf(tutor.settings.model)
        except ModelError as exc:
            _err(f"{exc}; answering from the sources alone")
            use_llm = False
    history: list[tuple[str, str]] = []
    print("Ask about the eight things to know about LLMs (English or Japanese). "
          "Empty line or /quit to leave.")
    while True:
        try:
            question = input("\nyou> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if not question or question in ("/quit", "/exit", "/q"):
            return 0
        cancel = threading.Event()
        print("tutor> ", end="", flush=True)
        streamed = False
        try:
            for event in tutor.ask(question, history=history, use_llm=use_llm, cancel=cancel):
                if isinstance(event, Notice):
                    _err(event.text)
                elif isinstance(event, Token):
                    print(event.text, end="", flush=True)
                    streamed = True
                elif isinstance(event, Done):
                    if not streamed:
                        print(event.answer, end="")
                    print()
                    _print_declined(event)
                    _print_sources(event.sources)
                    history.append((question, event.answer))
        except KeyboardInterrupt:
            cancel.set()
            print("\n(stopped)")


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB"):
        if n < 1024 or unit == "MB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"


def cmd_add(args: argparse.Namespace) -> int:
    import signal

    from .index import AddResult, Index, IndexBusy

    settings = _settings(args)
    index = Index(settings)
    progress = _CliProgress(enabled=not args.json)

    def on_interrupt(signum, frame) -> None:  # type: ignore[no-untyped-def]
        # first Ctrl+C: stop between batches, keep what is done; a second one stops at once
        progress.cancel()
        _note("stopping after the current batch (Ctrl+C again to stop at once)")
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        with index.writing(wait=2.0):
            for notice in index.prepare(progress, sync_bundled=False):
                _note(notice)
            password = args.password or os.environ.get("TUTOR_PDF_PASSWORD") or None
            results = index.add_paths(args.paths, progress, password=password, force=args.force)
    except IndexBusy as exc:  # nothing was touched: one line, and an error object a path
        _err(str(exc))
        if args.json:
            for path in args.paths:
                print(json.dumps(AddResult(path, "error", error=str(exc)).as_json(),
                                 ensure_ascii=False), flush=True)
        return 1
    finally:
        signal.signal(signal.SIGINT, previous)
        progress.stop()
    failed = 0
    for r in results:
        if r.status == "error":
            failed += 1
            _err(f"{r.path}: {r.error}")
        elif r.note:
            _note(f"{r.path}: {r.note}")
        if args.json:
            print(json.dumps(r.as_json(), ensure_ascii=False), flush=True)
        elif r.status == "duplicate":
            print(f"{r.status:9} {r.path}  (of {r.duplicate_of}, not indexed)")
        elif r.status != "error":
            print(f"{r.status:9} {r.path}  ({r.doc_id}, {r.chunks} chunks)")
    if not args.json:
        done = {s: sum(r.status == s for r in results)
                for s in ("added", "updated", "unchanged", "duplicate")}
        dup = f", {done['duplicate']} duplicate" if done["duplicate"] else ""
        print(f"{done['added']} added, {done['updated']} updated, {done['unchanged']} unchanged, "
              f"{failed} failed{dup}", file=sys.stderr)
    return 1 if failed else 0


def cmd_corpus(args: argparse.Namespace) -> int:
    from .index import Index

    settings = _settings(args)
    index = Index(settings)
    if args.corpus_cmd == "remove":
        with index.writing(wait=2.0):
            for notice in index.recover():
                _note(notice)
            result = index.remove(args.doc_id)
        if result.status == "error":
            raise Failure(f"{args.doc_id}: {result.error}")
        print(f"removed {args.doc_id} ({result.chunks} chunks, {result.path})")
        return 0
    progress = _CliProgress(enabled=not getattr(args, "json", False))
    try:
        if args.corpus_cmd == "reindex":
            from .store import StoreError

            with index.writing(wait=2.0):
                try:
                    for notice in index.prepare(progress, sync_bundled=False):
                        _note(notice)
                except StoreError as exc:  # a damaged store is what reindex is for
                    _note(f"{exc}; rebuilding it")
                n = index.reindex(progress)
                index.sync_bundled(progress)
            progress.stop()
            print(f"re-embedded {n} chunks of {len(index.documents())} documents with "
                  f"{index.embedder.identity}")
            return 0
        for notice in index.prepare(progress):
            _note(notice)
    finally:
        progress.stop()
    docs = index.documents()
    if args.json:
        print(json.dumps([d.as_json() for d in docs], ensure_ascii=False, indent=1))
        return 0
    print(f"{'doc_id':34} {'chunks':>6} {'size':>9}  {'added (UTC)':16}  title")
    for d in docs:
        added = d.added[:16].replace("T", " ")
        by = f" — {d.authors[:40]}" if d.authors else ""
        print(f"{d.doc_id[:34]:34} {d.chunks:6d} {_size(d.size):>9}  {added:16}  {d.title[:60]}{by}")
    print(f"{len(docs)} documents, {sum(d.chunks for d in docs)} chunks, "
          f"{_size(sum(d.size for d in docs))}; home {settings.home}")
    return 0


def cmd_quiz(args: argparse.Namespace) -> int:
    try:
        from . import quizcli
    except ImportError:
        print("error: quiz: not built yet", file=sys.stderr)
        return 2
    return quizcli.run(args, _settings)


def cmd_chat(args: argparse.Namespace, screen: str = "chat") -> int:
    try:
        from .tui.app import run_app
    except ImportError:
        return plain_chat(args)
    return run_app(_settings(args), screen=screen, use_llm=not getattr(args, "no_llm", False))


def cmd_config(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from .config import config_path

    settings = _settings(args)
    print(f"# config file: {config_path()}")
    for key, value in asdict(settings).items():
        print(f"{key} = {value}")
    return 0


# ---------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--home", default=argparse.SUPPRESS, metavar="DIR",
                        help="folder for the index, history and quiz progress (env TUTOR_HOME)")
    common.add_argument("--embedder", default=argparse.SUPPRESS, metavar="PATH",
                        help="a local sentence-transformers model folder")
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show tracebacks")

    parser = argparse.ArgumentParser(
        prog="tutor", parents=[common],
        description="An offline tutor for 'Eight Things to Know about Large Language Models'.")
    parser.add_argument("--version", action="version", version=f"tutor {__version__}")
    parser.add_argument("--model", default=None, metavar="GGUF", help="the GGUF model to answer with")
    parser.add_argument("--no-llm", action="store_true", help="answer from retrieval alone")
    sub = parser.add_subparsers(dest="cmd", metavar="COMMAND")

    p = sub.add_parser("chat", parents=[common], help="open the TUI on the chat screen (default)")
    p.add_argument("--model", default=argparse.SUPPRESS, metavar="GGUF")
    p.add_argument("--no-llm", action="store_true", default=argparse.SUPPRESS)
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("ask", parents=[common], help="one answer with numbered sources "
                       "(no QUESTION: a plain line-by-line chat)")
    p.add_argument("question", nargs="?", help="the question, or - for one question a line on stdin")
    p.add_argument("--json", action="store_true", help="print JSON (one object a question)")
    p.add_argument("-k", type=int, default=None, help="number of sources (default 4)")
    p.add_argument("--model", default=argparse.SUPPRESS, metavar="GGUF",
                   help="a GGUF file (a bare name means models/NAME)")
    p.add_argument("--no-llm", action="store_true", default=argparse.SUPPRESS,
                   help="answer from retrieval alone")
    p.add_argument("--compare", action="store_true",
                   help="also answer without sources (the bare model) and show the difference")
    p.add_argument("--leg", choices=("hybrid", "dense", "lexical"), default="hybrid",
                   help="which retrieval leg finds the sources (default hybrid: both, fused)")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("search", parents=[common], help="retrieval only")
    p.add_argument("query", help="the query, or - for one query a line on stdin")
    p.add_argument("--json", action="store_true")
    p.add_argument("-k", type=int, default=None, help="number of results (default 5)")
    p.add_argument("--claim", type=int, choices=range(1, 9), metavar="N",
                   help="only passages about claim N")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("add", parents=[common], help="add files, folders or glob patterns to the corpus")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--json", action="store_true", help="one JSON object a file")
    p.add_argument("--password", default=None, metavar="PW",
                   help="the password of encrypted PDFs (env TUTOR_PDF_PASSWORD; never stored)")
    p.add_argument("--force", action="store_true",
                   help="index a file even when its text duplicates an indexed document")
    p.set_defaults(func=cmd_add)

    p = sub.add_parser("corpus", parents=[common], help="what the index holds")
    csub = p.add_subparsers(dest="corpus_cmd", metavar="ACTION", required=True)
    c = csub.add_parser("list", parents=[common], help="documents in the index")
    c.add_argument("--json", action="store_true")
    c = csub.add_parser("remove", parents=[common], help="remove a document by id")
    c.add_argument("doc_id")
    csub.add_parser("reindex", parents=[common], help="re-embed everything (e.g. after changing the embedder)")
    p.set_defaults(func=cmd_corpus)

    p = sub.add_parser("quiz", parents=[common], help="the quiz: TUI, or `list` / `grade` for scripts")
    p.add_argument("--claim", type=int, choices=range(1, 9), metavar="N",
                   help="a session on claim N's items only")
    qsub = p.add_subparsers(dest="quiz_cmd", metavar="ACTION")
    q = qsub.add_parser("list", parents=[common], help="the question bank")
    q.add_argument("--json", action="store_true")
    q.add_argument("--claim", type=int, choices=range(1, 9), metavar="N")
    q = qsub.add_parser("grade", parents=[common], help="grade one answer")
    q.add_argument("item_id", help="item id, or - for JSON lines {item_id, answer} on stdin")
    q.add_argument("answer", nargs="?", default=None)
    q.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_quiz)

    p = sub.add_parser("config", parents=[common], help="show the settings in force and the config file")
    p.set_defaults(func=cmd_config)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = getattr(args, "debug", False) or os.environ.get("TUTOR_DEBUG") == "1"
    from .config import ConfigError
    from .embed import EmbedderError
    from .index import IndexBusy
    from .llm import ModelError
    from .store import StoreError

    known = (Failure, ConfigError, EmbedderError, IndexBusy, ModelError, StoreError)
    try:
        func = getattr(args, "func", None)
        if func is None:
            return cmd_chat(args)
        return func(args)
    except known as exc:
        if debug:
            raise
        _err(str(exc))
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # the last line of defence: one line, no traceback
        if debug:
            raise
        _err(f"unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback)")
        return 1


if __name__ == "__main__":
    sys.exit(main())
