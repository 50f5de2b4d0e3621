"""PDF text extraction: the old path (pypdf's extract_text) against the new one (PDFium, plus
pypdf's object check), on real PDFs given on the command line (default: the pdfTeX manuals
Debian ships on this machine, when present) and on a generated 100-page PDF.

    python benchmarks/pdf_speed.py [FILE.pdf ...] [--repeat N]

Prints, per file: pages, seconds for each path (best of N), the title each finds, and how many
ligature characters (U+FB00-FB06) each leaves in the text.
"""
from __future__ import annotations

import argparse
import io
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.scale import make_pdf  # noqa: E402
from tutor.pdf import load_pdf, pypdf_pass  # noqa: E402

DEFAULT = [Path("/usr/share/doc/libtasn1-doc/libtasn1.pdf"),
           Path("/usr/share/doc/shared-mime-info/shared-mime-info-spec.pdf")]
LIGATURES = "".join(chr(c) for c in range(0xFB00, 0xFB07))


def old_path(data: bytes) -> tuple[str, str]:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data), strict=False)
    text = "\n".join(page.extract_text() or "" for page in reader.pages)
    title = str(reader.metadata.title or "") if reader.metadata else ""
    return title, text


def new_path(data: bytes) -> tuple[str, str]:
    title, sections, _ = load_pdf(data, "(file name)")
    return title, "\n".join(s.text for s in sections)


def best(fn, data: bytes, repeat: int):  # type: ignore[no-untyped-def]
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn(data)
        times.append(time.perf_counter() - t0)
    return min(times), out


def generated() -> tuple[str, bytes]:
    rng = random.Random(1)
    words = "scaling loss model data compute emergent sycophancy steer capability".split()
    pages = ["\n".join(" ".join(rng.choice(words) for _ in range(14)) for _ in range(60))
             for _ in range(100)]
    return "generated 100 pages", make_pdf(pages)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    inputs = [(str(p), p.read_bytes()) for p in (args.files or [p for p in DEFAULT if p.exists()])]
    inputs.append(generated())
    print(f"{'file':58} {'pages':>5} {'pypdf s':>8} {'new s':>7} {'(check s)':>9}  ligatures old/new")
    for name, data in inputs:
        t_old, (title_old, text_old) = best(old_path, data, args.repeat)
        t_new, (title_new, text_new) = best(new_path, data, args.repeat)
        t_check, _ = best(lambda d: pypdf_pass(d, None), data, args.repeat)
        from pypdf import PdfReader

        pages = len(PdfReader(io.BytesIO(data)).pages)
        lig_old = sum(text_old.count(c) for c in LIGATURES)
        lig_new = sum(text_new.count(c) for c in LIGATURES)
        print(f"{Path(name).name[:58]:58} {pages:5d} {t_old:8.2f} {t_new:7.2f} {t_check:9.2f}  "
              f"{lig_old}/{lig_new}")
        print(f"    title old: {title_old or '(none: the file name)'!r}")
        print(f"    title new: {title_new!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
