#!/usr/bin/env python
"""What the recogniser still gets wrong on people, as the model sees it.

Scores a folder of human ``{digit}_{speaker}_*.wav`` with the models (the default ensemble unless
--model), finds the --top most frequent confusions of one speaker ("george's 3 heard as 8"), and draws
one row per confusion: the mean model-input image of that speaker's recordings of the true digit and of
the digit answered, then the same two digits of each synthetic voice given (NAME=folder or pattern),
each panel titled with how the models answer its recordings. A mean image shows what a word's
recordings share (formant tracks, their rise or fall, where the energy lies) and hides what varies.
Writes ``confusions.png`` and ``confusions.json`` (every speaker's confusion counts).
"""
import argparse
import collections
import os
import sys

# specae/ is at the repository root, two folders up: the one shared way examples import it (examples/README.md)
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from examples.human.diagnose import labelled_files  # noqa: E402
from specae import errors, inference  # noqa: E402
from specae.files import save_json  # noqa: E402


def scored(files, cnns, params, jobs):
    """``(images, digits, speakers, answers)`` of the usable files, answers from the ensemble."""
    paths, images, skipped = inference.usable_images([path for path, _, _ in files], params, jobs)
    errors.report_skipped(skipped)
    label = {path: (digit, speaker) for path, digit, speaker in files}
    images = np.stack(images) if images else np.zeros((0, params.n_mels, params.n_frames), np.float32)
    answers = inference.probabilities(cnns, images).argmax(axis=1)
    return images, np.array([label[p][0] for p in paths]), np.array([label[p][1] for p in paths]), answers


def top_confusions(digits, speakers, answers, top):
    """The ``top`` most frequent ``((speaker, true, answered), count)`` of the wrong answers (None: all)."""
    wrong = digits != answers
    counts = collections.Counter(zip(speakers[wrong].tolist(), digits[wrong].tolist(), answers[wrong].tolist()))
    return counts.most_common(top)


def panel(axis, images, answers, title):
    """One mean image, titled with its number of recordings and the models' answers (digit: count)."""
    if len(images):
        axis.imshow(images.mean(axis=0), origin="lower", aspect="auto", vmin=0.0, vmax=1.0)
        counts = collections.Counter(answers.tolist())
        title += " ({}; heard as {})".format(len(images), ", ".join(
            "{}: {}".format(d, n) for d, n in sorted(counts.items(), key=lambda item: -item[1])[:3]))
    axis.set_title(title, fontsize=7)
    axis.set_xticks([])
    axis.set_yticks([])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("human", help="folder of human {digit}_{speaker}_*.wav")
    parser.add_argument("synthetic", nargs="*", metavar="NAME=DIR",
                        help="synthetic voices to draw beside them, e.g. espeak='wav/*_en*.wav' "
                             "neural='wav/*_joe-*.wav'")
    parser.add_argument("--model", action="append", metavar="DIR", help="classifier folder(s), an ensemble "
                        "(default: {}, inference.default_models())".format(inference.DEFAULT_ENSEMBLE_HELP))
    parser.add_argument("--top", type=int, default=4, help="confusions drawn, the most frequent first")
    parser.add_argument("--per-digit", type=int, default=100,
                        help="recordings per digit of each synthetic voice (about; evenly spaced in name order)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    parser.add_argument("--out", default="result/human/confusions")
    args = parser.parse_args()
    try:
        cnns, params = inference.load_classifiers(args.model or inference.default_models())
    except inference.ModelError as error:
        errors.fail(error)
    human_files = labelled_files(args.human)
    if not human_files:
        errors.fail("{}: no {{digit}}_{{speaker}}_*.wav files".format(args.human))
    images, digits, speakers, answers = scored(human_files, cnns, params, args.jobs)
    confusions = top_confusions(digits, speakers, answers, args.top)
    if not confusions:
        errors.fail("{}: every recording is recognised, no confusion to draw".format(args.human))
    voices = []
    for item in args.synthetic:
        name, folder = item.split("=", 1) if "=" in item else (os.path.basename(item.rstrip("/")), item)
        files = labelled_files(folder)
        by_digit = {digit: [f for f in files if f[1] == digit] for digit in range(10)}
        files = [f for chosen in by_digit.values() for f in chosen[::max(1, len(chosen) // args.per_digit)]]
        if not files:
            errors.fail("{}: no {{digit}}_*.wav files".format(folder))
        voice_images, voice_digits, _, voice_answers = scored(files, cnns, params, args.jobs)
        voices.append((name, voice_images, voice_digits, voice_answers))

    figure, axes = plt.subplots(len(confusions), 2 * (1 + len(voices)),
                                figsize=(2.4 * 2 * (1 + len(voices)), 2.2 * len(confusions)), squeeze=False)
    for row, ((speaker, true, answered), count) in enumerate(confusions):
        for column, digit in enumerate((true, answered)):
            chosen = (speakers == speaker) & (digits == digit)
            panel(axes[row, column], images[chosen], answers[chosen], "{}'s {}".format(speaker, digit))
            for k, (name, voice_images, voice_digits, voice_answers) in enumerate(voices):
                chosen = voice_digits == digit
                panel(axes[row, 2 + 2 * k + column], voice_images[chosen], voice_answers[chosen],
                      "{} {}".format(name, digit))
        axes[row, 0].set_ylabel("{} → {}: {}".format(true, answered, count), fontsize=8)
    figure.tight_layout()
    os.makedirs(args.out, exist_ok=True)
    figure.savefig(os.path.join(args.out, "confusions.png"), dpi=80)
    per_speaker = {speaker: top_confusions(digits[speakers == speaker], speakers[speakers == speaker],
                                           answers[speakers == speaker], None) for speaker in sorted(set(speakers))}
    save_json(os.path.join(args.out, "confusions.json"), {
        "recordings": len(digits), "accuracy": float((digits == answers).mean()),
        "top": [{"speaker": s, "true": t, "answered": a, "count": n} for (s, t, a), n in confusions],
        "per_speaker": {speaker: [{"true": t, "answered": a, "count": n} for (_, t, a), n in counts]
                        for speaker, counts in per_speaker.items()}})
    for (speaker, true, answered), count in confusions:
        print("{}'s {} heard as {}: {} times".format(speaker, true, answered, count))
    print("wrote {}".format(os.path.join(args.out, "confusions.png")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
