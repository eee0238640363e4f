#!/usr/bin/env python3
"""Plots mqrpc's benchmark results (BENCHMARKS.md).

    python3 tools/bench/plot.py bench/results/calls.txt bench/results/bench.png

reads `go test -bench` output of bench/ (BenchmarkLatency and
BenchmarkThroughput, any -count) and draws p50 latency against payload size
and throughput against concurrency, one line per path, medians over runs.
Needs matplotlib (pip install matplotlib).
"""
import re
import statistics
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

LINE = re.compile(r"^Benchmark(Latency|Throughput)/(payload|conc)=(\w+)/path=(\w+)-\d+\s+\d+\s+(.*)$")
PAYLOADS = ["add", "64B", "1KB", "64KB", "1MB"]
PAYLOAD_BYTES = {"add": 3, "64B": 64, "1KB": 1 << 10, "64KB": 64 << 10, "1MB": 1 << 20}
PATHS = ["mqrpc", "raw", "java", "grpc", "mem", "direct"]


def metrics(rest):
    vals = rest.split()
    return {unit: float(v) for v, unit in zip(vals[0::2], vals[1::2])}


def main(src, dst):
    lat = defaultdict(list)  # (payload, path) -> p50 ms
    thr = defaultdict(list)  # (conc, path) -> calls/s
    with open(src) as f:
        for line in f:
            m = LINE.match(line.strip())
            if not m:
                continue
            kind, _, key, path, rest = m.groups()
            ms = metrics(rest)
            if kind == "Latency" and "p50-ms" in ms:
                lat[(key, path)].append(ms["p50-ms"])
            elif kind == "Throughput" and "calls/s" in ms:
                thr[(int(key), path)].append(ms["calls/s"])

    fig, (a, b) = plt.subplots(1, 2, figsize=(13, 4.5))
    for path in PATHS:
        xs = [PAYLOAD_BYTES[p] for p in PAYLOADS if (p, path) in lat]
        ys = [statistics.median(lat[(p, path)]) for p in PAYLOADS if (p, path) in lat]
        if xs:
            a.plot(xs, ys, marker="o", label=path)
    a.set_xscale("log")
    a.set_yscale("log")
    a.set_xlabel("payload (bytes; 3 = Add(2, 3))")
    a.set_ylabel("p50 round trip (ms, log)")
    a.set_title("Latency against payload, concurrency 1")
    a.grid(True, which="both", alpha=0.3)
    a.legend(loc="upper left", bbox_to_anchor=(1.01, 1))

    concs = sorted({c for c, _ in thr})
    for path in PATHS:
        xs = [c for c in concs if (c, path) in thr]
        ys = [statistics.median(thr[(c, path)]) for c in xs]
        if xs:
            b.plot(xs, ys, marker="o", label=path)
    b.set_xscale("log", base=2)
    b.set_yscale("log")
    b.set_xticks(concs, [str(c) for c in concs])
    b.set_xlabel("concurrent callers")
    b.set_ylabel("calls/s (log)")
    b.set_title("Throughput against concurrency, 1 KB echo")
    b.grid(True, which="both", alpha=0.3)
    b.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    fig.savefig(dst, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
