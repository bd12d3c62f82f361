"""The reasoning-data factory: sources, generation, storage, queries and the CLI."""

__version__ = "0.1.0"
