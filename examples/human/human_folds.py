#!/usr/bin/env python
"""Your own labelled recordings: leave-one-speaker-out over a folder of ``{digit}_{speaker}_*.wav``.

For each speaker in turn, the others' recordings train and that speaker's test. Three classifiers per
fold, all the 3-CNN of the pipeline: one from random weights (cnn_classifier1.py), one fine-tuned from a
trained synthetic model (cnn_classifier2.py --init, every layer starting from it), and that fine-tuned
one adapted to the held-out speaker's recordings without their labels (examples/human/adapt.py: rounds
of self-training on their audio beside the other speakers' labelled clips), as a user would adapt the
recogniser to a new voice. The held-out speaker's labels are never read to train or to choose anything:
they only score each fold. Each stage is the pipeline's own script, run as a subprocess:
make_spectrogram.py once with the front end of the model at --init, make_dataset.py --test-speakers per
fold, then the trainings. Writes ``folds.json`` (per fold and model: final test accuracy) and
``folds.md`` (mean ± std over the folds).
"""
import argparse
import json
import os
import subprocess
import sys

# specae/ is at the repository root, two folders up: the one shared way examples import it (examples/README.md)
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

import numpy as np

from specae import checkpoints, errors
from specae.files import save_json

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODELS = (("scratch", "cnn_classifier1.py", ["--layers", "3"]),
          ("fine-tuned", "cnn_classifier2.py", ["--init"]))
ADAPTED = "fine-tuned, adapted"  # the third column: the fine-tuned model self-trained on the held-out audio
COLUMNS = [name for name, _, _ in MODELS] + [ADAPTED]


def run(script, *arguments):
    command = [sys.executable, os.path.join(ROOT, script)] + [str(argument) for argument in arguments]
    print("+ " + " ".join(command), flush=True)
    if subprocess.run(command).returncode != 0:
        errors.fail("{} failed".format(script))


def front_end_flags(params):
    """make_spectrogram.py's options that reproduce a model's front end (see features.add_feature_arguments)."""
    flags = ["--fmin-hz", params["fmin_hz"], "--fmax-hz", params["fmax_hz"], "--level", params["level"],
             "--floor-db", params["floor_db"], "--trim-db", params["trim_db"], "--fit", params["fit"],
             "--lifter", params["lifter"], "--noise-subtraction", params.get("noise_subtraction", 0.0)]
    return flags + (["--band-norm"] if params["band_norm"] else [])


def final_accuracy(run_dir):
    with open(os.path.join(run_dir, "log")) as file:
        return float(json.load(file)[-1]["validation/main/accuracy"])


def adapted_accuracy(adapted_dir):
    """The test accuracy after the last round of adapt.py (its training log, validated on the fold's test
    split: the held-out speaker)."""
    with open(os.path.join(adapted_dir, "adaptation.json")) as file:
        last_round = json.load(file)["rounds"][-1]["round"]
    return final_accuracy(os.path.join(adapted_dir, "round{}".format(last_round)))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recordings", required=True, help="folder of {digit}_{speaker}_*.wav")
    parser.add_argument("--init", required=True, help="trained classifier folder to fine-tune from")
    parser.add_argument("--out", default="result/human_folds")
    parser.add_argument("--epoch", type=int, default=10)
    parser.add_argument("--batchsize", type=int, default=30)
    parser.add_argument("--device", default="-1")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--augment", type=int, default=1, help="degraded copies of each training recording")
    parser.add_argument("--adapt-epochs", type=int, default=3, help="epochs of each round of the adaptation")
    args = parser.parse_args()
    try:
        params = checkpoints.load_model_info(args.init)["feature_params"]
    except (FileNotFoundError, KeyError) as error:
        errors.fail("--init {}: {}".format(args.init, error))
    spec = os.path.join(args.out, "spectrogram")
    if not os.path.exists(os.path.join(spec, "index.json")):
        run("make_spectrogram.py", "--wav", args.recordings, "--out", spec, *front_end_flags(params))
    with open(os.path.join(spec, "index.json")) as file:
        entries = json.load(file)["files"]
    speakers = sorted({entry["speaker"] for entry in entries})
    if len(speakers) < 2:
        errors.fail("{}: leave-one-speaker-out needs at least 2 speakers, found {}".format(
            args.recordings, len(speakers)))

    folds = []
    for speaker in speakers:
        fold_dir = os.path.join(args.out, speaker)
        data = os.path.join(fold_dir, "DataSet")
        if not os.path.exists(os.path.join(data, "manifest.json")):
            run("make_dataset.py", "--spec", spec, "--out", data, "--test-speakers", speaker,
                "--augment", args.augment, "--seed", args.seed)
        scores = {"speaker": speaker}
        for name, script, extra in MODELS:
            run_dir = os.path.join(fold_dir, name)
            if not os.path.exists(os.path.join(run_dir, checkpoints.MODEL_FILE)):
                init = [os.path.join(args.init, checkpoints.MODEL_FILE)] if extra == ["--init"] else []
                run(script, *extra, *init, "--dataset", data, "--out", run_dir, "--epoch", args.epoch,
                    "--batchsize", args.batchsize, "--device", args.device, "--seed", args.seed + 1, "--autoload")
            scores[name] = final_accuracy(run_dir)
        adapted = os.path.join(fold_dir, "fine-tuned-adapted")
        if not os.path.exists(os.path.join(adapted, "adaptation.json")):
            held_out_audio = sorted(entry["wav"] for entry in entries if entry["speaker"] == speaker)
            run(os.path.join("examples", "human", "adapt.py"), "--model", os.path.join(fold_dir, "fine-tuned"),
                "--dataset", data, "--out", adapted, "--epoch", args.adapt_epochs, "--batchsize", args.batchsize,
                "--device", args.device, "--seed", args.seed, *held_out_audio)
        scores[ADAPTED] = adapted_accuracy(adapted)
        folds.append(scores)
        print("fold {}: {}".format(speaker, ", ".join("{} {:.4f}".format(n, scores[n]) for n in COLUMNS)))

    summary = {name: {"mean": float(np.mean([f[name] for f in folds])), "std": float(np.std([f[name] for f in folds]))}
               for name in COLUMNS}
    save_json(os.path.join(args.out, "folds.json"), {"command": sys.argv, "recordings": args.recordings,
                                                     "init": args.init, "epochs": args.epoch, "folds": folds,
                                                     "summary": summary})
    lines = ["| held-out speaker | " + " | ".join(COLUMNS[:-1]) + " | fine-tuned, then adapted to the held-out "
             "speaker's audio (no labels) |", "|---|" + "---|" * len(COLUMNS)]
    lines += ["| {} | ".format(f["speaker"]) + " | ".join("{:.1%}".format(f[n]) for n in COLUMNS) + " |"
              for f in folds]
    lines.append("| **mean ± std over {} folds** | ".format(len(folds)) + " | ".join(
        "**{:.1%} ± {:.1%}**".format(summary[n]["mean"], summary[n]["std"]) for n in COLUMNS) + " |")
    with open(os.path.join(args.out, "folds.md"), "w") as file:
        file.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
