"""The report page: one static HTML file that shows, and plays, what a run of the pipeline made.

`gather` reads what exists under ``result/`` (and the data set and spectrogram folders beside it) into
a plain dictionary, one entry per section; `render` fills ``templates/report.html`` with it. Every
artefact is optional: a section whose outputs are missing is left out, never drawn half-empty, so the
page can be written after ``make classify`` and again after any extension has run. Each extension has
its own section function (EXTENSION_SECTIONS), which reads the report.json its script wrote: the tables,
figures, WAVs and command listed there, and the numbers its lead sentences are written from.

Images and audio are linked relative to the page, or, with ``embed=True``, inlined as ``data:`` URIs so
that the one file can be mailed. The page needs no server, no script and no network.
"""
import base64
import collections
import datetime
import functools
import glob
import importlib.metadata
import os
import platform
import shlex
import sys
import urllib.parse

import jinja2
import numpy as np

from specae.features import FeatureParams
from specae.files import atomic_path, load_json

TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")
TEMPLATE = "report.html"
PAGE = "index.html"
EMBEDDED_PAGE = "index-embedded.html"
MIME_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml",
              ".wav": "audio/wav", ".wave": "audio/wav"}

# The greedy stack and the classifiers: run folder under result/, name on the page.
AUTOENCODERS = [("autoencoder{}".format(k), "AE layer {}".format(k)) for k in (1, 2, 3)]
CLASSIFIERS = [("classifier_2cnn", "2-CNN"), ("classifier_3cnn", "3-CNN"),
               ("classifier_pretrained", "pretrained 3-CNN")]
MODEL_NAMES = dict(CLASSIFIERS)
# Trained by make classify for the recogniser only, outside the comparison: its time and its name on the page.
RECOGNISER_ONLY = [("classifier_3cnn_freqpool", "frequency-pooled 3-CNN")]
RUN_NAMES = dict(CLASSIFIERS + RECOGNISER_ONLY)  # every classifier run folder make classify writes
COMPARISON_FIGURES = [("loss-accuracy_comparison.png", "2-CNN against 3-CNN from scratch"),
                      ("loss-accuracy_comparison_pre-train.png", "3-CNN from scratch against pretrained 3-CNN")]
ROBUSTNESS_COLUMNS = ("clean", "telephone", "noise", "reverb", "voice", "mixed", "mean_degraded")
TRAINING_CURVES = ("loss.png", "accuracy.png", "elbo.png", "perplexity.png")  # what PlotReport draws
MAX_AUDIO = 48  # players per extension section: hundreds of WAVs would bury the page
SEPARATION_TASKS = {"voices": "Two-voice", "noise": "Digit-in-noise"}  # separate.py's kinds of mixture
# Units of the front-end parameters (names of specae.features.FeatureParams).
PARAMETER_UNITS = {"sample_rate_hz": "Hz", "n_fft": "samples", "hop_length": "samples", "n_mels": "bands",
                   "fmin_hz": "Hz", "fmax_hz": "Hz", "n_frames": "frames", "floor_db": "dB",
                   "fixed_range_db": "dB", "trim_db": "dB", "lifter": "coefficients"}
FEATURE_FLAGS = ("fmin_hz", "fmax_hz", "level", "floor_db", "trim_db", "fit", "lifter", "band_norm",
                 "noise_subtraction")


class Linker:
    """Turns a file path into what an ``src`` attribute needs: a URL relative to the page, or with
    ``embed`` the file itself as a ``data:`` URI. A missing file gives None, so its element is dropped."""

    def __init__(self, page_dir, embed=False):
        self.page_dir = os.path.abspath(page_dir)
        self.embed = embed

    def __call__(self, path):
        if path is None or not os.path.isfile(path):
            return None
        if self.embed:
            mime = MIME_TYPES.get(os.path.splitext(path)[1].lower(), "application/octet-stream")
            with open(path, "rb") as stream:
                return "data:{};base64,{}".format(mime, base64.b64encode(stream.read()).decode("ascii"))
        relative = os.path.relpath(os.path.abspath(path), self.page_dir).replace(os.sep, "/")
        # Percent-encoding keeps a name with '#', '?', '%' or spaces a link to that very file.
        return urllib.parse.quote(relative, safe="/")


# ---- small helpers --------------------------------------------------------------------------------

def load_optional(path):
    """The JSON at ``path``, or None when it is missing or unreadable (an optional artefact)."""
    try:
        return load_json(path)
    except (OSError, ValueError):
        return None


def duration(seconds):
    """'12.3 s', '4 min 05 s', '1 h 02 min'."""
    if seconds is None:
        return "–"
    if seconds < 60:
        return "{:.1f} s".format(seconds)
    minutes, seconds = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return "{} min {:02d} s".format(minutes, seconds)
    hours, minutes = divmod(minutes, 60)
    return "{} h {:02d} min".format(hours, minutes)


def percent(value, digits=2):
    return "–" if value is None else "{:.{}f} %".format(100 * value, digits)


def mean_std_percent(values, digits=1):
    values = 100 * np.asarray(values, dtype=float)
    return "{:.{d}f} ± {:.{d}f} %".format(values.mean(), values.std(), d=digits)


def timestamp(seconds):
    return datetime.datetime.fromtimestamp(seconds).strftime("%Y-%m-%d %H:%M")


def mtime(path):
    try:
        return os.path.getmtime(path)
    except OSError:
        return None


def table(header, rows, caption=None):
    """A table for the template; columns whose cells read as numbers are right-aligned."""
    rows = [[str(cell) for cell in row] for row in rows]

    def numeric(text):
        head = text.lstrip("+-−–~≈ ")
        return bool(head) and (head[0].isdigit() or head.startswith("."))

    align = [all(numeric(row[k]) for row in rows if k < len(row) and row[k] != "–") and
             any(k < len(row) and row[k] != "–" for row in rows) for k in range(len(header))]
    return {"header": list(header), "rows": rows, "numeric": align, "caption": caption}


