"""The VAE: its KL term and reparameterised gradient against closed forms, the warm-up, the latent tools,
and vae.py end to end (report, morphs, latent map, a classifier started from its encoder)."""
import json
import types

import chainer
import chainer.functions as F
import numpy as np
import pytest
import soundfile

from conftest import run_script
from specae import checkpoints, vae


def test_kl_matches_its_closed_form_for_known_means_and_variances():
    mean = np.array([[0.0, 1.0, -2.0], [0.5, 0.0, 3.0]], np.float32)
    variance = np.array([[1.0, 0.25, 4.0], [2.0, 0.1, 1.0]], np.float32)
    # KL(N(m, s²) ‖ N(0, 1)) = ½ (m² + s² − ln s² − 1) per dimension
    expected = 0.5 * (mean ** 2 + variance - np.log(variance) - 1)
    assert expected[0, 0] == 0.0  # N(0, 1) against itself
    kl = F.gaussian_kl_divergence(mean, np.log(variance), reduce="no").array
    np.testing.assert_allclose(kl, expected, rtol=1e-5, atol=1e-6)

    np.random.seed(0)
    model = vae.VAE(n_latent=3)
    x = np.random.default_rng(0).uniform(size=(2, 1, 64, 64)).astype(np.float32)
    m, ln_var = (v.array.astype(np.float64) for v in model.encode(x))
    _, model_kl = model.terms(x)
    assert float(model_kl.array) == pytest.approx(0.5 * np.sum(m ** 2 + np.exp(ln_var) - ln_var - 1) / 2, rel=1e-5)


def test_reparameterised_sample_and_its_gradient():
    rng = np.random.default_rng(1)
    mean = chainer.Variable(np.array([[0.3, -1.0]], np.float32))
    ln_var = chainer.Variable(np.array([[0.0, np.log(4.0)]], np.float32))
    noise = rng.standard_normal((1, 2)).astype(np.float32)
    z = vae.reparameterise(mean, ln_var, noise)
    np.testing.assert_allclose(z.array, mean.array + np.array([[1.0, 2.0]]) * noise, rtol=1e-6)
    F.sum(z).backward()
    np.testing.assert_allclose(mean.grad, 1.0)
    np.testing.assert_allclose(ln_var.grad, 0.5 * np.array([[1.0, 2.0]]) * noise, rtol=1e-6)  # ½ σ ε

    # E[z²] = m² + σ²: the sample's gradient is an unbiased estimate of 2m and of d σ² / d ln σ² = σ².
    samples = 200000
    mean = chainer.Variable(np.full((samples, 1), 0.7, np.float32))
    ln_var = chainer.Variable(np.full((samples, 1), np.log(0.5), np.float32))
    np.random.seed(2)
    F.mean(F.square(vae.reparameterise(mean, ln_var))).backward()
    assert mean.grad.sum() == pytest.approx(2 * 0.7, abs=0.01)
    assert ln_var.grad.sum() == pytest.approx(0.5, abs=0.01)


def test_kl_warmup_rises_linearly_to_beta():
    model = types.SimpleNamespace(beta=None)
    warmup = vae.KLWarmup(model, beta=2.0, epochs=4)
    for epoch, expected in ((0.0, 0.0), (1.0, 0.5), (3.0, 1.5), (4.0, 2.0), (9.5, 2.0)):
        warmup(types.SimpleNamespace(updater=types.SimpleNamespace(epoch_detail=epoch)))
        assert model.beta == pytest.approx(expected)
    vae.KLWarmup(model, beta=0.3, epochs=0)(None)
    assert model.beta == 0.3


