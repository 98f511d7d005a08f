"""The GPU path (``--device @cupy:0``): the same models, optimizer and training scripts on a CUDA device give
the CPU's results. Skipped where CuPy cannot reach a CUDA device (CI, the 2-core machine); run on a GPU
machine with bench/gpu_check.sh (docs/speed.md, "On a GPU"). Resuming from a snapshot on the GPU is
tests/test_training.py's resume test, run there on both devices.

The reference is the CPU path of this very process, float32 throughout (oneDNN's bfloat16 convolutions
off): the GPU differs from it only in the order of float32 sums, so losses and gradients agree to about
1e-5 relative, and a training run, whose batches, draws and initial weights come from the CPU's
generators either way, follows the same curve."""
import json

import numpy as np
import pytest

import chainer

from conftest import cuda_device_count, run_script
from specae import flat_adam
from specae.models import GreedyStack, classifier

pytestmark = pytest.mark.skipif(not cuda_device_count(), reason="no CUDA device reachable through CuPy")

GPU = "@cupy:0"


def _batch(shape, seed=0):
    rng = np.random.RandomState(seed)
    return rng.rand(*shape).astype(np.float32), rng.randint(0, 10, shape[0]).astype(np.int32)


def _loss_and_gradients(model, device, args):
    """Loss and every parameter's gradient of one forward/backward of ``model`` (a copy) on ``device``."""
    model = model.copy(mode="copy")
    model.to_device(device)
    device = chainer.get_device(device)
    with chainer.using_config("specae_onednn_bf16", False):
        loss = model(*[device.send(a) for a in args])
        model.cleargrads()
        loss.backward()
    cpu = chainer.backend.CpuDevice()
    return float(cpu.send(loss.array)), {name: cpu.send(param.grad) for name, param in model.namedparams()}


def _greedy_stack(layers, input_level):
    np.random.seed(layers)
    stack = GreedyStack(layers)
    stack.input_level = input_level
    return stack


