"""Step splitters for process supervision: a solution text → its steps.

Every splitter returns pieces that concatenate back to the exact text (separators stay with the
step they end), so the prefix through step i is `text[:sum(len(s) for s in steps[:i + 1])]` and
rollouts continue from the very characters the model wrote. Registered by name."""

from __future__ import annotations

import re
from typing import Callable

from factory.registry import Registry

Splitter = Callable[[str], list[str]]
SPLITTERS: Registry[Splitter] = Registry("step splitter")


def _cut(text: str, boundaries: list[int]) -> list[str]:
    """Pieces between the boundaries (positions where a new step starts); empty pieces dropped."""
    cuts = [0] + sorted(b for b in set(boundaries) if 0 < b < len(text)) + [len(text)]
    pieces = [text[a:b] for a, b in zip(cuts, cuts[1:])]
    return _merge_blank(pieces)


def _merge_blank(pieces: list[str]) -> list[str]:
    """Whitespace-only pieces join the step before them (a step must say something)."""
    merged: list[str] = []
    for piece in pieces:
        if merged and not piece.strip():
            merged[-1] += piece
        elif piece:
            merged.append(piece)
    if len(merged) > 1 and not merged[0].strip():  # leading whitespace joins the first real step
        merged[1] = merged[0] + merged[1]
        merged.pop(0)
    return merged


@SPLITTERS.register("paragraphs")
def paragraphs(text: str) -> list[str]:
    """Blank-line separated paragraphs (the Math-Shepherd / PRM800K convention)."""
    return _cut(text, [m.end() for m in re.finditer(r"\n[ \t]*\n\s*", text)])


@SPLITTERS.register("lines")
def lines(text: str) -> list[str]:
    """One step per non-empty line."""
    return _cut(text, [m.end() for m in re.finditer(r"\n\s*", text)])


STEP_MARKER = re.compile(r"(?im)^[ \t>*#]*(?:step|stage)\s*\d+\s*[:.)]")


@SPLITTERS.register("step_markers")
def step_markers(text: str) -> list[str]:
    """Explicit "Step k:" markers; text before the first marker is its own step, and a text
    without markers falls back to paragraphs."""
    starts = [m.start() for m in STEP_MARKER.finditer(text)]
    return _cut(text, starts) if starts else paragraphs(text)


# A sentence ends at . ! ? followed by whitespace, unless the dot belongs to a number ("3.5"),
# a common abbreviation, or the text is inside an unclosed \boxed{...} / $...$ (a formula).
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)")
_ABBREV = re.compile(r"(?:\b(?:e\.g|i\.e|etc|vs|Mr|Dr|cf|approx)|\b[A-Za-z])\.$")


@SPLITTERS.register("sentences")
def sentences(text: str) -> list[str]:
    """Sentences and line breaks; never inside a formula ($...$, \\[...\\], \\boxed{...})."""
    bounds = [m.end() for m in re.finditer(r"\n\s*", text)]
    for m in _SENTENCE_END.finditer(text):
        before = text[:m.start()]
        if _ABBREV.search(before) or _in_formula(before):
            continue
        bounds.append(m.end())
    return _cut(text, bounds)


def _in_formula(before: str) -> bool:
    if before.count("$") % 2 or before.count("\\[") > before.count("\\]"):
        return True
    return before.count("{") > before.count("}")


def split_steps(text: str, splitter: str) -> list[str]:
    steps = SPLITTERS.get(splitter)(text)
    return steps or ([text] if text else [])
