"""The problems a synthesis run kept (`factory synthesize`), as a source for `factory run` and
`factory star`: read through the run's manifest, with their provenance and label metadata."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Iterator

from factory.errors import FactoryError
from factory.sources.base import SOURCES, Source
from schemas import Problem


@dataclass
class SynthesizedOptions:
    run_dir: str  # a synthesis run dir, relative to the config file
    min_confidence: float = 0.0  # keep labels whose majority share is at least this
    methods: list[str] = field(default_factory=list)  # seed, grid, evol; empty: all


@SOURCES.register("synthesized")
class SynthesizedSource(Source):
    """Problems kept by a synthesis run (labelled, filtered), with their provenance."""

    description = "problems kept by a `factory synthesize` run (labelled, filtered), with their provenance"
    Options = SynthesizedOptions

    def problems(self) -> Iterator[Problem]:
        from pathlib import Path

        from factory.store import RunStore
        from schemas import from_table

        path = Path(self.options.run_dir)
        path = path if path.is_absolute() else Path(self.base_dir) / path
        if not (path / "manifest.jsonl").exists():
            raise FactoryError(f"synthesized source: {path} is not a run dir (no manifest.jsonl)")
        for problem in from_table(RunStore(path).read("problems"), "problems"):
            meta = json.loads(problem.metadata)
            method = meta.get("provenance", {}).get("method")
            if self.options.methods and method not in self.options.methods:
                continue
            if meta.get("label", {}).get("confidence", 1.0) < self.options.min_confidence:
                continue
            yield problem
