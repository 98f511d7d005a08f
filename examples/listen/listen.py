#!/usr/bin/env python
"""Hear what each autoencoder keeps: WAVs of test spectrograms and of their reconstructions.

For a few held-out test clips (different digits) it writes, under --out:
``{clip}_original.wav`` (the recording itself), ``{clip}_input.wav`` (its 64×64 image turned back into
audio) and ``{clip}_{autoencoder}.wav`` (the image rebuilt by each autoencoder, through all its
layers, turned back into audio); ``listen.png`` (the images side by side) and ``listen.json`` (image
error and the spectral convergence of each WAV's log-mel against the original's).

The image is inverted with the per-clip level and voiced span kept in the data set's manifest, the
mel bands by non-negative least squares, the phase by (fast) Griffin-Lim: specae.inversion.
"""
import argparse
import os
import sys

# specae/ is at the repository root, two folders up: the one shared way examples import it (examples/README.md)
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

import specae  # noqa: E402,F401  (before chainer: it keeps Chainer's cuDNN path off, specae/__init__.py)
import chainer
import numpy as np

from specae import checkpoints, errors, inversion, plots
from specae.audio import AudioError, load_audio, write_wav
from specae.dataset import DataSetError, load_dataset
from specae.features import FeatureParams, log_mel
from specae.files import save_json

DEFAULT_AUTOENCODERS = ["result/autoencoder1", "result/autoencoder2", "result/autoencoder3"]
PEAK = 0.99


def examples(labels, speakers, rates, count):
    """Indices of ``count`` test clips: digits spread over 0–9, each from the next test voice."""
    labels, speakers = np.asarray(labels), np.asarray(speakers)
    digits, voices = np.unique(labels), list(dict.fromkeys(speakers))
    chosen = []
    for k, position in enumerate(np.linspace(0, len(digits) - 1, min(count, len(digits)))):
        digit = digits[int(round(position))]
        candidates = np.flatnonzero((labels == digit) & (speakers == voices[k % len(voices)]))
        if candidates.size == 0:
            candidates = np.flatnonzero(labels == digit)
        # the middle speaking rate of that voice: neither the slowest nor the fastest clip
        by_rate = sorted(candidates, key=lambda i: (rates[i] is None, rates[i] or 0))
        chosen.append(int(by_rate[len(by_rate) // 2]))
    return list(dict.fromkeys(chosen))


def write_audible(path, samples, rate_hz):
    """At the clip's own level, turned down only when it would clip; returns the gain applied."""
    peak = float(np.abs(samples).max()) if len(samples) else 0.0
    gain = min(1.0, PEAK / peak) if peak > 0 else 1.0
    write_wav(path, samples * gain, rate_hz)
    return gain


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("autoencoders", nargs="*", default=DEFAULT_AUTOENCODERS, metavar="AE_DIR",
                        help="autoencoder run directories (default: %(default)s)")
    parser.add_argument("--dataset", default="DataSet", help="its test split and manifest.json")
    parser.add_argument("--out", default="result/listen")
    parser.add_argument("--count", type=int, default=5, help="test clips (of different digits)")
    parser.add_argument("--iterations", type=int, default=100, help="Griffin-Lim iterations")
    parser.add_argument("--momentum", type=float, default=0.99, help="0 for the original Griffin-Lim")
    parser.add_argument("--nnls-iterations", type=int, default=50, help="projected-gradient steps, mel to linear")
    args = parser.parse_args()
    try:
        arrays, manifest = load_dataset(args.dataset, mmap=True)
        params = FeatureParams.from_dict(manifest["params"])
        files = manifest["test"]["files"]
        models = [(os.path.basename(os.path.normpath(d)),) + checkpoints.load_autoencoder(d, manifest)
                  for d in args.autoencoders]
    except (DataSetError, FileNotFoundError, ValueError, KeyError) as error:
        errors.fail(error)
    missing = [key for key in ("reference_db", "span_frames", "total_frames") if key not in files[0]]
    if missing:
        errors.fail("{}: the test files carry no {} (rebuild it with make_dataset.py from a current "
                      "make_spectrogram.py)".format(os.path.join(args.dataset, "manifest.json"), ", ".join(missing)))

    chosen = examples(arrays["test_label"], [entry["speaker"] for entry in files],
                      [entry.get("rate") for entry in files], args.count)
    images = np.asarray(arrays["test_data"][chosen], dtype=np.float32)
    versions = {"input": images[:, 0]}
    with chainer.no_backprop_mode(), chainer.using_config("train", False):
        for name, model, info in models:
            versions[name] = np.clip(model.reconstruct(images, info.get("n_layers")).array[:, 0], 0.0, 1.0)

    report, shown, titles = [], [], []
    for row, index in enumerate(chosen):
        entry = files[index]
        stem = os.path.splitext(os.path.basename(entry["wav"]))[0]
        try:
            original = load_audio(entry["wav"], params.sample_rate_hz)
        except AudioError as error:
            errors.fail("{}: {}".format(entry["wav"], error))
        write_audible(os.path.join(args.out, stem + "_original.wav"), original, params.sample_rate_hz)
        reference = 10 ** (log_mel(original, params) / 20)
        clip = {"wav": entry["wav"], "digit": int(entry["digit"]), "versions": {}}
        for name, image in versions.items():
            audio = inversion.image_to_audio(image[row], entry, params, args.iterations, args.momentum,
                                             args.nnls_iterations, np.random.default_rng(row))
            path = os.path.join(args.out, "{}_{}.wav".format(stem, name))
            gain = write_audible(path, audio, params.sample_rate_hz)
            rebuilt = 10 ** (log_mel(audio, params) / 20)
            frames = min(reference.shape[1], rebuilt.shape[1])
            clip["versions"][name] = {
                "wav": path, "gain": gain,
                "image_mse": float(np.mean((image[row] - versions["input"][row]) ** 2)),
                "mel_spectral_convergence": inversion.spectral_convergence(reference[:, :frames], rebuilt[:, :frames])}
            shown.append(image[row])
            titles.append("{} {}".format(stem.split("_")[0], name))
        report.append(clip)
        print("{}: {}".format(stem, ", ".join("{} SC {:.3f}".format(name, v["mel_spectral_convergence"])
                                           for name, v in clip["versions"].items())))
    plots.spectrogram_grid(shown, titles, os.path.join(args.out, "listen.png"), columns=len(versions),
                           suptitle="held-out clips (rows): input and reconstructions, as turned into the WAVs")
    summary = {name: float(np.mean([clip["versions"][name]["mel_spectral_convergence"] for clip in report]))
               for name in versions}
    save_json(os.path.join(args.out, "listen.json"), {
        "griffin_lim": {"iterations": args.iterations, "momentum": args.momentum,
                        "nnls_iterations": args.nnls_iterations},
        "mean_mel_spectral_convergence": summary, "clips": report})
    print("wrote {} WAVs, listen.png and listen.json to {}".format(len(report) * (len(versions) + 1), args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
