"""The local language model: the only module that knows llama-cpp-python.

llama.cpp's own log goes to ``llama.log`` in the tutor home through ``llama_log_set``; we keep
``verbose=True`` because ``verbose=False`` points file descriptors 1 and 2 at /dev/null for the
whole process, which would blank a running TUI.
"""
from __future__ import annotations

import contextlib
import ctypes
import io
import threading
from collections.abc import Iterator
from pathlib import Path

CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + "
          "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
          "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
SPECIAL_MARKERS = ("<|im_start|>", "<|im_end|>", "<|endoftext|>", "<s>", "</s>", "<|eot_id|>",
                   "<|start_header_id|>", "<|end_header_id|>", "[INST]", "[/INST]")


# What a model family can write, from its makers' model cards: SmolLM2 was trained on English
# only; Qwen2.5, Llama 3, Gemma 2+ and Phi-3.5/4 cover Japanese among many languages. A model of
# no known family is judged by a measured check (see LocalModel.languages).
_FAMILY_LANGUAGES = (("smollm", ("en",)), ("tinyllama", ("en",)), ("qwen", ("en", "ja", "zh")),
                     ("llama-3", ("en", "ja")), ("llama3", ("en", "ja")), ("gemma", ("en", "ja")),
                     ("phi-4", ("en", "ja")), ("phi-3.5", ("en", "ja")))
# Families whose instruct models can explain the planned sentences in their own words (measured
# for Qwen2.5-Coder-0.5B: asked to continue an answer that opens with them, it repeats the last
# one and ends its turn). SmolLM2-135M cannot: told to explain, it drifts from the sources, so it
# continues the planned sentences instead.
_EXPLAINERS = ("qwen", "llama-3", "llama3", "gemma", "phi-4", "phi-3.5", "mistral")
JA_PROBE = "大規模言語モデルは指示通りに動かないことがあります。"
JA_TOKENS_PER_CHAR = 0.8  # measured on JA_PROBE: SmolLM2-135M 1.85 tokens a character, Qwen2.5 0.50


class ModelError(Exception):
    """The GGUF is missing, unreadable or not a model llama.cpp can load."""


_log_lock = threading.Lock()
_log_file: io.TextIOBase | None = None
_log_callback = None  # keep a reference: llama.cpp calls it from C


def _route_llama_log(path: Path) -> None:
    global _log_file, _log_callback
    import llama_cpp

    with _log_lock:
        if _log_callback is not None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        _log_file = open(path, "a", encoding="utf-8", errors="replace")  # noqa: SIM115

        @llama_cpp.llama_log_callback
        def _cb(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
            if _log_file is not None:
                _log_file.write(text.decode("utf-8", errors="replace"))
                _log_file.flush()

        _log_callback = _cb
        llama_cpp.llama_log_set(_cb, ctypes.c_void_p(0))


def check_gguf(path: Path) -> None:
    if not path.exists():
        raise ModelError(f"{path}: model file not found (run `make setup`, or pass --model PATH)")
    if path.is_dir():
        raise ModelError(f"{path}: is a folder, not a GGUF file")
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as exc:
        raise ModelError(f"{path}: cannot read model: {exc.strerror or exc}") from None
    if magic != b"GGUF":
        raise ModelError(f"{path}: not a GGUF model file")


class LocalModel:
    def __init__(self, path: Path, n_ctx: int = 2048, n_threads: int = 2,
                 log_path: Path | None = None) -> None:
        check_gguf(path)
        if log_path is not None:
            _route_llama_log(log_path)
        from llama_cpp import Llama
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self.path = path
        chatter = io.StringIO()  # llama-cpp-python prints metadata with print() when verbose
        try:
            with contextlib.redirect_stderr(chatter), contextlib.redirect_stdout(chatter):
                self.llm = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads,
                                 n_threads_batch=n_threads, n_batch=512, verbose=True,
                                 logits_all=False)
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelError(f"{path}: llama.cpp cannot load this model ({exc})") from None
        if _log_file is not None:
            _log_file.write(chatter.getvalue())
        # verbose only mattered while loading (it keeps fds 1 and 2 untouched); afterwards it
        # would print "Llama.generate: prefix-match hit" lines on stderr, across a TUI's screen
        self.llm.verbose = False
        meta = self.llm.metadata
        template = meta.get("tokenizer.chat_template") or CHATML
        vocab = self.llm._model
        eos_id, bos_id = self.llm.token_eos(), self.llm.token_bos()
        eos = vocab.token_get_text(eos_id) if eos_id >= 0 else ""
        bos = vocab.token_get_text(bos_id) if bos_id >= 0 else ""
        self._formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)
        self.stops = sorted({s for s in ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", eos) if s})
        # a small model's first paragraph is its best; after it, it starts new "sources"
        self.stops += ["\n\n", "<source", "[source", "Sources:", "Question:"]
        self.template_source = "gguf metadata" if meta.get("tokenizer.chat_template") else "ChatML"
        self.languages, self.languages_source = self._languages(meta)
        family = self._family(meta)
        # an unknown family explains when it reads and writes more than English: a model trained
        # on many languages is not one of the tiny English-only ones
        self.explains = any(k in family for k in _EXPLAINERS) or (
            not any(k in family for k, _ in _FAMILY_LANGUAGES) and len(self.languages) > 1)

    def _languages(self, meta: dict[str, str]) -> tuple[tuple[str, ...], str]:
        """The languages this model can write: its family's profile, or, for a family we do not
        know, a measured check: a vocabulary that spends most of a token on every Japanese
        character was not trained on Japanese text (and a prompt in it is slow to read)."""
        family = self._family(meta)
        for key, langs in _FAMILY_LANGUAGES:
            if key in family:
                return langs, f"profile of the {key} family"
        per_char = self.count_plain(JA_PROBE) / len(JA_PROBE)
        langs = ("en", "ja") if per_char < JA_TOKENS_PER_CHAR else ("en",)
        return langs, f"measured: {per_char:.2f} tokens per Japanese character"

    def _family(self, meta: dict[str, str]) -> str:
        names = " ".join(str(meta.get(k, "")) for k in ("general.name", "general.basename",
                                                         "general.architecture"))
        return f"{names} {self.path.name}".lower()

    def writes(self, language: str) -> bool:
        return language in self.languages

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def n_ctx(self) -> int:
        return self.llm.n_ctx()

    def render(self, messages: list[dict[str, str]]) -> str:
        """The exact prompt text the model receives, through the GGUF's chat template."""
        return self._formatter(messages=messages).prompt

    def count(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def count_plain(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def stream(self, prompt: str, *, max_tokens: int, temperature: float,
               cancel: threading.Event | None = None, repeat_penalty: float = 1.15,
               seed: int = 7) -> Iterator[str]:
        """Yield text pieces as they come; stop on the template's end tokens or on cancel."""
        it = self.llm.create_completion(prompt, max_tokens=max_tokens, temperature=temperature,
                                        top_p=0.9, top_k=40, repeat_penalty=repeat_penalty,
                                        stop=self.stops, stream=True, seed=seed)
        try:
            for piece in it:
                if cancel is not None and cancel.is_set():
                    break
                text = piece["choices"][0]["text"]
                if text:
                    yield text
        finally:
            close = getattr(it, "close", None)
            if close:
                close()