def shorten(text, result):
    """Absolute paths under the result folder, as the report scripts print them, made short."""
    prefix = os.path.abspath(result) + os.sep
    return text.replace(prefix, os.path.normpath(result) + "/")


def report_tables(report, result):
    """The tables and the notes above them that an extension keeps in its report.json (specae.tables);
    paths under the result folder are shortened to ``result/...``.

    Returns
    -------
    tables : list of dict
        One `table` each.
    notes : list of str
    """
    tables = [table([shorten(cell, result) for cell in item["header"]],
                    [[shorten(cell, result) for cell in row] for row in item["rows"]])
              for item in report.get("tables", [])]
    return tables, [shorten(note, result) for note in report.get("notes", [])]


def audio_groups(paths, base, link, limit=MAX_AUDIO):
    """WAVs as a table: a row per clip, a column per version, from names ``{clip}_{version}.wav``
    (listen.py's and most scripts' convention); a flat list when no clip has several versions.

    Parameters
    ----------
    paths : list of str
        The WAV files.
    base : str
        The folder their row labels are relative to.
    link : callable
        A `Linker` (path to ``src``).
    limit : int
        At most this many files (the first in sorted order) are shown.

    Returns
    -------
    groups : list of dict
        ``{"columns": [version, ...], "rows": [{"label", "cells"}]}``, each cell ``{"src", "name"}`` or
        None where that clip has no such version; empty when there are no files.
    left_out : int
        How many files were beyond ``limit``.
    """
    paths = sorted(paths)
    left_out = max(0, len(paths) - limit)
    paths = paths[:limit]
    rows = collections.OrderedDict()
    columns = []
    for path in paths:
        folder, stem = os.path.split(os.path.splitext(os.path.relpath(path, base))[0])
        clip, _, version = stem.rpartition("_")
        if not clip:
            clip, version = stem, "audio"
        rows.setdefault(os.path.join(folder, clip), {})[version] = path
        if version not in columns:
            columns.append(version)
    if all(len(versions) == 1 for versions in rows.values()):
        flat = [{"label": os.path.relpath(path, base), "cells": [{"src": link(path), "name": os.path.basename(path)}]}
                for path in paths]
        return ([{"columns": ["audio"], "rows": flat}] if flat else []), left_out
    grouped = []
    for clip, versions in rows.items():
        grouped.append({"label": clip, "cells": [
            {"src": link(versions[c]), "name": os.path.basename(versions[c])} if c in versions else None
            for c in columns]})
    return [{"columns": columns, "rows": grouped}], left_out


def figure(link, path, caption):
    src = link(path)
    return None if src is None else {"src": src, "caption": caption, "alt": caption, "size": "wide"}


def last_log_entry(directory):
    log = load_optional(os.path.join(directory, "log"))
    return log[-1] if isinstance(log, list) and log else None


def training_seconds(directory):
    entry = last_log_entry(directory)
    return None if entry is None else entry.get("elapsed_time")


def recorded_command(argv):
    """The command line a stage recorded when it ran (its ``sys.argv``: the script and its arguments as
    given), as one shell line under the venv's interpreter; None when it recorded none."""
    if not isinstance(argv, list) or not argv:
        return None
    return " ".join(shlex.quote(str(word)) for word in [".venv/bin/python"] + argv)


# ---- sections ------------------------------------------------------------------------------------

def machine():
    """CPU model, cores and memory of the machine writing the page (where make ran it)."""
    model, memory = None, None
    try:
        with open("/proc/cpuinfo") as stream:
            for line in stream:
                if line.lower().startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        with open("/proc/meminfo") as stream:
            for line in stream:
                if line.startswith("MemTotal:"):
                    memory = "{:.1f} GiB".format(int(line.split()[1]) / 2 ** 20)
                    break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        usable = os.cpu_count()
    try:  # the installed version, without importing chainer (slow, and noisy about numpy.distutils)
        chainer_version = importlib.metadata.version("chainer")
    except importlib.metadata.PackageNotFoundError:
        chainer_version = "not installed"
    rows = [("CPU", model or platform.processor() or platform.machine()),
            ("cores", "{} ({} usable by this process)".format(os.cpu_count(), usable)),
            ("memory", memory or "–"),
            ("system", platform.platform()),
            ("software", "Python {}, NumPy {}, Chainer {}".format(platform.python_version(), np.__version__,
                                                                 chainer_version))]
    return [(name, value) for name, value in rows]


def corpus_table(manifest):
    """Clips per digit on each side of the split (augmented copies are counted separately)."""
    counts = {side: collections.Counter(int(entry["digit"]) for entry in manifest[side]["files"])
              for side in ("train", "test")}
    digits = sorted(set(counts["train"]) | set(counts["test"]))
    # Digits across, sides down: ten narrow columns read faster than ten rows.
    rows = [[label] + [counts[side][digit] for digit in digits] + [sum(counts[side].values())]
            for side, label in (("train", "training clips"),
                                ("test", "test clips (unseen voices)" if manifest.get("split") == "speaker"
                                 else "test clips"))]
    return table(["digit"] + [str(digit) for digit in digits] + ["all"], rows)


def parameters_list(params):
    """``(name, "value unit")`` pairs of the front-end parameters, a change from the default noted."""
    items = []
    defaults = FeatureParams().to_dict()
    for name, value in sorted(params.items()):
        shown = " … ".join(str(v) for v in value) if isinstance(value, list) else str(value)
        shown = " ".join(part for part in (shown, PARAMETER_UNITS.get(name, "")) if part)
        if name in defaults and defaults[name] != value:
            shown += " (changed; default {})".format(defaults[name])
        items.append((name, shown))
    return items


def corpus_folder(manifest):
    """The folder of the data set's WAVs, when they all lie in one (the corpus make_wav.py wrote),
    relative to the working directory when it is inside it (the manifest keeps absolute paths)."""
    directories = {os.path.dirname(entry["wav"]) for side in ("train", "test") for entry in manifest[side]["files"]}
    if len(directories) != 1:
        return None
    folder = directories.pop()
    relative = os.path.relpath(folder)
    return folder if relative.startswith(os.pardir) else relative


