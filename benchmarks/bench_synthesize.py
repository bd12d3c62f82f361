"""Problem synthesis (#14): the factory's own overhead, and near-duplicate detection at scale.

1. Problems/s through synthesize → label → filter → commit with the scripted `synth` solver (no
   model: what is measured is our pipeline: prompt rendering, parsing, the n label samples'
   records, clustering through the math verifier, filters, the dedup index, Parquet commits).
   Each repeat is a fresh run dir; medians of --repeats.
2. Dedup of --dedup-n problem texts (about 10% near duplicates): `factory.minhash.DedupIndex`
   (exact key + datasketch MinHash/LSH + the signature check) against datasketch used directly
   (MinHash.bulk + MinHashLSH query/insert, no verification), same texts, same parameters. Each
   side runs in its own subprocess per repeat, sides alternating, so peak RSS (VmHWM) is its own;
   memory is reported above the process's RSS after the texts were built. Medians.

    .venv/bin/python benchmarks/bench_synthesize.py [--seeds 200] [--dedup-n 1000000] [--repeats 3] [--dedup-repeats 3]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NOUNS = "apples pens marbles coins books cars birds stamps cards shells tickets boxes".split()
NAMES = "Ann Bob Carl Dana Eve Finn Gina Hugo Ida Jon Kim Liam Mia Ned Olga Pia".split()
VERBS = "buys finds loses gives away sells collects receives borrows".split()


def texts(n: int, seed: int = 0) -> list[str]:
    """Word-problem-like texts; every tenth one is a near copy of an earlier one (one word changed)."""
    rng, out = random.Random(seed), []
    for i in range(n):
        if i % 10 == 9 and out:
            words = out[rng.randrange(len(out))].split()
            words[rng.randrange(len(words))] = rng.choice(NOUNS)
            out.append(" ".join(words))
            continue
        a, b, c = rng.randint(2, 999), rng.randint(2, 999), rng.randint(2, 99)
        name, noun, verb, other = rng.choice(NAMES), rng.choice(NOUNS), rng.choice(VERBS), rng.choice(NOUNS)
        out.append(f"{name} has {a} {noun} and {b} {other}. {name} {verb} {c} {noun} on day {i}. "
                   f"How many {noun} does {name} have now if each {other} is worth {c} {noun}?")
    return out


def rss_kib(field: str = "VmRSS") -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def dedup_side(side: str, n: int, threshold: float, num_perm: int) -> dict:
    from factory.minhash import DedupIndex, shingles

    docs = texts(n)
    base = rss_kib()
    start = time.perf_counter()
    dups = 0
    if side == "ours":
        index = DedupIndex(threshold, num_perm, 3)
        for lo in range(0, n, 4096):
            batch = docs[lo:lo + 4096]
            for i, (text, sig) in enumerate(zip(batch, index.signatures(batch))):
                if index.find(text, sig) is not None:
                    dups += 1
                else:
                    index.add(str(lo + i), text, sig)
    else:
        from datasketch import MinHash, MinHashLSH

        lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        for lo in range(0, n, 4096):
            batch = docs[lo:lo + 4096]
            for i, sig in enumerate(MinHash.bulk([shingles(t, 3) for t in batch], num_perm=num_perm, seed=1)):
                if lsh.query(sig):
                    dups += 1
                else:
                    lsh.insert(str(lo + i), sig, check_duplication=False)
    wall = time.perf_counter() - start
    return {"side": side, "n": n, "wall_s": wall, "per_s": n / wall, "dups": dups,
            "mib": (rss_kib("VmHWM") - base) / 1024}


def synth_once(seeds: int, workdir: Path) -> dict:
    from pipelines.synth_config import load_synth_config
    from pipelines.synthesize import run_synthesis

    text = (ROOT / "tests/pipelines/data/synth_scripted.toml").read_text()
    text = text.replace('output_dir = "runs"', f'output_dir = "{workdir}"').replace("count = 3", f"count = {seeds}")
    text = text.replace("chunk_size = 4", "chunk_size = 64").replace("difficulty = 1", "difficulty = 3")
    config = workdir / "synth.toml"
    config.write_text(text)
    start = time.perf_counter()
    report = run_synthesis(load_synth_config(config))
    wall = time.perf_counter() - start
    return {"written": report.written, "kept": report.yields["kept"], "wall_s": wall, "per_s": report.written / wall,
            "yields": report.yields}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=200)
    ap.add_argument("--dedup-n", type=int, default=1_000_000)
    ap.add_argument("--threshold", type=float, default=0.7)
    ap.add_argument("--num-perm", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dedup-repeats", type=int, default=3)
    ap.add_argument("--side", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.side:  # a child: one dedup side
        print(json.dumps(dedup_side(args.side, args.dedup_n, args.threshold, args.num_perm)))
        return

    runs = []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            runs.append(synth_once(args.seeds, Path(tmp)))
    print(f"synthesize → label → filter, scripted solver, {args.seeds} seeds: {runs[0]['written']} problems written, "
          f"{runs[0]['kept']} kept; yield {runs[0]['yields']}")
    print(f"  median {statistics.median(r['per_s'] for r in runs):.1f} problems/s "
          f"({statistics.median(r['wall_s'] for r in runs):.2f} s; runs {[round(r['wall_s'], 2) for r in runs]})")

    results: dict[str, list[dict]] = {"ours": [], "datasketch": []}
    for rep in range(args.dedup_repeats):
        for side in (("ours", "datasketch") if rep % 2 == 0 else ("datasketch", "ours")):
            cmd = [sys.executable, __file__, "--side", side, "--dedup-n", str(args.dedup_n),
                   "--threshold", str(args.threshold), "--num-perm", str(args.num_perm)]
            done = subprocess.run(cmd, capture_output=True, text=True, check=True)
            results[side].append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f"dedup of {args.dedup_n:,} texts (~10% near copies), num_perm {args.num_perm}, threshold {args.threshold}:")
    for side, rs in results.items():
        print(f"  {side:10s} {statistics.median(r['per_s'] for r in rs):9,.0f} texts/s  "
              f"{statistics.median(r['mib'] for r in rs):7.0f} MiB peak above texts  "
              f"{statistics.median(r['dups'] for r in rs):,.0f} flagged")


if __name__ == "__main__":
    main()
