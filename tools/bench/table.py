#!/usr/bin/env python3
"""Prints BENCHMARKS.md's tables from `go test -bench` output of bench/.

    python3 tools/bench/table.py bench/results/calls.txt bench/results/memory.txt

Medians over the runs (-count) of each benchmark; ratios are to the raw
rocketmq-client-go path of the same row (lower is better for latency,
higher for throughput).
"""
import re
import statistics
import sys
from collections import defaultdict

LINE = re.compile(r"^Benchmark(\w+)/(.*)/?path=(\w+)-\d+\s+\d+\s+(.*)$")
PATHS = ["mqrpc", "raw", "java", "grpc", "mem", "direct"]


def load(files):
    res = defaultdict(lambda: defaultdict(list))  # (bench, key, path) -> unit -> values
    for fn in files:
        with open(fn) as f:
            for line in f:
                m = LINE.match(line.strip())
                if not m:
                    continue
                bench, key, path, rest = m.groups()
                vals = rest.split()
                ns = vals[0]
                res[(bench, key.rstrip("/"), path)]["ns/op"].append(float(ns))
                for v, unit in zip(vals[2::2], vals[3::2]):
                    res[(bench, key.rstrip("/"), path)][unit].append(float(v))
    return {k: {u: statistics.median(v) for u, v in d.items()} for k, d in res.items()}


def fmt(v, unit):
    if v is None:
        return "–"
    if unit.endswith("-ms"):
        return f"{v:.3g}" if v < 100 else f"{v:.0f}"
    if unit in ("calls/s",):
        return f"{v:,.0f}".replace(",", " ")
    if unit in ("allocs/op", "B/op"):
        return f"{v:,.0f}".replace(",", " ")
    return f"{v:.1f}"


def ratio(v, base, higher_better=False):
    if v is None or not base:
        return ""
    return f" ({v / base:.2f}×)"


def main(files):
    r = load(files)
    keys = sorted({(b, k) for b, k, _ in r}, key=lambda x: x)
    print("### Latency, concurrency 1\n")
    print("| payload | path | p50 ms | p90 ms | p99 ms | calls/s | allocs/call | B/call |")
    print("|---|---|--:|--:|--:|--:|--:|--:|")
    for pl in ["add", "64B", "1KB", "64KB", "1MB"]:
        base = r.get(("Latency", "payload=" + pl, "raw"), {})
        for p in PATHS:
            d = r.get(("Latency", "payload=" + pl, p))
            if not d:
                continue
            cells = [fmt(d.get(u), u) + ratio(d.get(u), base.get(u)) for u in ("p50-ms", "p90-ms", "p99-ms", "calls/s")]
            cells += [fmt(d.get(u), u) if p != "java" else "JVM" for u in ("allocs/op", "B/op")]
            print(f"| {pl} | {p} | " + " | ".join(cells) + " |")
    print("\n### Throughput, 1 KB echo\n")
    print("| concurrency | path | calls/s | p50 ms | p99 ms | allocs/call |")
    print("|--:|---|--:|--:|--:|--:|")
    for c in [1, 16, 64]:
        base = r.get(("Throughput", f"conc={c}", "raw"), {})
        for p in PATHS:
            d = r.get(("Throughput", f"conc={c}", p))
            if not d:
                continue
            cells = [fmt(d.get(u), u) + ratio(d.get(u), base.get(u)) for u in ("calls/s", "p50-ms", "p99-ms")]
            cells += [fmt(d.get("allocs/op"), "allocs/op") if p != "java" else "JVM"]
            print(f"| {c} | {p} | " + " | ".join(cells) + " |")
    if any(b == "Pending" for b, _, _ in r):
        print("\n### 10 000 calls pending\n")
        print("| path | RSS growth MB | heap growth MB | heap KB/call |")
        print("|---|--:|--:|--:|")
        for p in PATHS:
            d = r.get(("Pending", "", p))
            if d:
                print(f"| {p} | {d['pending-RSS-MB']:.1f} | {d['pending-heap-MB']:.1f} | {d['heap-KB/call']:.2f} |")
    if any(b == "Soak" for b, _, _ in r):
        print("\n### Soak: 100 000 calls, 10 % time out\n")
        print("| path | calls/s | timeouts | other failures | heap MB before / peak / after | RSS MB before / peak / after |")
        print("|---|--:|--:|--:|--:|--:|")
        for p in PATHS:
            d = r.get(("Soak", "", p))
            if d:
                print(f"| {p} | {d['calls/s']:.0f} | {d['timeouts']:.0f} | {d['failures']:.0f} | "
                      f"{d['heap-before-MB']:.1f} / {d['heap-peak-MB']:.1f} / {d['heap-after-MB']:.1f} | "
                      f"{d['RSS-before-MB']:.1f} / {d['RSS-peak-MB']:.1f} / {d['RSS-after-MB']:.1f} |")


if __name__ == "__main__":
    main(sys.argv[1:])
