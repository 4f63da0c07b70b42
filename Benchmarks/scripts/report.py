#!/usr/bin/env python3
"""Aggregate one run directory of Benchmarks/scripts/run.sh into a markdown table.

  python3 Benchmarks/scripts/report.py bench-data/runs/<stamp>

Reads every <label>.r<round>.json (one JSON object per file, as printed by a
benchmark) and pools the per-run times of each label across rounds (the
"times_s" / "single_times_s" / "batch_times_s" lists when present, otherwise
the file's median). Figures are medians of those pooled times. Ratios are
"speed-ups": baseline time / contender time (> 1 means the contender is
faster), except the bandwidth row, which is contender time / limit time.
Writes summary.json and table.md into the run directory and prints the table.
"""
import glob
import json
import os
import re
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import write_targets  # noqa: E402

MISSING = "RAGBench missing"


def load(run_dir):
    by_label = {}
    for path in sorted(glob.glob(os.path.join(run_dir, "*.r*.json"))):
        m = re.match(r"(.+)\.r(\d+)\.json$", os.path.basename(path))
        if not m:
            continue
        obj = None
        try:
            with open(path) as f:
                for line in f:
                    line = line.strip()
                    if line.startswith("{"):
                        try:
                            cand = json.loads(line)
                        except ValueError:
                            continue
                        if isinstance(cand, dict):
                            obj = cand
        except OSError:
            pass
        if obj is not None and isinstance(obj.get("median_s", obj.get("median_gbs")), (int, float)):
            by_label.setdefault(m.group(1), []).append(obj)
    return by_label


def pooled(objs, list_key, median_key):
    vals = []
    for o in objs:
        xs = o.get(list_key)
        if isinstance(xs, list) and xs and all(isinstance(x, (int, float)) for x in xs):
            vals.extend(xs)
        elif isinstance(o.get(median_key), (int, float)):
            vals.append(o[median_key])
    return statistics.median(vals) if vals else None, len(vals)


def fmt(x, unit="", digits=4):
    if x is None:
        return MISSING
    if unit == "s":
        return f"{x * 1e3:.1f} ms" if x < 1 else f"{x:.3f} s"
    return f"{x:.{digits}g}{unit}"


