"""Training exports of a selection: chat `messages` Parquet for SFT (TRL's SFTTrainer and
`datasets.load_dataset("parquet", ...)` read it as is) and verl's RL layout (`prompt` as chat
messages, `reward_model.ground_truth`, `data_source`). The user turn is always the problem's own
prompt: a rationalization hint never reaches an exported row."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])
SFT_SCHEMA = pa.schema([("messages", pa.list_(MESSAGE)), ("problem_id", pa.string()),
                        ("candidate_id", pa.string()), ("hinted", pa.bool_()), ("domain", pa.string())])
VERL_SCHEMA = pa.schema([
    ("data_source", pa.string()), ("prompt", pa.list_(MESSAGE)), ("ability", pa.string()),
    ("reward_model", pa.struct([("style", pa.string()), ("ground_truth", pa.string())])),
    ("extra_info", pa.struct([("problem_id", pa.string()), ("index", pa.int64())])),
])


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
    for key, data, schema in (("sft", sft, SFT_SCHEMA), ("verl", verl, VERL_SCHEMA)):
        tmp = paths[key].with_suffix(".tmp")
        pq.write_table(pa.Table.from_pylist(data, schema=schema), tmp)
        tmp.replace(paths[key])  # a crash leaves the old export or the new one, never half
    return {k: str(v) for k, v in paths.items()}
