"""The code sandbox: bubblewrap + seccomp + rlimits around a pre-forked Python fork server."""

from verifiers.sandbox.pool import ExecResult, Execution, Limits, SandboxPool

__all__ = ["ExecResult", "Execution", "Limits", "SandboxPool"]