def since(previous_end, end):
    """Seconds from one stage's output to the next one's, None when that order does not hold."""
    return end - previous_end if previous_end and end and end >= previous_end else None


def data_stages(dataset, spec, manifest, index, wav_dir):
    """Time (from file times) and command of the corpus, spectrogram and data-set stages."""
    stages, commands, previous_end = [], [], None
    if wav_dir and os.path.isdir(wav_dir):
        times = [entry.stat().st_mtime for entry in os.scandir(wav_dir) if entry.name.lower().endswith(".wav")]
        if times:
            end = mtime(os.path.join(wav_dir, ".complete")) or max(times)
            # From the first clip written: the start-up before it is not counted.
            stages.append({"stage": "corpus ({} WAVs in {})".format(len(times), wav_dir),
                           "seconds": end - min(times), "how": "file times", "finished": end})
            previous_end = end
    if index is not None:
        end = mtime(os.path.join(spec, "index.json"))
        params, defaults = FeatureParams.from_dict(index["params"]).to_dict(), FeatureParams().to_dict()
        words = [".venv/bin/python", "make_spectrogram.py"] + (["--wav", wav_dir] if wav_dir else []) + ["--out", spec]
        for name in FEATURE_FLAGS:
            if params[name] != defaults[name]:
                words += ["--" + name.replace("_", "-")] + ([] if isinstance(params[name], bool) else [str(params[name])])
        commands.append({"stage": "spectrograms", "command": " ".join(shlex.quote(w) for w in words), "runs": 1,
                         "seeds": None})
        stages.append({"stage": "spectrograms ({} images)".format(len(index.get("files", []))),
                       "seconds": since(previous_end, end), "how": "file times", "finished": end})
        previous_end = end
    if manifest is not None:
        end = mtime(os.path.join(dataset, "manifest.json"))
        # Rebuilt from the manifest, which does not record the command itself: that would put the --out
        # path into it, and the same seed must give a byte-identical DataSet/ wherever it is written.
        words = [".venv/bin/python", "make_dataset.py", "--spec", spec, "--out", dataset, "--split", manifest["split"],
                 "--test-ratio", str(manifest["test_ratio"]), "--seed", str(manifest["seed"]),
                 "--augment", str(manifest.get("augment_copies", 0))]
        if manifest.get("pitch_semitones"):
            words += ["--pitch-semitones", str(manifest["pitch_semitones"])]
        commands.append({"stage": "data set", "command": " ".join(shlex.quote(w) for w in words), "runs": 1,
                         "seeds": None})
        stages.append({"stage": "data set", "seconds": since(previous_end, end), "how": "file times", "finished": end})
    return stages, commands


def training_stages(result):
    """Time (Chainer's elapsed_time) and command (run.json) of the autoencoders and classifiers, and
    the settings the first run of each kind recorded."""
    stages, commands, settings = [], [], {}
    for folder, name in AUTOENCODERS + CLASSIFIERS + RECOGNISER_ONLY:
        directory = os.path.join(result, folder)
        greedy = folder.startswith("autoencoder")
        runs = [directory] if greedy else sorted(glob.glob(os.path.join(glob.escape(directory), "seed*")),
                                                 key=_seed_number)
        runs = [run for run in runs if os.path.exists(os.path.join(run, "log"))]
        if not runs:
            continue
        recorded = load_optional(os.path.join(runs[0], "run.json"))
        if isinstance(recorded, dict):
            seeds = [_seed_number(run) for run in runs]
            command = recorded_command(recorded.get("command"))
            if command:
                commands.append({"stage": name, "command": command, "runs": len(runs),
                                 "seeds": None if greedy else ", ".join(map(str, seeds))})
            settings.setdefault("autoencoder" if greedy else "classifier", recorded)
            if not greedy:
                settings["seeds"] = seeds
        known = [s for s in (training_seconds(run) for run in runs) if s is not None]
        stages.append({"stage": name + (" ({} seeds)".format(len(runs)) if len(runs) > 1 else ""),
                       "seconds": sum(known) if known else None, "how": "training loop (Chainer log)",
                       "finished": max(mtime(os.path.join(run, "log")) for run in runs)})
    return stages, commands, settings


def make_command(settings, manifest, wav_dir):
    """The make command with the variables the outputs record (those they do not are left out)."""
    words = ["make", "pretrain", "classify"]
    if "autoencoder" in settings:
        words.append("AE_EPOCHS={}".format(settings["autoencoder"].get("epoch")))
    if "classifier" in settings:
        words.append("CLF_EPOCHS={}".format(settings["classifier"].get("epoch")))
        words.append("SEEDS=" + shlex.quote(" ".join(str(s) for s in settings["seeds"])))
    recorded = settings.get("autoencoder") or settings.get("classifier")
    if recorded:
        words += ["BATCH={}".format(recorded.get("batchsize")), "DEVICE={}".format(recorded.get("device"))]
    if manifest is not None:
        words += ["SEED={}".format(manifest["seed"]), "SPLIT={}".format(manifest["split"]),
                  "AUGMENT={}".format(manifest.get("augment_copies", 0))]
        if wav_dir and os.path.exists(os.path.join(wav_dir, ".complete")):  # the corpus make_wav.py wrote
            words.append("SPEAKERS={}".format(len(manifest["train"]["speakers"]) + len(manifest["test"]["speakers"])))
    return " ".join(words)


