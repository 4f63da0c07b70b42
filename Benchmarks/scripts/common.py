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
