"""Executors (local, Ray) and cluster configuration.

The Ray executor registers by name but imports nothing from Ray until it is chosen: Ray is an
optional extra (`pip install -e '.[ray]'`)."""

from typing import Any

from factory.registry import Registry
from cluster.local import LocalExecutor

EXECUTORS: Registry[Any] = Registry("executor")
EXECUTORS.register("local")(LocalExecutor)


@EXECUTORS.register("ray")
def _ray_executor(**options: Any) -> Any:
    from cluster.ray_executor import make_ray_executor

    return make_ray_executor(**options)


__all__ = ["EXECUTORS", "LocalExecutor"]
