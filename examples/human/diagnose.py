#!/usr/bin/env python
"""What the front end does to synthetic and human recordings of the same digit, side by side.

For each digit given and each folder (e.g. the espeak corpus, the neural voice, FSDD) one clip goes
through the stages of the front end (specae/features.py): the log-mel spectrogram in dB over the whole
clip, the image after the level reference and the floor (dB below the clip's maximum), and the final
image after trimming and resizing to 64 frames, which is what the classifier sees. Writes the figure
and ``diagnosis.json``: per folder, the median noise floor (quietest 10 % of frames, dB below the
loudest), the share of frames trimmed away, how loud a word begins (the loudest of its first 4 frames
after trimming, dB below the clip's peak: a weak first consonant sits low, a word cut at its vowel
high), overall and per digit, and the mean final image per band.
"""
import argparse
import glob
import json
import os
import sys

# specae/ is at the repository root, two folders up: the one shared way examples import it (examples/README.md)
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from specae import checkpoints, errors  # noqa: E402
from specae.audio import load_audio  # noqa: E402
from specae.features import FeatureParams, image_from_samples, log_mel, scale_level  # noqa: E402
from specae.files import list_audio_files, parse_name, save_json  # noqa: E402


def labelled_files(folder):
    """``[(path, digit, speaker)]`` of a folder, or of the files a pattern such as ``wav/*_joe-*.wav``
    matches; files without a ``{digit}_`` name are left out."""
    found = []
    for path in list_audio_files(sorted(glob.glob(folder)) if glob.has_magic(folder) else [folder]):
        try:
            digit, speaker, _ = parse_name(path)
        except ValueError:
            continue
        found.append((path, digit, speaker))
    return found


def clips_by_digit(folder):
    """{digit: paths} of a folder or pattern (`labelled_files`)."""
    clips = {}
    for path, digit, _ in labelled_files(folder):
        clips.setdefault(digit, []).append(path)
    return clips


ONSET_FRAMES = 4  # 46 ms: about a first consonant


def folder_statistics(paths, params):
    floors, trimmed, onsets, images = [], [], {}, []
    for path in paths:
        samples = load_audio(path, params.sample_rate_hz)
        frame_db = log_mel(samples, params).max(axis=0)
        floors.append(float(frame_db.max() - np.percentile(frame_db, 10)))
        image, info = image_from_samples(samples, params)
        start, stop = info["span_frames"]
        trimmed.append(1.0 - (stop - start) / info["total_frames"])
        onset_db = frame_db.max() - frame_db[start:start + ONSET_FRAMES].max()
        onsets.setdefault(parse_name(path)[0], []).append(float(onset_db))
        images.append(image)
    return {"clips": len(paths), "noise_floor_db_below_peak": float(np.median(floors)),
            "trimmed_share": float(np.mean(trimmed)),
            "onset_db_below_peak": float(np.median([value for values in onsets.values() for value in values])),
            "onset_db_below_peak_per_digit": {digit: round(float(np.median(values)), 1)
                                              for digit, values in sorted(onsets.items())},
            "mean_image_per_band": np.round(np.mean(images, axis=0).mean(axis=1), 3).tolist()}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+", metavar="NAME=DIR", help="a folder or a file pattern, named: e.g. espeak='wav/*_en*.wav' neural='wav/*_joe-*.wav' "
                             "FSDD=.../recordings")
    parser.add_argument("--model", help="take the front end from this classifier folder (default: the defaults)")
    parser.add_argument("--digits", type=int, nargs="+", default=[5, 7, 8])
    parser.add_argument("--clips", type=int, default=200, help="clips per folder for the statistics")
    parser.add_argument("--out", default="result/human/diagnosis")
    args = parser.parse_args()
    params = FeatureParams.from_dict(checkpoints.load_model_info(args.model)["feature_params"]) if args.model \
        else FeatureParams()
    folders = [item.split("=", 1) if "=" in item else (os.path.basename(item.rstrip("/")), item)
               for item in args.folders]
    stages = ("log-mel dB, whole clip", "level: 0..1 over the floor", "trimmed + resized (model input)")
    rows = [(name, digit) for digit in args.digits for name, _ in folders]
    figure, axes = plt.subplots(len(rows), 3, figsize=(9, 1.9 * len(rows)), squeeze=False)
    statistics = {}
    for name, folder in folders:
        clips = clips_by_digit(folder)
        if not clips:
            errors.fail("{}: no {{digit}}_*.wav files".format(folder))
        every = sorted(path for paths in clips.values() for path in paths)
        statistics[name] = folder_statistics(every[::max(1, len(every) // args.clips)], params)
        for digit in args.digits:
            if digit not in clips:
                continue
            path = sorted(clips[digit])[0]
            samples = load_audio(path, params.sample_rate_hz)
            row = rows.index((name, digit))
            log_mel_db = log_mel(samples, params)
            level, _ = scale_level(log_mel_db, params)
            image, _ = image_from_samples(samples, params)
            for column, (picture, stage) in enumerate(zip((log_mel_db, level, image), stages)):
                axis = axes[row, column]
                axis.imshow(picture, origin="lower", aspect="auto", cmap="magma")
                axis.set_xticks([])
                axis.set_yticks([])
                if row == 0:
                    axis.set_title(stage, fontsize=9)
            axes[row, 0].set_ylabel("{}\n{}".format(name, os.path.basename(path)), fontsize=7)
    figure.tight_layout()
    os.makedirs(args.out, exist_ok=True)
    figure.savefig(os.path.join(args.out, "frontend.png"), dpi=90)
    save_json(os.path.join(args.out, "diagnosis.json"), {"params": params.to_dict(), "folders": statistics})
    for name, values in statistics.items():
        print("{}: noise floor {:.1f} dB below the peak (median), {:.0%} of frames trimmed, words begin {:.1f} dB "
              "below the peak (median; per digit {})".format(
                  name, values["noise_floor_db_below_peak"], values["trimmed_share"], values["onset_db_below_peak"],
                  " ".join("{}: {}".format(d, v) for d, v in values["onset_db_below_peak_per_digit"].items())))
    print("wrote {}".format(os.path.join(args.out, "frontend.png")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
