"""make_report.py: the page of a tiny run; sections exactly for what exists, every link resolves, names escaped."""
import base64
import html.parser
import json
import os
import shutil
import urllib.parse

import numpy as np
import pytest

from conftest import ROOT, run_script
from examples.report import report
from specae import scoring, tables

ODD = "mix<1>&\"b'"  # a clip name that would break the page if it were not escaped


class Page(html.parser.HTMLParser):
    """What the tests look at in a page: section ids, img/audio sources, the text."""

    def __init__(self, text):
        super().__init__()
        self.sections, self.images, self.audio, self.links, self.text = [], [], [], [], []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self.sections.append(attrs["id"])
        elif tag == "img":
            self.images.append(attrs["src"])
        elif tag in ("audio", "source") and "src" in attrs:
            self.audio.append(attrs["src"])
        elif tag in ("a", "link", "script", "iframe"):
            self.links.append((tag, attrs))

    def handle_data(self, data):
        self.text.append(data)

    @property
    def all_text(self):
        return " ".join(self.text)


def read_page(path):
    page = Page(path.read_text(encoding="utf-8"))
    for source in page.images + page.audio:
        assert not source.startswith(("http:", "https:", "//")), source
        target = path.parent / urllib.parse.unquote(source)
        assert target.is_file(), source
    # In-page anchors only: nothing fetched, no script.
    assert all(tag == "a" and attrs["href"].startswith("#") for tag, attrs in page.links), page.links
    return page


@pytest.fixture(scope="module")
def run(tiny_corpus, tmp_path_factory):
    """AE1 and a 2-CNN and 3-CNN of one epoch on the tiny corpus, and their comparison."""
    result = tmp_path_factory.mktemp("report") / "result"
    data = ("--dataset", tiny_corpus / "DataSet", "--epoch", 1, "--batchsize", 20)
    run_script("cnn_autoencoder1.py", *data, "--out", result / "autoencoder1")
    for layers in (2, 3):
        run_script("cnn_classifier1.py", "--layers", layers, *data, "--seed", 1,
                   "--out", result / "classifier_{}cnn".format(layers) / "seed1")
    run_script("plot_comparison.py", "--result", result, "--seeds", 1)
    return result


@pytest.fixture
def result(run, tmp_path):
    """A private copy of the shared run, which the test may change without touching the other tests'."""
    copy = tmp_path / "result"
    shutil.copytree(run, copy)
    return copy


def write(run, tiny_corpus):
    path = run / "index.html"
    report.write_report(str(path), str(run), str(tiny_corpus / "DataSet"), str(tiny_corpus / "spectrogram"))
    return read_page(path)


