"""Exit 0 when llama-cpp-python runs matrix code on this CPU, non-zero otherwise.

A wheel built with GGML_NATIVE on a CPU that advertises AMX dies with SIGILL in the first
matrix multiply; running that in a child process turns the crash into an exit status.
"""
import subprocess
import sys


PROBE = r"""
import sys, pathlib
import llama_cpp
models = sorted(pathlib.Path('models').glob('*.gguf'))
if not models:
    import llama_cpp; llama_cpp.llama_backend_init(); print('no model to probe; import ok'); sys.exit(0)
cb = llama_cpp.llama_log_callback(lambda *a: None)  # keep a reference while llama.cpp may call it
llama_cpp.llama_log_set(cb, None)
import contextlib, io
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    llm = llama_cpp.Llama(str(models[0]), n_ctx=128, n_threads=2, verbose=True)
llm.verbose = False
out = llm('Hello', max_tokens=4)
print('generation ok:', repr(out['choices'][0]['text']))
"""

proc = subprocess.run([sys.executable, "-c", PROBE])
if proc.returncode != 0:
    print(f"llama-cpp-python failed its probe (exit {proc.returncode}); rebuilding", file=sys.stderr)
sys.exit(proc.returncode)
