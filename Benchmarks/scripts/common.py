"""Shared helpers for the Python baselines: bounded repeat loops and JSON output."""
import json
import platform
import statistics
import sys
import time


def timed_runs(fn, repeat, max_seconds, warmup=1, min_runs=3):
    """Run fn() `warmup` times untimed, then up to `repeat` timed runs.

    Stops early once `max_seconds` of timed work have elapsed, but only after
    `min_runs` runs (so a median always exists). Returns (times, last_result).
    """
    result = None
    for _ in range(warmup):
        result = fn()
    times = []
    spent = 0.0
    for i in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        dt = time.perf_counter() - t0
        times.append(dt)
        spent += dt
        if spent > max_seconds and i + 1 >= min(min_runs, repeat):
            break
    return times, result


def summary(times):
    return {
        "runs": len(times),
        "times_s": [round(t, 6) for t in times],
        "median_s": statistics.median(times),
        "min_s": min(times),
        "max_s": max(times),
    }


def emit(obj):
    obj.setdefault("python", platform.python_version())
    json.dump(obj, sys.stdout)
    sys.stdout.write("\n")
    sys.stdout.flush()


def wrk_result(path):
    """What one `wrk --latency` run printed (its output file): requests, requests/s, p50/p90/p99 in milliseconds, and
    errors (non-2xx or 3xx responses, plus 1 when any socket error was reported)."""
    import re

    def milliseconds(value):
        number, suffix = float(re.match(r"[\d.]+", value).group()), re.sub(r"[\d.]+", "", value)
        return number * {"us": 1e-3, "ms": 1, "s": 1e3, "m": 6e4}[suffix]

    text = open(path).read()
    pct = {p: milliseconds(v) for p, v in re.findall(r"^\s+(50|90|99)%\s+(\S+)", text, re.M)}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    socket = re.search(r"Socket errors: (.*)", text)
    return {"requests": int(re.search(r"(\d+) requests in", text).group(1)),
            "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)),
            "p50": pct["50"], "p90": pct["90"], "p99": pct["99"],
            "errors": (int(errors.group(1)) if errors else 0) + (1 if socket else 0)}


def write_targets(out_dir, benchmark, command, rows):
    """Writes out_dir/targets.json: this run's figure for each target it checks, for Benchmarks/scripts/targets.py.

    rows: dicts with "target" (what is required), "figure" (this run's), "baseline" (measured in the same run, or
    ""), "ratio" (or "") and "verdict" ("met", "not met" or "information").
    """
    import datetime
    import os
    import subprocess

    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True).stdout.strip()
    with open("/proc/loadavg") as f:
        load = f.read().split()[0]
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    git = git + ("+changes" if dirty else "")
    # A run.txt written when the run started ("date=…", "git=…") names the run rather than this report.
    started = os.path.join(out_dir, "run.txt")
    if os.path.exists(started):
        fields = dict(line.strip().split("=", 1) for line in open(started) if "=" in line)
        date, git = fields.get("date", date), fields.get("git", git)
    record = {
        "benchmark": benchmark,
        "command": command,
        "run": out_dir,
        "date": date,
        "git": git,
        "load_at_end": load,
        "rows": rows,
    }
    with open(os.path.join(out_dir, "targets.json"), "w") as f:
        json.dump(record, f, indent=1)
