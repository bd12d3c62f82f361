"""Parquet shard storage with a commit manifest, and compaction of small shards."""

from factory.store.compaction import CompactReport, clean_leftovers, compact
from factory.store.shards import MANIFEST, TABLES, ChunkEntry, MergeEntry, RunStore, write_shard

__all__ = ["MANIFEST", "TABLES", "ChunkEntry", "CompactReport", "MergeEntry", "RunStore", "clean_leftovers",
           "compact", "write_shard"]
