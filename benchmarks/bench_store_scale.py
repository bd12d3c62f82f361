"""The store at scale: summary queries through `factory.query.connect` vs plain DuckDB over one
consolidated file per table holding the same rows, in the same run.

Writes --rows candidates (with their verdicts and problems; chain-of-thought texts of realistic,
log-normal lengths; 3 iterations x 2 domains) through `RunStore.commit` with the default chunk
size (16 problems x n samples per chunk), as a run does: commits merge chunk files at the
threshold and the run compacts at its end. Then copies each table into one Parquet file with
DuckDB. Each query runs in a fresh subprocess per side and repeat (sides alternate), so its
time includes opening the store and its peak RSS (VmHWM) is its own. Medians are reported.
Target: factory/plain within 2x in time and in memory.

    .venv/bin/python benchmarks/bench_store_scale.py [--rows 1000000] [--repeats 5] [--dir DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DOMAINS = ("math", "code")
ITERATIONS = 3
REASONS = [("correct", 0.35), ("wrong_answer", 0.4), ("no_answer", 0.15), ("timeout", 0.05), ("crash", 0.05)]
WORDS = ("the answer is we add then so compute step first next total sum equals let x be since hence "
         "therefore note that substitute into both sides factor gives def return for in range if else").split()

QUERIES = {
    "pass rate by iteration/domain": "SELECT iteration, domain, count(*) AS n, avg(passed::INT) AS pass_rate "
                                     "FROM verdicts GROUP BY ALL ORDER BY ALL",
    "count by reason": "SELECT reason, count(*) AS n FROM verdicts GROUP BY ALL ORDER BY ALL",
    "samples join": "SELECT domain, iteration, count(DISTINCT problem_id) AS problems, avg(passed::INT) AS pass_rate, "
                    "sum(completion_tokens) AS tokens, avg(length(text)) AS chars FROM samples GROUP BY ALL ORDER BY ALL",
    "pruned: one partition": "SELECT count(*), avg(completion_tokens) FROM candidates "
                             "WHERE iteration = 2 AND domain = 'code'",
    "factory summary": None,  # factory.query.SUMMARY_SQL, filled in main
}


# ---- writing ---------------------------------------------------------------------------------
def corpus(rng: random.Random, chars: int) -> str:
    words = []
    while sum(map(len, words)) + len(words) < chars:
        words.extend(rng.choices(WORDS, k=1000))
    return " ".join(words)


def chunk_tables(c: int, it: int, domain: str, first: int, count: int, n: int, text: str, rng: random.Random) -> dict:
    import pyarrow as pa

    from schemas import SCHEMAS, candidate_id_for, problem_id_for

    probs = {name: [] for name in SCHEMAS["problems"].names}
    cands = {name: [] for name in SCHEMAS["candidates"].names}
    verds = {name: [] for name in SCHEMAS["verdicts"].names}
    for p in range(first, first + count):
        prompt = f"Problem {p} ({domain}): " + text[p % 10_000: p % 10_000 + rng.randint(100, 400)]
        pid = problem_id_for(domain, prompt, str(p), None)
        for k, v in zip(probs, (domain, prompt, str(p), "bench", None, "{}", pid)):
            probs[k].append(v)
        for s in range(n):
            cid = candidate_id_for("bench", it, pid, s)
            length = min(8000, int(rng.lognormvariate(7.2, 0.6)))  # median ~1,300 chars
            start = rng.randrange(len(text) - length)
            body = text[start:start + length] + f" \\boxed{{{rng.randint(0, 99)}}}"
            row = (cid, pid, "bench", it, s, domain, "m", "vllm", prompt, body, "stop", 120,
                   length // 4, 12.5, 0.7, 0.95, 2048, p * 100 + s, False, 0)
            for k, v in zip(cands, row):
                cands[k].append(v)
            reason = rng.choices([r for r, _ in REASONS], [w for _, w in REASONS])[0]
            row = (cid, pid, "bench", it, domain, domain, "1.0", reason == "correct", float(reason == "correct"),
                   reason, f"expected {p}", 3.5, 0, str(s), 1)
            for k, v in zip(verds, row):
                verds[k].append(v)
    return {name: pa.Table.from_pydict(cols, schema=SCHEMAS[name])
            for name, cols in (("problems", probs), ("candidates", cands), ("verdicts", verds))}


def write_run(run_dir: Path, rows: int, n: int, chunk_size: int) -> dict:
    from factory.store import RunStore, compact

    rng = random.Random(0)
    text = corpus(rng, 4 << 20)
    problems = rows // n // (ITERATIONS * len(DOMAINS))
    store = RunStore(run_dir, "bench")
    t0 = time.perf_counter()
    chunks = 0
    with store.writer_lock():
        store.open_run({"config_hash": "bench"})
        for it in range(ITERATIONS):
            for domain in DOMAINS:
                for c, first in enumerate(range(0, problems, chunk_size)):
                    count = min(chunk_size, problems - first)
                    store.commit(f"it{it}-{domain}-{c:05d}", it, domain,
                                 chunk_tables(c, it, domain, first, count, n, text, rng))
                    chunks += 1
        write_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        compact(store)  # what the end of a run does
        compact_s = time.perf_counter() - t0
    files = sum(1 for _ in run_dir.rglob("*.parquet"))
    return {"chunks": chunks, "chunk_files": chunks * 3, "write_s": write_s, "final_compact_s": compact_s,
            "files_after": files, "bytes": sum(p.stat().st_size for p in run_dir.rglob("*.parquet"))}


CONSOLIDATED = "consolidated-v2"  # marker: one/ holds the factory views' columns (schema 2)


def consolidate(run_dir: Path, one_dir: Path) -> float:
    """Copy each factory view (current schema's columns, older shards' defaults filled in) into
    one file per table, so both sides read the same logical rows."""
    from factory.query import connect

    one_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    con = connect(run_dir)
    for table in ("problems", "candidates", "verdicts"):
        con.execute(f"COPY (SELECT * FROM {table}) TO '{one_dir / table}.parquet' (FORMAT parquet, COMPRESSION zstd)")
    (one_dir / CONSOLIDATED).touch()
    return time.perf_counter() - t0


# ---- one query in a child process ------------------------------------------------------------
def child(side: str, path: str, sql: str, view: str) -> None:
    import duckdb  # both sides pay for it; the clock starts after

    t0 = time.perf_counter()
    if side == "factory":
        from factory.query import connect

        con = connect(path)
    else:  # plain DuckDB, the same views (the samples view's text comes from the parent)
        con = duckdb.connect()
        for table in ("problems", "candidates", "verdicts"):
            con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{path}/{table}.parquet')")
        con.execute(view)
    t1 = time.perf_counter()
    rows = con.execute(sql).fetchall()
    t2 = time.perf_counter()
    rss = peak_rss_mib()
    print(json.dumps({"open_s": t1 - t0, "query_s": t2 - t1, "total_s": t2 - t0, "rss_mib": rss,
                      "rows": [[round(v, 6) if isinstance(v, float) else v for v in r] for r in rows]}, default=str))


def peak_rss_mib() -> float:
    """VmHWM: this process's peak RSS. (`ru_maxrss` keeps the parent's peak across exec on
    Linux, so a child of the writer would report the writer's.)"""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(side: str, path: Path, sql: str) -> dict:
    from factory.query import samples_sql

    done = subprocess.run([sys.executable, __file__, "--child", side, "--dir", str(path), "--sql", sql,
                           "--view", samples_sql(regraded=False, verdict_version=None)],
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{side} query failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_queries(run_dir: Path, one_dir: Path, repeats: int) -> list[dict]:
    results = []
    for name, sql in QUERIES.items():
        runs: dict[str, list[dict]] = {"factory": [], "plain": []}
        for _ in range(repeats):
            for side, path in (("factory", run_dir), ("plain", one_dir)):
                runs[side].append(run_child(side, path, sql))
        same = runs["factory"][0]["rows"] == runs["plain"][0]["rows"]
        med = {side: {k: statistics.median(r[k] for r in rs) for k in ("open_s", "query_s", "total_s", "rss_mib")}
               for side, rs in runs.items()}
        results.append({"query": name, "same_rows": same, **med})
    return results


def report(results: list[dict], meta: dict) -> None:
    print(json.dumps(meta, indent=None))
    head = f"{'query':32} {'factory s':>10} {'plain s':>9} {'ratio':>6}   {'factory MiB':>11} {'plain MiB':>9} {'ratio':>6}  same"
    print(head)
    for r in results:
        f, p = r["factory"], r["plain"]
        print(f"{r['query']:32} {f['total_s']:10.3f} {p['total_s']:9.3f} {f['total_s'] / p['total_s']:6.2f}   "
              f"{f['rss_mib']:11.0f} {p['rss_mib']:9.0f} {f['rss_mib'] / p['rss_mib']:6.2f}  {r['same_rows']}")
        print(f"{'':32} (open {f['open_s']:.3f} + query {f['query_s']:.3f}  vs  open {p['open_s']:.3f} "
              f"+ query {p['query_s']:.3f})")
    worst_t = max(r["factory"]["total_s"] / r["plain"]["total_s"] for r in results)
    worst_m = max(r["factory"]["rss_mib"] / r["plain"]["rss_mib"] for r in results)
    print(f"worst ratios: time {worst_t:.2f}x, memory {worst_m:.2f}x (target <= 2x each)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="candidates to write")
    parser.add_argument("--n", type=int, default=4, help="samples per problem")
    parser.add_argument("--chunk-size", type=int, default=16, help="problems per chunk (the config default)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dir", help="keep the data here; reused when it already holds a run")
    parser.add_argument("--child", choices=("factory", "plain"), help=argparse.SUPPRESS)
    parser.add_argument("--sql", help=argparse.SUPPRESS)
    parser.add_argument("--view", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.dir, args.sql, args.view)

    from factory.query import SUMMARY_SQL

    QUERIES["factory summary"] = SUMMARY_SQL
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(args.dir or tmp)
        run_dir, one_dir = base / "run", base / "one"
        meta: dict = {"rows": args.rows, "chunk_size": args.chunk_size, "n": args.n}
        if not (run_dir / "manifest.jsonl").exists():
            meta.update(write_run(run_dir, args.rows, args.n, args.chunk_size))
        if not (one_dir / CONSOLIDATED).exists():
            meta["consolidate_s"] = consolidate(run_dir, one_dir)
        report(bench_queries(run_dir, one_dir, args.repeats), meta)


if __name__ == "__main__":
    main()