def corpus_facts(manifest):
    train, test = manifest["train"], manifest["test"]
    by_speaker = manifest["split"] == "speaker"
    rates = sorted({entry.get("rate") for side in (train, test) for entry in side["files"]} - {None})
    extra = train["count"] - len(train["files"])
    return [("speakers", "{} in training, {} held out for testing".format(len(train["speakers"]), len(test["speakers"]))),
            ("split", "by speaker (no test voice is heard in training)" if by_speaker else "random by clip"),
            ("test share", "{:.0%} of the {}s".format(manifest["test_ratio"], "speaker" if by_speaker else "clip")),
            ("clips", "{} training, {} test".format(len(train["files"]), len(test["files"]))),
            ("augmented copies", "{} per training clip ({} images)".format(manifest.get("augment_copies", 0), extra)
             if extra else "none"),
            ("speaking rates", "{} different, {}–{} words per minute".format(len(rates), rates[0], rates[-1])
             if rates else "–"),
            ("image", "{} (channels × mel bands × frames)".format(" × ".join(map(str, manifest["shape"]))))]


def run_section(result, dataset, spec, link):
    """The run: commands, dates, machine, time per stage, front end, corpus and spectrogram grids."""
    manifest = load_optional(os.path.join(dataset, "manifest.json"))
    index = load_optional(os.path.join(spec, "index.json"))
    wav_dir = corpus_folder(manifest) if manifest and manifest["train"]["files"] else None
    stages, commands = data_stages(dataset, spec, manifest, index, wav_dir)
    trained, training_commands, settings = training_stages(result)
    stages, commands = stages + trained, commands + training_commands
    if not stages and manifest is None:
        return None
    total = sum(stage["seconds"] for stage in stages if stage["seconds"] is not None)
    rows = [[s["stage"], duration(s["seconds"]), s["how"], timestamp(s["finished"]) if s["finished"] else "–"]
            for s in stages]
    finished = [s["finished"] for s in stages if s["finished"]]
    section = {"make": make_command(settings, manifest, wav_dir), "commands": commands,
               "stages": table(["stage", "wall time", "measured from", "finished"],
                               rows + [["all stages above", duration(total), "sum", "–"]]),
               "date": timestamp(max(finished)) if finished else None,
               "machine": machine(), "parameters": None, "corpus": None, "previews": []}
    if manifest is not None:
        section["parameters"] = parameters_list(manifest["params"])
        section["corpus"] = {"facts": corpus_facts(manifest), "table": corpus_table(manifest)}
    for digit in range(10):
        item = figure(link, os.path.join(spec, "preview", "digit_{}.png".format(digit)), "digit {}".format(digit))
        if item:
            section["previews"].append(item)
    return section


def _seed_number(path):
    name = os.path.basename(os.path.normpath(path))
    digits = name[len("seed"):]
    return int(digits) if digits.isdigit() else name


def comparison_sentence(summary):
    """One sentence, from the numbers, on what the comparison shows."""
    named = {MODEL_NAMES[key]: row for key, row in summary.items() if key in MODEL_NAMES}
    if not named:
        return None
    best = max(named, key=lambda name: named[name]["final_accuracy_mean"])
    row = named[best]
    parts = ["On the held-out test set the {} is the most accurate ({} ± {:.2f} % over {} seed{})".format(
        best, "{:.2f}".format(100 * row["final_accuracy_mean"]), 100 * row["final_accuracy_std"], row["seeds"],
        "" if row["seeds"] == 1 else "s")]
    if "3-CNN" in named and "pretrained 3-CNN" in named:
        scratch, pretrained = named["3-CNN"], named["pretrained 3-CNN"]
        difference = 100 * (pretrained["final_accuracy_mean"] - scratch["final_accuracy_mean"])
        spread = 100 * max(pretrained["final_accuracy_std"], scratch["final_accuracy_std"])
        figures = "{:.2f} % against {:.2f} % from scratch".format(100 * pretrained["final_accuracy_mean"],
                                                                  100 * scratch["final_accuracy_mean"])
        if min(pretrained["seeds"], scratch["seeds"]) < 2:
            verdict = "greedy pretraining changes the 3-CNN's final accuracy by {:+.2f} points ({}; one seed, " \
                      "so no spread to judge it by)".format(difference, figures)
        elif abs(difference) <= spread:
            verdict = "greedy pretraining leaves the 3-CNN level with training from scratch ({}, a difference of " \
                      "{:+.2f} points, within one standard deviation)".format(figures, difference)
        else:
            verdict = "greedy pretraining {} the 3-CNN's final accuracy by {:.2f} points ({}, more than one " \
                      "standard deviation)".format("raises" if difference > 0 else "lowers", abs(difference), figures)
        reached = (pretrained.get("epochs_to_90_mean"), scratch.get("epochs_to_90_mean"))
        if None not in reached:
            verdict += ", and it reaches 90 % after {:.1f} epochs on average against {:.1f}".format(*reached)
        else:
            verdict += ", and not every seed of {} reaches 90 %".format(
                "the pretrained 3-CNN" if reached[0] is None else "the 3-CNN from scratch")
        parts.append(verdict)
    return "; ".join(parts) + "."


def comparison_section(result, link):
    summary = load_optional(os.path.join(result, "comparison.json"))
    figures = [item for item in (figure(link, os.path.join(result, name), caption)
                                 for name, caption in COMPARISON_FIGURES) if item]
    if not summary and not figures:
        return None
    rows = []
    for key, name in MODEL_NAMES.items():
        if summary and key in summary:
            row = summary[key]
            reached = ", ".join("never" if r is None else str(r) for r in row["epochs_to_90_per_seed"])
            rows.append([name, "{:.2f} ± {:.2f} %".format(100 * row["final_accuracy_mean"], 100 * row["final_accuracy_std"]),
                         "{:.3f}".format(row["final_loss_mean"]), percent(row["epoch1_accuracy_mean"]), reached,
                         row["seeds"], row["epochs"]])
    return {"figures": figures, "sentence": comparison_sentence(summary or {}),
            "table": table(["model", "final test accuracy (mean ± std)", "final test loss (cross-entropy, nats)",
                            "test accuracy after epoch 1", "epoch reaching 90 % (per seed)", "seeds", "epochs"],
                           rows) if rows else None}


