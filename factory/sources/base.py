"""Problem sources: a registry of classes, each with its own options dataclass."""

from __future__ import annotations

import hashlib
import random
from typing import Any, ClassVar, Iterator

from factory.config import SourceSection, build
from factory.registry import Registry
from schemas import Problem

SOURCES: Registry[type["Source"]] = Registry("problem source")


class Source:
    """Yields Problems. Subclasses set `Options` (a dataclass) and implement `problems()`."""

    Options: ClassVar[type]
    description: ClassVar[str] = ""

    def __init__(self, options: Any, base_dir: str = ".", seed: int = 0) -> None:
        self.options = options
        self.base_dir = base_dir
        self.seed = seed

    def problems(self) -> Iterator[Problem]:
        raise NotImplementedError


def item_rng(seed: int, *key: object) -> random.Random:
    """A per-item RNG: the same (seed, key) gives the same stream on every machine."""
    digest = hashlib.sha256(repr((seed, *key)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def make_source(section: SourceSection, base_dir: str, seed: int, where: str) -> Source:
    cls = SOURCES.get(section.name)
    options = build(cls.Options, section.options, where)
    return cls(options, base_dir=base_dir, seed=seed)


def load_problems(sections: list[SourceSection], base_dir: str, seed: int) -> list[Problem]:
    """All configured problems, de-duplicated by content hash, in a stable order."""
    seen: dict[str, Problem] = {}
    for i, section in enumerate(sections):
        source = make_source(section, base_dir, seed, f"sources[{i}] ({section.name})")
        for problem in source.problems():
            seen.setdefault(problem.problem_id, problem)
    return list(seen.values())
