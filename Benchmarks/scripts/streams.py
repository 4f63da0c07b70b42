#!/usr/bin/env python3
"""Opens N concurrent streaming answers (POST /v1/ask, "stream": true) against a server on 127.0.0.1 and samples
the server's memory (VmRSS from /proc/PID/status) while they are all open.

Usage: streams.py --port P --pid PID [--streams 1000] [--timeout 120]
Prints one JSON object: streams opened/completed, server RSS before and at peak (MiB), seconds.
"""
import argparse
import asyncio
import json
import time

BODY = json.dumps({"question": "How many vacation days do employees receive?", "stream": True}).encode()


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


async def one(port: int, started: asyncio.Event, counter: dict) -> bool:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = (
        f"POST /v1/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(BODY)}\r\nConnection: close\r\n\r\n"
    ).encode() + BODY
    writer.write(request)
    await writer.drain()
    seen_delta = False
    data = b""
    while True:
        chunk = await reader.read(65536)
        if not chunk:
            break
        data += chunk
        if not seen_delta and b"event: delta" in data:
            seen_delta = True
            counter["streaming"] += 1
            if counter["streaming"] == counter["target"]:
                started.set()
    writer.close()
    return b"event: done" in data


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args()
    before = rss_mib(args.pid)
    started = asyncio.Event()
    counter = {"streaming": 0, "target": args.streams}
    begin = time.monotonic()
    tasks = [asyncio.create_task(one(args.port, started, counter)) for _ in range(args.streams)]
    peak = before
    all_open_at = None
    deadline = begin + args.timeout
    while not all(task.done() for task in tasks) and time.monotonic() < deadline:
        peak = max(peak, rss_mib(args.pid))
        if started.is_set() and all_open_at is None:
            all_open_at = time.monotonic() - begin
        await asyncio.sleep(0.05)
    results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout=max(1, deadline - time.monotonic()))
    completed = sum(1 for result in results if result is True)
    print(json.dumps({
        "streams": args.streams, "streaming_at_once": counter["streaming"], "completed": completed,
        "all_open_after_s": all_open_at, "seconds": round(time.monotonic() - begin, 2),
        "rss_before_mib": round(before, 1), "rss_peak_mib": round(peak, 1),
    }))


if __name__ == "__main__":
    asyncio.run(main())
