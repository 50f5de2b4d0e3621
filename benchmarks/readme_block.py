"""Write a benchmark's figures into README.md between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``."""
from __future__ import annotations

import re
import time
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def write_block(name: str, how: str, text: str) -> None:
    """Replace the block ``name`` with a dated "Measured ... (how):" line and ``text``."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    body = README.read_text(encoding="utf-8")
    if start not in body or end not in body:
        raise SystemExit(f"error: {README}: no {start} ... {end} markers")
    stamp = time.strftime("%Y-%m-%d", time.gmtime())
    block = f"{start}\nMeasured {stamp} {how}:\n\n{text.strip()}\n{end}"
    body = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: block, body, flags=re.S)
    README.write_text(body, encoding="utf-8")