def listen_section(result, link):
    """listen.py's WAVs as one table: a row per held-out clip; the recording, its input image turned
    back into audio and each autoencoder's reconstruction side by side (each file once, so that an
    embedded page carries it once)."""
    directory = os.path.join(result, "listen")
    report = load_optional(os.path.join(directory, "listen.json"))
    if not report or not report.get("clips"):
        return None
    names = dict(AUTOENCODERS)
    versions = sorted(report["clips"][0]["versions"], key=lambda version: version != "input")
    rows = []
    for clip in report["clips"]:
        stem = os.path.splitext(os.path.basename(clip["wav"]))[0]
        original = os.path.join(directory, stem + "_original.wav")
        cells = [{"src": link(original), "name": os.path.basename(original), "sc": None}]
        for version in versions:
            stored = clip["versions"].get(version)
            # listen.json keeps each path as the script was given it (relative to where it ran): the
            # file beside listen.json is the one to link.
            path = os.path.join(directory, os.path.basename(stored["wav"])) if stored else None
            cells.append({"src": link(path), "name": os.path.basename(path),
                          "sc": "{:.3f}".format(stored["mel_spectral_convergence"])} if stored else None)
        rows.append({"label": "digit {} ({})".format(clip["digit"], stem), "cells": cells})
    griffin_lim = report.get("griffin_lim", {})
    means = report.get("mean_mel_spectral_convergence", {})
    return {"columns": ["recording", "input image"] + [names.get(version, version) for version in versions[1:]],
            "rows": rows, "means": {version: means[version] for version in means},
            "figure": figure(link, os.path.join(directory, "listen.png"),
                             "the same clips (rows): the input image and each autoencoder's reconstruction, as turned "
                             "into the WAVs"),
            "settings": "Images turned into audio with the clip's own level and length (specae.inversion): mel to "
                        "linear by {} projected-gradient NNLS steps, phase by {} Griffin-Lim iterations (momentum "
                        "{}).".format(griffin_lim.get("nnls_iterations", "–"), griffin_lim.get("iterations", "–"),
                                      griffin_lim.get("momentum", "–"))}


def autoencoder_section(result, link):
    listen = listen_section(result, link)
    layers = []
    for folder, name in AUTOENCODERS:
        directory = os.path.join(result, folder)
        inout = figure(link, os.path.join(directory, "inout-comparison_{}.png".format(folder)),
                       "{}: test spectrograms (top) and their reconstruction through {} (bottom)".format(
                           name, "layer 1" if folder.endswith("1") else "layers 1–" + folder[-1]))
        loss = figure(link, os.path.join(directory, "loss.png"), "{}: training and test loss per epoch".format(name))
        entry = last_log_entry(directory)
        if not (inout or loss or entry):
            continue
        info = load_optional(os.path.join(directory, "model.json")) or {}
        facts = []
        if info.get("channels"):
            facts.append(("filters", " → ".join(str(c) for c in [1] + list(info["channels"]))))
        if entry:
            facts.append(("epochs", entry.get("epoch")))
            if "validation/main/loss" in entry:
                facts.append(("final test reconstruction loss", "{:.5f} (mean squared error, image in [0, 1])".format(
                    entry["validation/main/loss"])))
            facts.append(("training time", duration(entry.get("elapsed_time"))))
        if listen and folder in listen["means"]:
            facts.append(("its WAVs (Listen, above)", "mean mel spectral convergence {:.3f}, against {} for the input "
                          "image's (lower is closer to the recording)".format(
                              listen["means"][folder], "{:.3f}".format(listen["means"]["input"])
                              if "input" in listen["means"] else "–")))
        if loss:
            loss["size"] = "half"  # two curves: the full width would only magnify them
        layers.append({"id": folder, "name": name, "figures": [f for f in (inout, loss) if f], "facts": facts})
    if not layers:
        return None
    return {"layers": layers, "listen": listen}


def evaluation_section(result, link):
    """evaluate.py runs (result/evaluation/report.json and result/evaluation/*/report.json) and the
    robustness table of robustness_report.py."""
    base = os.path.join(result, "evaluation")
    candidates = [base] + sorted(path for path in glob.glob(os.path.join(glob.escape(base), "*"))
                                 if os.path.isdir(path))
    runs = []
    for directory in candidates:
        report = load_optional(os.path.join(directory, "report.json"))
        if not isinstance(report, dict) or "confusion" not in report:
            continue
        confusion = np.asarray(report["confusion"])
        rows = [[digit, int(confusion[digit].sum()), percent(confusion[digit, digit] / confusion[digit].sum(), 1)]
                for digit in range(len(confusion)) if confusion[digit].sum()]
        name = os.path.relpath(directory, base)
        runs.append({"name": "evaluation" if name == "." else name,
                     "model": shorten(str(report.get("model", "–")), result),
                     "accuracy": "{} ({} of {} clips; {} skipped)".format(
                         percent(report.get("accuracy")), report.get("correct", "–"), report.get("total", "–"),
                         len(report.get("skipped", []))),
                     "figure": figure(link, os.path.join(directory, "confusion.png"),
                                      "confusion matrix: {}".format(name)),
                     "table": table(["spoken digit", "clips", "recognised"], rows)})
    robustness = load_optional(os.path.join(result, "robustness.json"))
    robust = None
    if isinstance(robustness, dict) and robustness:
        # robustness_report.py's rows: one per run, one per folder's runs averaged (the runs joined by " + ",
        # --ensemble) and the recogniser's ("recogniser", --recogniser)
        per_run = {model: row for model, row in robustness.items() if model != "recogniser" and " + " not in model}
        columns = [c for c in ROBUSTNESS_COLUMNS if any(c in row for row in robustness.values())]
        header = ["model"] + [c.replace("_", " ") + " (accuracy)" for c in columns]
        rows = [[_model_label(model, result)] + [percent(row.get(c), 1) for c in columns]
                for model, row in per_run.items()]
        def folder_label(model):
            return _model_label(os.path.dirname(os.path.normpath(model)), result)
        groups = collections.OrderedDict()
        for model, row in per_run.items():
            groups.setdefault(folder_label(model), []).append(row)
        grouped = None
        if any(len(members) > 1 for members in groups.values()):
            grouped = table(["models", "runs"] + header[1:], [
                [group, len(members)] + [mean_std_percent([m[c] for m in members if c in m]) for c in columns]
                for group, members in groups.items()], caption="mean ± std over the runs in each folder")
        averaged = [["{}, {} runs averaged".format(folder_label(model.split(" + ")[0]), model.count(" + ") + 1)]
                     + [percent(row.get(c), 1) for c in columns] for model, row in robustness.items() if " + " in model]
        if "recogniser" in robustness:
            row = robustness["recogniser"]
            averaged.append(["the recogniser: {} models averaged, in the test-time views".format(len(row.get("models", [])))]
                            + [percent(row.get(c), 1) for c in columns])
        robust = {"table": table(header, rows), "grouped": grouped,
                  "averaged": table(["models"] + header[1:], averaged) if averaged else None}
    if not runs and robust is None:
        return None
    return {"runs": runs, "robustness": robust}


