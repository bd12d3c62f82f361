"""What every Typer command module shares: the consoles, the one-line error decorator and the
table helper. Its own module so `cluster/cli.py` can use them without importing `factory.cli`
(which imports it to register its commands)."""

from __future__ import annotations

import functools
from typing import Any, Callable

import typer
from rich.console import Console
from rich.table import Table

from factory.errors import FactoryError

out = Console()
err = Console(stderr=True)


def clean_errors(fn: Callable) -> Callable:
    """FactoryError → `error: <message>` on stderr and exit code 1, no traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except FactoryError as exc:
            err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper


# `factory run`'s override options: flag → config key. `factory submit` passes the same ones on.
RUN_OVERRIDES = {"--run-id": "run.run_id", "--output-dir": "run.output_dir", "--backend": "generation.backend",
                 "--model": "generation.model", "--executor": "run.executor"}


def run_overrides(values: dict[str, str | None]) -> dict[str, str]:
    """{flag: value} → {config key: value} for the options that were given."""
    return {RUN_OVERRIDES[flag]: value for flag, value in values.items() if value}


def table(title: str, columns: list[str], rows: list[tuple]) -> Table:
    result = Table(title=title, title_justify="left")
    for c in columns:
        result.add_column(c)
    for row in rows:
        result.add_row(*("" if v is None else f"{v:.4g}" if isinstance(v, float) else str(v) for v in row))
    return result
