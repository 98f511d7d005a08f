"""predict.py and evaluate.py: the contracts other tools rely on."""
import json
import os
import re
import shutil

import chainer
import chainer.functions as F
import numpy as np
import pytest
import soundfile

from conftest import run_script
from specae.audio import resample
from specae import augment, inference
from specae.inference import load_classifier
from specae.models import CNN, accuracy, smoothed_cross_entropy


@pytest.fixture(scope="module", params=[1, 3], ids=["fc-head", "frequency-pool-head"])
def model(tiny_corpus, request):
    out = tiny_corpus / "inference_model_pool{}".format(request.param)
    run_script("cnn_classifier1.py", "--layers", 2, "--dataset", tiny_corpus / "DataSet", "--epoch", 2,
               "--batchsize", 20, "--frequency-pool", request.param, "--out", out)
    assert json.loads((out / "model.json").read_text())["frequency_pool"] == request.param
    return out


def test_frequency_pool_head_is_a_max_over_neighbouring_rows():
    cnn = CNN(2, input_size=64, frequency_pool=3)
    assert cnn.fc.W.shape == (10, 32 * 11 * 13)
    x = np.random.default_rng(0).random((4, 1, 64, 64), dtype=np.float32)
    with chainer.no_backprop_mode():
        features = F.relu(cnn.convs[1](F.relu(cnn.convs[0](x)))).array
        pooled = np.stack([features[:, :, r:r + 3].max(axis=2) for r in range(11)], axis=2)
        expected = pooled.reshape(4, -1) @ cnn.fc.W.array.T + cnn.fc.b.array
        np.testing.assert_allclose(cnn(x).array, expected, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="frequency_pool must be between 1 and 4"):
        CNN(3, frequency_pool=5)


