"""Run configuration: TOML → validated dataclasses, with errors that name the key."""

from __future__ import annotations

import dataclasses
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from factory.errors import ConfigError


def build(cls: type, data: Any, where: str) -> Any:
    """Construct dataclass `cls` from a mapping, rejecting unknown keys and wrong types."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a table, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (allowed: {', '.join(fields)})")
    hints = typing.get_type_hints(cls)
    values = {}
    for name, value in data.items():
        values[name] = _check_type(value, hints[name], f"{where}.{name}")
    try:
        return cls(**values)
    except TypeError as exc:  # a required key is missing
        raise ConfigError(f"{where}: {exc}") from None


def _check_type(value: Any, hint: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if hint is Any:
        return value
    if origin in (list, tuple):
        (item,) = typing.get_args(hint)[:1]
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {type(value).__name__}")
        return [_check_type(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table, got {type(value).__name__}")
        return value
    if origin in (typing.Union, getattr(__import__("types"), "UnionType")):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        hint = next(a for a in args if a is not type(None))
    if dataclasses.is_dataclass(hint):
        return build(hint, value, where)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        raise ConfigError(f"{where}: expected {hint.__name__}, got {type(value).__name__} {value!r}")
    return value


@dataclass
class RunSection:
    run_id: str = "run"
    output_dir: str = "runs"
    seed: int = 0
    chunk_size: int = 16
    iteration: int = 0
    executor: str = "local"  # a name in cluster.EXECUTORS: local, ray
    executor_options: dict[str, Any] = field(default_factory=dict)  # the executor's own keyword options

    def __post_init__(self) -> None:
        if self.chunk_size < 1:
            raise ConfigError("run.chunk_size: must be ≥ 1")
        if not self.run_id or any(c in self.run_id for c in "/\\= "):
            raise ConfigError(f"run.run_id: {self.run_id!r} must be non-empty, without / \\ = or spaces")


@dataclass
class SourceSection:
    name: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class GenerationSection:
    backend: str = "vllm"
    model: str = "embedded"
    n: int = 4
    temperature: float = 0.8
    top_p: float = 0.95
    max_tokens: int = 384
    batch_size: int = 64
    system_prompt: str = ("Solve the problem step by step. "
                          "End with the final answer in the form \\boxed{ANSWER}.")
    few_shot: list[dict[str, Any]] = field(default_factory=list)  # [{user = "...", assistant = "..."}]
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for i, shot in enumerate(self.few_shot):
            if set(shot) != {"user", "assistant"} or not all(isinstance(v, str) for v in shot.values()):
                raise ConfigError(f"generation.few_shot[{i}]: needs exactly string keys 'user' and 'assistant'")
        if self.n < 1:
            raise ConfigError("generation.n: must be ≥ 1")
        if self.max_tokens < 1:
            raise ConfigError("generation.max_tokens: must be ≥ 1")
        if not 0 <= self.temperature <= 5:
            raise ConfigError("generation.temperature: must be in [0, 5]")


def _positive(where: str, value: float | int | None) -> None:
    if value is not None and not value > 0:
        raise ConfigError(f"{where}: must be > 0, not {value!r}")


@dataclass
class MathVerification:
    timeout_s: float | None = None  # per answer; unset: verification.timeout_s

    def __post_init__(self) -> None:
        _positive("verification.math.timeout_s", self.timeout_s)


@dataclass
class CodeVerification:
    timeout_s: float | None = None  # wall clock per program; unset: verification.timeout_s
    workers: int = 0  # sandbox processes; 0: one per CPU
    memory_mb: int = 512  # RLIMIT_AS of each program

    def __post_init__(self) -> None:
        _positive("verification.code.timeout_s", self.timeout_s)
        _positive("verification.code.memory_mb", self.memory_mb)
        if self.workers < 0:
            raise ConfigError("verification.code.workers: must be ≥ 0 (0: one per CPU)")


@dataclass
class LeanVerification:
    """The Lean backend and its options (verifiers/lean/backends.py). `backend` unset: the
    FACTORY_LEAN_BACKEND environment variable, else `embedded`; resolved at load, so the
    backend that grades a run is in its config and its hash."""

    timeout_s: float | None = None  # per proof; unset: verification.timeout_s
    backend: str | None = None  # embedded, native or repl
    project: str = ""  # a Lake project to run Lean in (native, repl), e.g. with Mathlib
    repl: str = "repl"  # the REPL binary (repl)
    pool: int = 2  # REPL processes (repl)
    memory_mb: float = 12_000.0  # replace a REPL above this RSS (repl)

    def __post_init__(self) -> None:
        _positive("verification.lean.timeout_s", self.timeout_s)
        _positive("verification.lean.pool", self.pool)
        _positive("verification.lean.memory_mb", self.memory_mb)


@dataclass
class VerificationSection:
    timeout_s: float = 5.0  # every domain's default time bound
    workers: int = 1
    math: MathVerification = field(default_factory=MathVerification)
    code: CodeVerification = field(default_factory=CodeVerification)
    lean: LeanVerification = field(default_factory=LeanVerification)

    def __post_init__(self) -> None:
        _positive("verification.timeout_s", self.timeout_s)


@dataclass
class StarSection:
    """The STaR loop (pipelines/star.py); unused by a plain `factory run`."""

    iterations: int = 2
    rationalize: bool = True
    hint_template: str = ("The correct final answer is {reference}. Show the working that leads to it, "
                          "as if solving it yourself.")
    heldout: list[SourceSection] = field(default_factory=list)  # never trained on; evaluated every iteration
    per_problem: int = 4
    max_jaccard: float = 0.8
    drop_solved_by_all: bool = False
    use_judge: bool = False  # also train on candidates the rule verifier failed and the LLM judge passed
    leak_patterns: list[str] = field(default_factory=list)  # empty → pipelines.select.DEFAULT_LEAKS
    decontam_ngram: int = 8
    decontam_threshold: float = 0.5
    train_command: str = "builtin"  # or a command line with {data} {model} {output} {iteration}
    train_options: dict[str, Any] = field(default_factory=dict)  # builtin: factory.train.TrainSettings keys

    def __post_init__(self) -> None:
        if self.iterations < 1:
            raise ConfigError("star.iterations: must be ≥ 1")
        if "{reference}" not in self.hint_template:
            raise ConfigError("star.hint_template: must contain {reference}")
        if not 0 <= self.decontam_threshold <= 1 or not 0 <= self.max_jaccard <= 1:
            raise ConfigError("star.decontam_threshold and star.max_jaccard: must be in [0, 1]")


@dataclass
class Config:
    run: RunSection = field(default_factory=RunSection)
    sources: list[SourceSection] = field(default_factory=list)
    generation: GenerationSection = field(default_factory=GenerationSection)
    verification: VerificationSection = field(default_factory=VerificationSection)
    star: StarSection = field(default_factory=StarSection)
    base_dir: str = "."

    @property
    def run_dir(self) -> Path:
        out = Path(self.run.output_dir)
        if not out.is_absolute():
            out = Path(self.base_dir) / out
        return out / self.run.run_id


# `factory run`'s override options: flag → config key. `factory submit` (cluster.jobs) passes
# the same ones on to the job's `factory run`.
RUN_OVERRIDES = {"--run-id": "run.run_id", "--output-dir": "run.output_dir", "--backend": "generation.backend",
                 "--model": "generation.model", "--executor": "run.executor"}


def run_overrides(values: dict[str, str | None]) -> dict[str, str]:
    """{flag: value} → {config key: value} for the options that were given."""
    return {RUN_OVERRIDES[flag]: value for flag, value in values.items() if value}


def _source_entry(raw: dict[str, Any], where: str) -> dict[str, Any]:
    """`[[sources]]` tables list the source name beside its own options."""
    if not isinstance(raw, dict) or "name" not in raw:
        raise ConfigError(f"{where}: each [[sources]] entry needs a 'name'")
    return {"name": raw["name"], "options": {k: v for k, v in raw.items() if k != "name"}}


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> Config:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    return parse_config(raw, base_dir=str(path.parent.resolve()), where=str(path), overrides=overrides)


def parse_config(raw: dict[str, Any], base_dir: str = ".", where: str = "config",
                 overrides: dict[str, Any] | None = None) -> Config:
    raw = dict(raw)
    for dotted, value in (overrides or {}).items():
        section, _, key = dotted.partition(".")
        raw.setdefault(section, {})[key] = value
    sources = raw.pop("sources", [])
    if not isinstance(sources, list):
        raise ConfigError(f"{where}: 'sources' must be an array of tables ([[sources]])")
    raw["sources"] = [_source_entry(s, f"{where}: sources[{i}]") for i, s in enumerate(sources)]
    if isinstance(raw.get("star"), dict) and isinstance(raw["star"].get("heldout"), list):
        raw["star"] = {**raw["star"], "heldout": [_source_entry(s, f"{where}: star.heldout[{i}]")
                                                  for i, s in enumerate(raw["star"]["heldout"])]}
    cfg = build(Config, raw, where)
    cfg.base_dir = base_dir
    if not cfg.sources:
        raise ConfigError(f"{where}: no [[sources]] configured")
    check_names(cfg, where)
    return cfg


def check_names(cfg: Config, where: str) -> None:
    """Everything chosen by name exists, and each source's options build, at load: before any
    run dir is created (the registries import nothing heavy)."""
    import os

    from cluster import EXECUTORS
    from factory.generation import BACKENDS
    from factory.sources import SOURCES
    from verifiers.lean.backends import LEAN_BACKENDS

    def known(registry: Any, name: str, key: str) -> None:
        try:
            registry.get(name)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {key}: {exc}") from None

    lean = cfg.verification.lean
    if lean.backend is None:
        lean.backend = os.environ.get("FACTORY_LEAN_BACKEND") or "embedded"
    known(LEAN_BACKENDS, lean.backend, "verification.lean.backend")
    known(BACKENDS, cfg.generation.backend, "generation.backend")
    known(EXECUTORS, cfg.run.executor, "run.executor")
    for key, sections in (("sources", cfg.sources), ("star.heldout", cfg.star.heldout)):
        for i, section in enumerate(sections):
            known(SOURCES, section.name, f"{key}[{i}]")
            build(SOURCES.get(section.name).Options, section.options, f"{where}: {key}[{i}] ({section.name})")