def test_sections_appear_exactly_when_their_outputs_exist(run, result, tiny_corpus):
    shared, run = run, result
    page = write(run, tiny_corpus)
    assert page.sections == ["run", "comparison", "autoencoders"]
    assert page.audio == []
    text = page.all_text
    assert "AE layer 1" in text and "AE layer 2" not in text
    assert "make pretrain classify AE_EPOCHS=1 CLF_EPOCHS=1 SEEDS=1 BATCH=20" in text
    # A training stage's command exactly as it ran (run.json), not rebuilt from its settings: the script
    # path as given (absolute here) and no option it was not given (a rebuilt line spells out --seed 0).
    command = next(chunk for chunk in page.text if "cnn_autoencoder1.py" in chunk)
    assert command == ".venv/bin/python {} --dataset {} --epoch 1 --batchsize 20 --out {}".format(
        ROOT / "cnn_autoencoder1.py", tiny_corpus / "DataSet", shared / "autoencoder1")
    assert "2-CNN" in text and "pretrained 3-CNN" not in text  # no such runs: no row, no sentence about it
    summary = json.loads((run / "comparison.json").read_text())
    assert "{:.2f} ± 0.00 %".format(100 * summary["classifier_2cnn"]["final_accuracy_mean"]) in text
    assert "On the held-out test set the " in text
    # The spectrogram grid per digit and the comparison figure are linked; the missing one is not.
    assert sum("preview/digit_" in source for source in page.images) == 10
    assert any(source.endswith("loss-accuracy_comparison.png") for source in page.images)
    assert not any("pre-train" in source for source in page.images)

    # listen.py's WAVs: three players (recording, input image, this layer) per clip, under AE layer 1.
    run_script("examples/listen/listen.py", run / "autoencoder1", "--dataset", tiny_corpus / "DataSet", "--out", run / "listen",
               "--count", 2, "--iterations", 5, "--nnls-iterations", 5)
    page = write(run, tiny_corpus)
    assert page.sections == ["run", "comparison", "autoencoders"]
    assert len(page.audio) == 2 * 3 and all(source.startswith("listen/") for source in page.audio)
    assert any(source.endswith("listen/listen.png") for source in page.images)

    # An evaluation under a folder whose name needs escaping.
    evaluation = run / "evaluation" / ODD
    run_script("evaluate.py", "--model", run / "classifier_2cnn" / "seed1", "--out", evaluation,
               tiny_corpus / "wav")
    page = write(run, tiny_corpus)
    assert page.sections == ["run", "comparison", "autoencoders", "evaluation"]
    assert ODD in page.text
    accuracy = json.loads((evaluation / "report.json").read_text())["accuracy"]
    assert "{:.2f} %".format(100 * accuracy) in page.all_text
    assert any(urllib.parse.unquote(source) == "evaluation/{}/confusion.png".format(ODD) for source in page.images)
    run_script("examples/robustness/make_degraded.py", "--dataset", tiny_corpus / "DataSet", "--out", run.parent / "degraded")
    run_script("examples/robustness/robustness_report.py", "--dataset", tiny_corpus / "DataSet", "--degraded", run.parent / "degraded",
               "--out", run / "robustness.json", run / "classifier_2cnn" / "seed1", run / "classifier_3cnn" / "seed1")
    rows = json.loads((run / "robustness.json").read_text())
    text = write(run, tiny_corpus).all_text
    assert "Held-out voices, clean and degraded" in text and "2-CNN/seed1" in text
    assert "{:.1f} %".format(100 * rows[str(run / "classifier_3cnn" / "seed1")]["mean_degraded"]) in text

    # An extension: anomaly_report.py for real (every extension's section is checked against its own
    # report.json, on the session's run of the goals, in test_extension_sections_show_their_report_json).
    run_script("examples/anomaly/anomaly_report.py", run / "autoencoder1", "--dataset", tiny_corpus / "DataSet", "--per-kind", 2,
               "--out", run / "anomaly")
    (run / "vae").mkdir()  # an empty folder shows nothing
    page = write(run, tiny_corpus)
    assert page.sections == ["run", "comparison", "autoencoders", "evaluation", "anomaly"]
    detector = json.loads((run / "anomaly" / "detector.json").read_text())
    assert "ROC AUC {:.3f}".format(detector["auc"]) in page.all_text
    kinds = {sound["kind"] for sound in json.loads((run / "anomaly" / "report.json").read_text())["sounds"]}
    assert sum(source.startswith("anomaly/sounds/") for source in page.audio) == len(kinds)
    assert any(source == "anomaly/roc.png" for source in page.images)

    # Outputs removed: their sections go, the page still stands.
    shutil.rmtree(run / "listen")
    shutil.rmtree(run / "anomaly")
    for name in ("comparison.json", "comparison.md", "loss-accuracy_comparison.png"):
        (run / name).unlink()
    page = write(run, tiny_corpus)
    assert page.sections == ["run", "autoencoders", "evaluation"]
    assert not any(source.startswith("listen/") for source in page.audio)


def test_names_are_escaped_in_the_html(result, tiny_corpus):
    run = result
    separate = run / "separate"
    separate.mkdir()
    shutil.copy(next(ROOT.joinpath("docs").glob("*.png")), separate / "{}.png".format(ODD))
    for version in ("mixture", "estimate1"):
        shutil.copy(sorted((tiny_corpus / "wav").glob("*.wav"))[0], separate / "{}_{}.wav".format(ODD, version))
    (separate / "report.json").write_text(json.dumps({"tables": [tables.table(
        ["clip", "note"], [[ODD, "<script>alert(1)</script>"], ["U-Net <skip> & co", "7.50"]])],
        "figures": [{"file": "{}.png".format(ODD), "caption": ODD}], "rows": {},
        "audio": ["{}_{}.wav".format(ODD, version) for version in ("mixture", "estimate1")]}))
    path = run / "index.html"
    report.write_report(str(path), str(run), str(tiny_corpus / "DataSet"), str(tiny_corpus / "spectrogram"))
    raw = path.read_text(encoding="utf-8")
    assert "<script>" not in raw and ODD not in raw and "<skip>" not in raw
    assert "&lt;script&gt;" in raw and "&lt;skip&gt; &amp; co" in raw
    page = read_page(path)
    assert ODD in page.text and "<script>alert(1)</script>" in page.text and "U-Net <skip> & co" in page.text
    assert any(urllib.parse.unquote(source) == "separate/{}.png".format(ODD) for source in page.images)
    assert sorted(urllib.parse.unquote(source) for source in page.audio) == [
        "separate/{}_{}.wav".format(ODD, version) for version in ("estimate1", "mixture")]