MODELS = {
    "AE1": lambda: (_greedy_stack(1, 0), (_batch((7, 1, 64, 64))[0],)),
    "AE2 cached": lambda: (_greedy_stack(2, 1), (_batch((7, 16, 30, 30))[0],)),
    "AE3 --no-cache": lambda: (_greedy_stack(3, 0), (_batch((7, 1, 64, 64))[0],)),
    "2-CNN": lambda: (classifier(2), _batch((7, 1, 64, 64))),
    "3-CNN": lambda: (classifier(3), _batch((7, 1, 64, 64))),
    "3-CNN, frequency pool, label smoothing": lambda: (classifier(3, frequency_pool=2, label_smoothing=0.1),
                                                       _batch((7, 1, 64, 64))),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_loss_and_gradients_on_the_gpu_are_the_cpus(name):
    np.random.seed(0)
    model, args = MODELS[name]()
    cpu_loss, cpu_grads = _loss_and_gradients(model, "@numpy", args)
    gpu_loss, gpu_grads = _loss_and_gradients(model, GPU, args)
    assert gpu_loss == pytest.approx(cpu_loss, rel=1e-5)
    assert set(gpu_grads) == set(cpu_grads)
    for param_name, grad in cpu_grads.items():
        if grad is None:  # a frozen layer under no_backprop_mode: none on either side
            assert gpu_grads[param_name] is None, param_name
            continue
        scale = np.abs(grad).max()
        np.testing.assert_allclose(gpu_grads[param_name], grad, rtol=0, atol=1e-4 * scale + 1e-9,
                                   err_msg=param_name)


def test_flat_adam_on_the_gpu_updates_as_chainers_adam():
    """FlatAdam packs only numpy arrays; on the GPU it must hand every parameter to Chainer's own update,
    which then gives the same weights as chainer.optimizers.Adam."""
    np.random.seed(0)
    template, (x, t) = classifier(3), _batch((7, 1, 64, 64))
    results = []
    for optimizer in (flat_adam.FlatAdam(), chainer.optimizers.Adam()):
        model = template.copy(mode="copy")
        device = chainer.get_device(GPU)
        model.to_device(device)
        optimizer.setup(model)
        for _ in range(3):
            optimizer.update(model, device.send(x), device.send(t))
        results.append({name: chainer.backend.CpuDevice().send(param.array) for name, param in model.namedparams()})
    for name, value in results[1].items():
        np.testing.assert_array_equal(results[0][name], value, err_msg=name)


def _log(directory):
    return json.loads((directory / "log").read_text())


def _assert_same_curve(cpu_dir, gpu_dir, keys):
    cpu, gpu = _log(cpu_dir), _log(gpu_dir)
    assert len(cpu) == len(gpu) >= 2
    assert all(key in cpu[-1] for key in keys)
    for cpu_epoch, gpu_epoch in zip(cpu, gpu):  # the first entry, before training, has the validation alone
        assert {key for key in keys if key in cpu_epoch} == {key for key in keys if key in gpu_epoch}
        for key in (key for key in keys if key in cpu_epoch):
            assert gpu_epoch[key] == pytest.approx(cpu_epoch[key], rel=2e-3, abs=1e-6), (gpu_dir, key, cpu_epoch)


def _assert_cpu_model(path):
    """What a GPU run writes loads on the CPU: plain numpy arrays, finite."""
    with np.load(path, allow_pickle=False) as stored:
        assert stored.files
        for name in stored.files:
            assert np.isfinite(stored[name]).all(), name


def test_the_training_scripts_on_the_gpu_follow_the_cpus_curves(tiny_corpus, tmp_path, monkeypatch):
    """Every script of the core on --device @cupy:0 and on the CPU, two epochs each: the same losses
    (and accuracies) epoch by epoch, and a model that the CPU tools load."""
    monkeypatch.setenv("SPECAE_ONEDNN_BF16", "0")  # float32 on the CPU too, where oneDNN has AMX
    data = ("--dataset", tiny_corpus / "DataSet", "--epoch", 2, "--batchsize", 20)
    ae_keys = ("main/loss", "validation/main/loss")
    clf_keys = ("main/loss", "validation/main/loss", "main/accuracy", "validation/main/accuracy")
    runs, failed, stderr = {}, [], {"-1": set(), GPU: set()}

    def run(device, script, *args):  # every script runs, so that one run on a GPU machine shows every failure
        result = run_script(script, *data, "--device", device, *args, check=False)
        if result.returncode:
            failed.append("{} {}: {}".format(script, " ".join(map(str, args)), result.stderr[-1500:]))
        stderr[device].update(result.stderr.splitlines())

    for device in ("-1", GPU):
        side = tmp_path / ("gpu" if device == GPU else "cpu")
        run(device, "cnn_autoencoder1.py", "--out", side / "ae1")
        run(device, "cnn_autoencoder2.py", "--out", side / "ae2", "--init", side / "ae1" / "model.npz")
        run(device, "cnn_autoencoder3.py", "--out", side / "ae3", "--init", side / "ae2" / "model.npz")
        run(device, "cnn_autoencoder3.py", "--out", side / "ae3-no-cache", "--no-cache",
            "--init", side / "ae2" / "model.npz")
        for layers in (2, 3):
            run(device, "cnn_classifier1.py", "--layers", layers, "--seed", 1, "--out", side / "cnn{}".format(layers))
        run(device, "cnn_classifier2.py", "--seed", 1, "--out", side / "pretrained", "--init", side / "ae3" / "model.npz")
        runs[device] = side
    assert not failed, "\n\n".join(failed)
    assert stderr[GPU] <= stderr["-1"]  # no warning of its own (Chainer's advice to install cuDNN)
    cpu, gpu = runs["-1"], runs[GPU]
    for name in ("ae1", "ae2", "ae3", "ae3-no-cache"):
        _assert_same_curve(cpu / name, gpu / name, ae_keys)
        _assert_cpu_model(gpu / name / "model.npz")
    for name in ("cnn2", "cnn3", "pretrained"):
        _assert_same_curve(cpu / name, gpu / name, clf_keys)
        _assert_cpu_model(gpu / name / "model.npz")

