"""Compaction: a partition's small files merged into large ones, with the manifest as the commit
point. The steps, and what a crash after each leaves:

1. the merged file is written to a temp name, fsynced, renamed to `merged-*.parquet` and its
   folder fsynced: no manifest line names it, so readers ignore it and the next clean-up
   (`open_run`, `compact`) removes it;
2. one manifest line records the merged file and the files it replaces: from here readers list
   the merged file instead of them;
3. the replaced files are deleted: a crash first leaves them on disk, unread, for the clean-up;
4. the manifest checkpoint is rewritten (`checkpoint.py`): a crash first leaves the previous one,
   which still covers a prefix of the manifest, so opening only replays more lines.

After any of these every row is read exactly once. Chunks stay committed, so resume is unchanged.
Every step runs under the run's writer lock."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from typing import TYPE_CHECKING

from factory.errors import FactoryError
from factory.atomic import TMP_PREFIX, atomic_write
from factory.store.checkpoint import CHECKPOINT
from factory.store.shards import MERGED_PREFIX, TABLES, MergeEntry, RunStore
from schemas import now_ms

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.parquet as pq

TARGET_BYTES = 256 << 20  # a merged file grows to about this (zstd bytes on disk)
ROW_GROUP_ROWS = 122_880  # DuckDB's own row group size: one scan thread per group


@dataclass
class CompactReport:
    merges: int = 0
    files_replaced: int = 0
    rows: int = 0
    leftovers_removed: int = 0


def compact(store: RunStore, target_bytes: int = TARGET_BYTES) -> CompactReport:
    """Merge every partition's files smaller than half the target into files of about the target."""
    report = CompactReport()
    with store.writer_lock():
        report.leftovers_removed = clean_leftovers(store)
        for table in TABLES:
            for folder, rels in _partitions(store, table).items():
                for group in _plan(store.run_dir, rels, target_bytes):
                    _merge(store, table, folder, group, report)
        store.write_checkpoint()  # the next open replays only what is committed after this
    return report


def compact_chunks_of(store: RunStore, iteration: int, domain: str, threshold: int) -> None:
    """After a commit: once a partition holds `threshold` chunk files, merge them into one
    (merged files are left alone here, so a long run rewrites each row at most twice)."""
    for table in TABLES:
        folder = store.partition(table, iteration, domain).as_posix()
        chunks = [r for r in _partitions(store, table).get(folder, [])
                  if not PurePosixPath(r).name.startswith(MERGED_PREFIX)]
        if len(chunks) >= threshold:
            with store.writer_lock():
                _merge(store, table, folder, chunks, CompactReport())
                store.write_checkpoint()


def clean_leftovers(store: RunStore) -> int:
    """Remove what a crash left: temp files, merged files no manifest line records, files a
    recorded merge replaced. Under the writer lock: another writer's temp files are its own."""
    removed = 0
    with store.writer_lock():
        live = store.live()
        for rel in sorted(live.replaced):
            removed += _unlink(store.run_dir / rel)
            store.forget_replaced(rel)
        for path in store.run_dir.glob(f"{TMP_PREFIX}*-{CHECKPOINT}"):
            removed += _unlink(path)
        known = {rel for files in live.tables.values() for rel in files}
        for table in TABLES:
            for path in sorted((store.run_dir / table).rglob("*.parquet")):
                name, rel = path.name, path.relative_to(store.run_dir).as_posix()
                if name.startswith(TMP_PREFIX) or (name.startswith(MERGED_PREFIX) and rel not in known):
                    removed += _unlink(path)
    return removed


def _partitions(store: RunStore, table: str) -> dict[str, list[str]]:
    """Live files of a table by folder (one partition each), in commit order."""
    out: dict[str, list[str]] = {}
    for rel in store.live().tables.get(table, {}):
        out.setdefault(PurePosixPath(rel).parent.as_posix(), []).append(rel)
    return out


def _plan(run_dir: Path, rels: list[str], target_bytes: int) -> list[list[str]]:
    """Consecutive groups of small files, each up to about the target; single files stay."""
    groups: list[list[str]] = [[]]
    size = 0
    for rel in rels:
        nbytes = (run_dir / rel).stat().st_size
        if nbytes >= target_bytes // 2:
            continue  # already large
        if size and size + nbytes > target_bytes:
            groups.append([])
            size = 0
        groups[-1].append(rel)
        size += nbytes
    return [g for g in groups if len(g) > 1]


def _merge(store: RunStore, table: str, folder: str, group: list[str], report: CompactReport) -> None:
    rel = f"{folder}/{MERGED_PREFIX}{uuid.uuid4().hex[:16]}.parquet"
    path = store.run_dir / rel
    expected = sum(store.live().tables[table][r] for r in group)
    rows = write_merged([store.run_dir / r for r in group], table, path)  # step 1
    if rows != expected:
        _unlink(path)
        raise FactoryError(f"{path.parent}: merging {len(group)} files gave {rows} rows, the manifest "
                           f"records {expected}; nothing was replaced")
    iteration, domain = _partition_keys(folder)
    store.record_merge(MergeEntry(table, iteration, domain, rel, rows, list(group), now_ms()))  # step 2
    for old in group:  # step 3
        _unlink(store.run_dir / old)
        store.forget_replaced(old)
    report.merges += 1
    report.files_replaced += len(group)
    report.rows += rows


def write_merged(sources: list[Path], table: str, path: Path) -> int:
    """Stream the sources into one zstd Parquet file (temp name, fsync, rename, fsync folder);
    row groups are refilled to ROW_GROUP_ROWS, since small chunks make tiny ones. Returns rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from schemas import SCHEMAS

    schema = SCHEMAS[table]
    rows, pending, npending = 0, [], 0
    with atomic_write(path) as fh:  # fsyncs the folder: the rename is durable before the manifest line
        with pq.ParquetWriter(fh, schema, compression="zstd") as writer:
            for src in sources:
                part = _read(src, table)
                rows, npending = rows + part.num_rows, npending + part.num_rows
                pending.append(part)
                if npending >= ROW_GROUP_ROWS:
                    rest = _write_groups(writer, pa.concat_tables(pending))
                    pending, npending = [rest], rest.num_rows
            if npending:
                writer.write_table(pa.concat_tables(pending), row_group_size=ROW_GROUP_ROWS)
    return rows


def _write_groups(writer: pq.ParquetWriter, table: pa.Table) -> pa.Table:
    """Write whole row groups; return the remainder."""
    whole = table.num_rows - table.num_rows % ROW_GROUP_ROWS
    writer.write_table(table.slice(0, whole), row_group_size=ROW_GROUP_ROWS)
    return table.slice(whole)


def _read(path: Path, table: str) -> pa.Table:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from schemas import SCHEMAS

    schema = SCHEMAS[table]
    try:
        part = pq.ParquetFile(path).read()  # twice as fast as read_table's dataset path
        return part if part.schema.equals(schema) else pq.read_table(path, schema=schema)
    except (OSError, pa.ArrowException) as exc:
        raise FactoryError(f"{path}: corrupt or unreadable shard, not merged ({exc})") from None


def _partition_keys(folder: str) -> tuple[int, str]:
    keys = dict(part.split("=", 1) for part in PurePosixPath(folder).parts if "=" in part)
    return int(keys["iteration"]), keys["domain"]


def _unlink(path: Path) -> int:
    try:
        path.unlink()
        return 1
    except FileNotFoundError:
        return 0
