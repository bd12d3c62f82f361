"""Verifiers built from the config's per-domain settings, and the one verification path that the
sampling pipeline and `factory verify` share.

`grade` never raises for a candidate: a verifier that throws gives every item of its batch an
`error` outcome naming the exception, and a verifier that returns the wrong number of outcomes
gives every item an `error` outcome instead of verdicts shifted onto the wrong candidates. Only
a `FactoryError` propagates: that is a setup problem (a missing Lean toolchain, with its install
hint), and marking a whole run `error` would hide it."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from factory.config import VerificationSection
from factory.errors import FactoryError
from schemas import Problem
from verifiers import VERIFIERS, Outcome


def make_verifier(settings: VerificationSection, domain: str, base_dir: str = ".") -> Any:
    """The domain's verifier with its `[verification.<domain>]` settings (a relative Lean
    project is relative to `base_dir`, the config file's folder)."""
    if domain == "code":
        code = settings.code
        from verifiers.code import CodeVerifier

        return CodeVerifier(timeout_s=code.timeout_s or settings.timeout_s, workers=code.workers or None,
                            memory_mb=code.memory_mb)
    if domain == "lean":
        return ConfiguredLeanVerifier(settings, base_dir)
    if domain == "math":
        return VERIFIERS.get("math")(timeout_s=settings.math.timeout_s or settings.timeout_s)
    return VERIFIERS.get(domain)(timeout_s=settings.timeout_s)


def _lean_backend(settings: VerificationSection, per_proof_s: float, base_dir: str = ".") -> Any:
    """The configured backend, built with the config's options rather than environment variables."""
    from verifiers.lean import EmbeddedLean, NativeLean, ReplLean
    from verifiers.lean.backends import LEAN_BACKENDS

    lean = settings.lean
    name = lean.backend or os.environ.get("FACTORY_LEAN_BACKEND") or "embedded"  # unset outside a config
    project = str(Path(base_dir) / lean.project) if lean.project else None
    if name == "embedded":
        return EmbeddedLean(per_proof_s=per_proof_s)
    if name == "native":
        return NativeLean(project=project, per_proof_s=per_proof_s)
    if name == "repl":
        try:
            return ReplLean(repl=lean.repl, project=project, per_proof_s=per_proof_s, pool_size=lean.pool,
                            memory_cap_mb=lean.memory_mb)
        except ValueError as exc:
            raise FactoryError(f"verification.lean (repl): {exc}") from None
    return LEAN_BACKENDS.get(name)(per_proof_s)  # a backend registered elsewhere: its own options


def _lean_verifier_class() -> type:
    from verifiers.lean import LeanVerifier

    return LeanVerifier


class ConfiguredLeanVerifier(_lean_verifier_class()):  # type: ignore[misc]
    """LeanVerifier whose backend comes from `[verification.lean]`, still built on first use."""

    def __init__(self, settings: VerificationSection, base_dir: str = ".") -> None:
        super().__init__(timeout_s=settings.lean.timeout_s or settings.timeout_s)
        self._settings, self._base_dir = settings, base_dir

    @property
    def backend(self) -> Any:
        if self._backend is None:
            self._backend = _lean_backend(self._settings, self.timeout_s, self._base_dir)
        return self._backend


def grade(verifier: Any, pairs: list[tuple[Problem, str]]) -> list[tuple[Outcome, float]]:
    """(outcome, milliseconds) per (problem, text), in order; batched when the verifier can."""
    if not pairs:
        return []
    start = time.perf_counter()
    times: list[float] | None = None
    try:
        if hasattr(verifier, "verify_batch"):
            outcomes = list(verifier.verify_batch(pairs))
        else:
            outcomes, times = [], []
            for problem, text in pairs:
                outcomes.append(verifier.verify(problem, text))
                times.append((time.perf_counter() - start) * 1000 - sum(times))
    except FactoryError:
        raise
    except Exception as exc:  # noqa: BLE001  (a verifier bug is a verdict, never a crashed run)
        detail = f"verifier {getattr(verifier, 'name', '?')} raised {type(exc).__name__}: {exc}"
        outcomes, times = [Outcome(False, "error", details=detail[:2000])] * len(pairs), None
    if len(outcomes) != len(pairs) or not all(isinstance(o, Outcome) for o in outcomes):
        detail = (f"verifier {getattr(verifier, 'name', '?')} returned {len(outcomes)} outcomes for "
                  f"{len(pairs)} candidates; none is trusted")
        outcomes, times = [Outcome(False, "error", details=detail)] * len(pairs), None
    if times is None:  # a batch: its time shared out evenly
        times = [(time.perf_counter() - start) * 1000 / len(pairs)] * len(pairs)
    return list(zip(outcomes, times))