def test_latent_tools():
    z = vae.interpolate([0.0, 2.0], [4.0, -2.0])
    np.testing.assert_allclose(z, [[0, 2], [1, 1], [2, 0], [3, -1], [4, -2]])
    a = np.array([[1.0, 0.0], [1.0, 1.0]])
    np.testing.assert_allclose(vae.cosine_similarity(a, np.array([[2.0, 0.0], [-1.0, -1.0]])), [1.0, -1.0])
    info = vae.interpolate_info({"reference_db": -10.0, "span_frames": [3, 43]},
                                {"reference_db": -30.0, "span_frames": [0, 80]}, 0.25)
    assert info == {"reference_db": -15.0, "span_frames": [0, 50], "total_frames": 50}
    # PCA: the first axis of points spread along (1, 1) is (1, 1)/√2, with all the variance
    rng = np.random.default_rng(3)
    t = rng.standard_normal(200)
    points = np.stack([t, t, 0.01 * rng.standard_normal(200)], axis=1)
    projection, explained = vae.pca_2d(points)
    np.testing.assert_allclose(np.abs(projection[:, 0]), np.abs(t - t.mean()) * np.sqrt(2), rtol=1e-3, atol=1e-3)
    assert explained[0] > 0.999 and explained.sum() <= 1.0
    files = [{"speaker": s, "digit": d} for s in ("a", "b", "c") for d in range(10) if (s, d) != ("a", 8)]
    assert vae.morph_pairs(files, digits=(3, 8), digit=5) == [("digits", 12, 17), ("voices", 5, 14)]
    assert vae.perplexity(np.array([0, 1, 2, 3]), 8) == pytest.approx(4.0)
    assert vae.perplexity(np.array([5, 5, 5]), 8) == pytest.approx(1.0)


def test_vq_straight_through_passes_the_decoder_gradient_to_the_encoder():
    np.random.seed(0)
    model = vae.VQVAE(code_dim=4, codebook_size=8)
    raw = np.random.default_rng(4).standard_normal((2, 4, 4, 4)).astype(np.float32)
    z_e = chainer.Variable(raw / np.linalg.norm(raw, axis=1, keepdims=True))
    z_q, codes, indices = model.quantise(z_e)
    np.testing.assert_allclose(z_q.array, codes.array, atol=1e-6)
    # the nearest unit-length code in Euclidean distance, found by brute force
    rows = np.transpose(z_e.array, (0, 2, 3, 1)).reshape(-1, 4)
    unit = model.codebook.array / np.linalg.norm(model.codebook.array, axis=1, keepdims=True)
    distances = ((rows[:, None] - unit[None]) ** 2).sum(axis=2)
    np.testing.assert_array_equal(indices, distances.argmin(axis=1))
    np.testing.assert_allclose(np.transpose(codes.array, (0, 2, 3, 1)).reshape(-1, 4), unit[indices], atol=1e-3)
    weights = np.random.default_rng(5).standard_normal(z_q.shape).astype(np.float32)
    F.sum(z_q * weights).backward()
    np.testing.assert_array_equal(z_e.grad, weights)


