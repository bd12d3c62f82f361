"""Rebuild pairs.jsonl.gz: real model solutions with public correct/incorrect labels.

Not run in CI; it documents how the committed table was made. Every input is a plain file
read out of a public GitHub snapshot (see README.md for repositories, commits and licences):

    python tests/verifiers/data/math_public/build.py \
        --processbench DIR      # gsm8k.json math.json olympiadbench.json (QwenLM/ProcessBench dataset/)
        --gsm8k FILE            # openai/grade-school-math grade_school_math/data/test.jsonl
        --math-test DIR         # MATH test split, hendrycks layout: DIR/<subject>/<n>.json
        --olympiadbench FILE    # QwenLM/Qwen2.5-Math evaluation/data/olympiadbench/test.jsonl
        [--corrections FILE]    # corrections.json next to this script (the default)
        [--out FILE]            # default: pairs.jsonl.gz next to this script

Row = (reference answer, the model's whole solution, label). The solution text is ProcessBench's
`steps` joined with a blank line (ProcessBench stored each solution as paragraphs). The label is
ProcessBench's own `final_answer_correct`; the reference answer is not in ProcessBench, so it is
taken from the benchmark the problem came from, matched on the problem text (whitespace folded).

Selection is deterministic: per split, rows are sorted by id, rows whose solution is over 12,000
characters or whose problem cannot be matched to a reference are dropped (counted), then a
random.Random(f"{SEED}-{split}") sample of PER_LABEL rows is drawn from each label within each
split. Only then are the sampled rows filtered (policy_drop: relay problems; rows labelled correct
with no box and no final-answer line) and the reviewed corrections in corrections.json applied
(drop, or keep with `corrected_label` + `note`), so the sample does not move when a filter or a
correction changes. Every drop and correction is counted in the printed summary.
"""

from __future__ import annotations

import argparse
import glob
import gzip
import io
import json
import os
import random
import re
from collections import Counter

SEED = 20241210
MAX_OUTPUT_CHARS = 12_000
# rows per (split, label); None = every row
PER_LABEL = {"gsm8k": 150, "math": 400, "olympiadbench": 300}
HERE = os.path.dirname(os.path.abspath(__file__))
PB_REPO = "QwenLM/ProcessBench@2f2fd8ae590aeb949f7be265478b05280f93db68"


def fold(text: str) -> str:
    return " ".join(text.split())


def last_boxed(solution: str) -> str | None:
    """The content of the last \\boxed{...} / \\fbox{...} in a MATH reference solution."""
    starts = [m for m in re.finditer(r"\\(?:boxed|fbox)\s*", solution)]
    if not starts:
        return None
    m = starts[-1]
    i = m.end()
    if i < len(solution) and solution[i] != "{":  # "\boxed 5"
        tail = re.match(r"[^\s$.,]+", solution[i:])
        return tail.group(0) if tail else None
    depth = 0
    for j in range(i, len(solution)):
        if solution[j] == "{":
            depth += 1
        elif solution[j] == "}":
            depth -= 1
            if depth == 0:
                return solution[i + 1:j]
    return None


def gsm8k_refs(path: str) -> dict[str, str]:
    refs = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            refs[fold(row["question"])] = row["answer"].split("####")[-1].strip()
    return refs


def math_refs(root: str) -> dict[str, tuple[str, str]]:
    refs = {}
    for path in sorted(glob.glob(os.path.join(root, "*", "*.json"))):
        with open(path, encoding="utf-8") as f:
            row = json.load(f)
        answer = last_boxed(row["solution"])
        if answer is not None:
            rel = os.path.relpath(path, root)
            refs[fold(row["problem"])] = (answer.strip(), rel)
    return refs


def olympiad_refs(path: str) -> dict[str, tuple[str, str]]:
    refs = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            # "$...$" are only math delimiters here (no "\\$" currency in this file); an element
            # like "$f(n)=n$, $g(n)=1$" has them inside too, so every "$" is removed
            answer = ", ".join(a.replace("$", "").strip() for a in row["final_answer"])
            value = (answer, str(row["id"]))
            refs[fold(row["question"])] = value
            # a few ARML questions start with "$\quad$ " in this copy, not in ProcessBench
            refs[fold(re.sub(r"^\s*\$\\quad\$\s*", "", row["question"]))] = value
            if row.get("context"):
                refs[fold(row["context"] + " " + row["question"])] = value
                refs[fold(row["context"] + "\n" + row["question"])] = value
    return refs


def olympiad_lookup(refs: dict, problem: str):
    key = fold(problem)
    if key in refs:
        return refs[key]
    # ProcessBench prefixes ARML relay problems with their context; match on the question tail
    hits = {v for k, v in refs.items() if len(k) > 40 and key.endswith(k)}
    return hits.pop() if len(hits) == 1 else None


# GRADING.md: without a box only an explicit final line counts ("The final answer is",
# "Final Answer:", "**Answer:**", "####"); a value in the last sentence does not.
_MARKER = re.compile(r"\\(?:boxed|fbox)|final answer|answer is|answer:|####", re.IGNORECASE)
# ARML relay problems: the data depend on another problem's answer ("TNYWR", "the number you
# will receive from position 7"); the labels of such rows were found unreliable
_RELAY = re.compile(r"TNYWR|T N Y W R|number you will receive", re.IGNORECASE)


