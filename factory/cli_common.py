"""What every Typer command module shares: the consoles, the one-line error decorator and the
table helper. Its own module so `cluster/cli.py` can use them without importing `factory.cli`
(which imports it to register its commands)."""

from __future__ import annotations

import functools
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import typer
from rich.console import Console
from rich.table import Table

from factory.config import RUN_OVERRIDES, run_overrides  # noqa: F401  (the CLI's flags; cluster.jobs reads them too)
from factory.errors import FactoryError

out = Console()
err = Console(stderr=True)


def clean_errors(fn: Callable) -> Callable:
    """FactoryError → `error: <message>` on stderr and exit code 1; an OSError (disk full, a
    read-only output dir) → the same one line naming the file; Ctrl-C → one line and exit 130.
    No traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except FactoryError as exc:
            err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        except OSError as exc:
            err.print(f"[bold red]error:[/] {os_error_line(exc)}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            err.print("interrupted: committed work is kept; rerun the same command to resume", highlight=False)
            raise typer.Exit(130) from None

    return wrapper


def os_error_line(exc: OSError) -> str:
    """`[Errno 28] No space left on device: 'runs/x/...'` → 'runs/x/...: No space left on device'."""
    where = f"{exc.filename}: " if exc.filename else ""
    return f"{where}{exc.strerror or exc}"


@contextmanager
def interrupted_says(run_dir: Path, resume: str) -> Iterator[None]:
    """On Ctrl-C: what the run has committed and the command that resumes it, then exit 130."""
    try:
        yield
    except KeyboardInterrupt:
        from factory.store import MANIFEST, RunStore

        store = RunStore(run_dir)
        if (run_dir / MANIFEST).exists():
            rows = {t: sum(files.values()) for t, files in store.live().tables.items()}
            held = (f"{len(store.committed())} chunks committed ({rows.get('problems', 0)} problems, "
                    f"{rows.get('candidates', 0)} candidates) in {run_dir}")
        else:
            held = f"nothing committed yet in {run_dir}"
        err.print(f"interrupted: {held}; resume with: {resume}", highlight=False, soft_wrap=True)
        raise typer.Exit(130) from None


def table(title: str, columns: list[str], rows: list[tuple]) -> Table:
    result = Table(title=title, title_justify="left")
    for c in columns:
        result.add_column(c)
    for row in rows:
        result.add_row(*("" if v is None else f"{v:.4g}" if isinstance(v, float) else str(v) for v in row))
    return result