def test_embedded_page_carries_every_file_and_links_nothing(result, tiny_corpus):
    run = result
    linked = write(run, tiny_corpus)
    path = run / "index-embedded.html"
    report.write_report(str(path), str(run), str(tiny_corpus / "DataSet"), str(tiny_corpus / "spectrogram"),
                        embed=True)
    embedded = Page(path.read_text(encoding="utf-8"))
    assert len(embedded.images) == len(linked.images) > 0 and len(embedded.audio) == len(linked.audio)
    for source, original in zip(embedded.images + embedded.audio, linked.images + linked.audio):
        mime = "image/png" if original.endswith(".png") else "audio/wav"
        assert source.startswith("data:{};base64,".format(mime))
        data = base64.b64decode(source.split(",", 1)[1])
        assert data == (run / urllib.parse.unquote(original)).read_bytes()


def test_cli_prints_the_path_last_and_refuses_a_missing_folder(run, tiny_corpus, tmp_path):
    out = tmp_path / "page" / "report.html"
    result = run_script("examples/report/make_report.py", "--result", run, "--dataset", tiny_corpus / "DataSet",
                        "--spec", tiny_corpus / "spectrogram", "--out", out)
    assert result.stdout.splitlines()[-1] == str(out)
    page = read_page(out)  # links relative to the page's own folder, wherever it is
    assert "run" in page.sections
    assert not [name for name in os.listdir(out.parent) if name.startswith(".tmp-")]
    missing = run_script("examples/report/make_report.py", "--result", tmp_path / "none", check=False)
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1 and "make pretrain classify" in missing.stderr


def test_an_artefact_of_another_shape_drops_only_its_section(result, tiny_corpus):
    (result / "comparison.json").write_text(json.dumps({"classifier_2cnn": {"seeds": 1}}))
    (result / "robustness.json").write_text("[1, 2")  # cut short
    done = run_script("examples/report/make_report.py", "--result", result, "--dataset", tiny_corpus / "DataSet",
                      "--spec", tiny_corpus / "spectrogram")
    assert "warning: report section comparison left out: KeyError" in done.stderr
    sections = read_page(result / "index.html").sections
    assert "comparison" not in sections and "run" in sections and "autoencoders" in sections


def test_comparison_sentence_follows_the_numbers():
    def row(mean, std, reached, seeds=3):
        return {"final_accuracy_mean": mean, "final_accuracy_std": std, "seeds": seeds,
                "epochs_to_90_mean": reached, "epochs_to_90_per_seed": [reached] * seeds}

    level = report.comparison_sentence({"classifier_2cnn": row(0.99, 0.01, 1.0), "classifier_3cnn": row(0.97, 0.02, 1.3),
                                        "classifier_pretrained": row(0.96, 0.005, 1.7)})
    assert level.startswith("On the held-out test set the 2-CNN is the most accurate (99.00 ± 1.00 % over 3 seeds)")
    assert "leaves the 3-CNN level" in level and "-1.00 points, within one standard deviation" in level
    assert "after 1.7 epochs on average against 1.3" in level
    better = report.comparison_sentence({"classifier_3cnn": row(0.90, 0.01, None),
                                         "classifier_pretrained": row(0.95, 0.01, 2.0)})
    assert "pretrained 3-CNN is the most accurate" in better
    assert "raises the 3-CNN's final accuracy by 5.00 points" in better and "the 3-CNN from scratch" in better
    single = report.comparison_sentence({"classifier_3cnn": row(0.9, 0.0, 1.0, seeds=1),
                                         "classifier_pretrained": row(0.9, 0.0, 1.0, seeds=1)})
    assert "one seed, so no spread to judge it by" in single
    assert report.comparison_sentence({}) is None


