"""Parquet shard storage with a commit manifest."""

from factory.store.shards import MANIFEST, TABLES, ChunkEntry, RunStore, write_shard

__all__ = ["MANIFEST", "TABLES", "ChunkEntry", "RunStore", "write_shard"]
