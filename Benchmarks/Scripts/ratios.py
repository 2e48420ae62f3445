#!/usr/bin/env python3
"""Pairs "<name>:flow" / "<name>:baseline" (or several "<name>:baseline-<kind>",
the fastest of which counts) benchmarks in package-benchmark's
markdown output and prints one line per pair:

    ratio <name>: <baseline p50 wall clock / flow p50 wall clock>

Above 1 means Flow is faster. Lines such as `<name>: <value>` printed by a
benchmark itself (for example CPU percentages) are passed through.
"""
import re, sys

UNITS = {"ns": 1, "μs": 1e3, "us": 1e3, "ms": 1e6, "s": 1e9}

def parse(text):
    medians, current = {}, None
    for line in text.splitlines():
        m = re.match(r"^### (\S+)", line)
        if m:
            current = m.group(1)
            continue
        m = re.match(r"^\|\s*Time \(wall clock\) \((\w+)\)\s*\*?\s*\|(.*)$", line)
        if m and current:
            cells = [c.strip() for c in m.group(2).split("|") if c.strip()]
            # columns: p0 p25 p50 p75 p90 p99 p100 samples
            value = float(cells[2].replace(",", ""))
            medians[current] = value * UNITS.get(m.group(1), 1)
    return medians

def ratios(medians):
    """name -> baseline p50 / flow p50. A comparison may have several
    baselines (`<name>:baseline-<kind>`); the fastest one counts."""
    out = {}
    for key in sorted(flow_variants(medians)):
        name = key.split(":")[0]
        flow = medians[key if ":" in key else key + ":flow"]
        bases = [v for k, v in medians.items()
                 if k.rsplit(":", 1)[0] == name and k.rsplit(":", 1)[1].startswith("baseline")]
        out[key] = (min(bases) / flow) if bases and flow > 0 else None
    return out

def flow_variants(medians):
    """The comparisons: "<name>" for each "<name>:flow", and
    "<name>:flow-<kind>" for each further Flow variant of a comparison
    (measured against the same baselines)."""
    keys = set()
    for n in medians:
        name, _, kind = n.rpartition(":")
        if kind == "flow":
            keys.add(name)
        elif kind.startswith("flow-"):
            keys.add(n)
    return keys

def main():
    text = open(sys.argv[1], encoding="utf-8").read() if len(sys.argv) > 1 else sys.stdin.read()
    medians = parse(text)
    found = ratios(medians)
    if not found:
        print("ratios: no <name>:flow benchmarks found", file=sys.stderr)
    for name, r in found.items():
        print(f"ratio {name}: {r:.2f}" if r is not None else f"ratio {name}: n/a (missing baseline)")
    for line in text.splitlines():
        if re.match(r"^[a-z0-9-]+-(percent|latency-ns|count): ", line):
            print(line)
    for name, value in custom_metrics(text):
        print(f"{name}: {value}")

def custom_metrics(text):
    """The idle watchdog monitor's CPU use, recorded as a custom metric."""
    current = None
    for line in text.splitlines():
        m = re.match(r"^### (\S+)", line)
        if m:
            current = m.group(1)
        m = re.match(r"^\|\s*monitor CPU \(milli-percent of a core\)\s*\|(.*)$", line)
        if m and current:
            cells = [c.strip() for c in m.group(1).split("|") if c.strip()]
            yield current + "-percent", f"{float(cells[2]) / 1000:.3f}"

if __name__ == "__main__":
    main()
