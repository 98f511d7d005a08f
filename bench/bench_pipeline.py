"""Pipeline benchmark: wall time and peak memory of each stage of ``make pretrain classify``, and how they
grow with the corpus (1×, 4×, 16× the Makefile's SPEAKERS).

Not a test. The stages are the Makefile's own recipes: ``make -n pretrain classify`` with scratch output
folders (CORPUS, SPEC_DIR, DATA_DIR, RESULT, STAMPS under bench/out/pipeline/) prints them, and each
is run as a whole process, its wall time and peak RSS taken from os.wait4 (the largest single
process of the stage, as /usr/bin/time -v reports it; worker processes included).

Training stages run ``--epochs`` epochs (default 2) and one classifier seed; their cost at the
Makefile's epochs and seeds is extrapolated from the per-epoch times in their logs:
stage(E) = fixed + E × epoch, fixed = wall − (time of the epochs run), and × the number of seeds for
the classifiers. Stages run one at a time with the BLAS threads the Makefile gives them (THREADS), and
the wall time of ``make pretrain classify`` is estimated by replaying the Makefile's schedule on JOBS
slots: data stages in turn, then the trainings, each on the first free slot once the runs it waits for
are done (the waits read from make's own database, ``make -p -n``, for the real seeds and slots: on two
slots the Makefile's two lanes), then the plots.
``--full`` instead runs ``make pretrain classify`` itself (real epochs, seeds and parallelism) and
reports its wall time, CPU time and peak memory (the figure for the README).

    .venv-bench/bin/python bench/bench_pipeline.py [--scales 1] [--epochs 2] [--full] [--keep]
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import OUT, ROOT, Report, run_timed  # noqa: E402

TRAINING = ("cnn_autoencoder", "cnn_classifier")
GOAL_MINUTES, GOAL_GIB = 5.0, 2.0


def clean_env():
    """The environment without a parent make's flags (make bench runs this under make)."""
    return {key: value for key, value in os.environ.items() if key not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}


def make_variables():
    """The Makefile's defaults for epochs, seeds and speakers (the default corpus is 1×)."""
    output = subprocess.run(["make", "-s", "--no-print-directory", "-f", "Makefile", "-f", "-",
                             "print-bench-variables"], cwd=ROOT, capture_output=True, text=True, check=True, env=clean_env(),
                            input="print-bench-variables:\n\t@echo $(AE_EPOCHS) $(CLF_EPOCHS) $(words $(SEEDS)) "
                                  "$(SPEAKERS) $(JOBS) $(or $(THREADS),0)\n")
    ae, clf, seeds, speakers, jobs, threads = output.stdout.split()
    return int(ae), int(clf), int(seeds), int(speakers), int(jobs), int(threads)


def stage_env(threads):
    """What a recipe of the Makefile runs with: its BLAS threads (0: the libraries' default)."""
    env = clean_env()
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env.pop(name, None)
        if threads:
            env[name] = str(threads)
    return env


def training_waits(database, result):
    """``{run: the training runs it waits for}`` from make's database (the output of ``make -p -n pretrain
    classify``): a run is a model's folder under the folder ``result`` (``autoencoder2``,
    ``classifier_2cnn/seed1``), what it waits for its normal prerequisites among the runs (the autoencoder
    before it) and its order-only ones (the Makefile's two lanes when JOBS=2)."""
    run = r"{}/((?:autoencoder|classifier_)[^/%\s]*(?:/seed\d+)?)/model\.npz".format(re.escape(result))
    return {name: set(re.findall(run, prerequisites))
            for name, prerequisites in re.findall(r"^{}: (.*)$".format(run), database, re.M)}


def make_schedule(jobs, slots, waits):
    """Wall time of running ``jobs`` [(run or None, seconds)] (in the Makefile's order) as make -j ``slots``
    does, each training run waiting for its ``waits`` (``training_waits``).

    Stages that are no training run (None: data before the trainings, plots after) run alone; a free slot
    takes the first training run, in the Makefile's order, whose waits are over."""
    first = next((i for i, (run, _) in enumerate(jobs) if run is not None), len(jobs))
    before = [t for run, t in jobs[:first] if run is None]
    after = [t for run, t in jobs[first:] if run is None]
    training = [(run, t) for run, t in jobs if run is not None]
    clock = sum(before)
    free = [clock] * max(1, slots)
    ends, pending = {}, [run for run, _ in training]
    seconds = dict(training)
    while pending:
        slot = min(range(len(free)), key=free.__getitem__)
        now = free[slot]
        ready = [run for run in pending if all(ends.get(other, float("inf")) <= now for other in waits.get(run, ()))]
        if not ready:  # this slot waits for the next running job to end
            later = [end for end in ends.values() if end > now]
            if not later:
                raise RuntimeError("the training runs wait for each other in a circle")
            free[slot] = min(later)
            continue
        run = ready[0]
        pending.remove(run)
        ends[run] = free[slot] = now + seconds[run]
    return max(list(ends.values()) + [clock]) + sum(after)


