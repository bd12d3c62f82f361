"""The synthesis configs load as shipped (no model, GPU or Ray needed): the GPU one is vLLM with a
placeholder model on the Ray executor, and the command in its comments uses real options."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import typer.main

from factory.cli import app
from pipelines.sample import make_executor
from pipelines.synth_config import load_synth_config
from pipelines.synthesize import SynthProcessor, make_specs

CONFIGS = Path(__file__).resolve().parents[2] / "pipelines" / "configs"


def test_gpu_config_is_vllm_on_ray_with_a_placeholder_model():
    scfg = load_synth_config(CONFIGS / "synth_gpu.toml")
    cfg = scfg.run
    assert (cfg.generation.backend, cfg.generation.model, cfg.run.executor) == ("vllm", "/models/MODEL", "ray")
    assert cfg.generation.n >= 8 and scfg.synthesis.methods == ["seed", "grid", "evol"]
    executor = make_executor(cfg)  # validates [run.executor_options] by key and type
    assert executor.num_gpus == 1 and executor.generation_replicas == 2
    assert SynthProcessor(scfg).spec.run_id == "synth-gpu"  # what the executor places and labels by
    grid = [s for s in make_specs(scfg, []) if s.method == "grid"]
    assert len(grid) == 8 * 4 * 3 * 2


def test_gpu_config_command_uses_real_options():
    text = (CONFIGS / "synth_gpu.toml").read_text()
    commands = typer.main.get_command(app).commands
    used = re.findall(r"factory ([a-z-]+) (\S+)((?: --[a-z-]+ \S+)*)", text)
    assert {name for name, _, _ in used} >= {"synthesize", "difficulty"}
    assert any(name == "difficulty" and "--band" in flags for name, _, flags in used)
    for name, _, flags in used:
        known = {opt for p in commands[name].params for opt in p.opts}
        assert {f for f in shlex.split(flags) if f.startswith("--")} <= known, name
