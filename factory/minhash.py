"""Exact and near-duplicate detection of problem texts: a content hash of the normalised text
plus MinHash signatures of word shingles in an LSH index (datasketch, the `dedup` extra).

LSH only proposes candidates; a candidate counts as a duplicate only when the Jaccard estimate
from the two signatures reaches the threshold, so the banding's false positives never reject a
problem. Signatures are kept as one uint32 row per problem (num_perm x 4 bytes) for that check.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

from factory.errors import FactoryError

_WORD = re.compile(r"[a-z0-9]+(?:\.[0-9]+)?")


def require_datasketch() -> Any:
    try:
        import datasketch
    except ImportError:  # principle 12: an optional heavy dependency names its install command
        raise FactoryError("near-duplicate detection needs datasketch: pip install -e '.[dedup]'") from None
    return datasketch


def normalise(text: str) -> list[str]:
    """Lower-cased word tokens (numbers kept whole): formatting never makes two problems differ."""
    return _WORD.findall(text.lower())


def exact_key(text: str) -> str:
    return hashlib.sha256(" ".join(normalise(text)).encode()).hexdigest()[:24]


def shingles(text: str, size: int) -> list[bytes]:
    """Word `size`-grams; a text shorter than `size` words is one shingle."""
    words = normalise(text)
    if len(words) <= size:
        return [" ".join(words).encode()]
    return [" ".join(words[i:i + size]).encode() for i in range(len(words) - size + 1)]


@dataclass
class Hit:
    key: str
    similarity: float  # 1.0 for an exact duplicate, else the MinHash Jaccard estimate
    exact: bool


@dataclass
class DedupIndex:
    threshold: float = 0.7
    num_perm: int = 64
    shingle: int = 3
    seed: int = 1
    _exact: dict[str, str] = field(default_factory=dict, repr=False)
    _rows: dict[str, int] = field(default_factory=dict, repr=False)
    _sigs: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]
    _lsh: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not 0 < self.threshold <= 1:
            raise FactoryError("dedup threshold: must be in (0, 1]")
        ds = require_datasketch()
        self._lsh = ds.MinHashLSH(threshold=self.threshold, num_perm=self.num_perm)
        self._sigs = np.zeros((1024, self.num_perm), dtype=np.uint32)

    def __len__(self) -> int:
        return len(self._exact)

    def signatures(self, texts: list[str]) -> list[Any]:
        ds = require_datasketch()
        return ds.MinHash.bulk([shingles(t, self.shingle) for t in texts], num_perm=self.num_perm, seed=self.seed)

    def find(self, text: str, signature: Any = None) -> Hit | None:
        """The stored problem `text` duplicates, if any (exact first, then the most similar)."""
        key = self._exact.get(exact_key(text))
        if key is not None:
            return Hit(key, 1.0, True)
        signature = signature if signature is not None else self.signatures([text])[0]
        best: Hit | None = None
        values = np.asarray(signature.hashvalues, dtype=np.uint32)
        for other in self._lsh.query(signature):
            similarity = float(np.mean(self._sigs[self._rows[other]] == values))
            if similarity >= self.threshold and (best is None or similarity > best.similarity):
                best = Hit(other, similarity, False)
        return best

    def add(self, key: str, text: str, signature: Any = None) -> None:
        exact = exact_key(text)
        if exact in self._exact or key in self._rows:
            return  # already indexed (the same problem stored in two runs)
        signature = signature if signature is not None else self.signatures([text])[0]
        self._exact[exact] = key
        row = len(self._rows)
        if row == len(self._sigs):
            self._sigs = np.concatenate([self._sigs, np.zeros_like(self._sigs)])
        self._sigs[row] = signature.hashvalues
        self._rows[key] = row
        self._lsh.insert(key, signature, check_duplication=False)

    def add_many(self, items: Iterable[tuple[str, str]], batch: int = 4096) -> None:
        """Bulk load (the whole problem store at start-up): signatures computed a batch at a time."""
        pending: list[tuple[str, str]] = []
        for item in items:
            pending.append(item)
            if len(pending) >= batch:
                self._add_batch(pending)
                pending = []
        self._add_batch(pending)

    def _add_batch(self, items: list[tuple[str, str]]) -> None:
        if not items:
            return
        for (key, text), sig in zip(items, self.signatures([t for _, t in items])):
            self.add(key, text, sig)

    def nbytes(self) -> int:
        """Signature storage only (the LSH tables are Python dicts; measure those with RSS)."""
        return int(self._sigs[: len(self._rows)].nbytes)
