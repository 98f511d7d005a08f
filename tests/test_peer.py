"""The PocketSphinx peer (examples/human/peer_pocketsphinx.py) and the scoring it shares with evaluate.py
(specae/scoring.py). pocketsphinx itself is benchmark-only (.venv-bench); here a stand-in package with its
Decoder's interface answers from the length of the audio it is given, so the script's own work is checked:
the decoder's input, reading the answers, skipping what is unusable, the counts."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import soundfile

from conftest import ROOT
from examples.human import peer_pocketsphinx as peer
from specae import scoring
from specae.synth import DIGIT_WORDS


def test_the_grammar_is_one_word_of_the_ten_digits():
    header, name, rule = peer.GRAMMAR.strip().splitlines()
    assert header == "#JSGF V1.0;" and name == "grammar digits;"
    assert rule.startswith("public <digit> = ") and rule.endswith(";")
    assert [word.strip() for word in rule[len("public <digit> = "):-1].split("|")] == list(DIGIT_WORDS)


def test_the_decoder_hears_the_word_between_two_silences_as_16_bit_samples():
    samples = np.array([0.0, 0.5, -0.25, 1.5, -2.0], np.float32)
    pcm = np.frombuffer(peer.decoder_input(samples), np.int16)
    pad = 3200  # 0.2 s at 16 kHz
    assert len(pcm) == 2 * pad + 5
    assert not pcm[:pad].any() and not pcm[-pad:].any()
    # int(x * 32767) towards zero, beyond full scale clipped: 16383.5 -> 16383, -8191.75 -> -8191
    assert pcm[pad:pad + 5].tolist() == [0, 16383, -8191, 32767, -32767]


@pytest.mark.parametrize("hypothesis, digit", [("five", 5), ("zero", 0), ("nine", 9), ("", scoring.NO_ANSWER),
                                               ("five five", scoring.NO_ANSWER), ("oh", scoring.NO_ANSWER)])
def test_an_answer_is_one_digit_word_or_none(hypothesis, digit):
    assert peer.digit_of(hypothesis) == digit


def test_scoring_counts_no_answer_as_wrong_and_outside_the_confusion_matrix(tmp_path, capsys):
    truth = [5, 5, 3, 3, 3, 7]
    predicted = [5, 8, 3, scoring.NO_ANSWER, 3, 7]
    speakers = ["ann", "ann", "ann", "bob", "bob", "bob"]
    paths = ["f{}.wav".format(i) for i in range(6)]
    data = scoring.report(tmp_path, "test", paths, truth, predicted, speakers, [("bad.wav", "no samples")],
                          file_fields=[{"hypothesis": str(i)} for i in range(6)], recogniser="r")
    assert (data["correct"], data["total"], data["no_answer"]) == (4, 6, 1)
    assert data["speakers"] == {"ann": {"accuracy": 2 / 3, "correct": 2, "total": 3},
                                "bob": {"accuracy": 2 / 3, "correct": 2, "total": 3}}
    confusion = np.array(data["confusion"])
    assert confusion.sum() == 5 and confusion[5, 8] == 1 and confusion[3, 3] == 2
    assert list(data)[0] == "recogniser"  # the caller's fields first
    assert data["files"][3] == {"path": "f3.wav", "label": 3, "predicted": -1, "hypothesis": "3"}
    assert json.loads((tmp_path / "report.json").read_text()) == data
    assert (tmp_path / "confusion.png").stat().st_size > 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "processed 6 files, skipped 1"
    assert "digit 3: 0.6667 (2/3)" in lines and "digit 5: 0.5000 (1/2)" in lines and "digit 7: 1.0000 (1/1)" in lines
    assert lines[-2:] == ["no answer: 1 files", "accuracy 0.6667 (4/6)"]


# Answers by the number of samples it is given: "five" from one second of speech on (with the 0.4 s of
# silence the script adds), nothing below it. It checks the grammar it is given.
STAND_IN = '''
class Hypothesis:
    def __init__(self, text):
        self.hypstr = text

class Decoder:
    def __init__(self, **config):
        assert config["samprate"] == 16000 and config["lm"] is None
    def add_jsgf_string(self, name, grammar):
        assert "zero | one | two" in grammar
        self.search = name
    def activate_search(self, name):
        assert name == self.search
    def start_utt(self):
        self.samples = 0
    def process_raw(self, data, no_search, full_utt):
        self.samples += len(data) // 2
    def end_utt(self):
        pass
    def hyp(self):
        return Hypothesis("five") if self.samples >= 16000 + 6400 else None
'''


def test_the_peer_scores_a_folder_and_names_what_it_skips(tmp_path):
    package = tmp_path / "stand_in" / "pocketsphinx"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(textwrap.dedent(STAND_IN))
    (package.parent / "pocketsphinx-5.1.1.dist-info").mkdir()
    (package.parent / "pocketsphinx-5.1.1.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: pocketsphinx\nVersion: 5.1.1\n")
    folder = tmp_path / "recordings"
    folder.mkdir()
    tone = lambda seconds, rate: (0.3 * np.sin(np.arange(int(seconds * rate)) * 0.2)).astype(np.float32)
    soundfile.write(folder / "5_ann_0.wav", tone(1.2, 8000), 8000)       # long: "five", right
    soundfile.write(folder / "5_bob_0.wav", tone(1.0, 48000), 48000)     # long at another rate: right
    soundfile.write(folder / "3_ann_0.wav", tone(1.5, 16000), 16000)     # long: "five", wrong
    soundfile.write(folder / "3_bob_0.wav", tone(0.5, 16000), 16000)     # short: no answer
    (folder / "4_ann_0.wav").write_bytes(b"not audio")                 # unusable
    soundfile.write(folder / "unlabelled.wav", tone(1.2, 8000), 8000)   # no label
    environment = dict(os.environ, PYTHONPATH=str(package.parent))
    result = subprocess.run([sys.executable, str(ROOT / "examples/human/peer_pocketsphinx.py"), "--jobs", "2",
                             "--out", str(tmp_path / "out"), str(folder)], cwd=ROOT, env=environment,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "processed 4 files, skipped 2"
    assert lines[-2:] == ["no answer: 1 files", "accuracy 0.5000 (2/4)"]
    assert "digit 5: 1.0000 (2/2)" in lines and "digit 3: 0.0000 (0/2)" in lines
    skipped = [line for line in result.stderr.splitlines() if line.startswith("skipped")]
    assert len(skipped) == 2 and "4_ann_0.wav: not a readable audio file" in skipped[0]
    assert "unlabelled.wav: no '{digit}_' label" in skipped[1]
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["recogniser"].startswith("pocketsphinx 5.1.1 (bundled en-us model")
    assert {entry["path"].rsplit("/", 1)[1]: entry["hypothesis"] for entry in report["files"]} == {
        "3_ann_0.wav": "five", "3_bob_0.wav": "", "5_ann_0.wav": "five", "5_bob_0.wav": "five"}


def test_without_pocketsphinx_the_peer_says_where_it_comes_from(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "pocketsphinx.py").write_text("raise ImportError('not here')\n")
    result = subprocess.run([sys.executable, str(ROOT / "examples/human/peer_pocketsphinx.py"), str(tmp_path)],
                            cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(blocker)), capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: pocketsphinx is not installed: it is a benchmark-only peer (requirements-peer.txt); "
        "run make human-peer, which installs it into .venv-bench"]
