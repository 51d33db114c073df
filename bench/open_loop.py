#!/usr/bin/env python3
"""Open-loop load: calls arrive at RATE per second (Poisson, seeded) for SECONDS, whatever the
answers, as requests from many users would; each on its own connection. A closed loop (wrk) slows
down when the cluster does and, when calls are refused fast, mostly measures refusals.

Prints one line, STATUS_JSON {...}, in the form of bench/deadline_counts.lua: answers by status,
and "met": answered 200 within the deadline by the node's clock (X-Duration-Seconds).

Usage: open_loop.py URL RATE SECONDS DEADLINE [SEED]
"""
import asyncio
import json
import random
import sys
import time
from urllib.parse import urlsplit


async def call(host, port, target, deadline, out):
    started = time.monotonic()
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
    except (OSError, asyncio.TimeoutError):
        out["connect_errors"] += 1
        return
    try:
        writer.write((f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                      f"X-P2pfaas-Deadline-Seconds: {deadline}\r\nConnection: close\r\n\r\n").encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        lines = head.decode("latin-1").split("\r\n")
        status = lines[0].split(" ")[1]
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        await asyncio.wait_for(reader.read(), 5)  # the body, to the close
        out["status"][status] = out["status"].get(status, 0) + 1
        took = float(headers.get("x-duration-seconds", "inf"))
        if status == "200" and took <= deadline:
            out["met"] += 1
        out["latencies"].append(time.monotonic() - started)
    except asyncio.TimeoutError:
        out["timeouts"] += 1
    except (OSError, asyncio.IncompleteReadError, IndexError, ValueError):
        out["read_errors"] += 1
    finally:
        writer.close()


async def main():
    url, rate, seconds, deadline = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
    seed = int(sys.argv[5]) if len(sys.argv) > 5 else 1
    parts = urlsplit(url)
    target = parts.path + ("?" + parts.query if parts.query else "")
    out = {"met": 0, "timeouts": 0, "connect_errors": 0, "read_errors": 0, "write_errors": 0,
           "status": {}, "latencies": []}
    arrivals = random.Random(seed)
    tasks = []
    start = time.monotonic()
    next_at = start
    while next_at - start < seconds:
        delay = next_at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(call(parts.hostname, parts.port, target, deadline, out)))
        next_at += arrivals.expovariate(rate)
    await asyncio.gather(*tasks)
    latencies = sorted(out.pop("latencies")) or [0]
    out["duration_s"] = seconds
    out["requests"] = len(tasks)
    out["p50_ms"] = latencies[len(latencies) // 2] * 1000
    out["p99_ms"] = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    print("STATUS_JSON " + json.dumps(out))


asyncio.run(main())
