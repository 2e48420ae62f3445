#!/usr/bin/env python3
"""Builds the markdown table of docs/Performance.md from saved runs of
`swift package benchmark --format markdown` (the .bench-run-N.txt files that
median-ratios.py writes): one row per comparison with Flow's and each
baseline's p50 wall-clock time (median over the runs), the ratio (median of
the per-run ratios, fastest baseline) and the per-run ratios.

Usage: bench-table.py RUN_FILE...    (prints the table)
"""
import statistics, sys
sys.path.insert(0, __file__.rsplit("/", 1)[0])
from ratios import parse, ratios, flow_variants  # noqa: E402

def fmt(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"

def table(texts):
    runs = [parse(t) for t in texts]
    per_run_ratios = [ratios(m) for m in runs]
    keys = sorted(set().union(*(flow_variants(m) for m in runs)))
    rows = ["| comparison | Flow (p50) | baseline (p50) | ratio (median) | per run |", "|---|---|---|---|---|"]
    for key in keys:
        name = key.split(":")[0]
        flow_key = key if ":" in key else key + ":flow"
        flow = [m[flow_key] for m in runs if flow_key in m]
        kinds = sorted({k.rsplit(":", 1)[1] for m in runs for k in m
                        if k.rsplit(":", 1)[0] == name and k.rsplit(":", 1)[1].startswith("baseline")})
        bases = []
        for kind in kinds:
            values = [m[f"{name}:{kind}"] for m in runs if f"{name}:{kind}" in m]
            label = kind[len("baseline-"):] if kind.startswith("baseline-") else ""
            bases.append((label + " " if label else "") + fmt(statistics.median(values)))
        rs = [r[key] for r in per_run_ratios if r.get(key) is not None]
        ratio = f"{statistics.median(rs):.2f}" if rs else "n/a"
        rows.append(f"| `{key}` | {fmt(statistics.median(flow))} | {'; '.join(bases) or 'n/a'} | {ratio} | "
                    f"{', '.join(f'{r:.2f}' for r in rs)} |")
    return "\n".join(rows)

if __name__ == "__main__":
    print(table([open(p, encoding="utf-8").read() for p in sys.argv[1:]]))