def _model_label(path, result):
    """A model directory as it reads best: relative to the result folder when it is inside it."""
    absolute, root = os.path.abspath(path), os.path.abspath(result)
    if absolute.startswith(root + os.sep):
        name = os.path.relpath(absolute, root)
        folder = name.split(os.sep)[0]
        return name.replace(folder, RUN_NAMES[folder], 1) if folder in RUN_NAMES else name
    return path


# ---- the extensions: one section function each, reading its own report.json ------------------------
# Each is ``name_section(result, link)``, returning the section (made by `extension_section`) or None when
# its outputs are missing. A new extension adds its function (written as below, with `reads_report`) and
# one line to EXTENSION_SECTIONS.

def reads_report(folder):
    """Makes ``build(result, link, directory, report)`` a section function ``(result, link)`` that reads
    result/<folder>/report.json, the one its extension's script wrote (specae.tables.save_report), and
    gives None when there is none."""
    def decorate(build):
        @functools.wraps(build)
        def section(result, link):
            directory = os.path.join(result, folder)
            report = load_optional(os.path.join(directory, "report.json"))
            return build(result, link, directory, report) if isinstance(report, dict) else None
        return section
    return decorate


def run_command(directory, stage):
    """The command a training stage recorded in its run.json, for an extension section's list; None without."""
    recorded = load_optional(os.path.join(directory, "run.json"))
    command = recorded_command(recorded.get("command")) if isinstance(recorded, dict) else None
    return {"stage": stage, "command": command} if command else None


def extension_section(key, title, description, directory, report, result, link, lead=(), commands=()):
    """A section of the page for an extension, from its report.json: the ``lead`` sentences (the
    section's reading of the numbers), the tables and notes, the figures (training curves after the
    results, smaller), the WAVs as players and the commands that made it (``commands``, from the training
    stages' run.json, then the command report.json recorded). None when it has nothing to show."""
    tables, notes = report_tables(report, result)
    figures = []
    for item in report.get("figures", []):
        shown = figure(link, os.path.join(directory, item["file"]), shorten(item["caption"], result))
        if shown and os.path.basename(item["file"]) in TRAINING_CURVES:
            shown["size"] = "half"
        figures.append(shown)
    figures = [item for item in figures if item]
    figures.sort(key=lambda item: item["size"] == "half")  # stable: results first, in their order
    audio, left_out = audio_groups([os.path.join(directory, path) for path in report.get("audio", [])],
                                   directory, link)
    commands = [c for c in commands if c]
    recorded = recorded_command(report.get("command"))
    if recorded and recorded not in [c["command"] for c in commands]:  # vae.py trains and reports in one run
        commands.append({"stage": "report", "command": recorded})
    commands = [dict(c, command=shorten(c["command"], result)) for c in commands]
    lead = [line for line in lead if line]
    if not (figures or tables or audio or lead):
        return None
    return {"id": key, "title": title, "description": description, "lead": lead, "paragraphs": notes,
            "figures": figures, "tables": tables, "audio": audio, "audio_left_out": left_out,
            "commands": commands, "folder": os.path.relpath(directory)}


@reads_report("denoise")
def denoise_section(result, link, directory, report):
    """make denoise (examples/denoise): result/denoise/report.json of denoise_report.py."""
    rows = report.get("reconstruction", {})
    lead = None
    if "noisy input" in rows and len(rows) > 1:
        best = max((name for name in rows if name != "noisy input"), key=lambda n: rows[n]["all"]["snr_db"])
        lead = ("Spectrogram SNR on the noisy held-out voices: {:.2f} dB for the noisy input itself; the highest of "
                "the autoencoders' outputs, {}, {:.2f} dB ({:+.2f} dB).".format(
                    rows["noisy input"]["all"]["snr_db"], shorten(best, result), rows[best]["all"]["snr_db"],
                    rows[best]["all"]["snr_db"] - rows["noisy input"]["all"]["snr_db"]))
    return extension_section(
        "denoise", "Denoising autoencoders",
        "Autoencoders trained to map noisy input to the clean target (make denoise), on noisy held-out voices.",
        directory, report, result, link, [lead])


@reads_report("anomaly")
def anomaly_section(result, link, directory, report):
    """make anomaly (examples/anomaly): result/anomaly/report.json of anomaly_report.py, with its detector."""
    detector = report.get("detector")
    lead = None
    if isinstance(detector, dict) and "auc" in detector:
        lead = ("The detector (the autoencoder chosen on a validation set, {}) separates held-out digits from other "
                "sounds with ROC AUC {:.3f}; its threshold {:.5f} accepts {} of the training digits.".format(
                    shorten(str(report.get("chosen", "–")), result), detector["auc"], detector["threshold"],
                    percent(detector.get("accept_quantile"), 0)))
    return extension_section(
        "anomaly", "Is it a spoken digit? (anomaly detection)",
        "Reconstruction error as a score of \"not a digit\" against locally made other sounds (make anomaly); "
        "one sound of each kind to listen to.", directory, report, result, link, [lead])