def test_bad_frequency_pool_is_a_one_line_error(tiny_corpus, tmp_path):
    result = run_script("cnn_classifier1.py", "--dataset", tiny_corpus / "DataSet", "--frequency-pool", 5,
                        "--out", tmp_path / "model", check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == "error: --frequency-pool: frequency_pool must be between 1 and 4 (the rows of " \
                                    "the last feature map), not 5"


def test_channels_option_trains_and_loads_a_network_of_those_widths(tiny_corpus, tmp_path):
    out = tmp_path / "narrow"
    run_script("cnn_classifier1.py", "--layers", 2, "--channels", "8,12", "--dataset", tiny_corpus / "DataSet",
               "--epoch", 1, "--batchsize", 20, "--out", out)
    assert json.loads((out / "model.json").read_text())["channels"] == [8, 12]
    with np.load(out / "model.npz") as weights:
        shapes = {name: weights[name].shape for name in weights.files}
    assert shapes["convs/0/W"] == (8, 1, 6, 6) and shapes["convs/1/W"] == (12, 8, 6, 6)
    cnn, _ = load_classifier(str(out))  # built from model.json: the saved weights fit it
    np.testing.assert_array_equal(cnn.convs[1].W.array, np.load(out / "model.npz")["convs/1/W"])
    # fine-tuned from it (cnn_classifier2.py --init, as make human-folds does), the widths come along
    run_script("cnn_classifier2.py", "--init", out / "model.npz", "--dataset", tiny_corpus / "DataSet", "--epoch", 1,
               "--batchsize", 20, "--out", tmp_path / "fine-tuned")
    assert json.loads((tmp_path / "fine-tuned" / "model.json").read_text())["channels"] == [8, 12]
    assert load_classifier(str(tmp_path / "fine-tuned"))[0].convs[1].W.shape == (12, 8, 6, 6)
    too_few = run_script("cnn_classifier1.py", "--layers", 3, "--channels", "8,12", "--dataset",
                         tiny_corpus / "DataSet", "--out", tmp_path / "bad", check=False)
    assert too_few.returncode == 1
    assert too_few.stderr.strip() == "error: --channels names 2 filter counts for 3 convolutions"
    assert not (tmp_path / "bad" / "model.npz").exists()


def test_label_smoothing_is_cross_entropy_against_smoothed_targets():
    rng = np.random.default_rng(0)
    logits, labels = rng.normal(size=(6, 10)).astype(np.float32), rng.integers(0, 10, 6).astype(np.int32)
    log_probabilities = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    for smoothing in (0.0, 0.1, 0.5):
        targets = np.full((6, 10), smoothing / 10)
        targets[np.arange(6), labels] += 1.0 - smoothing
        expected = -(targets * log_probabilities).sum(axis=1).mean()
        np.testing.assert_allclose(smoothed_cross_entropy(smoothing)(logits, labels).array, expected, rtol=1e-5)


def test_label_smoothing_acts_only_while_training():
    # evaluation (the Evaluator's train=False) reports the plain cross-entropy, comparable across runs
    rng = np.random.default_rng(5)
    logits, labels = rng.normal(size=(4, 10)).astype(np.float32), rng.integers(0, 10, 4).astype(np.int32)
    log_probabilities = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    plain = -log_probabilities[np.arange(4), labels].mean()
    with chainer.using_config("train", False):
        np.testing.assert_allclose(smoothed_cross_entropy(0.1)(logits, labels).array, plain, rtol=1e-5)
    assert abs(float(smoothed_cross_entropy(0.1)(logits, labels).array) - plain) > 1e-3


def test_mixed_targets_take_the_cross_entropy_against_the_distribution():
    rng = np.random.default_rng(1)
    logits, labels = rng.normal(size=(5, 10)).astype(np.float32), rng.integers(0, 10, 5).astype(np.int32)
    one_hot = np.eye(10, dtype=np.float32)[labels]
    for smoothing in (0.0, 0.2):
        loss = smoothed_cross_entropy(smoothing)
        np.testing.assert_allclose(loss(logits, one_hot).array, loss(logits, labels).array, rtol=1e-5)
    mixed = 0.3 * one_hot + 0.7 * np.eye(10, dtype=np.float32)[(labels + 1) % 10]
    log_probabilities = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(smoothed_cross_entropy(0.0)(logits, mixed).array,
                               -(mixed * log_probabilities).sum(axis=1).mean(), rtol=1e-5)
    assert float(accuracy(logits, mixed).array) == float(F.accuracy(logits, (labels + 1) % 10).array)


def test_mixup_pairs_are_mixtures_of_two_examples_and_their_labels():
    from specae.classifier_training import VariedImages
    rng = np.random.default_rng(2)
    data, labels = rng.random((6, 1, 8, 8), dtype=np.float32), np.arange(6, dtype=np.int32)
    pairs = VariedImages(data, labels, seed=3, vary=False, mixup_alpha=0.4)
    for i in range(6):
        image, target = pairs.get_example(i)
        assert target.shape == (10,) and target.dtype == np.float32 and abs(target.sum() - 1.0) < 1e-6
        draw = np.random.default_rng([3, 0, i])  # the generator the example draws from: partner, then weight
        partner, weight = int(draw.integers(6)), float(draw.beta(0.4, 0.4))
        assert target[labels[i]] >= weight - 1e-6 and target[labels[partner]] >= 1 - weight - 1e-6
        np.testing.assert_allclose(image[0], weight * data[i, 0] + (1 - weight) * data[partner, 0], rtol=1e-5)


def test_label_smoothing_is_recorded_and_a_bad_value_is_a_one_line_error(tiny_corpus, tmp_path):
    run_script("cnn_classifier1.py", "--layers", 2, "--dataset", tiny_corpus / "DataSet", "--epoch", 1,
               "--batchsize", 20, "--label-smoothing", 0.1, "--out", tmp_path / "smoothed")
    assert json.loads((tmp_path / "smoothed" / "model.json").read_text())["label_smoothing"] == 0.1
    run_script("cnn_classifier1.py", "--layers", 2, "--dataset", tiny_corpus / "DataSet", "--epoch", 1,
               "--batchsize", 20, "--label-smoothing", 0, "--mixup", 0.2, "--out", tmp_path / "mixed")
    log = json.loads((tmp_path / "mixed" / "log").read_text())
    assert json.loads((tmp_path / "mixed" / "model.json").read_text())["mixup"] == 0.2
    assert 0.0 <= log[-1]["main/accuracy"] <= 1.0 and log[-1]["validation/main/loss"] > 0
    result = run_script("cnn_classifier1.py", "--dataset", tiny_corpus / "DataSet", "--mixup", -1,
                        "--out", tmp_path / "bad", check=False)
    assert result.returncode == 1 and result.stderr.strip() == "error: --mixup must be 0 (off) or above, not -1.0"
    result = run_script("cnn_classifier1.py", "--dataset", tiny_corpus / "DataSet", "--label-smoothing", 1.5,
                        "--out", tmp_path / "model", check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == "error: --label-smoothing must be at least 0 and below 1, not 1.5"


def test_dropout_acts_only_while_training_and_keeps_the_answers_unbiased():
    x = np.random.default_rng(4).random((2, 1, 64, 64), dtype=np.float32)
    plain, dropped = CNN(2), CNN(2, dropout=0.5)
    dropped.copyparams(plain)
    with chainer.no_backprop_mode():
        expected = plain(x).array
        with chainer.using_config("train", False):  # inference: the same answers as the network without it
            np.testing.assert_array_equal(dropped(x).array, expected)
        np.random.seed(5)
        draws = np.stack([dropped(x).array for _ in range(2000)])
    # each draw differs (half the inputs gone, the rest doubled); their mean is the full network's answer
    assert np.abs(draws[0] - expected).max() > 10 * np.abs(expected).max() * 1e-3
    spread = draws.std(axis=0) / np.sqrt(len(draws))
    assert np.all(np.abs(draws.mean(axis=0) - expected) < 5 * spread + 1e-6)
    with pytest.raises(ValueError, match="dropout must be at least 0 and below 1"):
        CNN(2, dropout=1.0)


def test_dropout_is_recorded_and_a_bad_value_is_a_one_line_error(tiny_corpus, tmp_path):
    run_script("cnn_classifier1.py", "--layers", 2, "--dataset", tiny_corpus / "DataSet", "--epoch", 1,
               "--batchsize", 20, "--dropout", 0.25, "--out", tmp_path / "dropped")
    assert json.loads((tmp_path / "dropped" / "model.json").read_text())["dropout"] == 0.25
    assert load_classifier(str(tmp_path / "dropped"))[0].dropout == 0.25  # adapt.py trains it on with the same
    result = run_script("cnn_classifier1.py", "--dataset", tiny_corpus / "DataSet", "--dropout", 1,
                        "--out", tmp_path / "bad", check=False)
    assert result.returncode == 1 and result.stderr.strip() == "error: --dropout must be at least 0 and below 1, not 1.0"
    assert not (tmp_path / "bad" / "model.npz").exists()


def test_predict_prints_one_line_per_file(tiny_corpus, model):
    wav = tiny_corpus / "wav"
    result = run_script("predict.py", "--model", model, wav)
    lines = result.stdout.strip().splitlines()
    assert len(lines) == len(os.listdir(wav)) == 80
    for line in lines:
        path, digit, confidence = line.split("\t")
        assert os.path.exists(path) and digit in "0123456789" and 0.1 <= float(confidence) <= 1.0
    single = run_script("predict.py", "--model", model, wav / os.listdir(wav)[0]).stdout.strip().split("\t")
    assert single[0] == str(wav / os.listdir(wav)[0])


def test_odd_formats_are_accepted_and_agree(tiny_corpus, model, tmp_path):
    name = sorted(os.listdir(tiny_corpus / "wav"))[5]
    samples, rate = soundfile.read(tiny_corpus / "wav" / name, dtype="float32")
    phone = resample(samples, rate, 8000)
    soundfile.write(tmp_path / ("a" + name), np.stack([phone, phone], axis=1), 8000, subtype="PCM_16")
    soundfile.write(tmp_path / ("b" + name), samples, rate, subtype="FLOAT")
    soundfile.write(tmp_path / ("c" + name), samples, rate, subtype="PCM_16")
    lines = run_script("predict.py", "--model", model, tmp_path).stdout.strip().splitlines()
    assert [os.path.basename(line.split("\t")[0])[0] for line in lines] == ["a", "b", "c"]
    float_line, pcm_line = lines[1].split("\t"), lines[2].split("\t")
    assert float_line[1] == pcm_line[1] and abs(float(float_line[2]) - float(pcm_line[2])) < 1e-3


def test_evaluate_balance_decides_over_the_batch_or_each_speakers_files(tiny_corpus, model, tmp_path):
    paths = sorted(str(path) for path in (tiny_corpus / "wav").glob("*.wav"))  # 4 speakers, 20 clips each
    cnns, params = inference.load_classifiers([str(model)])
    results, _ = inference.classify_files(paths, cnns, params, test_time_variations=True)  # evaluate.py's default
    plain = np.stack([probability for _, probability in results])
    speakers = np.array([os.path.basename(path).split("_")[1] for path, _ in results])
    assert len(set(speakers.tolist())) > 1
    expected = {"none": plain.argmax(axis=1), "all": inference.balance_priors(plain).argmax(axis=1),
                "speaker": np.empty(len(plain), int)}
    for speaker in set(speakers.tolist()):
        mine = speakers == speaker
        expected["speaker"][mine] = inference.balance_priors(plain[mine]).argmax(axis=1)
    # a model of two epochs on four voices leans to a few digits: the three ways decide differently
    assert len({tuple(decisions) for decisions in expected.values()}) == 3
    for mode, decisions in expected.items():
        run_script("evaluate.py", "--model", model, "--balance", mode, "--out", tmp_path / mode, *paths)
        report = json.loads((tmp_path / mode / "report.json").read_text())
        assert report["balance"] == mode
        predicted = {f["path"]: f["predicted"] for f in report["files"]}
        assert [predicted[path] for path, _ in results] == decisions.tolist()
    # a speaker with 3 files cannot hold an equal share of ten digits: one line, nothing written
    ordered = [path for path, _ in results]
    others = [path for path, speaker in zip(ordered, speakers) if speaker != speakers[0]]
    three = [path for path, speaker in zip(ordered, speakers) if speaker == speakers[0]][:3]
    short = run_script("evaluate.py", "--model", model, "--balance", "speaker", "--out", tmp_path / "short",
                       *others, *three, check=False)
    assert short.returncode == 1 and not (tmp_path / "short" / "report.json").exists()
    assert short.stderr.strip().splitlines()[-1] == ("error: --balance speaker: speaker {} has 3 files; balancing "
                                                      "needs at least 10 (one per digit) in each batch".format(speakers[0]))


def test_evaluate_matches_the_trainers_test_accuracy(tiny_corpus, model, tmp_path):
    manifest = json.loads((tiny_corpus / "DataSet" / "manifest.json").read_text())
    test_dir = tmp_path / "test"
    test_dir.mkdir()
    for entry in manifest["test"]["files"]:
        os.symlink(entry["wav"], test_dir / os.path.basename(entry["wav"]))
    (test_dir / "notes.wav").write_bytes(b"not audio")
    # each image as it is, as the trainer's validation scores it (--no-tta)
    result = run_script("evaluate.py", "--model", model, "--no-tta", "--out", tmp_path / "report", test_dir)
    last = result.stdout.strip().splitlines()[-1]
    match = re.fullmatch(r"accuracy (\d\.\d{4}) \((\d+)/(\d+)\)", last)
    assert match and int(match[3]) == 20
    log = json.loads((model / "log").read_text())
    assert float(match[1]) == pytest.approx(log[-1]["validation/main/accuracy"], abs=1e-4)
    assert "notes.wav: no '{digit}_' label" in result.stderr
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    confusion = np.array(report["confusion"])
    assert confusion.sum() == 20 and np.trace(confusion) == int(match[2])
    predicted = {os.path.basename(f["path"]): f["predicted"] for f in report["files"]}
    for line in run_script("predict.py", "--model", model, "--no-tta", test_dir).stdout.strip().splitlines():
        path, digit, _ = line.split("\t")
        assert predicted[os.path.basename(path)] == int(digit)
    assert (tmp_path / "report" / "confusion.png").read_bytes()[:4] == b"\x89PNG"
    per_digit = [line for line in result.stdout.splitlines() if line.startswith("digit ")]
    assert len(per_digit) == 10


def test_test_time_variations_average_the_stretched_views(tiny_corpus, model, tmp_path):
    paths = sorted(str(path) for path in (tiny_corpus / "wav").glob("*.wav"))[:12]
    cnns, params = inference.load_classifiers([str(model)])
    _, images, _ = inference.usable_images(paths, params)

    def reference(warps):  # every view made image by image with the training variation's functions
        views = []
        for frames in (None, 24, 32, 40):
            for warp in warps:
                view = []
                for image in images:
                    length = max(1, augment.word_frames(image).size)
                    stretched = image if frames is None else augment.shift_and_stretch_time(image, 0.0, frames / length)
                    view.append(augment.interpolate_axis(stretched, np.arange(64) * warp, axis=0))
                views.append(inference.probabilities(cnns, view))
        return np.mean(views, axis=0)

    varied = inference.probabilities(cnns, images, test_time_variations=True)
    np.testing.assert_allclose(varied, reference([1.0]), atol=1e-5)     # the default: the word's lengths alone
    # the vocal-tract warps of the default until 529fc15, when asked for (examples/human's probes)
    warped = inference.probabilities(cnns, images, test_time_variations=True, warps=(1.0, 0.92, 1.08))
    np.testing.assert_allclose(warped, reference([1.0, 0.92, 1.08]), atol=1e-5)
    assert np.abs(warped - varied).max() > 1e-3
    plain = inference.probabilities(cnns, images)
    assert np.abs(varied - plain).max() > 1e-3
    # predict.py and evaluate.py average the views unless --no-tta
    for flags, expected in (((), varied), (("--no-tta",), plain)):
        lines = run_script("predict.py", "--model", model, *flags, *paths).stdout.strip().splitlines()
        for line, probability in zip(lines, expected):
            path, digit, confidence = line.split("\t")
            assert int(digit) == probability.argmax() and float(confidence) == pytest.approx(probability.max(), abs=1e-4)
        run_script("evaluate.py", "--model", model, *flags, "--out", tmp_path / str(len(flags)), *paths)
        report = json.loads((tmp_path / str(len(flags)) / "report.json").read_text())
        assert report["test_time_variations"] == (not flags)
        assert [f["predicted"] for f in report["files"]] == expected.argmax(axis=1).tolist()


def test_missing_model_is_a_clear_error(tiny_corpus, tmp_path):
    result = run_script("predict.py", "--model", tmp_path, tiny_corpus / "wav", check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == "error: {}: no model.json (train a model there first) " \
                                    "(make classify trains the default model)".format(tmp_path)


@pytest.fixture(scope="module")
def two_seeds(tiny_corpus):
    runs = []
    for seed in (1, 2):
        out = tiny_corpus / "ensemble" / "seed{}".format(seed)
        run_script("cnn_classifier1.py", "--layers", 2, "--dataset", tiny_corpus / "DataSet", "--epoch", 1,
                   "--batchsize", 20, "--seed", seed, "--out", out)
        runs.append(out)
    return runs


def test_several_models_are_averaged(tiny_corpus, two_seeds, tmp_path):
    from specae import inference
    wav = tiny_corpus / "wav"
    names = sorted(os.listdir(wav))[:6]
    for name in names:
        os.symlink(wav / name, tmp_path / name)
    lines = run_script("predict.py", "--model", two_seeds[0], "--model", two_seeds[1], tmp_path).stdout.split("\n")
    predicted = {os.path.basename(line.split("\t")[0]): line.split("\t")[1:] for line in lines if line}
    alone = []
    for run in two_seeds:
        cnn, params = inference.load_classifier(run)
        alone.append(dict(inference.classify_files([str(tmp_path / name) for name in names], cnn, params,
                                                   test_time_variations=True)[0]))  # predict.py's default
    for name in names:
        mean = (alone[0][str(tmp_path / name)] + alone[1][str(tmp_path / name)]) / 2
        digit, confidence = predicted[name]
        assert int(digit) == int(mean.argmax()) and float(confidence) == pytest.approx(mean.max(), abs=1e-4)
    report = tmp_path / "report"
    run_script("evaluate.py", "--model", two_seeds[0], "--model", two_seeds[1], "--out", report, tmp_path)
    assert json.loads((report / "report.json").read_text())["models"] == [str(run) for run in two_seeds]


def test_an_ensemble_needs_one_front_end(two_seeds, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(two_seeds[1], other)
    info = json.loads((other / "model.json").read_text())
    info["feature_params"]["fmax_hz"] = 5000.0
    (other / "model.json").write_text(json.dumps(info))
    result = run_script("predict.py", "--model", two_seeds[0], "--model", other, tmp_path, check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == "error: {}: trained with other feature parameters than {} (fmax_hz); an " \
                                    "ensemble needs one front end".format(other, two_seeds[0])


def test_default_is_every_trained_seed_of_every_model(tmp_path, monkeypatch):
    from specae import inference
    monkeypatch.chdir(tmp_path)
    assert inference.default_models() == [inference.DEFAULT_MODEL]
    for model, seed in (("classifier_2cnn", 1), ("classifier_pretrained", 1), ("classifier_3cnn", 2),
                        ("classifier_3cnn_freqpool", 2), ("classifier_3cnn", 1),
                        ("classifier_vae", 1)):  # the VAE extension's is not in the recogniser
        folder = tmp_path / "result" / model / "seed{}".format(seed)
        folder.mkdir(parents=True)
        (folder / "model.npz").write_bytes(b"")
    (tmp_path / "result" / "classifier_3cnn" / "seed3").mkdir()  # a run that has not finished
    assert inference.default_models() == [os.path.join("result", "classifier_3cnn", "seed1"),
                                          os.path.join("result", "classifier_3cnn", "seed2"),
                                          os.path.join("result", "classifier_pretrained", "seed1"),
                                          os.path.join("result", "classifier_2cnn", "seed1"),
                                          os.path.join("result", "classifier_3cnn_freqpool", "seed2")]