def main():
    run_dir = sys.argv[1]
    d = load(run_dir)
    S = {}

    def med(label, list_key="times_s", median_key="median_s"):
        if label not in d:
            return None, 0
        return pooled(d[label], list_key, median_key)

    # --- bandwidth
    for t in (1, 2):
        g, n = med(f"bw-{t}t", "gbs", "median_gbs")
        S[f"bandwidth_{t}t_gbs"] = g
        S[f"bandwidth_{t}t_samples"] = n
    nbytes = 1_000_000 * 384 * 4
    for t in (1, 2):
        g = S[f"bandwidth_{t}t_gbs"]
        S[f"scan_limit_{t}t_s"] = nbytes / (g * 1e9) if g else None
    # the machine's limit: the faster of the two
    lims = [x for x in (S["scan_limit_1t_s"], S["scan_limit_2t_s"]) if x]
    S["scan_limit_s"] = min(lims) if lims else None

    # --- extraction
    pages = None
    for lab in ("pymupdf-1p", "pymupdf-2p"):
        if lab in d:
            pages = d[lab][0].get("pages", pages)
    for lab in ("pymupdf-1p", "pymupdf-2p", "rag-extract-1t", "rag-extract-2t"):
        m, n = med(lab)
        p = pages
        if lab in d and isinstance(d[lab][0].get("pages"), int):
            p = d[lab][0]["pages"]
        S[f"{lab}_median_s"] = m
        S[f"{lab}_samples"] = n
        S[f"{lab}_pages_per_s"] = (p / m) if (m and p) else None

    # --- search
    for lab in ("numpy-env", "numpy-unset", "numpy-haswell"):
        S[f"{lab}_single_s"], S[f"{lab}_single_samples"] = med(lab, "single_times_s", "single_median_s")
        S[f"{lab}_batch_s"], S[f"{lab}_batch_samples"] = med(lab, "batch_times_s", "batch_median_s")
        if lab in d:
            blas = d[lab][0].get("blas") or [{}]
            S[f"{lab}_kernel"] = blas[0].get("architecture")
            S[f"{lab}_env"] = d[lab][0].get("env")
    rs = d.get("rag-search", [])
    if rs:
        key = "single_times_s" if any("single_times_s" in o for o in rs) else "times_s"
        S["rag-search_single_s"], _ = pooled(rs, key, "median_s")
        S["rag-search_batch_s"], _ = pooled(rs, "batch_times_s", "batch_median_s")
    else:
        S["rag-search_single_s"] = S["rag-search_batch_s"] = None
    # numpy baseline = the faster of env-as-is and OPENBLAS_* unset (the stricter bar)
    def best(*xs):
        xs = [x for x in xs if x]
        return min(xs) if xs else None
    np_single = best(S.get("numpy-env_single_s"), S.get("numpy-unset_single_s"))
    np_batch = best(S.get("numpy-env_batch_s"), S.get("numpy-unset_batch_s"))

    # --- chunking
    for lab in ("langchain", "rag-chunk"):
        S[f"{lab}_median_s"], S[f"{lab}_samples"] = med(lab)
    chars = d["langchain"][0].get("chars") if "langchain" in d else None
    S["langchain_chunks"] = d["langchain"][0].get("chunks") if "langchain" in d else None
    S["rag-chunk_chunks"] = d["rag-chunk"][0].get("chunks") if "rag-chunk" in d else None

    def ratio(base, cont):
        return base / cont if (base and cont) else None

    def verdict(r, target, lower_is_better=False):
        if r is None:
            return MISSING
        ok = r <= target if lower_is_better else r >= target
        return "PASS" if ok else "FAIL"

    rows = []
    def row(name, base_name, base, cont, r, target_txt, v):
        rows.append((name, base_name, base, cont, "—" if r is None else f"{r:.2f}×", target_txt, v))

    b1, b2 = S["pymupdf-1p_median_s"], S["pymupdf-2p_median_s"]
    c1, c2 = S["rag-extract-1t_median_s"], S["rag-extract-2t_median_s"]
    pp = lambda x: "—" if x is None else f"{x:.0f} p/s"

    def with_rate(t, rate):
        return MISSING if t is None else f"{fmt(t, 's')} ({rate})"
    r = ratio(b1, c1)
    row("extract, 1 thread", "PyMuPDF 1 proc", with_rate(b1, pp(S['pymupdf-1p_pages_per_s'])),
        with_rate(c1, pp(S['rag-extract-1t_pages_per_s'])), r, "≥ 1.30×", verdict(r, 1.3))
    r = ratio(b1, c2)
    row("extract, 2 threads", "PyMuPDF 1 proc", with_rate(b1, pp(S['pymupdf-1p_pages_per_s'])),
        with_rate(c2, pp(S['rag-extract-2t_pages_per_s'])), r, "≥ 2.00×", verdict(r, 2.0))
    r = ratio(b2, c2)
    row("extract, 2 threads (info)", "PyMuPDF 2 procs", with_rate(b2, pp(S['pymupdf-2p_pages_per_s'])),
        with_rate(c2, pp(S['rag-extract-2t_pages_per_s'])), r, "info", "—" if r is None else "info")
    lim = S["scan_limit_s"]
    cs = S["rag-search_single_s"]
    r = (cs / lim) if (cs and lim) else None
    row("search 1 query, vs bandwidth", f"scan limit ({fmt(max(S['bandwidth_1t_gbs'] or 0, S['bandwidth_2t_gbs'] or 0) or None, ' GB/s')}, best of 1T/2T)", fmt(lim, "s"),
        fmt(cs, "s"), r, "≤ 1.25× (time/limit)", verdict(r, 1.25, lower_is_better=True))
    r = ratio(np_single, cs)
    row("search 1 query, vs numpy", "numpy gemv+argpartition", fmt(np_single, "s"), fmt(cs, "s"), r, "≥ 1.00×", verdict(r, 1.0))
    cb = S["rag-search_batch_s"]
    r = ratio(np_batch, cb)
    row("search 64-query batch", "numpy gemm+argpartition", fmt(np_batch, "s"), fmt(cb, "s"), r, "≥ 1.00×", verdict(r, 1.0))
    lb, lc = S["langchain_median_s"], S["rag-chunk_median_s"]
    r = ratio(lb, lc)
    cps = lambda x: "—" if (x is None or not chars) else f"{chars / x / 1e6:.1f} M chars/s"
    row("chunk fullrefman.txt", "LangChain RCTS(1000,200)", with_rate(lb, cps(lb)), with_rate(lc, cps(lc)),
        r, "> 1.00×", verdict(r, 1.0 + 1e-9))

    out = []
    if not any(k.startswith("rag-") for k in d):
        out.append(f"**{MISSING}**: no RAGBench results in this run (see ragbench.log); baselines only.\n")
    out.append("| benchmark | baseline | baseline median | RAGBench median | ratio | target | result |")
    out.append("|---|---|---|---|---|---|---|")
    for rw in rows:
        out.append("| " + " | ".join(str(x) for x in rw) + " |")
    out.append("")
    out.append("Baseline details (medians of pooled runs):")
    out.append("")
    out.append("| measurement | median |")
    out.append("|---|---|")
    for t in (1, 2):
        out.append(f"| read bandwidth, {t} thread(s) | {fmt(S[f'bandwidth_{t}t_gbs'], ' GB/s')} → scan 1.536 GB in {fmt(S[f'scan_limit_{t}t_s'], 's')} |")
    for lab, nm in (("pymupdf-1p", "PyMuPDF, 1 process"), ("pymupdf-2p", "PyMuPDF, 2 processes")):
        out.append(f"| {nm} | {fmt(S[lab + '_median_s'], 's')} = {pp(S[lab + '_pages_per_s'])} ({S[lab + '_samples']} runs) |")
    for lab, nm in (("numpy-env", "numpy, env as is"), ("numpy-unset", "numpy, OPENBLAS_CORETYPE/L2_SIZE unset"),
                    ("numpy-haswell", "numpy, OPENBLAS_CORETYPE=Haswell forced (info)")):
        if S.get(f"{lab}_single_s") is None:
            continue
        out.append(f"| {nm} [kernel {S.get(lab + '_kernel')}] | 1 query {fmt(S[lab + '_single_s'], 's')} "
                   f"({S[lab + '_single_samples']} runs); 64-batch {fmt(S[lab + '_batch_s'], 's')} "
                   f"({S[lab + '_batch_samples']} runs) |")
    out.append(f"| LangChain RecursiveCharacterTextSplitter(1000, 200) | {fmt(lb, 's')} = {cps(lb)}, "
               f"{S['langchain_chunks']} chunks ({S['langchain_samples']} runs) |")
    table = "\n".join(out)
    S["numpy_single_baseline_s"] = np_single
    S["numpy_batch_baseline_s"] = np_batch
    with open(os.path.join(run_dir, "summary.json"), "w") as f:
        json.dump(S, f, indent=1)
    with open(os.path.join(run_dir, "table.md"), "w") as f:
        f.write(table + "\n")
    verdicts = {"PASS": "met", "FAIL": "not met", "info": "information"}
    write_targets(run_dir, "core", "bash Benchmarks/scripts/run.sh", [
        {"target": f"{name}: {target}", "figure": str(contender), "baseline": f"{base_name} {base}", "ratio": str(ratio_text),
         "verdict": verdicts.get(result, str(result))}
        for name, base_name, base, contender, ratio_text, target, result in rows])
    print(table)


if __name__ == "__main__":
    main()