def test_report_tables_and_audio_groups(tmp_path):
    made = [tables.table(["a", "b (dB)"], [["{}/x".format(tmp_path), 1.5]]), tables.table(["c"], [["–"]])]
    shown, notes = report.report_tables({"tables": made, "notes": ["Validation note."]}, str(tmp_path))
    assert notes == ["Validation note."]
    assert shown[0]["header"] == ["a", "b (dB)"] and shown[0]["numeric"] == [False, True]
    assert shown[0]["rows"] == [["{}/x".format(os.path.normpath(str(tmp_path))), "1.5"]]
    assert shown[1]["rows"] == [["–"]]
    assert tables.markdown(made, ["Validation note."]) == (
        "Validation note.\n\n| a | b (dB) |\n|---|---|\n| {}/x | 1.5 |\n\n| c |\n|---|\n| – |\n".format(tmp_path))
    names = ["a_mixture.wav", "a_estimate.wav", "b_mixture.wav", "noise.wav"]
    groups, left_out = report.audio_groups([str(tmp_path / n) for n in names], str(tmp_path), lambda p: p)
    assert left_out == 0 and groups[0]["columns"] == ["estimate", "mixture", "audio"]
    rows = {row["label"]: [cell and cell["name"] for cell in row["cells"]] for row in groups[0]["rows"]}
    assert rows == {"a": ["a_estimate.wav", "a_mixture.wav", None], "b": [None, "b_mixture.wav", None],
                    "noise": [None, None, "noise.wav"]}
    flat, _ = report.audio_groups([str(tmp_path / "x.wav"), str(tmp_path / "y.wav")], str(tmp_path), lambda p: p)
    assert flat[0]["columns"] == ["audio"] and len(flat[0]["rows"]) == 2
    assert report.duration(5.04) == "5.0 s" and report.duration(438) == "7 min 18 s"
    assert report.duration(3 * 3600 + 125) == "3 h 02 min"


def test_human_section_puts_the_recogniser_beside_the_peer(tmp_path, capsys):
    result = tmp_path / "result"
    link = report.Linker(str(result))
    assert report.human_section(str(result), link) is None  # no make human yet: no section
    truth, speakers = [3, 3, 5, 5], ["ann", "bob", "ann", "bob"]
    paths = ["/data/fsdd/{}_{}_0.wav".format(d, s) for d, s in zip(truth, speakers)]
    scoring.report(result / "human", "ours", paths, truth, [3, 3, 5, 8], speakers)
    scoring.report(result / "human_peer", "peer", paths, truth, [3, scoring.NO_ANSWER, 8, 8], speakers)
    capsys.readouterr()
    section = report.human_section(str(result), link)
    assert section["tables"][0]["rows"] == [
        ["this project's recogniser (make human)", "75.00 %", "3", "4", "0", "0"],
        ["off-the-shelf PocketSphinx, digit grammar (make human-peer)", "25.00 %", "1", "4", "1", "0"]]
    assert section["tables"][1]["rows"] == [["ann", "100.0 %", "50.0 %"], ["bob", "50.0 %", "0.0 %"]]
    assert section["lead"] == ["this project's recogniser: 75.0 %; off-the-shelf PocketSphinx, digit grammar: 25.0 % "
                               "on 4 recordings of 2 speakers in /data/fsdd."]
    assert [item["src"] for item in section["figures"]] == ["human/confusion.png", "human_peer/confusion.png"]


