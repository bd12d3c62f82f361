"""Problems from JSONL, Parquet and Hugging Face `datasets` (local files or a saved dataset)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from factory.errors import FactoryError, require
from factory.sources.base import SOURCES, Source
from schemas import DOMAINS, Problem

PROMPT_FIELDS = ("prompt", "problem", "question")
ANSWER_FIELDS = ("reference", "answer", "solution")


@dataclass
class FileOptions:
    path: str
    domain: str = "math"
    prompt_field: str | None = None
    answer_field: str | None = None
    tests_field: str | None = None
    answer_after: str | None = None  # e.g. "####" for GSM8K-style solutions
    limit: int | None = None


def _pick(row: dict[str, Any], explicit: str | None, fallbacks: tuple[str, ...], where: str, what: str) -> Any:
    names = (explicit,) if explicit else fallbacks
    for name in names:
        if name in row and row[name] is not None:
            return row[name]
    raise FactoryError(f"{where}: no {what} field (looked for {', '.join(names)})")


def rows_to_problems(rows: Iterable[tuple[str, Any]], opts: FileOptions, source: str) -> Iterator[Problem]:
    """Map (location, row) pairs to Problems, naming the record on any error."""
    if opts.domain not in DOMAINS:
        raise FactoryError(f"{source}: unknown domain {opts.domain!r}")
    for count, (where, row) in enumerate(rows):
        if opts.limit is not None and count >= opts.limit:
            return
        if not isinstance(row, dict):
            raise FactoryError(f"{where}: expected an object, got {type(row).__name__}")
        prompt = _pick(row, opts.prompt_field, PROMPT_FIELDS, where, "prompt")
        answer = str(_pick(row, opts.answer_field, ANSWER_FIELDS, where, "answer"))
        if opts.answer_after and opts.answer_after in answer:
            answer = answer.rsplit(opts.answer_after, 1)[1].strip()
        tests = row.get(opts.tests_field) if opts.tests_field else None
        if not isinstance(prompt, str) or not prompt.strip():
            raise FactoryError(f"{where}: prompt must be a non-empty string")
        extra = {k: v for k, v in row.items() if isinstance(v, (str, int, float, bool)) and len(str(v)) < 200}
        yield Problem(domain=opts.domain, prompt=prompt, reference=answer, source=source,
                      tests=json.dumps(tests) if tests is not None and not isinstance(tests, str) else tests,
                      metadata=json.dumps({"origin": where, **extra}, sort_keys=True, default=str))


def _resolve(path: str, base_dir: str) -> Path:
    p = Path(path)
    if not p.is_absolute():
        p = Path(base_dir) / p
    if not p.exists():
        raise FactoryError(f"problem file not found: {p}")
    return p


def _jsonl_rows(path: Path) -> Iterator[tuple[str, Any]]:
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:  # never replaced silently: the text would change
                raise FactoryError(f"{path}:{lineno}: not UTF-8 (byte {exc.start + 1} of the line: "
                                   f"{raw[exc.start:exc.start + 1]!r})") from None
            if not line.strip():
                continue
            try:
                yield f"{path}:{lineno}", json.loads(line)
            except json.JSONDecodeError as exc:
                raise FactoryError(f"{path}:{lineno}: invalid JSON ({exc.msg})") from None


@SOURCES.register("jsonl")
class JsonlSource(Source):
    """One problem per JSON line; fields prompt/problem/question and reference/answer/solution."""

    Options = FileOptions
    description = "problems from a JSONL file"

    def problems(self) -> Iterator[Problem]:
        path = _resolve(self.options.path, self.base_dir)
        yield from rows_to_problems(_jsonl_rows(path), self.options, "jsonl")


@SOURCES.register("parquet")
class ParquetSource(Source):
    """Problems from a Parquet file or a folder of Parquet files."""

    Options = FileOptions
    description = "problems from Parquet file(s)"

    def problems(self) -> Iterator[Problem]:
        import pyarrow.dataset as ds

        path = _resolve(self.options.path, self.base_dir)
        try:
            table = ds.dataset(str(path), format="parquet").to_table()
        except Exception as exc:  # pyarrow raises several types for corrupt files
            raise FactoryError(f"{path}: cannot read as Parquet ({exc})") from None
        rows = ((f"{path}#row{i}", row) for i, row in enumerate(table.to_pylist()))
        yield from rows_to_problems(rows, self.options, "parquet")


@dataclass
class HFOptions(FileOptions):
    split: str = "train"
    name: str | None = None
    builder: str | None = None  # "json"/"parquet"/"csv" to load data files with that builder


@SOURCES.register("hf_datasets")
class HFDatasetSource(Source):
    """A Hugging Face dataset from local files or a `save_to_disk` folder; never downloads."""

    Options = HFOptions
    description = "Hugging Face datasets (local files or a saved dataset; offline)"

    def problems(self) -> Iterator[Problem]:
        datasets = require("datasets", "cpu")
        opts = self.options
        path = _resolve(opts.path, self.base_dir)
        try:
            if (path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists():
                data = datasets.load_from_disk(str(path))
                if isinstance(data, datasets.DatasetDict):
                    data = data[opts.split]
            else:
                builder = opts.builder or str(path)
                files = str(path) if opts.builder else None
                data = datasets.load_dataset(builder, opts.name, data_files=files, split=opts.split)
        except (FileNotFoundError, ValueError, KeyError) as exc:
            raise FactoryError(f"{path}: cannot load dataset ({exc})") from None
        rows = ((f"{path}[{opts.split}][{i}]", row) for i, row in enumerate(data))
        yield from rows_to_problems(rows, opts, "hf_datasets")
