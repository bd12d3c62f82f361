"""The STaR loop's built-in reference trainer: supervised fine-tuning on an exported `messages`
dataset (the same rows TRL's SFTTrainer takes), loss on the assistant turn only. It runs on the CPU for the embedded
135M model; on a cluster, plug in any trainer through `star.train_command` instead.

    python -m factory.train --data EXPORT_DIR --model MODEL_DIR --output OUT_DIR

It runs as its own process (the loop starts it like any external trainer), so the trainer's
memory and threads never mix with a generation engine's."""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from factory.errors import FactoryError, require
from factory.progress import Progress


@dataclass
class TrainSettings:
    epochs: float = 2.0
    learning_rate: float = 2e-5
    batch_size: int = 8
    grad_accum: int = 1
    max_length: int = 512
    warmup_ratio: float = 0.1
    seed: int = 0


def prompt_completion(messages: list[dict]) -> dict:
    """TRL computes the loss on `completion` only: split the conversation before the last turn."""
    if not messages or messages[-1]["role"] != "assistant":
        raise FactoryError("an SFT row must end with an assistant message")
    return {"prompt": messages[:-1], "completion": messages[-1:]}


def load_rows(data_dir: Path) -> list[list[dict]]:
    import datasets
    files = sorted(str(p) for p in Path(data_dir).glob("sft*.parquet"))
    if not files:
        raise FactoryError(f"no sft*.parquet files under {data_dir}")
    import pyarrow.parquet as pq

    from schemas.exports import ExportSchemaError, check_export

    for f in files:
        try:
            check_export(pq.read_schema(f), "sft", f)
        except ExportSchemaError as exc:
            raise FactoryError(str(exc)) from None
    table = datasets.load_dataset("parquet", data_files=files, split="train")
    return [list(row["messages"]) for row in table]


def encode(tokenizer, messages: list[dict], max_length: int) -> tuple[list[int], list[int]]:
    """Token ids and labels; the prompt part is masked (-100) so the loss is on the answer only."""
    split = prompt_completion(messages)
    prompt_ids = tokenizer.apply_chat_template(split["prompt"], add_generation_prompt=True, tokenize=True)
    full_ids = tokenizer.apply_chat_template(messages, tokenize=True)
    prompt_ids, full_ids = _ids(prompt_ids), _ids(full_ids)
    if full_ids[:len(prompt_ids)] != prompt_ids:
        raise FactoryError("the chat template does not render the prompt as a prefix of the conversation")
    labels = [-100] * len(prompt_ids) + full_ids[len(prompt_ids):]
    return full_ids[:max_length], labels[:max_length]


def _ids(encoded) -> list[int]:
    return list(encoded["input_ids"] if hasattr(encoded, "keys") else encoded)


def train(data_dir: Path, model_path: str, output: Path, settings: TrainSettings) -> dict:
    """Fine-tune `model_path` on the export and save model + tokenizer to `output`.

    A plain torch loop, not TRL's SFTTrainer: on this 2-core CPU the SFTTrainer took ~130 s per
    step of 8 short rows where the same forward/backward/AdamW step takes ~8 s by hand."""
    torch = require("torch", "pip install -e '.[cpu]'")
    transformers = require("transformers", "pip install -e '.[cpu]'")
    rows = load_rows(data_dir)
    if not rows:
        raise FactoryError(f"{data_dir}: the export has no rows to train on")
    torch.manual_seed(settings.seed)
    tokenizer = transformers.AutoTokenizer.from_pretrained(model_path)
    model = transformers.AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32)
    examples = [encode(tokenizer, m, settings.max_length) for m in rows]
    order = torch.Generator().manual_seed(settings.seed)
    batches_per_epoch = -(-len(examples) // settings.batch_size)
    steps = max(1, round(settings.epochs * batches_per_epoch / settings.grad_accum))
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=0.0)
    schedule = transformers.get_cosine_schedule_with_warmup(optimizer, round(settings.warmup_ratio * steps), steps)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    model.train()
    losses, start, batch_iter = [], time.perf_counter(), _batches(examples, settings.batch_size, order, torch)
    progress = Progress("train", unit="steps", log=lambda line: print(line, file=sys.stderr, flush=True))
    progress.start(steps, f"{len(rows)} examples, batch {settings.batch_size} x {settings.grad_accum}")
    for _ in range(steps):
        tokens = 0
        for _ in range(settings.grad_accum):
            ids, labels, mask = _collate(next(batch_iter), pad, torch)
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss / settings.grad_accum
            loss.backward()
            tokens += int(mask.sum())
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        losses.append(round(loss.item() * settings.grad_accum, 4))
        progress.advance(1, tokens=tokens)  # steps/s, tokens/s and ETA, at most every 5 s
    model.save_pretrained(str(output))
    tokenizer.save_pretrained(str(output))
    summary = {"examples": len(rows), "steps": steps, "train_s": round(time.perf_counter() - start, 1),
               "first_loss": losses[0], "final_loss": losses[-1], "losses": losses,
               "settings": asdict(settings), "base_model": model_path}
    (output / "train_summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def _batches(examples: list, size: int, generator, torch):
    while True:  # endless reshuffled epochs; the step count decides where training stops
        perm = torch.randperm(len(examples), generator=generator).tolist()
        for i in range(0, len(perm), size):
            yield [examples[j] for j in perm[i:i + size]]


def _collate(batch: list, pad: int, torch):
    width = max(len(ids) for ids, _ in batch)
    ids = torch.full((len(batch), width), pad, dtype=torch.long)
    labels = torch.full((len(batch), width), -100, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, (tokens, targets) in enumerate(batch):
        ids[row, :len(tokens)] = torch.tensor(tokens)
        labels[row, :len(targets)] = torch.tensor(targets)
        mask[row, :len(tokens)] = 1
    return ids, labels, mask


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, type=Path, help="export dir holding sft*.parquet")
    parser.add_argument("--model", required=True, help="model folder to start from")
    parser.add_argument("--output", required=True, type=Path, help="folder for the fine-tuned model")
    for name, value in asdict(TrainSettings()).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    ns = parser.parse_args(argv)
    settings = TrainSettings(**{k: getattr(ns, k) for k in asdict(TrainSettings())})
    try:
        summary = train(ns.data, ns.model, ns.output, settings)
    except FactoryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