def test_robustness_tables_keep_runs_averages_and_the_recogniser_apart(tmp_path):
    result = tmp_path / "result"
    result.mkdir()
    def row(clean, degraded):
        return {"clean": clean, "telephone": degraded, "noise": degraded, "reverb": degraded, "voice": degraded,
                "mixed": degraded, "mean_degraded": degraded}
    one, two = str(result / "classifier_3cnn" / "seed1"), str(result / "classifier_3cnn" / "seed2")
    rows = {one: row(0.9, 0.8), two: row(0.8, 0.6), one + " + " + two: row(0.95, 0.85),
            "recogniser": dict(row(0.99, 0.9), models=[one, two, "x", "y"])}
    (result / "robustness.json").write_text(json.dumps(rows))
    robust = report.evaluation_section(str(result), report.Linker(str(result)))["robustness"]
    assert [r[:3] for r in robust["table"]["rows"]] == [["3-CNN/seed1", "90.0 %", "80.0 %"],
                                                       ["3-CNN/seed2", "80.0 %", "60.0 %"]]
    assert [r[:4] for r in robust["grouped"]["rows"]] == [["3-CNN", "2", "85.0 ± 5.0 %", "70.0 ± 10.0 %"]]
    assert [r[:3] for r in robust["averaged"]["rows"]] == [
        ["3-CNN, 2 runs averaged", "95.0 %", "85.0 %"],
        ["the recogniser: 4 models averaged, in the test-time views", "99.0 %", "90.0 %"]]


def players(section):
    return [cell["src"] for group in section["audio"] for row in group["rows"] for cell in row["cells"] if cell]


