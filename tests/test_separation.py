"""Separation: SI-SDR on known cases and against fast_bss_eval, mixtures at the requested level, the U-Net's
mask range and output shape for odd sizes, its permutation-invariant loss, and the scripts end to end."""
import json
import os

import fast_bss_eval.numpy as fast_bss_eval  # the top-level dispatcher needs torch for si_sdr
import numpy as np
import pytest
import soundfile

from conftest import run_script
from examples.separation import separation
from specae.augment import power


def orthogonal_noise(reference, rng, snr_db):
    """Noise orthogonal to ``reference`` with power ``snr_db`` below it."""
    noise = rng.standard_normal(len(reference))
    noise -= noise @ reference / (reference @ reference) * reference
    return noise * np.sqrt(power(reference) / power(noise) / 10 ** (snr_db / 10))


def test_si_sdr_of_a_known_case_and_against_the_library():
    rng = np.random.default_rng(0)
    s = rng.standard_normal(4000)
    estimate = s + orthogonal_noise(s, rng, 12.0)
    assert separation.si_sdr(s, estimate) == pytest.approx(12.0, abs=1e-6)
    assert separation.si_sdr(s, -3.0 * estimate) == pytest.approx(12.0, abs=1e-6)  # scale invariant
    assert separation.si_sdr(s, np.zeros(4000)) == -np.inf
    assert separation.si_sdr(s, np.zeros(4000), clamp_db=60) == -60
    references = rng.standard_normal((5, 3000))
    estimates = references * rng.uniform(0.2, 2, (5, 1)) + rng.standard_normal((5, 3000)) * rng.uniform(0.1, 2, (5, 1))
    library = [fast_bss_eval.si_sdr(r[None], e[None])[0] for r, e in zip(references, estimates)]
    np.testing.assert_allclose(separation.si_sdr(references, estimates), library, atol=1e-4)
    # BSS Eval SDR allows a 512-tap filter of the reference, whose span takes in about 512/n of white
    # noise's energy: white noise 20 dB down reads as 20 − 10·log10(1 − 512/n) dB
    expected = 20.0 - 10 * np.log10(1 - 512 / len(s))
    assert separation.sdr(s, s + orthogonal_noise(s, rng, 20.0))[0] == pytest.approx(expected, abs=0.2)
    assert separation.sdr(s, np.zeros(4000))[0] == -separation.CLAMP_DB


def test_mixtures_are_made_at_the_requested_level_and_repeat_for_a_seed():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal(800).astype(np.float32), 0.01 * rng.standard_normal(500).astype(np.float32)
    scaled = separation.scale_to_level(a, b, -3.5)
    assert 10 * np.log10(power(a) / power(scaled)) == pytest.approx(-3.5, abs=1e-4)

    clips = [rng.standard_normal(int(n)).astype(np.float32) * g for n, g in zip(rng.integers(2000, 6000, 12),
                                                                                rng.uniform(0.01, 1, 12))]
    speakers, digits = [k % 3 for k in range(12)], [k % 5 for k in range(12)]
    mixtures = separation.Mixtures(clips, speakers, digits, count=40, seed=7, noise_fraction=0.4, seconds=1.0)
    kinds = set()
    for index in range(40):
        mixture, s1, s2, meta = mixtures.signals(index)
        kinds.add(meta["kind"])
        assert len(mixture) == 8000 and -5 <= meta["level_db"] <= 5
        np.testing.assert_allclose(mixture, s1 + s2, atol=1e-6)
        assert 10 * np.log10(power(s1) / power(s2)) == pytest.approx(meta["level_db"], abs=1e-3)
        assert np.abs(mixture).max() == pytest.approx(0.9, rel=1e-5)
        if meta["kind"] == "voices":
            first, second = meta["clips"]
            assert speakers[first] != speakers[second] and digits[first] != digits[second]
    assert kinds == {"voices", "noise"}
    again = separation.Mixtures(clips, speakers, digits, count=40, seed=7, noise_fraction=0.4)
    other = separation.Mixtures(clips, speakers, digits, count=40, seed=8, noise_fraction=0.4)
    np.testing.assert_array_equal(again.signals(5)[0], mixtures.signals(5)[0])
    assert not np.array_equal(other.signals(5)[0], mixtures.signals(5)[0])
    x, references, pit = mixtures.get_example(3)
    assert x.shape == (1, 129, 122) and references.shape == (2, 129, 122) and x.max() == pytest.approx(1.0)


@pytest.mark.parametrize("skips", [True, False])
def test_unet_mask_has_the_input_shape_for_odd_sizes(skips):
    np.random.seed(0)
    unet = separation.UNet(channels=(4, 8, 8), skips=skips)
    rng = np.random.default_rng(2)
    for shape in [(2, 1, 129, 122), (1, 1, 33, 17), (3, 1, 7, 5), (1, 1, 64, 64)]:
        mask = unet(rng.uniform(0, 50, shape).astype(np.float32)).array
        assert mask.shape == shape


