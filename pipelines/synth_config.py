"""The `[synthesis]` section of a synthesis config (#14), validated at load like every section.

A synthesis config is a run config (`[run]`, optional `[[sources]]` as seeds, `[generation]`
for the model and for the n answers of the label step, `[verification]`) plus `[synthesis]`.
It is loaded here rather than in `factory.config` so that the run config's hash, which keys
resume of every existing run, does not change.

Prompts are data: every template lives in the config, with placeholders {problem} and {other}
(the parents), {topic}, {persona}, {difficulty} (the grid cell) and {domain}.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import string
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from factory.config import Config, SourceSection, build, parse_config
from factory.errors import ConfigError

PLACEHOLDERS = {"problem", "other", "topic", "persona", "difficulty", "domain"}
METHODS = ("seed", "grid", "evol")


@dataclass
class GridSection:
    topics: list[str] = field(default_factory=list)
    personas: list[str] = field(default_factory=lambda: ["a student"])
    difficulties: list[str] = field(default_factory=lambda: ["easy"])
    per_cell: int = 1  # writing requests per (topic, persona, difficulty) cell


@dataclass
class EvolSection:
    mutations: list[str] = field(default_factory=list)  # each needs a template of the same name
    per_seed: int = 0  # mutations applied to each seed (0: all of them), picked by a per-seed RNG


@dataclass
class FilterSection:
    min_chars: int = 20
    max_chars: int = 2000
    max_questions: int = 1  # question marks allowed: more is several questions in one problem
    dedup_threshold: float = 0.7  # MinHash Jaccard estimate at or above which a problem is a near duplicate
    num_perm: int = 64
    shingle: int = 3  # word n-gram size of the shingles
    dedup_against: list[str] = field(default_factory=list)  # run dirs / folders of runs; [] → run.output_dir
    dedup_seeds: bool = True  # seeds count as stored problems (a rephrase too close to its parent is a duplicate)
    eval_sets: list[SourceSection] = field(default_factory=list)  # decontaminate against these
    decontam_ngram: int = 8
    decontam_threshold: float = 0.5


@dataclass
class CodeLabelSection:
    """Labels of code problems (CodeT dual agreement, `pipelines/code_labels.py`): the n solutions
    are the run's `generation.n` samples; `test_samples` completions of `tests_template` give the
    asserts."""

    tests_template: str = ""  # {problem}: asks for one-line `assert` tests of the problem's function
    test_samples: int = 1  # test-writer completions per problem (their distinct asserts are pooled)
    max_tests: int = 10  # asserts run per problem, at most (sandbox executions = distinct programs x tests)
    min_score: int = 4  # |solutions| x |tests| the best consensus needs
    min_share: float = 0.5  # its share of the n solutions


@dataclass
class SynthesisSection:
    methods: list[str] = field(default_factory=lambda: list(METHODS))  # which of seed, grid, evol run
    domain: str = "math"
    prompt_version: str = "v1"
    system_prompt: str = ""
    templates: dict[str, str] = field(default_factory=dict)  # seed, grid, and one per mutation
    temperature: float = 0.9
    top_p: float = 0.95
    max_tokens: int = 256
    per_spec: int = 1  # problems written per request
    problem_marker: str = "Problem:"  # the writer's problem is what follows the last marker
    label_threshold: float = 0.5  # majority share needed to take the majority answer as the label
    grid: GridSection = field(default_factory=GridSection)
    evol: EvolSection = field(default_factory=EvolSection)
    filters: FilterSection = field(default_factory=FilterSection)
    code: CodeLabelSection = field(default_factory=CodeLabelSection)

    def __post_init__(self) -> None:
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown:
            raise ConfigError(f"synthesis.methods: unknown method {unknown[0]!r} (allowed: {', '.join(METHODS)})")
        needed = [m for m in ("seed", "grid") if m in self.methods]
        needed += self.evol.mutations if "evol" in self.methods else []
        for name in needed:
            if name not in self.templates:
                raise ConfigError(f"synthesis.templates: no template {name!r} (needed by synthesis.methods/evol)")
        for name, text in self.templates.items():
            check_template(text, f"synthesis.templates.{name}")
        if "grid" in self.methods and not self.grid.topics:
            raise ConfigError("synthesis.grid.topics: the grid method needs at least one topic")
        if not 0 < self.label_threshold <= 1:
            raise ConfigError("synthesis.label_threshold: must be in (0, 1]")
        if not 0 < self.filters.dedup_threshold <= 1 or not 0 <= self.filters.decontam_threshold <= 1:
            raise ConfigError("synthesis.filters.dedup_threshold / decontam_threshold: must be in (0, 1]")
        if self.domain == "code":
            if not self.code.tests_template:
                raise ConfigError("synthesis.code.tests_template: code problems need a test-writing prompt")
            check_template(self.code.tests_template, "synthesis.code.tests_template")
            if self.code.test_samples < 1 or self.code.max_tests < 1 or self.code.min_score < 1:
                raise ConfigError("synthesis.code.test_samples, max_tests and min_score: must be ≥ 1")
            if not 0 < self.code.min_share <= 1:
                raise ConfigError("synthesis.code.min_share: must be in (0, 1]")
        if self.per_spec < 1 or self.grid.per_cell < 1:
            raise ConfigError("synthesis.per_spec and synthesis.grid.per_cell: must be ≥ 1")


def check_template(text: str, where: str) -> None:
    try:
        names = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
    except ValueError as exc:
        raise ConfigError(f"{where}: bad template ({exc}); write literal braces as {{{{ }}}}") from None
    bad = sorted(names - PLACEHOLDERS)
    if bad:
        raise ConfigError(f"{where}: unknown placeholder {{{bad[0]}}} (allowed: {', '.join(sorted(PLACEHOLDERS))})")


@dataclass
class SynthConfig:
    run: Config
    synthesis: SynthesisSection

    def hash(self) -> str:
        """Everything that changes the rows (not where they are written): keys resume."""
        data = {"run": dataclasses.asdict(self.run), "synthesis": dataclasses.asdict(self.synthesis)}
        data["run"]["run"].pop("output_dir")
        data["run"].pop("base_dir")
        if data["synthesis"]["code"] == dataclasses.asdict(CodeLabelSection()):
            data["synthesis"].pop("code")  # added later: runs without it keep their hash, so they resume
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def load_synth_config(path: str | Path, overrides: dict[str, Any] | None = None) -> SynthConfig:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    return parse_synth_config(raw, str(path.parent.resolve()), str(path), overrides)


def parse_synth_config(raw: dict[str, Any], base_dir: str = ".", where: str = "config",
                       overrides: dict[str, Any] | None = None) -> SynthConfig:
    raw = dict(raw)
    section = raw.pop("synthesis", None)
    if not isinstance(section, dict):
        raise ConfigError(f"{where}: no [synthesis] section")
    filters = section.get("filters")
    if isinstance(filters, dict) and isinstance(filters.get("eval_sets"), list):
        evals = [_source(s, f"{where}: synthesis.filters.eval_sets[{i}]") for i, s in enumerate(filters["eval_sets"])]
        section = {**section, "filters": {**filters, "eval_sets": evals}}
    synthesis = build(SynthesisSection, section, f"{where}: synthesis")
    if raw.get("sources"):
        cfg = parse_config(raw, base_dir=base_dir, where=where, overrides=overrides)
    else:  # grid-only synthesis needs no seeds; the run config insists on sources, so build it directly
        raw.pop("sources", None)
        for dotted, value in (overrides or {}).items():
            key, _, sub = dotted.partition(".")
            raw.setdefault(key, {})[sub] = value
        cfg = build(Config, raw, where)
        cfg.base_dir = base_dir
    if ("seed" in synthesis.methods or "evol" in synthesis.methods) and not cfg.sources:
        raise ConfigError(f"{where}: synthesis.methods {synthesis.methods} need seed problems ([[sources]])")
    return SynthConfig(cfg, synthesis)


def _source(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict) or "name" not in raw:
        raise ConfigError(f"{where}: each entry needs a 'name'")
    return {"name": raw["name"], "options": {k: v for k, v in raw.items() if k != "name"}}
