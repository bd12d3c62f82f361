"""Lean backends by name, chosen with FACTORY_LEAN_BACKEND (default `embedded`). Each factory
reads its options from the environment and runs only when the verifier meets its first Lean
proof, so a missing toolchain costs nothing until it is needed, and then fails with the hint."""

from __future__ import annotations

import os
from typing import Any, Callable

from factory.errors import ConfigError
from factory.registry import Registry

LEAN_BACKENDS: Registry[Callable[[float], Any]] = Registry("lean backend")


def _number(name: str, default: float) -> float:
    raw = os.environ.get(name)
    try:
        return default if raw is None else float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None


@LEAN_BACKENDS.register("embedded")
def embedded(per_proof_s: float) -> Any:
    """Lean compiled to WebAssembly, core library only (installed by `factory lean install`)."""
    from verifiers.lean.embedded import EmbeddedLean

    return EmbeddedLean(per_proof_s=per_proof_s)


@LEAN_BACKENDS.register("native")
def native(per_proof_s: float) -> Any:
    """`lean --json FILE` per batch; FACTORY_LEAN_PROJECT: a Lake project to run it in."""
    from verifiers.lean.embedded import NativeLean

    return NativeLean(project=os.environ.get("FACTORY_LEAN_PROJECT"), per_proof_s=per_proof_s)


@LEAN_BACKENDS.register("repl")
def repl(per_proof_s: float) -> Any:
    """A pool of leanprover-community REPLs: FACTORY_LEAN_REPL (the binary, default `repl` on
    PATH), FACTORY_LEAN_PROJECT (Lake project, e.g. with Mathlib), FACTORY_LEAN_REPL_POOL
    (processes, default 2), FACTORY_LEAN_REPL_MEMORY_MB (replace a REPL above it, default 12000)."""
    from verifiers.lean.repl import ReplLean

    try:
        return ReplLean(repl=os.environ.get("FACTORY_LEAN_REPL", "repl"), project=os.environ.get("FACTORY_LEAN_PROJECT"),
                        per_proof_s=per_proof_s, pool_size=int(_number("FACTORY_LEAN_REPL_POOL", 2)),
                        memory_cap_mb=_number("FACTORY_LEAN_REPL_MEMORY_MB", 12_000.0))
    except ValueError as exc:  # ReplConfig's validation, reported as the config error it is
        raise ConfigError(f"Lean REPL backend: {exc}") from None
