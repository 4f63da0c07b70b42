#!/usr/bin/env python3
"""PyMuPDF text-extraction baseline: open PDF + page.get_text() over all pages.

  python3 Benchmarks/scripts/extract_pymupdf.py PDF [--procs N] [--repeat R]
                                           [--max-seconds S] [--write-text OUT]

One timed run = open the document and call page.get_text() on every page.
--procs 1 (default): one process, the issue's single-core baseline.
--procs N: a pre-started pool of N forked worker processes; worker i opens the
document itself and extracts pages i, i+N, i+2N, ... (strided, to balance
page cost). Pool start-up is outside the timing; the per-run document opens
are inside it, as in the one-process case. Workers return only character
counts, so no text is pickled back.
--write-text OUT writes every page's get_text() joined with "\\n\\n" (UTF-8),
untimed, before measuring.

Prints one JSON object: median_s, pages, pages_per_s (pages / median_s), ...
"""
import argparse
import multiprocessing as mp
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import emit, summary, timed_runs  # noqa: E402

import pymupdf  # noqa: E402


def extract_all(path):
    doc = pymupdf.open(path)
    n = 0
    chars = 0
    for page in doc:
        chars += len(page.get_text())
        n += 1
    doc.close()
    return n, chars


def extract_strided(args):
    path, start, step = args
    doc = pymupdf.open(path)
    n = 0
    chars = 0
    for i in range(start, doc.page_count, step):
        chars += len(doc[i].get_text())
        n += 1
    doc.close()
    return n, chars


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pdf")
    ap.add_argument("--procs", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--max-seconds", type=float, default=120.0)
    ap.add_argument("--write-text")
    a = ap.parse_args()

    if a.write_text:
        doc = pymupdf.open(a.pdf)
        text = "\n\n".join(page.get_text() for page in doc)
        doc.close()
        with open(a.write_text, "w", encoding="utf-8") as f:
            f.write(text)

    if a.procs == 1:
        times, (pages, chars) = timed_runs(lambda: extract_all(a.pdf), a.repeat, a.max_seconds)
    else:
        ctx = mp.get_context("fork")
        with ctx.Pool(a.procs) as pool:
            pool.map(abs, range(a.procs))  # make sure workers are up

            def run():
                parts = pool.map(extract_strided, [(a.pdf, i, a.procs) for i in range(a.procs)], chunksize=1)
                return sum(p[0] for p in parts), sum(p[1] for p in parts)

            times, (pages, chars) = timed_runs(run, a.repeat, a.max_seconds)

    s = summary(times)
    emit({
        "bench": "extract",
        "tool": "pymupdf",
        "pymupdf": pymupdf.__version__,
        "mupdf": pymupdf.mupdf_version,
        "pdf": os.path.abspath(a.pdf),
        "procs": a.procs,
        "pages": pages,
        "chars": chars,
        **s,
        "pages_per_s": pages / s["median_s"],
    })


if __name__ == "__main__":
    main()
