"""Domain verifiers, registered by name in `VERIFIERS`."""

from verifiers import code, judge, lean, math  # noqa: F401  (registration)
from verifiers.base import REASONS, VERIFIERS, Outcome, Verifier

__all__ = ["REASONS", "VERIFIERS", "Outcome", "Verifier"]