def corpus_variables(folders, speakers):
    """The make variables of a run: its output folders and a corpus of ``speakers`` stock espeak-ng voices,
    with as many random voices beside them as the Makefile's default has (the two grow together)."""
    return ["{}={}".format(key, value) for key, value in folders.items()] + [
        "SPEAKERS={}".format(speakers), "RANDOM_VOICES={}".format(speakers)]


def make_command(folders, speakers, ae_epochs, clf_epochs, seeds, *options):
    """``make [options] pretrain classify`` with these output folders, corpus size, epochs and seeds."""
    variables = corpus_variables(folders, speakers) + [
        "AE_EPOCHS={}".format(ae_epochs), "CLF_EPOCHS={}".format(clf_epochs), "SEEDS={}".format(seeds)]
    return subprocess.run(["make", *options, "--no-print-directory", "pretrain", "classify", *variables],
                          cwd=ROOT, capture_output=True, text=True, check=True, env=clean_env()).stdout


def stage_commands(folders, speakers, ae_epochs, clf_epochs, seeds):
    """The recipe lines of ``make pretrain classify`` for these folders, in order."""
    output = make_command(folders, speakers, ae_epochs, clf_epochs, seeds, "-n")
    lines, current = [], ""
    for line in output.splitlines():
        current += line.rstrip("\\").strip() + " " if line.endswith("\\") else line.strip()
        if not line.endswith("\\"):
            if current:
                lines.append(" ".join(current.split()))
            current = ""
    return lines


def stage_name(command):
    match = re.search(r"(\w+\.py)", command)
    if not match:
        return None
    name = match.group(1)
    layers = re.search(r"--layers (\d)", command)
    seed = re.search(r"--seed (\d+)", command)
    pool = re.search(r"--frequency-pool (\d)", command)
    if name == "cnn_classifier1.py" and layers:
        name += " --layers " + layers.group(1)
    if name == "cnn_classifier1.py --layers 3" and pool:
        name += " --frequency-pool " + pool.group(1)
    if name.startswith("cnn_classifier") and seed:
        name += " (seed {})".format(seed.group(1))
    return name


def log_epochs(command):
    """(elapsed_time of the initial evaluation, [duration of each epoch]) from a training stage's log."""
    out = re.search(r"--out (\S+)", command).group(1)
    with open(os.path.join(ROOT, out, "log")) as stream:
        log = json.load(stream)
    times = [entry["elapsed_time"] for entry in log]
    return times[0], [b - a for a, b in zip(times, times[1:])]