def test_loss_takes_the_better_assignment_only_for_two_voices():
    np.random.seed(0)
    model = separation.Separator(separation.UNet(channels=(4, 8)))
    rng = np.random.default_rng(3)
    x = rng.uniform(size=(4, 1, 9, 11)).astype(np.float32)
    references = rng.uniform(size=(4, 2, 9, 11)).astype(np.float32)
    pit = np.array([1, 0, 1, 0], np.float32)
    with np.errstate(all="raise"):
        import chainer
        with chainer.using_config("train", False):
            mask = model.unet(x).array
            loss = float(model(x, references, pit).array)
    first, second = mask * x, (1 - mask) * x
    l1 = lambda a, b: np.abs(a - b).mean(axis=(1, 2, 3))  # noqa: E731
    direct = l1(first, references[:, :1]) + l1(second, references[:, 1:])
    swapped = l1(first, references[:, 1:]) + l1(second, references[:, :1])
    assert loss == pytest.approx(np.mean(np.where(pit == 1, np.minimum(direct, swapped), direct)), rel=1e-5)


def test_ideal_ratio_mask_separates_sources_apart_in_frequency():
    t = np.arange(8000) / 8000
    low, high = np.sin(2 * np.pi * 300 * t), 0.5 * np.sin(2 * np.pi * 2500 * t)
    mixture = low + high
    np.testing.assert_allclose(separation.resynthesise(np.ones((129, 122)), mixture), mixture, atol=1e-9)
    mask = separation.ideal_ratio_mask(low, high)
    assert 0 <= mask.min() and mask.max() <= 1
    assert separation.si_sdr(low, separation.resynthesise(mask, mixture)) > 30
    assert separation.si_sdr(high, separation.resynthesise(1 - mask, mixture)) > 30


@pytest.fixture(scope="module")
def dataset(tiny_corpus, tmp_path_factory):
    """The tiny corpus split two voices against two: mixtures of the held-out side need two voices."""
    out = tmp_path_factory.mktemp("separate_data") / "DataSet"
    run_script("make_dataset.py", "--spec", tiny_corpus / "spectrogram", "--out", out, "--test-ratio", 0.5)
    return out


@pytest.fixture(scope="module")
def separated(dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("separate")
    run_script("cnn_classifier1.py", "--dataset", dataset, "--layers", 2, "--epoch", 1,
               "--batchsize", 20, "--out", out / "classifier")
    common = ("--dataset", dataset, "--train-mixtures", 24, "--test-mixtures", 9, "--batchsize", 8,
              "--channels", 4, 8, 16, "--classifier", out / "classifier", "--examples", 2)
    run_script("examples/separation/separate.py", *common, "--epoch", 1, "--out", out / "unet")
    run_script("examples/separation/separate.py", *common, "--epoch", 0, "--no-skips", "--out", out / "noskip")
    return out


def test_separate_writes_evaluation_wavs_and_figure(dataset, separated):
    evaluation = json.loads((separated / "unet" / "evaluation.json").read_text())
    manifest = json.loads((dataset / "manifest.json").read_text())
    assert evaluation["test"]["voices"] == sorted({e["speaker"] for e in manifest["test"]["files"]})
    assert len(evaluation["mixtures"]) == 9
    for record in evaluation["mixtures"]:
        sources = record["sources"]
        assert set(sources) == {"mixture", "U-Net", "ideal ratio mask", "clean"}
        assert len(sources["clean"]["predicted"]) == len(record["digits"]) == (2 if record["kind"] == "voices" else 1)
        assert all(value <= separation.CLAMP_DB for value in sources["U-Net"]["sdr"])
    summary = evaluation["summary"]
    for kind, rows in summary.items():
        chosen = [r for r in evaluation["mixtures"] if r["kind"] == kind]
        gains = [e - m for r in chosen for e, m in zip(r["sources"]["ideal ratio mask"]["si_sdr"],
                                                        r["sources"]["mixture"]["si_sdr"])]
        assert rows["ideal ratio mask"]["si_sdr_improvement"] == pytest.approx(np.mean(gains))
        assert rows["ideal ratio mask"]["si_sdr_improvement"] > 3
    for name in ("mixture", "estimate1", "estimate2", "reference1", "reference2"):
        audio, rate = soundfile.read(next((separated / "unet").glob("example0_*_{}.wav".format(name))))
        assert rate == 8000 and len(audio) == 8000
    assert (separated / "unet" / "separation.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((separated / "noskip" / "model.json").read_text())["skips"] is False


def test_separation_report_puts_the_runs_in_one_table(separated, tmp_path):
    result = run_script("examples/separation/separation_report.py", separated / "unet", separated / "noskip", "--out", tmp_path)
    report = json.loads((tmp_path / "report.json").read_text())
    assert list(report["rows"]) == ["U-Net", "U-Net without skips", "ideal ratio mask"]
    # The report page's files: each run's two examples in five versions, its figure, then the curves.
    assert len(report["audio"]) == 2 * 2 * 5 and all((tmp_path / path).is_file() for path in report["audio"])
    assert sorted(os.path.basename(path) for path in report["audio"] if "/unet/" in path) == sorted(
        path.name for path in (separated / "unet").glob("example*.wav"))
    assert [os.path.basename(item["file"]) for item in report["figures"]] == ["separation.png"] * 2 + ["loss.png"] * 2
    for line in ("| U-Net |", "| U-Net without skips |", "| ideal ratio mask |", "| clean sources |"):
        assert line in result.stdout


def test_separate_refuses_a_missing_classifier_in_one_line(dataset, tmp_path):
    result = run_script("examples/separation/separate.py", "--dataset", dataset, "--classifier", tmp_path / "nothing",
                        "--out", tmp_path / "out", check=False)
    assert result.returncode == 1 and result.stderr.strip().count("\n") == 0 and "--classifier" in result.stderr
