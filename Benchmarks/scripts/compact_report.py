#!/usr/bin/env python3
"""Summarises a Benchmarks/scripts/compact.sh run directory as a markdown table (medians over its rounds)."""
import glob
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import write_targets  # noqa: E402

out = sys.argv[1]
targets = []


def load(pattern):
    return [json.load(open(p)) for p in sorted(glob.glob(os.path.join(out, pattern)))]


def med(values):
    return statistics.median(values) if values else float("nan")


def table(runs, bws, title):
    if not runs:
        return
    rows = runs[0]["rows"]
    f32_bytes = runs[0]["bytes_scanned_f32"]
    # The fp32 bandwidth limit of each round: the fp32 matrix read once at that round's measured speed.
    limits = [f32_bytes / (bw["median_gbs"] * 1e9) for bw in bws]
    print(f"\n### {title}: {rows:,} x {runs[0]['dimension']}, k = {runs[0]['k']}, {len(runs)} rounds, "
          f"{runs[0]['candidates']} candidates rescored\n")
    print(f"fp32 bandwidth limit (median of rounds): {med(limits) * 1e3:.1f} ms "
          f"({med([bw['median_gbs'] for bw in bws]):.1f} GB/s)\n")
    print("| variant | kernel | single query | × fp32 limit | 64-query batch | recall@10 | bytes/vector | index memory |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    variants = sorted({v for r in runs for v in r["single_median_s"]}, key=lambda v: ["f32", "f16", "f16-approximate", "i8", "i8-approximate"].index(v) if v in ["f32", "f16", "f16-approximate", "i8", "i8-approximate"] else 9)
    for v in variants:
        base = v.split("-")[0]
        single = [r["single_median_s"][v] for r in runs if v in r["single_median_s"]]
        ratios = [r["single_median_s"][v] / lim for r, lim in zip(runs, limits) if v in r["single_median_s"]]
        batch = [r["batch_median_s"][v] for r in runs if v in r["batch_median_s"]]
        recall = runs[-1]["recall_at_k"].get(v, 1.0 if v == "f32" else None)
        size = runs[-1]["index_bytes"].get(base)
        label = v.replace("-approximate", " (no rescoring)")
        if v in ("f16", "i8"):
            label += " + rescoring"
        print(f"| {label} | {runs[-1]['kernels'].get(base, '')} | {med(single) * 1e3:.1f} ms | {med(ratios):.2f} | "
              f"{(f'{med(batch) * 1e3:.0f} ms' if batch else '')} | {recall if recall is not None else ''} | "
              f"{(f'{size / rows:.0f}' if size else '')} | {(f'{size / 1e9:.3f} GB' if size else '')} |")
    if "f32" in runs[0]["batch_median_s"] and "i8" in runs[0]["batch_median_s"]:
        speedups = [r["batch_median_s"]["f32"] / r["batch_median_s"]["i8"] for r in runs]
        print(f"\n64-query batch, int8 against fp32 sgemm: {med(speedups):.2f}x faster (per round: "
              + ", ".join(f"{s:.2f}" for s in speedups) + ")")
    ratios = [r["single_median_s"]["i8"] / lim for r, lim in zip(runs, limits) if "i8" in r["single_median_s"]]
    print("int8 single query / fp32 limit per round: " + ", ".join(f"{x:.3f}" for x in ratios))
    mem = runs[-1].get("process_memory_bytes", {})
    if mem:
        print("process memory at the end (last round): " + ", ".join(f"{k} {v / 1e9:.2f} GB" for k, v in sorted(mem.items())))
    same = [r["rescored_equals_exact"].get("i8") for r in runs]
    print(f"int8 rescored top 10 identical to the exact fp32 top 10 (rows and order) in every round: {all(same)}")
    i8 = med([r["single_median_s"]["i8"] for r in runs])
    recall = runs[-1]["recall_at_k"]
    size = runs[-1]["index_bytes"]["i8"]
    if title == "1M vectors":
        targets.append({"target": "int8, one query over 1M × 384: ≤ 0.35× the fp32 bandwidth limit", "figure": f"{i8 * 1e3:.1f} ms",
                        "baseline": f"limit {med(limits) * 1e3:.1f} ms", "ratio": f"{med(ratios):.2f}×",
                        "verdict": "met" if med(ratios) <= 0.35 else "not met"})
        targets.append({"target": "int8 recall@10 against the exact fp32 top 10 = 1.00 with rescoring (64 queries)",
                        "figure": f"{recall['i8']:.3f} (without rescoring {recall['i8-approximate']:.3f})", "baseline": "exact fp32 top 10",
                        "ratio": "", "verdict": "met" if recall["i8"] == 1 and all(same) else "not met"})
        targets.append({"target": "int8 memory per 1M vectors ≤ 0.4 GB", "figure": f"{size / rows * 1e6 / 1e9:.3f} GB",
                        "baseline": f"fp32 {rows * runs[0]['dimension'] * 4 / rows * 1e6 / 1e9:.3f} GB", "ratio": "",
                        "verdict": "met" if size / rows * 1e6 <= 0.4e9 else "not met"})
        if "f32" in runs[0]["batch_median_s"]:
            speedup = med([r["batch_median_s"]["f32"] / r["batch_median_s"]["i8"] for r in runs])
            targets.append({"target": "64-query batch ≥ 2× today's sgemm path", "figure": f"{med([r['batch_median_s']['i8'] for r in runs]) * 1e3:.0f} ms",
                            "baseline": f"fp32 sgemm {med([r['batch_median_s']['f32'] for r in runs]) * 1e3:.0f} ms",
                            "ratio": f"{speedup:.2f}×", "verdict": "met" if speedup >= 2 else "not met"})
    else:
        targets.append({"target": f"scale: int8 over {rows / 1e6:.0f}M × {runs[0]['dimension']} (information)",
                        "figure": f"{i8 * 1e3:.1f} ms a query, {size / 1e9:.2f} GB, recall@10 {recall['i8']:.2f}",
                        "baseline": f"fp32 limit {med(limits) * 1e3:.0f} ms", "ratio": f"{med(ratios):.2f}×", "verdict": "information"})


table(load("compact.r*.json"), load("bw.r*.json"), "1M vectors")
table(load("scale.r*.json"), load("scale-bw.r*.json"), "Scale")
if targets:
    write_targets(out, "compact", "Benchmarks/scripts/compact.sh 3", targets)
