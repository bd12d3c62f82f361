"""Shard storage: zstd Parquet in a Hive layout, written to a temp name and renamed, committed
by one line appended to `manifest.jsonl`. Readers trust only the manifest, so a crash leaves
either a whole committed chunk or nothing; a rerun skips committed chunks and overwrites any
orphan files, so no row is ever stored twice. Compaction (`compaction.py`) merges small chunk
files into large ones and records each merge as one more manifest line; the live files of a
table are the chunk files minus those a merge replaced, plus the merged files. Compactions also
write a checkpoint of that state (`checkpoint.py`), so opening a run parses only the manifest
lines after it. Every manifest line is strict UTF-8 JSON: a bad one is an error naming file:line,
except an unterminated last line (a crash mid-append), which never committed."""

from __future__ import annotations

import fcntl
import json
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from factory.atomic import atomic_write, write_text
from factory.errors import FactoryError
from factory.store import checkpoint
from schemas import now_ms

if TYPE_CHECKING:
    import pyarrow as pa

# pyarrow is imported where files are written or read with it, not here: readers that go
# through DuckDB (`factory query`) never load it.

TABLES = ("problems", "candidates", "verdicts")
MANIFEST = "manifest.jsonl"
RUN_INFO = "run.json"
SHARD_NAME = re.compile(r"^(?P<chunk>[A-Za-z0-9_.-]+)\.parquet$")
MERGED_PREFIX = "merged-"
COMPACT_THRESHOLD = 256  # chunk files in one partition before a commit merges them


def write_shard(table: pa.Table, path: Path) -> None:
    """Write atomically (`factory.atomic`: temp file in the same folder, fsync, rename)."""
    import pyarrow.parquet as pq

    with atomic_write(path) as fh:
        pq.write_table(table, fh, compression="zstd")


@dataclass
class ChunkEntry:
    chunk: str
    iteration: int
    domain: str
    files: dict[str, str]
    rows: dict[str, int]
    committed_at_ms: int


@dataclass
class MergeEntry:
    """One compaction: `file` holds exactly the rows of `replaces` (live files of one partition)."""
    table: str
    iteration: int
    domain: str
    file: str
    rows: int
    replaces: list[str]
    committed_at_ms: int
    kind: str = "merge"


@dataclass
class LiveFiles:
    """What the manifest says is readable now: per table, file → rows (in commit order), and the
    files merges replaced (deleted after the merge line is durable; a crash may leave some)."""
    tables: dict[str, dict[str, int]]
    replaced: set[str]

    def check(self, entry: MergeEntry, where: str) -> None:
        live = self.tables.get(entry.table, {})
        missing = [r for r in entry.replaces if r not in live]
        if missing or sum(live[r] for r in entry.replaces) != entry.rows:
            raise FactoryError(f"{where}: merge of {entry.file} replaces " + (f"{missing[0]}, which is not a live file"
                               if missing else "files whose row counts do not add up") + "; the manifest is damaged")

    def apply(self, entry: ChunkEntry | MergeEntry, where: str) -> None:
        if isinstance(entry, ChunkEntry):
            for table, rel in entry.files.items():
                self.tables.setdefault(table, {})[rel] = entry.rows[table]
            return
        self.check(entry, where)
        live = self.tables[entry.table]
        for rel in entry.replaces:
            del live[rel]
        self.replaced.update(entry.replaces)
        live[entry.file] = entry.rows


def _parse_entry(line: bytes) -> ChunkEntry | MergeEntry:
    data = json.loads(line.decode("utf-8"))
    if not isinstance(data, dict):
        raise TypeError("not an object")
    return MergeEntry(**data) if data.get("kind") == "merge" else ChunkEntry(**data)


def _cut_torn_tail(path: Path) -> None:
    """Truncate the file after its last newline (reads only the tail: lines are short)."""
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        start = max(0, size - (1 << 20))
        fh.seek(start)
        tail = fh.read()
        cut = tail.rfind(b"\n")
        if cut < 0 and start > 0:  # a torn line over 1 MiB: look at the whole file
            fh.seek(0)
            start, tail = 0, fh.read()
            cut = tail.rfind(b"\n")
        fh.truncate(start + cut + 1 if cut >= 0 else start)
        fh.flush()
        os.fsync(fh.fileno())


