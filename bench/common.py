"""Shared helpers of the benchmarks: interleaved timing, goals, machine facts, JSON output.

The machine is shared with other people's jobs, so every figure that is judged is a ratio against a
reference timed in the same run, in interleaved rounds (A B A B ...), and the median over rounds of
the pairwise ratio is what is compared with the goal.
"""
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench", "out")
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def machine():
    """What the figures came from: CPU model, cores, memory, load, library versions."""
    info = {"python": platform.python_version(), "cores": os.cpu_count(), "platform": platform.platform()}
    try:
        with open("/proc/cpuinfo") as stream:
            names = [line.split(":", 1)[1].strip() for line in stream if line.startswith("model name")]
        info["cpu"] = names[0] if names else platform.processor()
    except OSError:
        info["cpu"] = platform.processor()
    try:
        info["memory_gib"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30, 1)
    except (ValueError, OSError):
        pass
    info["load_average"] = list(os.getloadavg())
    for key in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE"):
        if key in os.environ:
            info[key] = os.environ[key]
    return info


def median(values):
    return float(statistics.median(values))


def interleaved(variants, rounds, warmup=1):
    """Run each ``variants[name]()`` (returns its own seconds as a float, or anything else to have the call timed) once per
    round, in rotating order; returns {name: [seconds per round]}."""
    names = list(variants)
    for _ in range(warmup):
        for name in names:
            variants[name]()
    times = {name: [] for name in names}
    for index in range(rounds):
        order = names[index % len(names):] + names[:index % len(names)]
        for name in order:
            start = time.perf_counter()
            measured = variants[name]()
            times[name].append(measured if isinstance(measured, float) else time.perf_counter() - start)
    return times


def paired_ratio(numerator, denominator):
    """Median over rounds of numerator[i] / denominator[i]."""
    return median([a / b for a, b in zip(numerator, denominator)])


class Report:
    """Collects figures and goal checks of one benchmark; prints and writes bench/out/NAME.json."""

    def __init__(self, name, argv=None):
        self.name = name
        self.started = time.time()
        self.data = {"benchmark": name, "machine": machine(), "command": " ".join(argv or sys.argv),
                     "figures": {}, "goals": []}

    def figure(self, key, value, unit="", note=""):
        self.data["figures"][key] = {"value": value, "unit": unit, **({"note": note} if note else {})}
        shown = "{:.4g}".format(value) if isinstance(value, float) else str(value)
        print("  {:<58s} {:>12s} {}{}".format(key, shown, unit, "  ({})".format(note) if note else ""), flush=True)

    def goal(self, key, value, goal, higher_is_better=True, note=""):
        passed = value >= goal if higher_is_better else value <= goal
        self.data["goals"].append({"name": key, "value": value, "goal": goal,
                                   "direction": ">=" if higher_is_better else "<=", "pass": bool(passed),
                                   **({"note": note} if note else {})})
        print("  GOAL {:<53s} {:>8.3g} {} {:<6g} {}{}".format(
            key, value, ">=" if higher_is_better else "<=", goal, "PASS" if passed else "FAIL",
            "  ({})".format(note) if note else ""), flush=True)
        return passed

    def write(self):
        self.data["machine"]["load_average_end"] = list(os.getloadavg())
        self.data["seconds"] = round(time.time() - self.started, 1)
        os.makedirs(OUT, exist_ok=True)
        path = os.path.join(OUT, self.name + ".json")
        with open(path, "w") as stream:
            json.dump(self.data, stream, indent=1, sort_keys=True)
            stream.write("\n")
        print("wrote {} ({:.0f} s)".format(os.path.relpath(path, ROOT), self.data["seconds"]), flush=True)
        return path


def run_timed(command, env=None, cwd=ROOT, check=True, stdout=subprocess.DEVNULL):
    """Run a command; return its wall seconds, user+sys CPU seconds and peak RSS in MiB.

    os.wait4's rusage covers the child and the descendants it reaped (worker processes): the CPU
    times are summed over them, ru_maxrss is the largest single process's peak, as /usr/bin/time -v
    reports it."""
    # stderr goes to a file, not a pipe: nobody reads a pipe during wait4, and a child writing more
    # than the pipe holds (a progress bar over a large corpus) would block for ever.
    with tempfile.TemporaryFile() as errors:
        start = time.perf_counter()
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=stdout, stderr=errors)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        errors.seek(0)
        stderr = errors.read().decode(errors="replace")
    process.returncode = os.waitstatus_to_exitcode(status)
    if check and process.returncode != 0:
        raise RuntimeError("{} failed ({}):\n{}".format(" ".join(map(str, command)), process.returncode,
                                                        stderr[-3000:]))
    return {"wall_s": wall, "peak_rss_mib": usage.ru_maxrss / 1024.0,
            "cpu_s": usage.ru_utime + usage.ru_stime, "stderr": stderr}
