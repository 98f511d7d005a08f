#!/usr/bin/env python
"""Separate two voices, or a voice from noise, with a U-Net mask on the linear-frequency spectrogram.

Mixtures are made on the fly from the data set's clips at 8 kHz (separation.Mixtures, examples/separation/separation.py): two
different digits by two different voices at −5…+5 dB relative level, or a digit in white, pink or
babble noise at −5…+5 dB SNR. Training mixtures use the training voices, evaluation mixtures the
held-out voices (never heard in training, also as babble). The U-Net (Jansson et al. 2017: 5×5
convolutions of stride 2, batch normalisation, leaky ReLU; transposed convolutions with ReLU and dropout;
skip connections unless --no-skips; sigmoid mask) trains on the L1 distance between the masked
mixture magnitudes and the sources', with the Trainer like the other scripts.

Then, on --test-mixtures held-out mixtures, evaluation.json: SDR (fast_bss_eval) and SI-SDR of the
mixture, of the U-Net's estimates and of the ideal ratio mask's, and the digit classifier's accuracy on
each (--classifier; 'none' skips it); a few examples as WAVs (8 kHz) and separation.png
(mixture / mask / estimate / reference). separation_report.py puts several runs in one table.
"""
import os
import sys

# specae/ is at the repository root, two folders up: the one shared way examples import it (examples/README.md)
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

import numpy as np

from examples.separation import separation
from specae import checkpoints, command_line, errors, inference, plots, trainer_setup
from specae.audio import AudioError, resample, write_wav
from specae.dataset import DataSetError, load_manifest
from specae.features import image_from_samples
from specae.files import save_json

REPORT = ["main/loss", "validation/main/loss"]


def mixture_sets(manifest, args):
    """Training and held-out Mixtures, from disjoint voices (a clip of a held-out voice is never trained on)."""
    held_out = {entry["speaker"] for entry in manifest["test"]["files"]}
    sides = {"train": [e for e in manifest["train"]["files"] if e["speaker"] not in held_out],
             "test": manifest["test"]["files"]}
    sets = {}
    for side, files in sides.items():
        if len({entry["speaker"] for entry in files}) < 2:
            errors.fail("{}: the {} side needs clips of at least 2 voices to mix".format(args.dataset, side))
        try:
            clips = separation.load_clips(files)
        except AudioError as error:
            errors.fail("{}: {}".format(args.dataset, error))
        count, seed = (args.train_mixtures, args.seed) if side == "train" else (args.test_mixtures, args.test_seed)
        sets[side] = separation.Mixtures(clips, [e["speaker"] for e in files], [int(e["digit"]) for e in files],
                                         count, seed, args.noise_fraction, args.seconds)
    return sets


def evaluate(unet, mixtures, classifier, out, examples):
    """Per held-out mixture: SDR and SI-SDR of mixture, U-Net and ideal-ratio-mask estimates against each
    source that is a voice, and the classifier's answer for each; WAVs and figure of ``examples`` of them.
    Returns the records and the names of the WAVs written (in ``out``)."""
    x = np.stack([mixtures.get_example(i)[0] for i in range(len(mixtures))])
    unet_masks = separation.masks(unet, x)
    records, shown, audio_for_classifier, wavs = [], [], [], []
    for index in range(len(mixtures)):
        mixture, s1, s2, meta = mixtures.signals(index)
        references = [s1, s2]
        mask = unet_masks[index]
        versions = {"U-Net": [separation.resynthesise(mask, mixture), separation.resynthesise(1 - mask, mixture)]}
        ideal = separation.ideal_ratio_mask(s1, s2)
        versions["ideal ratio mask"] = [separation.resynthesise(ideal, mixture), separation.resynthesise(1 - ideal, mixture)]
        if meta["kind"] == "voices":  # the network may give either voice as its first estimate
            order = separation.best_assignment(references, versions["U-Net"])
            versions["U-Net"] = [versions["U-Net"][k] for k in order]
            mask = mask if order == (0, 1) else 1 - mask
        voices = range(len(meta["digits"]))  # in noise only source 1 is a voice
        record = {"kind": meta["kind"], "level_db": meta["level_db"], "digits": meta["digits"], "sources": {}}
        for name, signals in [("mixture", [mixture, mixture])] + list(versions.items()) + [("clean", references)]:
            record["sources"][name] = {} if name == "clean" else {  # the clean source is the reference itself
                "sdr": [float(separation.sdr(references[k], signals[k])[0]) for k in voices],
                "si_sdr": [float(separation.si_sdr(references[k], signals[k], separation.CLAMP_DB)) for k in voices]}
            audio_for_classifier += [(index, name, k, signals[k]) for k in voices]
        records.append(record)
        if index < examples:
            stem = "example{}_{}".format(index, meta["kind"])
            named = [("mixture", mixture)] + [(version + str(k + 1), signals[k]) for k in range(2)
                                              for version, signals in (("estimate", versions["U-Net"]),
                                                                       ("reference", references))]
            for version, signal in named:
                wavs.append("{}_{}.wav".format(stem, version))
                write_wav(os.path.join(out, wavs[-1]), signal, separation.RATE_HZ)
            db = lambda signal: 20 * np.log10(separation.magnitude(signal) + 1e-6)  # noqa: E731
            shown.append(("{} {} ({:+.1f} dB)".format(index, meta["kind"], meta["level_db"]), db(mixture), mask,
                          db(versions["U-Net"][0]), db(s1)))
    if shown:
        plots.separation_figure(shown, os.path.join(out, "separation.png"),
                                "held-out mixtures: the mixture, the U-Net's mask for source 1, its estimate, the source")
    if classifier is not None:
        cnns, params = classifier
        images = [image_from_samples(resample(signal, separation.RATE_HZ, params.sample_rate_hz), params)[0]
                  for _, _, _, signal in audio_for_classifier]
        answers = inference.probabilities(cnns, images).argmax(axis=1)
        for (index, name, k, _), answer in zip(audio_for_classifier, answers):
            record = records[index]
            record["sources"][name].setdefault("predicted", []).append(int(answer))
    return records, wavs