@pytest.mark.xdist_group("goals")
def test_extension_sections_show_their_report_json(goals, tmp_path):
    """Each extension's section (report.EXTENSION_SECTIONS) on the session's make run of every goal: its
    tables, figures, players and commands are those its script listed in its report.json, and its lead
    sentences carry that report.json's numbers."""
    root, results = goals
    result = root / "result"
    for goal in ("denoise", "anomaly", "deep", "morph", "separate", "curve"):
        assert results[goal].returncode == 0, results[goal].stderr[-2000:]
    link = report.Linker(str(result))
    sections = [section(str(result), link) for section in report.EXTENSION_SECTIONS]
    assert [section["id"] for section in sections] == ["human", "denoise", "anomaly", "deep", "morph", "separate",
                                                       "curve"]
    sections = {section["id"]: section for section in sections}
    # make human and make adapt: evaluate.py's report.json of each, one row each, and their confusion matrices
    human = sections["human"]
    scored = [json.loads((result / folder / "report.json").read_text()) for folder in ("human", "human_adapted")]
    assert human["tables"][0]["rows"] == [
        ["{} ({})".format(name, goal), "{:.2f} %".format(100 * run_["accuracy"]), str(run_["correct"]),
         str(run_["total"]), "0", "0"] for (_, name, goal), run_ in zip(report.HUMAN_RUNS, scored)]
    assert [row[0] for row in human["tables"][1]["rows"]] == sorted(scored[0]["speakers"]) and len(scored[0]["speakers"]) == 2
    assert [item["src"] for item in human["figures"]] == ["human/confusion.png", "human_adapted/confusion.png"]
    assert "{:.1f} %".format(100 * scored[0]["accuracy"]) in human["lead"][0]
    folders = {"denoise": "denoise", "anomaly": "anomaly", "deep": "deep", "morph": "vae", "separate": "separate",
               "curve": "curve"}
    data = {key: json.loads((result / folder / "report.json").read_text()) for key, folder in folders.items()}
    for key, folder in folders.items():
        section, recorded = sections[key], data[key]
        assert [(t["header"], t["rows"]) for t in section["tables"]] == [(t["header"], t["rows"])
                                                                      for t in recorded["tables"]]
        listed = [os.path.normpath("{}/{}".format(folder, item["file"])) for item in recorded["figures"]]
        assert listed and all((result / path).is_file() for path in listed)
        assert sorted(item["src"] for item in section["figures"]) == sorted(listed)
        sizes = [item["size"] for item in section["figures"]]
        assert sizes == sorted(sizes, key=lambda size: size == "half")  # training curves after the results
        assert sorted(players(section)) == sorted("{}/{}".format(folder, path) for path in recorded["audio"])
        assert all((result / folder / path).is_file() for path in recorded["audio"])
        script = {"denoise": "denoise_report.py", "anomaly": "anomaly_report.py", "deep": "deep_report.py",
                  "morph": "vae.py", "separate": "separation_report.py", "curve": "curve_report.py"}[key]
        assert os.path.basename(recorded["command"][0]) == script and "--out" in recorded["command"]
        assert section["commands"][-1]["command"] == " ".join([".venv/bin/python"] + recorded["command"])
    lead = {key: " ".join(section["lead"]) for key, section in sections.items()}

    rows = data["denoise"]["reconstruction"]
    best = max((name for name in rows if name != "noisy input"), key=lambda name: rows[name]["all"]["snr_db"])
    assert "{:.2f} dB for the noisy input".format(rows["noisy input"]["all"]["snr_db"]) in lead["denoise"]
    assert "{}, {:.2f} dB".format(best, rows[best]["all"]["snr_db"]) in lead["denoise"]
    assert "ROC AUC {:.3f}".format(data["anomaly"]["detector"]["auc"]) in lead["anomaly"]
    assert len(players(sections["anomaly"])) == len({sound["kind"] for sound in data["anomaly"]["sounds"]})

    rows = data["deep"]["reconstruction"]
    assert {row["kind"] for row in rows.values()} == {"greedy_stack", "deep_autoencoder"}
    best = min(rows, key=lambda name: rows[name]["test_mse"])
    assert "{} ({}, {} parameters".format(best, rows[best]["kind"], rows[best]["parameters"]) in lead["deep"]
    assert all("{:.5f}".format(row["test_mse"]) in lead["deep"] for row in rows.values())
    deep_run = json.loads((result / "deep" / "run.json").read_text())["command"]
    assert sections["deep"]["commands"][0]["command"] == " ".join([".venv/bin/python"] + deep_run)
    assert deep_run[0].endswith("cnn_autoencoder_deep.py")
    accuracy = {group: 100 * np.mean(values["final_accuracy"]) for group, values in data["deep"]["classifiers"].items()}
    most = max(accuracy, key=accuracy.get)
    assert "{} ends most accurate: {:.1f} ±".format(most, accuracy[most]) in lead["deep"]

    morph = data["morph"]
    vae_row = morph["models"][str(result / "vae")]
    assert "MSE {:.5f} and cosine {:.4f}".format(vae_row["mse"], vae_row["cosine"]) in lead["morph"]
    closest = min((name for name in morph["models"] if name != str(result / "vae")),
                  key=lambda name: morph["models"][name]["mse"])
    assert "the closest autoencoder, {}, with MSE {:.5f}".format(
        closest, morph["models"][closest]["mse"]) in lead["morph"]
    assert "{:.0f} % and".format(100 * morph["pca_explained_variance"][0]) in lead["morph"]
    assert len(morph["audio"]) == 5 * len(morph["morphs"])
    assert "vae/latent_map.png" in [item["src"] for item in sections["morph"]["figures"]]
    assert [c["stage"] for c in sections["morph"]["commands"]] == ["VAE training"]  # one run trains and reports

    separate = data["separate"]
    for method, row in separate["rows"].items():
        for kind in row:
            assert "{} {:+.2f} dB".format(method, row[kind]["si_sdr_improvement"]) in lead["separate"]
    first = next(iter(separate["summaries"].values()))
    for kind in separate["rows"]["U-Net"]:
        assert "{:.1f} % on the mixtures".format(100 * first[kind]["mixture"]["accuracy"]) in lead["separate"]
    runs = [json.loads((result / "separate" / run / "run.json").read_text())["command"] for run in ("unet", "noskip")]
    assert [c["command"] for c in sections["separate"]["commands"][:2]] == [
        " ".join([".venv/bin/python"] + command) for command in runs]
    assert {"separate/unet/separation.png", "separate/noskip/separation.png"} <= {
        item["src"] for item in sections["separate"]["figures"] if item["size"] == "wide"}

    for name, by_n in data["curve"]["differences"].items():
        for n, row in by_n.items():
            assert "{:+.1f} points at n = {}".format(100 * row["mean"], n) in lead["curve"]
    assert lead["curve"].startswith("3-CNN, greedy AE pretrained minus 3-CNN, scratch, paired by seed")  # same network first

    # The page itself: every section in order, every link resolving from wherever the page is written.
    page_path = tmp_path / "index.html"
    report.write_report(str(page_path), str(result), str(root / "DataSet"), str(root / "spectrogram"))
    page = read_page(page_path)
    assert page.sections[-6:] == ["denoise", "anomaly", "deep", "morph", "separate", "curve"]
    assert all(line in page.all_text for line in sections["separate"]["lead"])
