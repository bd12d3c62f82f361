"""One Ray for every executor test in this package: start-up costs 5–20 s here, so it is paid
once. Loopback only and no dashboard, so a user's cluster or ports are never touched."""

from __future__ import annotations

import pytest

ray = pytest.importorskip("ray", reason="the Ray tests need the 'ray' extra: pip install -e '.[ray]'")


@pytest.fixture(scope="package")  # shut down after tests/cluster: its idle actors cost CPU in later tests
def ray_session():
    ray.init(num_cpus=2, num_gpus=2, include_dashboard=False, _node_ip_address="127.0.0.1",
             log_to_driver=False, namespace="factory-tests")  # num_gpus: logical GPUs for the placement tests
    yield ray
    ray.shutdown()
