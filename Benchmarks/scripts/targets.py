#!/usr/bin/env python3
"""One table of every speed and memory target with its latest same-run figures.

  python3 Benchmarks/scripts/targets.py            # rewrites the table in docs/performance.md
  python3 Benchmarks/scripts/targets.py --print    # prints it instead

Each benchmark script writes targets.json into its run directory under bench-data/ (common.write_targets): the
target, this run's figure, the baseline measured in the same run, their ratio and the verdict. This script takes the
newest targets.json of each benchmark and writes them as one table between the markers
"<!-- targets:begin -->" and "<!-- targets:end -->" of docs/performance.md. A benchmark with no run in bench-data/ keeps
its rows from the table as it was (marked as from an earlier run), so the table never silently loses a target.
"""
import argparse
import glob
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOC = os.path.join(ROOT, "docs", "performance.md")
BEGIN, END = "<!-- targets:begin -->", "<!-- targets:end -->"
# The benchmarks, in the table's order, with the command that measures them.
BENCHMARKS = [
    ("core", "bash Benchmarks/scripts/run.sh"),
    ("server", "Benchmarks/scripts/server.sh 5"),
    ("cache", "Benchmarks/scripts/cache.sh 5"),
    ("ocr", "Benchmarks/scripts/ocr.sh 20 3"),
    ("minilm", "bash Benchmarks/scripts/minilm.sh"),
    ("encoder", "bash Benchmarks/scripts/encoder.sh 2"),
    ("compact", "Benchmarks/scripts/compact.sh 3"),
    ("storage", "bash Benchmarks/scripts/vector-storage.sh 3"),
]
HEADER = ("| benchmark | target | figure | baseline, same run | ratio | verdict | run |\n"
          "| --- | --- | --- | --- | ---: | --- | --- |\n")


def newest():
    found = {}
    for path in glob.glob(os.path.join(ROOT, "bench-data", "**", "targets.json"), recursive=True):
        try:
            record = json.load(open(path))
        except (OSError, ValueError):
            continue
        name = record.get("benchmark")
        if name and (name not in found or record["date"] > found[name]["date"]):
            found[name] = record
    return found


def cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def rows_for(record):
    run = f"{record['date'][:10]}, git {record['git']}, `{os.path.relpath(record['run'], ROOT) if os.path.isabs(record['run']) else record['run']}`"
    lines = []
    for index, row in enumerate(record["rows"]):
        name = f"**{record['benchmark']}** (`{record['command']}`)" if index == 0 else ""
        lines.append(f"| {name} | {cell(row['target'])} | {cell(row['figure'])} | {cell(row.get('baseline', ''))} | "
                     f"{cell(row.get('ratio', ''))} | {cell(row['verdict'])} | {run if index == 0 else ''} |\n")
    return lines


def previous_rows(text):
    """The rows of the table now in the document, by benchmark (to keep those without a run here)."""
    match = re.search(re.escape(BEGIN) + r"(.*?)" + re.escape(END), text, re.S)
    kept, current = {}, None
    for line in (match.group(1) if match else "").splitlines(keepends=True):
        if not line.startswith("| ") or line.startswith("| benchmark |") or "no targets.json in bench-data/" in line:
            continue
        first = line.split("|")[1].strip()
        found = re.match(r"\*\*(\w+)\*\*", first)
        if found:
            current = found.group(1)
        if current:
            kept.setdefault(current, []).append(line)
    return kept


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--print", action="store_true", help="print the table instead of rewriting docs/performance.md")
    args = parser.parse_args()
    text = open(DOC).read()
    old = previous_rows(text)
    records = newest()
    table = HEADER
    for name, _ in BENCHMARKS:
        if name in records:
            table += "".join(rows_for(records[name]))
        elif name in old:
            table += "".join(line if "(earlier run)" in line else line.rstrip("\n").rstrip(" |") + " (earlier run) |\n"
                             for line in old[name])
        else:
            table += f"| **{name}** | no targets.json in bench-data/ yet | | | | | |\n"
    if args.print:
        sys.stdout.write(table)
        return
    if BEGIN not in text or END not in text:
        sys.exit(f"targets.py: {DOC} has no {BEGIN} ... {END} markers")
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    open(DOC, "w").write(text[:start] + "\n" + table + text[end:])
    print(f"targets.py: wrote {len(table.splitlines()) - 2} rows to {os.path.relpath(DOC, ROOT)}")


if __name__ == "__main__":
    main()