@pytest.fixture(scope="module")
def trained(tiny_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("vae")
    run_script("cnn_autoencoder1.py", "--dataset", tiny_corpus / "DataSet", "--epoch", 1, "--batchsize", 20,
               "--out", out / "autoencoder1")
    result = run_script("examples/vae/vae.py", "--dataset", tiny_corpus / "DataSet", "--epoch", 3, "--warmup", 2, "--batchsize", 20,
                        "--iterations", 10, "--compare", out / "autoencoder1", "--out", out / "vae")
    return out, result


def test_vae_script_reports_morphs_and_maps(tiny_corpus, trained):
    out, result = trained
    directory = out / "vae"
    log = json.loads((directory / "log").read_text())
    assert [round(entry["main/beta"], 3) for entry in log[1:]][-1] == 1.0 and log[1]["main/beta"] < 1.0
    assert log[-1]["main/reconstruction"] < log[1]["main/reconstruction"]
    report = json.loads((directory / "report.json").read_text())
    rows = report["models"]
    assert set(rows) == {str(directory), str(out / "autoencoder1")} and rows[str(out / "autoencoder1")]["elbo"] is None
    test = np.load(tiny_corpus / "DataSet" / "test_data.npy")
    model, info = checkpoints.load_autoencoder(str(directory))
    assert info["kind"] == "vae" and info["n_latent"] == 16
    expected = vae.evaluate(model, test)
    assert rows[str(directory)]["mse"] == pytest.approx(expected["mse"], rel=1e-5)
    assert 0 < rows[str(directory)]["cosine"] <= 1 and rows[str(directory)]["elbo"] < 0
    assert "| vae (gaussian) |" in result.stdout
    voices = {entry["speaker"] for entry in json.loads((tiny_corpus / "DataSet" / "manifest.json").read_text())["test"]["files"]}
    assert set(report["morphs"]) == ({"digits", "voices"} if len(voices) > 1 else {"digits"})
    for name in report["morphs"]:
        assert (directory / "morph_{}.png".format(name)).read_bytes()[:4] == b"\x89PNG"
        lengths = []
        for step in ("000", "025", "050", "075", "100"):
            audio, rate = soundfile.read(directory / "morph_{}_{}.wav".format(name, step))
            assert rate == 22050 and np.abs(audio).max() > 1e-3
            lengths.append(len(audio))
        assert lengths == sorted(lengths) or lengths == sorted(lengths, reverse=True)  # length morphs too
    assert (directory / "latent_map.png").exists()
    # What the report page shows (report.morph_section): every morph's WAVs and strip, the map, the curves.
    assert report["audio"] == ["morph_{}_{}.wav".format(name, step) for name in report["morphs"]
                               for step in ("000", "025", "050", "075", "100")]
    assert [item["file"] for item in report["figures"]] == (["morph_{}.png".format(name) for name in report["morphs"]] +
                                                            ["latent_map.png", "loss.png", "elbo.png"])
    assert all((directory / item["file"]).exists() for item in report["figures"])
    assert report["command"][0].endswith("vae.py") and str(directory) in report["command"]


def test_vae_script_resumes_a_finished_run_instead_of_restarting(tiny_corpus, trained):
    out, _ = trained
    before = (out / "vae" / "log").read_text()
    run_script("examples/vae/vae.py", "--dataset", tiny_corpus / "DataSet", "--epoch", 3, "--warmup", 2, "--batchsize", 20,
               "--iterations", 10, "--compare", out / "autoencoder1", "--out", out / "vae", "--autoload")
    assert (out / "vae" / "snapshot_epoch_3").exists() and (out / "vae" / "log").read_text() == before


def test_classifier_starts_from_the_vae_encoder(tiny_corpus, trained, tmp_path):
    out, _ = trained
    run_script("cnn_classifier2.py", "--dataset", tiny_corpus / "DataSet", "--batchsize", 20, "--epoch", 0,
               "--init", out / "vae" / "model.npz", "--out", tmp_path / "clf")
    with np.load(out / "vae" / "model.npz") as source, np.load(tmp_path / "clf" / "model.npz") as target:
        for layer in range(3):
            for name in ("W", "b"):
                np.testing.assert_array_equal(target["convs/{}/{}".format(layer, name)],
                                              source["encoder/convs/{}/{}".format(layer, name)])
    assert json.loads((tmp_path / "clf" / "model.json").read_text())["init"] == "pretrained_vae"


def test_vq_bottleneck_reports_codebook_usage(tiny_corpus, tmp_path):
    run_script("examples/vae/vae.py", "--dataset", tiny_corpus / "DataSet", "--epoch", 1, "--batchsize", 20, "--bottleneck", "vq",
               "--codebook", 16, "--latent", 4, "--iterations", 2, "--out", tmp_path / "vq")
    report = json.loads((tmp_path / "vq" / "report.json").read_text())
    assert 1.0 <= report["test_perplexity"] <= report["codes_used"] <= 16
    log = json.loads((tmp_path / "vq" / "log").read_text())
    assert 1.0 <= log[-1]["main/perplexity"] <= 16
    model, info = checkpoints.load_autoencoder(str(tmp_path / "vq"))
    assert info["bottleneck"] == "vq" and bool(model.codebook_ready)