@reads_report("deep")
def deep_section(result, link, directory, report):
    """make deep (examples/deep): result/deep/report.json of deep_report.py, and the deep AE's training."""
    rows = report.get("reconstruction", {})
    lead = []
    if rows:
        best = min(rows, key=lambda name: rows[name]["test_mse"])
        others = ["{} ({}) {:.5f}".format(shorten(name, result), row["kind"], row["test_mse"])
                  for name, row in rows.items() if name != best]
        lead.append("Lowest held-out reconstruction error (MSE over {} test clips): {} ({}, {} parameters, code "
                    "{}), {:.5f}{}.".format(report.get("test_clips", "–"), shorten(best, result), rows[best]["kind"],
                                            rows[best]["parameters"], "×".join(map(str, rows[best]["bottleneck"])),
                                            rows[best]["test_mse"],
                                            "; against " + ", ".join(others) if others else ""))
    classifiers = report.get("classifiers", {})
    if classifiers:
        best = max(classifiers, key=lambda group: np.mean(classifiers[group]["final_accuracy"]))
        lead.append("Of the classifiers started from each, {} ends most accurate: {} over {} run{}.".format(
            shorten(best, result), mean_std_percent(classifiers[best]["final_accuracy"]),
            len(classifiers[best]["final_accuracy"]), "" if len(classifiers[best]["final_accuracy"]) == 1 else "s"))
    return extension_section(
        "deep", "Deeper autoencoder",
        "Batch normalisation, LeakyReLU, tanh bottleneck, softplus output, RMSprop (make deep), against the "
        "greedy stack.", directory, report, result, link, lead, [run_command(directory, "deep AE training")])


@reads_report("vae")
def morph_section(result, link, directory, report):
    """make morph (examples/vae): result/vae/report.json, which vae.py writes after training."""
    rows = report.get("models", {})
    lead = []
    ours = [name for name, row in rows.items() if row["kind"].startswith("vae")]
    if ours:
        row = rows[ours[0]]
        sentence = "On {} held-out clips the {} rebuilds the images with MSE {:.5f} and cosine {:.4f}{}".format(
            report.get("test_clips", "–"), row["kind"].replace("vae", "VAE"), row["mse"], row["cosine"],
            "" if row.get("elbo") is None else " (ELBO {:.1f} nats per clip)".format(row["elbo"]))
        others = [name for name in rows if name not in ours]
        if others:
            closest = min(others, key=lambda name: rows[name]["mse"])
            sentence += "; the closest autoencoder, {}, with MSE {:.5f} and cosine {:.4f}".format(
                shorten(closest, result), rows[closest]["mse"], rows[closest]["cosine"])
        lead.append(sentence + ".")
    explained = report.get("pca_explained_variance")
    if explained:
        lead.append("The latent map's two principal axes hold {:.0f} % and {:.0f} % of the latent means' "
                    "variance.".format(100 * explained[0], 100 * explained[1]))
    return extension_section(
        "morph", "Morphing (variational autoencoder)",
        "Latent interpolation between two clips, decoded to spectrograms and audio (make morph).",
        directory, report, result, link, lead, [run_command(directory, "VAE training")])


@reads_report("separate")
def separate_section(result, link, directory, report):
    """make separate (examples/separation): result/separate/report.json of separation_report.py over the
    separate.py runs."""
    lead = []
    for kind in next(iter(report.get("rows", {}).values()), {}):
        lead.append("{} mixtures of held-out voices, SI-SDR improvement over the mixture: {}.".format(
            SEPARATION_TASKS.get(kind, kind), ", ".join(
                "{} {:+.2f} dB".format(method, row[kind]["si_sdr_improvement"])
                for method, row in report["rows"].items())))
        first = next(iter(report.get("summaries", {}).values()), {}).get(kind, {})
        if "accuracy" in first.get("mixture", {}):
            estimates = ["{:.1f} % on the estimates of the {}".format(100 * row[kind]["accuracy"], method)
                         for method, row in report["rows"].items() if "accuracy" in row[kind]]
            lead.append("The digit classifier on them: {:.1f} % on the mixtures, {}, {:.1f} % on the clean "
                        "sources.".format(100 * first["mixture"]["accuracy"], ", ".join(estimates),
                                          100 * first["clean"]["accuracy"]))
    commands = [run_command(run, "separate.py, " + run_name) for run, run_name in
                ((run, os.path.basename(os.path.normpath(run))) for run in report.get("runs", []))]
    return extension_section(
        "separate", "Source separation (U-Net)",
        "Two voices (or a voice and noise) separated by a U-Net mask (make separate).",
        directory, report, result, link, lead, commands)


@reads_report("curve")
def curve_section(result, link, directory, report):
    """make curve (examples/curve): result/curve/report.json of curve_report.py; each pretrained model minus
    one from scratch at each number of labels, paired by seed, with its t-interval."""
    summary, models, lead = report.get("summary", {}), report.get("models", {}), []
    differences = sorted(report.get("differences", {}).items(), key=lambda item: not item[0].endswith("3cnn"))
    for name, by_n in differences:
        first, second = name.split(" - ")
        parts = ["{:+.1f} points at n = {}{}".format(
            100 * by_n[n]["mean"], n, "" if by_n[n]["low"] is None else " [{:+.1f}, {:+.1f}]".format(
                100 * by_n[n]["low"], 100 * by_n[n]["high"]))
            for n in sorted(by_n, key=lambda n: summary[first][n]["clips_per_class"])]
        lead.append("{} minus {}, paired by seed ({:.0f} % t-interval): {}.".format(
            models.get(first, first), models.get(second, second), 100 * report.get("confidence", 0.95),
            "; ".join(parts)))
    return extension_section(
        "curve", "Pretraining against labels",
        "Test accuracy against the labelled clips per digit, pretrained and from scratch, the same updates for "
        "each (make curve).", directory, report, result, link, lead)