def run_scale(scale, args, report, targets):
    speakers = (args.base_speakers or targets[3]) * scale
    root = os.path.join(OUT, "pipeline", "x{}".format(scale))
    shutil.rmtree(root, ignore_errors=True)
    folders = {key: os.path.relpath(os.path.join(root, name), ROOT) for key, name in
               (("CORPUS", "wav"), ("SPEC_DIR", "spectrogram"), ("DATA_DIR", "DataSet"), ("RESULT", "result"),
                ("STAMPS", "stamps"))}
    ae_target, clf_target, seed_target, _, slots, threads = targets
    if args.full and scale == 1:
        return run_make(folders, speakers, targets, report, root, args.keep)
    ae_epochs = clf_epochs = args.epochs
    seeds = "1"
    commands = stage_commands(folders, speakers, ae_epochs, clf_epochs, seeds)
    print("{}× corpus ({} speakers), {}: {} commands".format(
        scale, speakers, "full epochs and seeds" if args.full and scale == 1 else
        "{} epoch{} per training stage, 1 seed, extrapolated".format(args.epochs, "s" if args.epochs > 1 else ""),
        len(commands)), flush=True)
    stages, started = [], time.perf_counter()
    for command in commands:
        result = run_timed(["bash", "-eo", "pipefail", "-c", command], env=stage_env(threads))
        name = stage_name(command)
        if name is None:  # rm, touch, mv, cat: bookkeeping of the recipes
            continue
        stage = {"stage": name, "command": command, "wall_s": result["wall_s"], "cpu_s": result["cpu_s"],
                 "peak_rss_mib": result["peak_rss_mib"], "estimated_s": result["wall_s"]}
        if name.startswith(TRAINING) and "--epoch 0" not in command:
            initial, epochs = log_epochs(command)
            fixed = result["wall_s"] - initial - sum(epochs)
            per_epoch = sorted(epochs)[len(epochs) // 2]
            target = ae_target if name.startswith("cnn_autoencoder") else clf_target
            stage.update(epoch_s=per_epoch, fixed_s=fixed + initial, epochs_run=len(epochs))
            stage["estimated_s"] = fixed + initial + target * per_epoch
            if name.startswith("cnn_classifier"):
                stage["estimated_s"] *= seed_target  # the other seeds cost the same
                stage["stage"] = name.replace(" (seed 1)", " × {} seeds".format(seed_target))
                stage["seeds"] = seed_target
        stage["estimated_cpu_s"] = stage["cpu_s"] * stage["estimated_s"] / stage["wall_s"]
        stages.append(stage)
        print("  {:<42s} {:>7.1f} s {:>7.1f} s CPU {:>6.0f} MiB{}".format(
            stage["stage"], stage["estimated_s"], stage["estimated_cpu_s"], stage["peak_rss_mib"],
            "   (ran {:.1f} s: {} epoch{} of {:.2f} s + {:.1f} s fixed)".format(
                stage["wall_s"], stage["epochs_run"], "s" if stage["epochs_run"] > 1 else "", stage["epoch_s"],
                stage["fixed_s"]) if "epoch_s" in stage and stage["estimated_s"] != stage["wall_s"] else ""),
            flush=True)
    serial = sum(stage["estimated_s"] for stage in stages)
    # the schedule replayed with the Makefile's own waits for the real number of seeds and slots
    all_seeds = " ".join(str(seed) for seed in range(1, seed_target + 1))
    waits = training_waits(make_command(folders, speakers, ae_target, clf_target, all_seeds, "-p", "-n",
                                        "JOBS={}".format(slots)), folders["RESULT"])
    jobs = []
    for stage in stages:
        out = re.search(r"--out (\S+)", stage["command"])
        run = os.path.relpath(out.group(1), folders["RESULT"]) if stage["stage"].startswith(TRAINING) else None
        for seed in range(1, stage.get("seeds", 1) + 1):
            jobs.append((run and re.sub(r"/seed1$", "/seed{}".format(seed), run),
                         stage["estimated_s"] / stage.get("seeds", 1)))
    missing = sorted({run for run, _ in jobs if run is not None and run not in waits})
    if missing:
        raise RuntimeError("make's database names no rule for the runs {}".format(", ".join(missing)))
    total = make_schedule(jobs, slots, waits)
    total_cpu = sum(stage["estimated_cpu_s"] for stage in stages)
    peak = max(stage["peak_rss_mib"] for stage in stages)
    with open(os.path.join(ROOT, folders["DATA_DIR"], "manifest.json")) as stream:
        manifest = json.load(stream)
    clips = manifest["train"]["count"] + manifest["test"]["count"]
    summary = {"scale": scale, "speakers": speakers, "clips_in_dataset": clips, "stages": stages,
               "total_s": total, "serial_s": serial, "total_cpu_s": total_cpu, "ran_s": time.perf_counter() - started,
               "peak_rss_mib": peak, "full": False, "jobs": slots, "threads": threads}
    label = "{}x".format(scale)
    report.figure("{} stages one at a time (extrapolated)".format(label), serial / 60, "min",
                  "{} BLAS thread{} each".format(threads or "default", "" if threads == 1 else "s"))
    report.figure("{} whole pipeline, make -j{} (extrapolated)".format(label, slots), total / 60, "min",
                  "the Makefile's schedule replayed on {} slots".format(slots))
    report.figure("{} whole pipeline, CPU time (user + sys)".format(label), total_cpu / 60, "min",
                  "what the stages would take on one free core")
    report.figure("{} largest peak RSS of a stage".format(label), peak / 1024, "GiB")
    if scale == 1:
        report.goal("default pipeline, minutes (from a built venv)", total / 60, GOAL_MINUTES, higher_is_better=False)
        report.goal("default pipeline, largest peak RSS (GiB)", peak / 1024, GOAL_GIB, higher_is_better=False)
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    return summary


def run_make(folders, speakers, targets, report, root, keep):
    """``make pretrain classify`` itself, with the Makefile's epochs, seeds and parallelism."""
    variables = corpus_variables(folders, speakers)
    print("1× corpus ({} speakers): make pretrain classify, the Makefile's epochs, seeds and -j{}".format(
        speakers, targets[4]), flush=True)
    result = run_timed(["make", "--no-print-directory", "pretrain", "classify", *variables], env=clean_env())
    stages = []
    for run in sorted(os.listdir(os.path.join(ROOT, folders["RESULT"]))):
        for sub in ("", *("seed{}".format(s) for s in range(1, targets[2] + 1))):
            log = os.path.join(ROOT, folders["RESULT"], run, sub, "log")
            if os.path.exists(log):
                with open(log) as stream:
                    entries = json.load(stream)
                stages.append({"stage": os.path.join(run, sub).rstrip("/"), "trainer_s": entries[-1]["elapsed_time"]})
                print("  {:<42s} {:>7.1f} s (Trainer elapsed_time)".format(stages[-1]["stage"], stages[-1]["trainer_s"]))
    summary = {"scale": 1, "speakers": speakers, "stages": stages, "total_s": result["wall_s"],
               "total_cpu_s": result["cpu_s"], "peak_rss_mib": result["peak_rss_mib"], "full": True,
               "jobs": targets[4], "threads": targets[5]}
    report.figure("1x make pretrain classify, wall", result["wall_s"] / 60, "min")
    report.figure("1x make pretrain classify, CPU time (user + sys)", result["cpu_s"] / 60, "min")
    report.figure("1x largest peak RSS of a stage", result["peak_rss_mib"] / 1024, "GiB")
    report.goal("default pipeline, minutes (from a built venv)", result["wall_s"] / 60, GOAL_MINUTES,
                higher_is_better=False)
    report.goal("default pipeline, largest peak RSS (GiB)", result["peak_rss_mib"] / 1024, GOAL_GIB,
                higher_is_better=False)
    if not keep:
        shutil.rmtree(root, ignore_errors=True)
    return summary


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=int, nargs="+", default=[1], help="corpus sizes, × 48 speakers")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per training stage (then extrapolated)")
    parser.add_argument("--full", action="store_true", help="at 1×: the Makefile's epochs and seeds, no extrapolation")
    parser.add_argument("--base-speakers", type=int,
                        help="speakers of the 1× corpus (default: the Makefile's SPEAKERS; fewer for a quick check)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folders")
    parser.add_argument("--name", default="pipeline", help="bench/out/NAME.json")
    args = parser.parse_args()
    report = Report(args.name)
    targets = make_variables()
    report.data["makefile"] = {"AE_EPOCHS": targets[0], "CLF_EPOCHS": targets[1], "seeds": targets[2],
                               "SPEAKERS": targets[3]}
    scales = [run_scale(scale, args, report, targets) for scale in args.scales]
    report.data["scales"] = scales
    if len(scales) > 1:
        base = scales[0]
        print("growth per clip against {}× (1.0 = linear):".format(base["scale"]))
        names = [stage["stage"] for stage in base["stages"]]
        for other in scales[1:]:
            factor = other["clips_in_dataset"] / base["clips_in_dataset"]
            for name, first, later in zip(names, base["stages"], other["stages"]):
                report.figure("{}x/{}x time per clip, {}".format(other["scale"], base["scale"], name),
                              later["estimated_s"] / first["estimated_s"] / factor, "x")
            for name, first, later in zip(names, base["stages"], other["stages"]):
                report.figure("{}x/{}x peak RSS, {}".format(other["scale"], base["scale"], name),
                              later["peak_rss_mib"] / first["peak_rss_mib"], "x")
            report.figure("{}x/{}x whole pipeline per clip".format(other["scale"], base["scale"]),
                          other["total_s"] / base["total_s"] / factor, "x")
    report.write()


if __name__ == "__main__":
    main()
