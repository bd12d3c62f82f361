"""Executors (local now; Ray later) and cluster configuration."""

from factory.registry import Registry
from cluster.local import LocalExecutor

EXECUTORS: Registry[type] = Registry("executor")
EXECUTORS.register("local")(LocalExecutor)

__all__ = ["EXECUTORS", "LocalExecutor"]