def _ends_with_newline(path: Path) -> bool:
    """Reads one byte, not the whole manifest (which grows with every commit)."""
    with open(path, "rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"


class RunStore:
    """One run directory: its shards, manifest and run metadata."""

    def __init__(self, run_dir: str | Path, run_id: str | None = None,
                 compact_threshold: int = COMPACT_THRESHOLD) -> None:
        self.run_dir = Path(run_dir)
        self.run_id = run_id or self.run_dir.name
        self.compact_threshold = compact_threshold  # 0: commits never compact
        self._chunks: dict[str, None] | None = None  # committed chunk ids, in commit order
        self._live = LiveFiles({}, set())
        self._pos = checkpoint.Position()  # how much of the manifest the state above covers
        self._checkpointed = -1  # manifest bytes the checkpoint on disk covers, when known
        self._lock_depth = 0

    # ---- manifest -------------------------------------------------------------------------
    def _state(self) -> dict[str, None]:
        """Load the manifest once: from its checkpoint if one covers a prefix, then line by line."""
        if self._chunks is None:
            self._chunks, self._live, self._pos = {}, LiveFiles({}, set()), checkpoint.Position()
            path = self.run_dir / MANIFEST
            if path.exists():
                cp = checkpoint.read(self.run_dir, path)
                if cp is not None:
                    self._chunks = dict.fromkeys(cp.chunks)
                    self._live = LiveFiles({t: dict(files) for t, files in cp.tables.items()}, set(cp.replaced))
                    self._pos = cp.position
                    self._checkpointed = cp.manifest_bytes
                for where, entry in self._read_manifest(path):
                    self._live.apply(entry, where)
                    if isinstance(entry, ChunkEntry):
                        self._chunks[entry.chunk] = None
        return self._chunks

    def live(self) -> LiveFiles:
        self._state()
        return self._live

    def _read_manifest(self, path: Path) -> Iterator[tuple[str, ChunkEntry | MergeEntry]]:
        """The complete lines after `self._pos` (advancing it). Every one must parse: a bad line
        is an error naming file:line. An unterminated last line is a crash mid-append: that chunk
        or merge never committed (the next append cuts it)."""
        with open(path, "rb") as fh:
            fh.seek(self._pos.bytes)
            data = fh.read()
        lines = data.split(b"\n")
        for raw in lines[:-1]:  # lines[-1] is b"" or the torn tail
            lineno = self._pos.lines + 1
            try:
                entry = _parse_entry(raw)
            except (ValueError, TypeError):  # bad JSON, bad UTF-8, missing or unknown fields
                raise FactoryError(f"{path}:{lineno}: not a manifest entry ({raw[:80]!r}); the manifest is damaged, "
                                   "and skipping the line would silently drop a committed chunk") from None
            self._pos.advance(raw + b"\n")
            yield f"{path}:{lineno}", entry

    def committed(self) -> set[str]:
        return set(self._state())

    def commit(self, chunk: str, iteration: int, domain: str, tables: dict[str, pa.Table]) -> ChunkEntry:
        """Write every table of a chunk, then commit it with one manifest line."""
        if chunk in self._state():
            raise FactoryError(f"chunk {chunk} is already committed in {self.run_dir}")
        files, rows = {}, {}
        for name, table in tables.items():
            rel = self.partition(name, iteration, domain) / f"{chunk}.parquet"
            write_shard(table, self.run_dir / rel)
            files[name], rows[name] = str(rel), table.num_rows
        entry = ChunkEntry(chunk, iteration, domain, files, rows, now_ms())
        self._append_manifest(entry)
        self._state()[chunk] = None
        self._live.apply(entry, str(self.run_dir / MANIFEST))
        if self.compact_threshold:
            from factory.store.compaction import compact_chunks_of

            compact_chunks_of(self, iteration, domain, self.compact_threshold)
        return entry

    def record_merge(self, entry: MergeEntry) -> None:
        """The commit point of a compaction (the caller holds the writer lock)."""
        self._state()
        self._live.check(entry, f"merge of {entry.file}")  # before it is made durable
        self._append_manifest(entry)
        self._live.apply(entry, f"merge of {entry.file}")

    def forget_replaced(self, rel: str) -> None:
        """A replaced file is deleted: the next checkpoint need not list it."""
        self._live.replaced.discard(rel)

    def write_checkpoint(self) -> bool:
        """Record the state so the next open replays only later lines (under the writer lock).
        Skipped, returning False, unless the state covers the whole manifest as it is on disk."""
        self._state()
        if not (self.run_dir / MANIFEST).exists() or self._manifest_size() != self._pos.bytes:
            return False
        if self._checkpointed != self._pos.bytes:
            checkpoint.write(self.run_dir, self._pos, list(self._chunks or ()), self._live.tables,
                             self._live.replaced)
            self._checkpointed = self._pos.bytes
        return True

    def _append_manifest(self, entry: ChunkEntry | MergeEntry) -> None:
        self._state()
        path = self.run_dir / MANIFEST
        line = (json.dumps(entry.__dict__, sort_keys=True) + "\n").encode("utf-8")
        # Cut a torn last line (a crash mid-append: never committed) before appending, or the
        # next line would be glued onto it.
        if path.exists() and path.stat().st_size and not _ends_with_newline(path):
            _cut_torn_tail(path)
        with open(path, "ab") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())
        self._pos.advance(line)

    def _manifest_size(self) -> int:
        try:
            return (self.run_dir / MANIFEST).stat().st_size
        except FileNotFoundError:
            return 0

    def partition(self, table: str, iteration: int, domain: str) -> Path:
        return Path(table) / f"run={self.run_id}" / f"iteration={iteration}" / f"domain={domain}"

    # ---- run metadata ---------------------------------------------------------------------
    def open_run(self, info: dict[str, Any]) -> None:
        """Create the run, or resume it if the same config made it; refuse a different one.
        Files a crash left are removed: temp files and unrecorded merges (never committed),
        files a recorded merge replaced (their rows live in the merged file)."""
        from factory.store.compaction import clean_leftovers

        self.run_dir.mkdir(parents=True, exist_ok=True)
        clean_leftovers(self)
        (self.run_dir / MANIFEST).touch()
        path = self.run_dir / RUN_INFO
        if path.exists():
            old = json.loads(path.read_text())
            if old.get("config_hash") != info.get("config_hash"):
                raise FactoryError(f"run {self.run_id} in {self.run_dir} was made with a different config "
                                   "(its outputs would mix); choose a new run_id or delete the run dir")
            return
        write_text(path, json.dumps(info, indent=2, sort_keys=True))

    @property
    def holds_lock(self) -> bool:
        return self._lock_depth > 0

    @contextmanager
    def writer_lock(self) -> Iterator[None]:
        """One writer per run directory at a time: a second `factory run` of the same run id
        is refused (two writers would both commit the same chunks). Re-entrant on this object,
        so a commit or compaction inside a run reuses the run's lock."""
        if self._lock_depth:
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        path = self.run_dir / ".lock"
        with open(path, "a+") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.seek(0)
                holder = fh.read().strip() or "?"
                raise FactoryError(f"run {self.run_id} in {self.run_dir} is being written by another process "
                                   f"(pid {holder}); wait for it to finish or choose another run_id") from None
            fh.seek(0)
            fh.truncate()
            fh.write(str(os.getpid()))
            fh.flush()
            self._lock_depth = 1
            if self._chunks is not None and self._manifest_size() != self._pos.bytes:
                self._chunks = None  # another writer committed since this state was read: reread
            try:
                yield
            finally:
                self._lock_depth = 0
                fcntl.flock(fh, fcntl.LOCK_UN)

    def info(self) -> dict[str, Any]:
        path = self.run_dir / RUN_INFO
        return json.loads(path.read_text()) if path.exists() else {}

    # ---- reading --------------------------------------------------------------------------
    def committed_files(self, table: str) -> list[Path]:
        """The files that hold the table's committed rows, each row in exactly one of them."""
        return [self.run_dir / rel for rel in self.live().tables.get(table, {})]

    def validate(self) -> None:
        """Name any corrupt, foreign or incompatible Parquet file in the run dir."""
        self.check_listing()
        self.check_footers()

    def check_listing(self) -> None:
        """Name any Parquet file in the run dir that the manifest does not account for."""
        if not (self.run_dir / MANIFEST).exists():
            raise FactoryError(f"{self.run_dir}: not a factory run (no {MANIFEST})")
        live = self.live()
        known = {rel for files in live.tables.values() for rel in files} | live.replaced
        for table in TABLES:
            for path in sorted((self.run_dir / table).rglob("*.parquet")):
                if path.name.startswith(".tmp-") or path.relative_to(self.run_dir).as_posix() in known:
                    continue  # a write a crash interrupted (removed on resume), or a manifest file
                if path.name.startswith(MERGED_PREFIX):
                    continue  # a merge a crash left unrecorded: never committed, removed on resume
                if SHARD_NAME.match(path.name) and path.name.startswith("it"):
                    continue  # an orphan of a crashed chunk: ignored, overwritten on resume
                raise FactoryError(f"{path}: foreign Parquet file in run dir (not in {MANIFEST})")

    def check_footers(self) -> None:
        """Read every live file's footer: name a corrupt one or one of an incompatible schema."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        from schemas import SchemaError, check_file_schema

        for table in TABLES:
            for path in self.committed_files(table):
                try:
                    schema = pq.read_schema(path)
                except (OSError, pa.ArrowException) as exc:
                    raise FactoryError(f"{path}: corrupt or unreadable shard ({exc})") from None
                try:
                    check_file_schema(schema, str(path), table)
                except SchemaError as exc:
                    raise FactoryError(str(exc)) from None

    def read(self, table: str) -> pa.Table:
        import pyarrow as pa
        import pyarrow.parquet as pq

        from schemas import SCHEMAS

        files = self.committed_files(table)
        if not files:
            return SCHEMAS[table].empty_table()
        return pa.concat_tables([pq.read_table(p, schema=SCHEMAS[table]) for p in files])
