"""Training exports of a selection: chat `messages` Parquet for SFT (TRL's SFTTrainer and
`datasets.load_dataset("parquet", ...)` read it as is) and verl's RL layout (`prompt` as chat
messages, `reward_model.ground_truth`, `data_source`), versioned in schemas/exports.py. The user turn is always the problem's own
prompt: a rationalization hint never reaches an exported row."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from factory import atomic
from schemas.exports import EXPORTS, MESSAGE, export_table  # noqa: F401  (MESSAGE: pipelines.difficulty)

# The layouts live in schemas/exports.py, versioned (kept here as names for older imports).
SFT_SCHEMA, VERL_SCHEMA = EXPORTS["sft"][1], EXPORTS["verl"][1]


def _prompt(system_prompt: str, user: str) -> list[dict]:
    return ([{"role": "system", "content": system_prompt}] if system_prompt else []) + [{"role": "user", "content": user}]


def write_exports(rows: list[dict], problems: list[dict], out_dir: Path, system_prompt: str) -> dict[str, str]:
    """`rows`: selected candidates (with prompt, text); `problems`: every training problem (for RL)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    sft = [{"messages": _prompt(system_prompt, r["prompt"]) + [{"role": "assistant", "content": r["text"]}],
            "problem_id": r["problem_id"], "candidate_id": r["candidate_id"], "hinted": bool(r["hinted"]),
            "domain": r["domain"]} for r in rows]
    verl = [{"data_source": p["source"], "prompt": _prompt(system_prompt, p["prompt"]), "ability": p["domain"],
             "reward_model": {"style": "rule", "ground_truth": p["reference"]},
             "extra_info": {"problem_id": p["problem_id"], "index": i}} for i, p in enumerate(problems)]
    paths = {"sft": out_dir / "sft.parquet", "verl": out_dir / "verl.parquet"}
    for key, data in (("sft", sft), ("verl", verl)):
        with atomic.atomic_write(paths[key]) as fh:  # a crash leaves the old export or the new one, never half
            pq.write_table(export_table(key, data), fh)
    return {k: str(v) for k, v in paths.items()}