def summarise(records):
    """Means per task and version: SDR, SI-SDR, their improvement over the mixture, classifier accuracy."""
    summary = {}
    for kind in separation.KINDS:
        chosen = [r for r in records if r["kind"] == kind]
        if not chosen:
            continue
        summary[kind] = {"mixtures": len(chosen)}
        for name in chosen[0]["sources"]:
            row = {}
            for metric in ("sdr", "si_sdr") if "sdr" in chosen[0]["sources"][name] else ():
                values = np.concatenate([r["sources"][name][metric] for r in chosen])
                baseline = np.concatenate([r["sources"]["mixture"][metric] for r in chosen])
                row[metric] = float(values.mean())
                row[metric + "_improvement"] = float((values - baseline).mean())
            if "predicted" in chosen[0]["sources"][name]:
                hits = [p == d for r in chosen for p, d in zip(r["sources"][name]["predicted"], r["digits"])]
                row["accuracy"] = float(np.mean(hits))
            summary[kind][name] = row
    return summary


def main():
    parser = command_line.argument_parser(__doc__, epochs=4)
    parser.set_defaults(batchsize=16)
    parser.add_argument("--no-skips", action="store_true", help="the same network without skip connections")
    parser.add_argument("--channels", type=int, nargs="+", default=[8, 16, 32, 64],
                        help="filters of each encoder level (the decoder mirrors them)")
    parser.add_argument("--train-mixtures", type=int, default=2400, help="mixtures per training epoch")
    parser.add_argument("--test-mixtures", type=int, default=240, help="held-out mixtures for validation and evaluation")
    parser.add_argument("--test-seed", type=int, default=0, help="seed of the held-out mixtures (keep it to compare runs)")
    parser.add_argument("--noise-fraction", type=float, default=1 / 3, help="share of digit-in-noise mixtures")
    parser.add_argument("--seconds", type=float, default=1.0, help="length of a mixture")
    parser.add_argument("--classifier", action="append", metavar="DIR",
                        help="digit classifier run directory for the accuracies; give it several times to average "
                             "their probabilities, as predict.py --model does (default: {}); 'none' skips the "
                             "accuracies".format(inference.DEFAULT_ENSEMBLE_HELP))
    parser.add_argument("--examples", type=int, default=3, help="held-out mixtures written as WAVs and drawn")
    args = parser.parse_args()
    if min(args.train_mixtures, args.test_mixtures) < 1 or not 0 <= args.noise_fraction <= 1 or args.seconds <= 0:
        errors.fail("--train-mixtures and --test-mixtures must be positive, --noise-fraction in [0, 1], "
                      "--seconds positive")
    device = command_line.get_device(args.device)
    classifiers = args.classifier or inference.default_models()
    classifier = None
    if [name.lower() for name in classifiers] != ["none"]:
        try:
            classifier = inference.load_classifiers(classifiers)
        except inference.ModelError as error:
            errors.fail("--classifier: {}".format(error))
    try:
        manifest = load_manifest(args.dataset)
    except DataSetError as error:
        errors.fail(error)
    sets = mixture_sets(manifest, args)

    command_line.seed_everything(args.seed, device)
    unet = separation.UNet(args.channels, skips=not args.no_skips)
    model = separation.Separator(unet)
    print("U-Net{}: {} parameters, {} training mixtures of {} voices per epoch, {} held-out of {} voices".format(
        "" if unet.skips else " without skips", sum(p.size for p in model.params()), len(sets["train"]),
        len(set(sets["train"].speakers)), len(sets["test"]), len(set(sets["test"].speakers))))
    trainer = trainer_setup.make_trainer(model, sets["train"], sets["test"], args, device, REPORT, [(REPORT, "loss.png")])
    trainer_setup.run(trainer)
    model.to_cpu()
    info = {"kind": "unet_separator", "channels": list(unet.channels), "skips": unet.skips,
            "rate_hz": separation.RATE_HZ, "n_fft": separation.N_FFT, "hop_length": separation.HOP,
            "seconds": args.seconds, "epochs": args.epoch, "seed": args.seed}
    checkpoints.save_model(args.out, model.unet, info)

    records, wavs = evaluate(unet, sets["test"], classifier, args.out, args.examples)
    summary = summarise(records)
    name = "U-Net" if unet.skips else "U-Net without skips"
    save_json(os.path.join(args.out, "evaluation.json"), {
        "model": name, "classifier": None if classifier is None else " + ".join(map(os.path.abspath, classifiers)),
        "test": {"mixtures": args.test_mixtures, "seed": args.test_seed, "noise_fraction": args.noise_fraction,
                 "seconds": args.seconds, "voices": sorted(set(sets["test"].speakers))},
        "summary": summary, "mixtures": records, "examples": wavs,
        "figure": "separation.png" if wavs else None})  # drawn with the examples
    for kind, rows in summary.items():
        print("{} ({} mixtures): ".format(kind, rows["mixtures"]) + "; ".join(
            "{} SDRi {:+.2f} dB, SI-SDRi {:+.2f} dB".format(version, row["sdr_improvement"], row["si_sdr_improvement"])
            for version, row in rows.items() if version in ("U-Net", "ideal ratio mask")) + "".join(
            "; accuracy on {} {:.1f} %".format(version, 100 * row["accuracy"]) for version, row in rows.items()
            if isinstance(row, dict) and "accuracy" in row))
    print("saved {}".format(os.path.join(args.out, "evaluation.json")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
