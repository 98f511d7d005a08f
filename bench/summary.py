"""Print every goal of the benchmarks' JSON files in bench/out/ with its figure and PASS/FAIL.

    python bench/summary.py [NAME ...]     (default: frontend training pipeline)
"""
import json
import os
import sys

OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench", "out")


def main(names):
    rows, machine = [], None
    for name in names:
        path = os.path.join(OUT, name + ".json")
        if not os.path.exists(path):
            print("{}: not run (no {})".format(name, os.path.relpath(path)))
            continue
        with open(path) as stream:
            data = json.load(stream)
        machine = machine or data["machine"]
        rows += [(name, goal) for goal in data["goals"]]
    if machine:
        print("machine: {cpu}, {cores} cores, {memory_gib} GiB; load average at the start {load}".format(
            load=", ".join("{:.1f}".format(v) for v in machine["load_average"]), **machine))
    for name, goal in rows:
        print("{:<10s} {:<60s} {:>8.3g} {} {:<5g} {}".format(
            name, goal["name"], goal["value"], goal["direction"], goal["goal"], "PASS" if goal["pass"] else "FAIL"))
    failed = sum(1 for _, goal in rows if not goal["pass"])
    print("{} goals, {} met, {} not met".format(len(rows), len(rows) - failed, failed))


if __name__ == "__main__":
    main(sys.argv[1:] or ["frontend", "training", "pipeline"])
