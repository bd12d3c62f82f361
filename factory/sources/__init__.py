"""Problem sources, registered by name in `SOURCES`."""

from factory.sources import files, lean, procedural, synthesized  # noqa: F401  (registration)
from factory.sources.base import SOURCES, Source, item_rng, load_problems, make_source

__all__ = ["SOURCES", "Source", "item_rng", "load_problems", "make_source"]
