"""Step labels → TRL's stepwise-supervision format (what `trl.PRMTrainer` trains on):

    {"prompt": str, "completions": [step text, ...], "labels": [bool, ...]}

one row per labelled candidate, steps in order. TRL appends its `step_separator` ("\\n" by
default) to every step itself and puts each step's label on that separator's token, so step
texts are stored without their trailing whitespace. The prompt is the problem's own prompt.
`candidate_id`, `problem_id` and the soft `mc_values` ride along (TRL drops unknown columns)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from factory import atomic
from factory.errors import FactoryError
from factory.store import RunStore

STEPS_SQL = """
SELECT p.prompt, st.candidate_id, st.problem_id,
       list(rtrim(st.step_text, chr(32) || chr(9) || chr(10) || chr(13)) ORDER BY st.step_idx) AS completions,
       list(st.label ORDER BY st.step_idx) AS labels,
       list(st.mc_value ORDER BY st.step_idx) AS mc_values
FROM steps st JOIN (SELECT problem_id, any_value(prompt) AS prompt FROM problems GROUP BY problem_id) p
     ON st.problem_id = p.problem_id
WHERE st.labeler = ? {where}
GROUP BY p.prompt, st.candidate_id, st.problem_id
ORDER BY st.problem_id, st.candidate_id
"""


def connect_with_steps(run_dir: str | Path) -> Any:
    """The run's DuckDB views plus `steps` (its committed step-label files)."""
    from factory.query import connect

    if not RunStore(run_dir).committed_files("steps"):
        raise FactoryError(f"{run_dir}: no step labels yet (run `factory label-steps {run_dir}` first)")
    return connect(run_dir)  # its `steps` view: the same one factory query reads


def labelers(run_dir: str | Path) -> list[str]:
    con = connect_with_steps(run_dir)
    return [r[0] for r in con.execute("SELECT DISTINCT labeler FROM steps ORDER BY 1").fetchall()]


def export_prm(run_dir: str | Path, out: str | Path, labeler: str | None = None,
               iteration: int | None = None) -> int:
    """Write the PRM dataset as Parquet; returns its row count."""
    import pyarrow.parquet as pq

    from schemas.exports import export_table

    con = connect_with_steps(run_dir)
    known = [r[0] for r in con.execute("SELECT DISTINCT labeler FROM steps ORDER BY 1").fetchall()]
    if labeler is None:
        if len(known) > 1:
            raise FactoryError(f"several step labelers in {run_dir} ({', '.join(known)}); pick one with --labeler")
        labeler = known[0]
    if labeler not in known:
        raise FactoryError(f"no steps labelled by {labeler!r} in {run_dir} (have: {', '.join(known)})")
    where = f"AND st.iteration = {int(iteration)}" if iteration is not None else ""
    table = export_table("prm", con.sql(STEPS_SQL.format(where=where), params=[labeler]).to_arrow_table())
    with atomic.atomic_write(out) as fh:  # versioned layout: schemas/exports.py
        pq.write_table(table, fh)
    return table.num_rows
