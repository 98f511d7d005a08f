"""A recogniser's answers on labelled recordings, scored: accuracy per digit and per speaker, the confusion
matrix and its figure, ``report.json`` and the printed summary. evaluate.py (our models) and
examples/human/peer_pocketsphinx.py (the off-the-shelf peer) both report through it, so that their
figures are counted and read alike."""
import os

import numpy as np

from specae import plots
from specae.files import save_json

NO_ANSWER = -1  # a recogniser that returned no digit: counted as wrong, outside the confusion matrix


def report(out, title, paths, truth, predicted, speakers, skipped=(), file_fields=None, **fields):
    """Score ``predicted`` (a digit or NO_ANSWER per file of ``paths``) against ``truth``; write
    ``confusion.png`` and ``report.json`` under ``out`` (``fields`` first, then the scores, each file's
    path, label and answer with its ``file_fields`` entry, and the ``skipped`` (path, reason) pairs);
    print the summary, ending in ``accuracy 0.9731 (2919/3000)``. Returns the report's dict."""
    truth, predicted, speakers = np.asarray(truth, int), np.asarray(predicted, int), np.asarray(speakers)
    right = truth == predicted
    per_speaker = {speaker: {"accuracy": float(right[speakers == speaker].mean()),
                             "correct": int(right[speakers == speaker].sum()),
                             "total": int((speakers == speaker).sum())}
                   for speaker in sorted(set(speakers.tolist()))}
    answered = predicted != NO_ANSWER
    no_answer = int((~answered).sum())
    confusion = np.zeros((10, 10), dtype=np.int64)
    np.add.at(confusion, (truth[answered], predicted[answered]), 1)
    plots.confusion_matrix(confusion, os.path.join(out, "confusion.png"),
                           "{}: accuracy {:.2%} on {} files".format(title, right.mean(), len(truth)))
    files = [dict({"path": path, "label": int(label), "predicted": int(guess)}, **(extra or {}))
             for path, label, guess, extra in zip(paths, truth, predicted, file_fields or [None] * len(truth))]
    data = dict(fields, accuracy=float(right.mean()), correct=int(right.sum()), total=len(truth),
                confusion=confusion.tolist(), speakers=per_speaker, files=files,
                skipped=[{"path": path, "reason": reason} for path, reason in skipped])
    if no_answer:
        data["no_answer"] = no_answer
    save_json(os.path.join(out, "report.json"), data)
    print("processed {} files, skipped {}".format(len(truth), len(skipped)))
    for digit in range(10):
        count = int((truth == digit).sum())
        if count:
            correct = int(confusion[digit, digit])
            print("digit {}: {:.4f} ({}/{})".format(digit, correct / count, correct, count))
    if len(per_speaker) > 1:
        for speaker, score in per_speaker.items():
            print("speaker {}: {:.4f} ({}/{})".format(speaker, score["accuracy"], score["correct"], score["total"]))
    if no_answer:
        print("no answer: {} files".format(no_answer))
    print("accuracy {:.4f} ({}/{})".format(right.mean(), int(right.sum()), len(truth)))
    return data
