#!/usr/bin/env python
"""Adaptation to human speech, scored on people whose audio it never heard.

make adapt self-trains on the recordings it then scores (transductive: a user adapting to what they want
transcribed). This asks what the adapted recogniser has learnt of human speech in general: the speakers of
a folder of ``{digit}_{speaker}_*.wav`` are dealt into --groups groups (sorted by name, in turn); for each
group, examples/human/adapt.py adapts the models to the *other* groups' recordings (no label read), and
evaluate.py scores the adapted ensemble on this group's. Every speaker is scored once, by models that never
heard them; the unadapted models are scored on the same recordings beside them. The labels in the file
names are read only to score and to group the speakers. Writes ``unseen.json`` and ``unseen.md``
(per speaker and overall: before and after), each group's adapted models in ``group{k}/``.
"""
import argparse
import collections
import concurrent.futures
import os
import subprocess
import sys

# specae/ is at the repository root, two folders up: the one shared way examples import it (examples/README.md)
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

from specae import errors, files, tables
from specae.files import load_json, save_json

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def command_line(script, *arguments):
    return [sys.executable, os.path.join(ROOT, script)] + [str(argument) for argument in arguments]


def run(command, log=None):
    """Run a command; True when it succeeded. With ``log`` its output goes to that file, so that commands
    side by side do not interleave theirs."""
    print("+ " + " ".join(command[:24]) + (" ... ({} arguments)".format(len(command)) if len(command) > 24 else "")
          + (" > {}".format(log) if log else ""), flush=True)
    if log is None:
        return subprocess.run(command).returncode == 0
    with open(log, "w") as stream:
        return subprocess.run(command, stdout=stream, stderr=subprocess.STDOUT).returncode == 0


def run_or_fail(command):
    if not run(command):
        errors.fail("{} failed".format(os.path.relpath(command[1], ROOT)))


def recordings_by_speaker(folder):
    """``{speaker: [path, ...]}`` for the labelled WAVs of a folder; a name without a label is an error."""
    if not os.path.isdir(folder):
        errors.fail("{}: no such folder (a folder of {{digit}}_{{speaker}}_*.wav)".format(folder))
    by_speaker = collections.defaultdict(list)
    for path in files.list_audio_files([folder]):  # the files evaluate.py finds in it
        try:
            by_speaker[files.parse_name(path)[1]].append(path)
        except files.LabelError as error:
            errors.fail("{}: {} (speakers are grouped by the names {{digit}}_{{speaker}}_*.wav)".format(path, error))
    return dict(by_speaker)


def deal(speakers, n_groups):
    """The sorted speakers dealt into n_groups groups in turn (george, jackson, lucas, nicolas, theo,
    yweweler into 3: george+nicolas, jackson+theo, lucas+yweweler; into 6: one each)."""
    ordered = sorted(speakers)
    return [ordered[k::n_groups] for k in range(n_groups)]