# The human-speech runs, each the report.json that evaluate.py or the peer wrote (specae.scoring), in the
# order the section shows them: its folder under the result folder, how the section names it, the goal.
HUMAN_RUNS = (("human", "this project's recogniser", "make human"),
              ("human_adapted", "adapted to the recordings without their labels", "make adapt"),
              ("human_peer", "off-the-shelf PocketSphinx, digit grammar", "make human-peer"))


def human_section(result, link):
    """make human, make adapt and make human-peer (examples/human): the recogniser, the adapted recogniser and
    the peer on the same folder of human recordings, side by side, from the report.json each wrote."""
    runs = [(folder, name, goal, load_optional(os.path.join(result, folder, "report.json")))
            for folder, name, goal in HUMAN_RUNS]
    runs = [(folder, name, "{} ({})".format(name, goal), report) for folder, name, goal, report in runs
            if isinstance(report, dict) and "speakers" in report and report.get("total")]
    if not runs:
        return None
    rows = [[label, percent(report["accuracy"]), report["correct"], report["total"], report.get("no_answer", 0),
             len(report.get("skipped", []))] for _, _, label, report in runs]
    tables = [table(["recogniser", "accuracy", "right", "recordings", "no answer", "skipped"], rows)]
    speakers = sorted({speaker for *_, report in runs for speaker in report["speakers"]})
    if len(speakers) > 1:
        tables.append(table(["speaker"] + [label for _, _, label, _ in runs], [
            [speaker] + [percent(report["speakers"][speaker]["accuracy"], 1) if speaker in report["speakers"] else "–"
                         for *_, report in runs] for speaker in speakers], caption="accuracy per speaker"))
    folders = sorted({os.path.dirname(entry["path"]) for *_, report in runs for entry in report.get("files", [])})
    lead = "{} on {} recordings of {} speaker{}{}.".format(
        "; ".join("{}: {}".format(name, percent(report["accuracy"], 1)) for _, name, _, report in runs),
        runs[0][3]["total"], len(speakers), "" if len(speakers) == 1 else "s",
        " in {}".format(folders[0]) if len(folders) == 1 else "")
    figures = [figure(link, os.path.join(result, folder, "confusion.png"), "confusion matrix: " + label)
               for folder, _, label, _ in runs]
    return {"id": "human", "title": "Human speech",
            "description": "The recogniser on recordings of people (HUMAN_DIR), the same recordings scored by the "
                           "models adapted to their audio without labels, and by an off-the-shelf peer.",
            "lead": [lead], "paragraphs": [], "figures": [item for item in figures if item], "tables": tables,
            "audio": [], "audio_left_out": 0, "commands": [], "folder": os.path.relpath(os.path.join(result, runs[0][0]))}


# The extension sections in the order the page shows them: one line per extension.
EXTENSION_SECTIONS = [human_section, denoise_section, anomaly_section, deep_section, morph_section, separate_section,
                      curve_section]


# ---- the page --------------------------------------------------------------------------------------

def optional(name, build, *args):
    """``build(*args)``, or None with a one-line warning when an artefact it reads is not in the shape
    it expects (written by an older or newer script): that section is left out, the page still stands."""
    try:
        return build(*args)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, ZeroDivisionError) as error:
        print("warning: report section {} left out: {}: {}".format(name, type(error).__name__, error),
              file=sys.stderr)
        return None


def gather(result="result", dataset="DataSet", spec="spectrogram", page_dir=None, embed=False):
    """Everything the page shows, as a dictionary for `render`.

    Parameters
    ----------
    result, dataset, spec : str
        The run's result folder, its data set (``manifest.json``) and spectrogram folder
        (``index.json``, ``preview/``).
    page_dir : str, optional
        The folder the page will be written to: links are relative to it (default ``result``).
    embed : bool
        Inline images and audio as ``data:`` URIs instead of linking them.

    Returns
    -------
    dict
        ``run``, ``comparison``, ``autoencoders``, ``evaluation`` (each None when it has no outputs),
        ``extensions`` (the sections that have), ``contents`` (id and title of each section shown) and
        the page's metadata.
    """
    link = Linker(page_dir or result, embed)
    extensions = [optional(section.__name__[:-len("_section")], section, result, link)
                  for section in EXTENSION_SECTIONS]
    context = {"result": os.path.normpath(result), "embed": embed,
               "generated": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
               "run": optional("run", run_section, result, dataset, spec, link),
               "comparison": optional("comparison", comparison_section, result, link),
               "autoencoders": optional("autoencoders", autoencoder_section, result, link),
               "evaluation": optional("evaluation", evaluation_section, result, link),
               "extensions": [section for section in extensions if section]}
    contents = [("run", "The run", context["run"]), ("comparison", "Pretraining or not: the comparison",
                                                     context["comparison"]),
                ("autoencoders", "What each autoencoder layer keeps", context["autoencoders"]),
                ("evaluation", "Evaluation", context["evaluation"])]
    context["contents"] = [{"id": key, "title": title} for key, title, section in contents if section] + \
        [{"id": section["id"], "title": section["title"]} for section in context["extensions"]]
    return context


def environment():
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return env


def render(context):
    return environment().get_template(TEMPLATE).render(**context)


def write_report(out, result="result", dataset="DataSet", spec="spectrogram", embed=False):
    """Gather, render and write the page atomically (a killed run leaves the old page whole).

    Parameters
    ----------
    out : str
        The page's path; its links are relative to its folder.
    result, dataset, spec, embed
        As for `gather`.

    Returns
    -------
    str
        ``out``.
    """
    context = gather(result, dataset, spec, page_dir=os.path.dirname(os.path.abspath(out)), embed=embed)
    page = render(context)
    with atomic_path(out) as temporary:
        with open(temporary, "w", encoding="utf-8") as stream:
            stream.write(page)
    return out
