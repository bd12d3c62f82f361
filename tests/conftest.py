"""Shared fixtures: tiny configs, temp run dirs, and the scripted backend."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def pytest_collection_modifyitems(config, items):
    """Tests marked jail_only run inside the attack table's outer jail, whose driver test
    (tests/verifiers/test_code_attacks.py) starts it; outside it they are deselected, not skipped."""
    if os.environ.get("FACTORY_ATTACK_JAIL") == "1":
        return
    jailed = [item for item in items if item.get_closest_marker("jail_only")]
    if jailed:
        config.hook.pytest_deselected(items=jailed)
        items[:] = [item for item in items if not item.get_closest_marker("jail_only")]


def write_config(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


SCRIPTED_CONFIG = """
[run]
run_id = "{run_id}"
output_dir = "{out}"
seed = 7
chunk_size = {chunk_size}

[[sources]]
name = "procedural_math"
kinds = ["arithmetic"]
count = {count}
difficulty = {difficulty}

[generation]
backend = "scripted"
model = "scripted"
n = {n}
{extra}
"""


@pytest.fixture
def scripted_config(tmp_path):
    def make(run_id="t", count=10, n=4, chunk_size=4, difficulty=2, extra=""):
        text = SCRIPTED_CONFIG.format(run_id=run_id, out=tmp_path / "runs", count=count, n=n,
                                      chunk_size=chunk_size, difficulty=difficulty, extra=extra)
        return write_config(tmp_path / f"{run_id}.toml", text)

    return make
