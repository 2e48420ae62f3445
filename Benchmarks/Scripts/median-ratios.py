#!/usr/bin/env python3
"""Runs the benchmarks RUNS times (each run: every Flow variant beside its
baseline in one process) and prints, per comparison, the median of the
per-run ratios, with the individual ratios beside it:

    ratio <name>: <median>   (runs: a, b, c)

then the markdown table of docs/Performance.md (Scripts/bench-table.py).

Usage: median-ratios.py RUNS FILTER    (from the Benchmarks folder)
"""
import statistics, subprocess, sys
sys.path.insert(0, __file__.rsplit("/", 1)[0])
from ratios import parse, ratios, custom_metrics  # noqa: E402
from importlib import import_module
table = import_module("bench-table").table

def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    pattern = sys.argv[2] if len(sys.argv) > 2 else ".*"
    per_name, extra, texts = {}, [], []
    for i in range(runs):
        out = subprocess.run(
            ["swift", "package", "--disable-sandbox", "benchmark", "--filter", f".*({pattern}).*",
             "--no-progress", "--format", "markdown"],
            capture_output=True, text=True).stdout
        open(f".bench-run-{i}.txt", "w").write(out)
        texts.append(out)
        for name, r in ratios(parse(out)).items():
            if r is not None:
                per_name.setdefault(name, []).append(r)
        extra += [f"{n}: {v}" for n, v in custom_metrics(out)]
    for name in sorted(per_name):
        rs = per_name[name]
        print(f"ratio {name}: {statistics.median(rs):.2f}   (runs: {', '.join(f'{r:.2f}' for r in rs)})")
    for line in extra:
        print(line)
    # The table docs/Performance.md quotes: times and ratios, medians of the runs.
    print()
    print(table(texts))

if __name__ == "__main__":
    main()
