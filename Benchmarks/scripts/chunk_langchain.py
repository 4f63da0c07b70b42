#!/usr/bin/env python3
"""LangChain chunking baseline.

  python3 Benchmarks/scripts/chunk_langchain.py TEXTFILE [--repeat R] [--max-seconds S]

Times RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
.split_text(text) on the whole UTF-8 file (default separators
["\\n\\n", "\\n", " ", ""], length_function=len, i.e. Unicode code points).
Reading the file and constructing the splitter are outside the timing.
Prints one JSON object: median_s, chars (code points), bytes, chunks,
chars_per_s (chars / median_s), mb_per_s (bytes / median_s / 1e6).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import emit, summary, timed_runs  # noqa: E402

import langchain_text_splitters  # noqa: E402
from langchain_text_splitters import RecursiveCharacterTextSplitter  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("textfile")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--max-seconds", type=float, default=120.0)
    a = ap.parse_args()

    with open(a.textfile, "rb") as f:
        raw = f.read()
    text = raw.decode("utf-8")
    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    times, chunks = timed_runs(lambda: splitter.split_text(text), a.repeat, a.max_seconds)
    s = summary(times)
    emit({
        "bench": "chunk",
        "tool": "langchain-text-splitters",
        "version": getattr(langchain_text_splitters, "__version__", None)
        or __import__("importlib.metadata").metadata.version("langchain-text-splitters"),
        "file": os.path.abspath(a.textfile),
        "chunk_size": 1000,
        "chunk_overlap": 200,
        "chars": len(text),
        "bytes": len(raw),
        "chunks": len(chunks),
        "mean_chunk_chars": sum(map(len, chunks)) / max(1, len(chunks)),
        **s,
        "chars_per_s": len(text) / s["median_s"],
        "mb_per_s": len(raw) / s["median_s"] / 1e6,
    })


if __name__ == "__main__":
    main()