def policy_drop(row: dict) -> str | None:
    """Why a sampled row is left out without looking at any verifier; None keeps it."""
    if _RELAY.search(row["problem"]):
        return "relay problem (depends on another problem's answer)"
    if row["label"] and not _MARKER.search(row["output"]):
        return ("labelled correct but no \\boxed{} and no final-answer line "
                "(the source graded the last sentence; GRADING.md: no_answer)")
    return None


def build(args) -> tuple[list[dict], dict]:
    stats: dict = {"dropped": Counter(), "kept": Counter(), "corrected": Counter()}
    corrections = {}
    if args.corrections and os.path.exists(args.corrections):
        with open(args.corrections, encoding="utf-8") as f:
            corrections = json.load(f)
    used_corrections = set()
    lookups = {
        "gsm8k": (gsm8k_refs(args.gsm8k), lambda refs, p: refs.get(fold(p)) and (refs[fold(p)], None)),
        "math": (math_refs(args.math_test), lambda refs, p: refs.get(fold(p))),
        "olympiadbench": (olympiad_refs(args.olympiadbench), olympiad_lookup),
    }
    ref_files = {"gsm8k": "openai/grade-school-math test.jsonl",
                 "math": "MATH test (hendrycks), last \\boxed{} of the solution",
                 "olympiadbench": "OlympiadBench OE_TO_maths_en_COMP final_answer (Qwen2.5-Math copy)"}
    rows = []
    for split in ("gsm8k", "math", "olympiadbench"):
        with open(os.path.join(args.processbench, f"{split}.json"), encoding="utf-8") as f:
            data = json.load(f)
        refs, lookup = lookups[split]
        pool: dict[bool, list[dict]] = {True: [], False: []}
        for item in sorted(data, key=lambda r: int(r["id"].rsplit("-", 1)[1])):
            output = "\n\n".join(item["steps"])
            if len(output) > MAX_OUTPUT_CHARS:
                stats["dropped"][f"{split}: solution over {MAX_OUTPUT_CHARS} chars"] += 1
                continue
            found = lookup(refs, item["problem"])
            if not found:
                stats["dropped"][f"{split}: problem not matched to a reference"] += 1
                continue
            reference, ref_id = found
            row = {
                "id": f"processbench/{item['id']}",
                "source": f"processbench-{split}",
                "reference": reference,
                "output": output,
                "label": bool(item["final_answer_correct"]),
                "label_from": "ProcessBench final_answer_correct",
                "generator": item["generator"],
                "problem": item["problem"][:2000],
                "reference_from": ref_files[split] + (f" [{ref_id}]" if ref_id else ""),
            }
            pool[row["label"]].append(row)
        rng = random.Random(f"{SEED}-{split}")
        for label in (True, False):
            chosen = pool[label]
            n = PER_LABEL.get(split)
            if n is not None and n < len(chosen):
                chosen = sorted(rng.sample(chosen, n), key=lambda r: int(r["id"].rsplit("-", 1)[1]))
            for row in chosen:
                why = policy_drop(row)
                if why:
                    stats["dropped"][f"{split} label={label}: {why}"] += 1
                    if row["id"] in corrections:
                        raise SystemExit(f"{row['id']} is both filtered and corrected")
                    continue
                fix = corrections.get(row["id"])
                if fix is not None:
                    used_corrections.add(row["id"])
                    if fix.get("action") == "drop":
                        stats["dropped"][f"{split} label={label}: reviewed, dropped: {fix['class']}"] += 1
                        continue
                    row["corrected_label"] = bool(fix["corrected_label"])
                    row["note"] = fix["note"]
                    stats["corrected"][f"{split} label={label} -> {row['corrected_label']}: {fix['class']}"] += 1
                rows.append(row)
                stats["kept"][(split, label)] += 1
    unused = set(corrections) - used_corrections
    if unused:
        raise SystemExit(f"corrections for rows not in the table: {sorted(unused)}")
    return rows, stats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--processbench", required=True)
    ap.add_argument("--gsm8k", required=True)
    ap.add_argument("--math-test", required=True)
    ap.add_argument("--olympiadbench", required=True)
    ap.add_argument("--corrections", default=os.path.join(HERE, "corrections.json"))
    ap.add_argument("--out", default=os.path.join(HERE, "pairs.jsonl.gz"))
    args = ap.parse_args()
    rows, stats = build(args)
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, compresslevel=9) as gz:
        for row in rows:
            gz.write((json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8"))
    with open(args.out, "wb") as f:
        f.write(buf.getvalue())
    print(f"wrote {len(rows)} rows to {args.out} ({len(buf.getvalue())} bytes)")
    for (split, label), n in sorted(stats["kept"].items()):
        print(f"  kept {split:14} label={label!s:5} {n}")
    for why, n in sorted(stats["dropped"].items()):
        print(f"  dropped {n:4}  {why}")
    for why, n in sorted(stats["corrected"].items()):
        print(f"  corrected {n:4}  {why}")


if __name__ == "__main__":
    main()