def per_speaker(report):
    """``{speaker: (correct, total)}`` from evaluate.py's report.json."""
    return {speaker: (scores["correct"], scores["total"]) for speaker, scores in report["speakers"].items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recordings", required=True, help="folder of {digit}_{speaker}_*.wav")
    parser.add_argument("--model", action="append", required=True, metavar="DIR",
                        help="trained classifier(s) to adapt, as in adapt.py (several: an ensemble)")
    # Six, one speaker each on FSDD: 91.4 % on the speaker never heard, 88.8 % with three groups of two,
    # where each group's adaptation hears four people instead of five (docs/human.md, section 5).
    parser.add_argument("--groups", type=int, default=6,
                        help="groups of speakers; each is scored by models adapted to the others (at most one "
                             "per speaker: leave-one-speaker-out)")
    parser.add_argument("--dataset", default="DataSet")
    parser.add_argument("--out", default="result/human_unseen")
    parser.add_argument("--epoch", type=int, default=3, help="epochs of each round of the adaptation")
    parser.add_argument("--fractions", type=float, nargs="+", default=None, help="as adapt.py's (its default)")
    parser.add_argument("--batchsize", type=int, default=30)
    parser.add_argument("--device", default="-1")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=1,
                        help="groups adapted side by side, one process each (each one's output then in its adapt.log)")
    args = parser.parse_args()
    by_speaker = recordings_by_speaker(args.recordings)
    if len(by_speaker) < 2:
        errors.fail("{}: scoring unseen speakers needs at least 2 speakers, found {}".format(
            args.recordings, len(by_speaker)))
    groups = deal(by_speaker, min(args.groups, len(by_speaker)))
    model_flags = [flag for model in args.model for flag in ("--model", model)]

    before_dir = os.path.join(args.out, "before")
    if not os.path.exists(os.path.join(before_dir, "report.json")):
        run_or_fail(command_line("evaluate.py", *model_flags, "--out", before_dir, args.recordings))
    before = per_speaker(load_json(os.path.join(before_dir, "report.json")))

    group_dirs = [os.path.join(args.out, "group{}".format(number)) for number in range(1, len(groups) + 1)]
    adaptations = []  # (command, log) of each group not adapted yet: one process each, --jobs side by side
    for group, group_dir in zip(groups, group_dirs):
        others = [path for speaker in sorted(by_speaker) if speaker not in group for path in by_speaker[speaker]]
        if not os.path.exists(os.path.join(group_dir, "adaptation.json")):
            fractions = ["--fractions", *args.fractions] if args.fractions else []
            os.makedirs(group_dir, exist_ok=True)
            adaptations.append((command_line(
                os.path.join("examples", "human", "adapt.py"), *model_flags, "--dataset", args.dataset,
                "--out", group_dir, "--epoch", args.epoch, "--batchsize", args.batchsize, "--device", args.device,
                "--seed", args.seed, *fractions, "--", *others),  # "--": the files are not more fractions
                os.path.join(group_dir, "adapt.log") if args.jobs > 1 else None))
    with concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as pool:
        succeeded = list(pool.map(lambda job: run(*job), adaptations))
    for (_, log), ok in zip(adaptations, succeeded):
        if not ok:
            errors.fail("examples/human/adapt.py failed{}".format(" (its output: {})".format(log) if log else ""))

    after, heard = {}, {}
    for group, group_dir in zip(groups, group_dirs):
        scored_dir = os.path.join(group_dir, "scored")
        if not os.path.exists(os.path.join(scored_dir, "report.json")):
            run_or_fail(command_line("evaluate.py", "--model", group_dir, "--out", scored_dir,
                                     *[path for speaker in group for path in by_speaker[speaker]]))
        after.update(per_speaker(load_json(os.path.join(scored_dir, "report.json"))))
        heard.update({speaker: sorted(set(by_speaker) - set(group)) for speaker in group})

    def accuracy(counts):
        correct, total = (sum(column) for column in zip(*counts))
        return correct / total

    speakers = sorted(by_speaker)
    rows = [{"speaker": s, "adapted_on": heard[s], "before": before[s][0] / before[s][1],
             "after": after[s][0] / after[s][1], "recordings": after[s][1]} for s in speakers]
    overall = {"before": accuracy([before[s] for s in speakers]), "after": accuracy([after[s] for s in speakers])}
    save_json(os.path.join(args.out, "unseen.json"), {"command": sys.argv, "recordings": args.recordings,
                                                      "models": args.model, "groups": groups, "speakers": rows,
                                                      "overall": overall})
    cells = [[r["speaker"], ", ".join(r["adapted_on"]), "{:.1%}".format(r["before"]), "{:.1%}".format(r["after"])]
             for r in rows]
    cells.append(["**all {} speakers**".format(len(speakers)), "the other groups",
                  "**{:.1%}**".format(overall["before"]), "**{:.1%}**".format(overall["after"])])
    tables.save_markdown(os.path.join(args.out, "unseen.md"), [tables.table(
        ["speaker (never heard)", "adapted on the audio of", "before", "adapted"], cells)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
