"""Training benchmark: samples/s per model, stock Chainer links vs specae.fastconv (its numpy code and
oneDNN) vs PyTorch, against the machine's own float32 matrix-multiply rate; AE3 vs AE1 epochs; one
2-thread process vs two 1-thread ones.

Not a test. Needs torch (the benchmark venv, ``make bench``). Everything judged is a ratio against a
reference timed in the same run, in interleaved rounds (median of the pairwise ratios):

1. One training step (forward, backward, Adam update) on a fixed batch of ``--batch`` examples, for
   AE1, AE2 and AE3 on cached features, AE2 and AE3 recomputing the frozen layers (``--no-cache``),
   the 2-CNN and the 3-CNN: stock ``L.Convolution2D``/``L.Deconvolution2D``, ``specae.fastconv``'s
   links with their numpy code ("numpy") and with oneDNN (``specae.onednn``, what the pipeline runs
   where the library loads), and the same model in PyTorch, on the same CPU and threads (BLAS, OpenMP
   and torch's all set to the count). The goal (issue 18): oneDNN / PyTorch >= 1.0 for the models the
   pipeline trains (2-CNN, 3-CNN, AE1, AE2 and AE3 on cached features), with 1 and 2 threads. Where
   oneDNN has AMX kernels, also both sides with bfloat16 convolutions summed in float32 (what the
   training scripts run there, ``specae.onednn``; PyTorch's ``mkldnn.conv.fp32_precision = "bf16"``),
   a goal of its own. FLOPs
   per example are counted (multiply-adds × 2 of every convolution, transposed convolution and linear
   layer, forward and the gradients that backward computes); with numpy's sgemm GFLOP/s measured in the
   same run that gives the fraction of the machine's matrix-multiply rate reached (meaningless when
   other jobs load the machine: sgemm then drops far more than the training steps).
2. ``cnn_autoencoder1.py`` and ``cnn_autoencoder3.py`` (cached, and ``--no-cache``) on DataSet/: the cost
   of one epoch (training, evaluation, snapshot, log): the median of epochs 2 and 3 of a 3-epoch run,
   one BLAS thread.
3. Two ``cnn_classifier1.py`` runs (3-CNN, different seeds): one after the other with 2 BLAS threads
   each, or side by side with 1 thread each (OMP_NUM_THREADS=OPENBLAS_NUM_THREADS=1).
4. ChainerMN: ``cnn_classifier1.py`` (3-CNN) in one process against ``mpiexec -n 2 ... --communicator naive``
   (1 thread per process), training samples/s from the epochs after the first (when .venv has MPI:
   make mpi).

With ``--device @cupy:0`` (``make bench DEVICE=@cupy:0``) it measures the GPU instead (bench/out/training_gpu.json):
the same training steps with the model and batch on the device, Chainer (what the scripts run there: its
stock functions on CuPy, no cuDNN) against PyTorch on the same device in float32 (TF32 off, as CuPy
computes), and PyTorch with its default TF32 convolutions as information, each step ending in a device
synchronisation; then epochs of ``cnn_autoencoder1.py`` and ``cnn_classifier1.py`` (3-CNN) on --dataset,
GPU against the CPU of the same machine, unless --skip-scripts.

    .venv-bench/bin/python bench/bench_training.py [--seconds 2] [--rounds 3] [--dataset DataSet]
"""
import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import OUT, ROOT, Report, interleaved, median, paired_ratio, run_timed  # noqa: E402

import chainer  # noqa: E402
import chainer.functions as F  # noqa: E402
import chainer.links as L  # noqa: E402

from specae import allocator, fastconv, flat_adam, onednn  # noqa: E402

KERNEL, STRIDE = 6, 2
STOCK = (L.Convolution2D, L.Deconvolution2D)
FAST = (fastconv.Convolution2D, fastconv.Deconvolution2D)


def out_size(size):
    return (size - KERNEL) // STRIDE + 1


# ---- the models: (name, input shape, frozen layers, trained layer / classifier) -----------------------
# An autoencoder layer k on cached features sees the frozen layers' output; without the cache it runs
# the frozen encoders (no gradient) first. The CNNs are the classifiers of cnn_classifier1.py.
AE_LAYERS = [(1, 16, 64), (16, 32, 30), (32, 32, 13)]  # (in channels, out channels, input size)
MODELS = {
    "AE1": {"kind": "ae", "layer": 0, "cached": True},
    "AE2 cached": {"kind": "ae", "layer": 1, "cached": True},
    "AE3 cached": {"kind": "ae", "layer": 2, "cached": True},
    "AE2 --no-cache": {"kind": "ae", "layer": 1, "cached": False},
    "AE3 --no-cache": {"kind": "ae", "layer": 2, "cached": False},
    "2-CNN": {"kind": "cnn", "layers": 2},
    "3-CNN": {"kind": "cnn", "layers": 3},
}


def conv_flops(c_in, c_out, size_out):
    return 2 * c_in * c_out * KERNEL * KERNEL * size_out * size_out


def flops_per_example(spec):
    """Forward + backward FLOPs of one example. Backward: the weight gradient of every trained
    layer (as costly as its forward) and the input gradient of every layer whose input needs one (not
    the first trained layer's, whose input is data)."""
    if spec["kind"] == "ae":
        total = 0
        for c_in, c_out, size in AE_LAYERS[:spec["layer"]] if not spec["cached"] else []:
            total += conv_flops(c_in, c_out, out_size(size))  # frozen encoders, forward only
        c_in, c_out, size = AE_LAYERS[spec["layer"]]
        conv = conv_flops(c_in, c_out, out_size(size))  # the transposed conv costs the same
        return total + conv * 2 + conv * 2 + conv  # forward both, grad W both, grad x of the deconv
    total, first = 0, True
    for c_in, c_out, size in AE_LAYERS[:spec["layers"]]:
        conv = conv_flops(c_in, c_out, out_size(size))
        total += conv + conv + (0 if first else conv)
        first = False
    features = AE_LAYERS[spec["layers"] - 1][1] * out_size(AE_LAYERS[spec["layers"] - 1][2]) ** 2
    return total + 3 * 2 * features * 10


class ChainerAE(chainer.Chain):
    def __init__(self, links, layer, cached):
        super().__init__()
        conv, deconv = links
        self.frozen = [] if cached else [conv(c_in, c_out, KERNEL, STRIDE) for c_in, c_out, _ in AE_LAYERS[:layer]]
        c_in, c_out, size = AE_LAYERS[layer]
        with self.init_scope():
            self.encoder = conv(c_in, c_out, KERNEL, STRIDE)
            self.decoder = deconv(c_out, c_in, KERNEL, STRIDE, outsize=(size, size))

    def forward(self, x):
        with chainer.no_backprop_mode():
            for link in self.frozen:
                x = onednn.relu(link(x))
        # as specae.models.AutoencoderLayer: one node through oneDNN for fastconv's links, link by link otherwise
        return onednn.mean_squared_error(fastconv.convolutions_with_relu(x, [self.encoder, self.decoder]), x)


class ChainerCNN(chainer.Chain):
    def __init__(self, links, layers):
        super().__init__()
        with self.init_scope():
            self.convs = chainer.ChainList(*[links[0](c_in, c_out, KERNEL, STRIDE)
                                             for c_in, c_out, _ in AE_LAYERS[:layers]])
            self.fc = L.Linear(None, 10)

    def forward(self, x, t):
        x = fastconv.convolutions_with_relu(x, list(self.convs))  # as specae.models.CNN
        return F.softmax_cross_entropy(self.fc(x), t)


def input_shape(spec, batch):
    if spec["kind"] == "ae" and spec["cached"]:
        c_in, _, size = AE_LAYERS[spec["layer"]]
        return (batch, c_in, size, size)
    return (batch, 1, 64, 64)


# The models whose oneDNN / PyTorch ratio is a goal: what make pretrain classify trains.
GOAL_MODELS = ("2-CNN", "3-CNN", "AE1", "AE2 cached", "AE3 cached")


def chainer_step(spec, links, batch, use_onednn=False, bf16=False, device=None):
    """One training step of the model built from ``links``; ``use_onednn`` says whether specae.fastconv's
    links may use oneDNN (chainer.config.specae_onednn) or keep to their numpy code, ``bf16`` whether its
    convolutions read bfloat16 (chainer.config.specae_onednn_bf16, as the training scripts run on AMX).
    ``device``: a CuPy device (chainer's) to which the model and the batch are sent; the step then ends
    with a synchronisation, so that its time is the device's work and not the launch of it."""
    rng = np.random.RandomState(0)
    x = rng.rand(*input_shape(spec, batch)).astype(np.float32)
    t = rng.randint(0, 10, batch).astype(np.int32)
    with chainer.using_config("specae_onednn", use_onednn):
        x = onednn.concat_examples(list(x))  # the batch as the training scripts' converter makes it
    model = ChainerAE(links, spec["layer"], spec["cached"]) if spec["kind"] == "ae" else ChainerCNN(links, spec["layers"])
    args = (x,) if spec["kind"] == "ae" else (x, t)
    model(*args)  # initialise the lazy Linear (on the CPU)
    if device is not None:
        model.to_device(device)
        for link in model.frozen if spec["kind"] == "ae" else ():  # ChainerAE's frozen encoders: not registered links
            link.to_device(device)
        args = tuple(device.send(a) for a in args)
    # the training scripts' optimizer (specae.flat_adam, which on a GPU hands every parameter to Chainer's
    # Adam) beside fastconv's links; Chainer's own beside its own
    optimizer = chainer.optimizers.Adam() if links is STOCK else flat_adam.FlatAdam()
    optimizer.setup(model)

    def step():
        with chainer.using_config("specae_onednn", use_onednn), chainer.using_config("specae_onednn_bf16", bf16):
            loss = model(*args)
            model.cleargrads()
            loss.backward()
            optimizer.update()
        if device is not None:
            device.device.synchronize()
    # timed as the training scripts train (trainer_setup.run): with oneDNN, numpy's BLAS on one thread
    step.context = onednn.blas_on_one_thread if use_onednn else contextlib.nullcontext
    return step


def torch_step(spec, batch, bf16=False, model_device="cpu"):
    """The same step in PyTorch; ``bf16``: its oneDNN convolutions in bfloat16 with float32 sums
    (``torch.backends.mkldnn.conv.fp32_precision``), the counterpart of ``chainer_step(..., bf16=True)``;
    ``model_device``: where the model and the batch live ("cuda" on a GPU)."""
    import torch
    from torch import nn
    torch.manual_seed(0)
    rng = np.random.RandomState(0)
    x = torch.from_numpy(rng.rand(*input_shape(spec, batch)).astype(np.float32)).to(model_device)
    t = torch.from_numpy(rng.randint(0, 10, batch).astype(np.int64)).to(model_device)
    if spec["kind"] == "ae":
        frozen = nn.Sequential(*[m for c_in, c_out, _ in AE_LAYERS[:spec["layer"]] if not spec["cached"]
                                 for m in (nn.Conv2d(c_in, c_out, KERNEL, STRIDE), nn.ReLU())])
        c_in, c_out, size = AE_LAYERS[spec["layer"]]
        padding = size - ((out_size(size) - 1) * STRIDE + KERNEL)
        model = nn.Sequential(nn.Conv2d(c_in, c_out, KERNEL, STRIDE), nn.ReLU(),
                              nn.ConvTranspose2d(c_out, c_in, KERNEL, STRIDE, output_padding=padding), nn.ReLU())

        def loss_fn():
            with torch.no_grad():
                h = frozen(x)
            return nn.functional.mse_loss(model(h), h)
    else:
        layers = []
        for c_in, c_out, _ in AE_LAYERS[:spec["layers"]]:
            layers += [nn.Conv2d(c_in, c_out, KERNEL, STRIDE), nn.ReLU()]
        c_out, size = AE_LAYERS[spec["layers"] - 1][1], out_size(AE_LAYERS[spec["layers"] - 1][2])
        model = nn.Sequential(*layers, nn.Flatten(), nn.Linear(c_out * size * size, 10))

        def loss_fn():
            return nn.functional.cross_entropy(model(x), t)
    model.to(model_device)
    if spec["kind"] == "ae":
        frozen.to(model_device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-8)

    def step():
        if model_device == "cpu":
            torch.backends.mkldnn.conv.fp32_precision = "bf16" if bf16 else "none"
        optimizer.zero_grad(set_to_none=True)
        loss_fn().backward()
        optimizer.step()
    return step


def steps_per_second(step, seconds):
    with getattr(step, "context", contextlib.nullcontext)():
        count, start = 0, time.perf_counter()
        while True:
            step()
            count += 1
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                return elapsed / count  # seconds per step


def sgemm_gflops(n=1024, seconds=1.0):
    a = np.random.rand(n, n).astype(np.float32)
    b = np.random.rand(n, n).astype(np.float32)
    a @ b
    best = 0.0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        a @ b
        best = max(best, 2 * n ** 3 / (time.perf_counter() - t0) / 1e9)
    return best


# ---- whole scripts ----------------------------------------------------------------------------------
def epoch_seconds(out):
    """Median cost of the epochs after the first, from the elapsed_time of each epoch in the log."""
    with open(os.path.join(out, "log")) as stream:
        log = json.load(stream)
    times = [entry["elapsed_time"] for entry in log]
    return median([b - a for a, b in zip(times, times[1:])])


RUNTIME_PYTHON = os.path.join(ROOT, ".venv", "bin", "python")
MPIEXEC = os.path.join(ROOT, ".venv", "bin", "mpiexec")


def step_rates(args, threads):
    """Samples/s of every model and variant with ``threads`` BLAS / OpenMP / torch threads."""
    print("training steps, batch {}, {} thread{}, {} rounds of {} s per variant".format(
        args.batch, threads, "s" if threads > 1 else "", args.rounds, args.seconds))
    gflops = [sgemm_gflops()]
    results = {}
    for name in args.models:
        spec = MODELS[name]
        steps = {"stock": chainer_step(spec, STOCK, args.batch), "numpy": chainer_step(spec, FAST, args.batch)}
        if onednn.available():
            steps["onednn"] = chainer_step(spec, FAST, args.batch, use_onednn=True)
        steps["torch"] = torch_step(spec, args.batch)
        if onednn.amx_available():
            steps["onednn_bf16"] = chainer_step(spec, FAST, args.batch, use_onednn=True, bf16=True)
            steps["torch_bf16"] = torch_step(spec, args.batch, bf16=True)
        for step in steps.values():
            for _ in range(3):
                step()
        times = interleaved({label: (lambda step=step: steps_per_second(step, args.seconds))
                             for label, step in steps.items()}, args.rounds, warmup=0)
        gflops.append(sgemm_gflops(seconds=0.3))
        flops = flops_per_example(spec)
        rates = {label: args.batch / median(seconds) for label, seconds in times.items()}
        result = results[name] = {"flops_per_example": flops, "samples_per_s": rates,
                                  "numpy_over_stock": paired_ratio(times["stock"], times["numpy"]),
                                  "numpy_over_torch": paired_ratio(times["torch"], times["numpy"])}
        if "onednn" in times:
            result["onednn_over_torch"] = paired_ratio(times["torch"], times["onednn"])
            result["onednn_over_stock"] = paired_ratio(times["stock"], times["onednn"])
        if "onednn_bf16" in times:
            result["onednn_bf16_over_torch_bf16"] = paired_ratio(times["torch_bf16"], times["onednn_bf16"])
            result["onednn_bf16_over_torch"] = paired_ratio(times["torch"], times["onednn_bf16"])
    peak = median(gflops)
    print("  numpy sgemm 1024x1024, {} thread{}: {:.1f} GFLOP/s (median of {} checks between the models)".format(
        threads, "s" if threads > 1 else "", peak, len(gflops)))
    print("  {:<15s} {:>8s} {:>8s} {:>8s} {:>8s} {:>8s} {:>11s} {:>12s} {:>7s} {:>8s} {:>9s} {:>10s}".format(
        "model", "MFLOP/ex", "stock/s", "numpy/s", "oneDNN/s", "torch/s", "numpy/torch", "oneDNN/torch",
        "% sgemm", "bf16/s", "torchbf/s", "bf16/tbf16"))
    for name, result in results.items():
        rates = result["samples_per_s"]
        result["sgemm_gflops"] = peak
        result["fraction_of_sgemm"] = {label: rate * result["flops_per_example"] / (peak * 1e9)
                                       for label, rate in rates.items()}
        fastest = "onednn" if "onednn" in rates else "numpy"
        bf16 = "onednn_bf16" in rates
        print("  {:<15s} {:>8.2f} {:>8.0f} {:>8.0f} {:>8s} {:>8.0f} {:>11.2f} {:>12s} {:>6.0f}% {:>8s} {:>9s} {:>10s}".format(
            name, result["flops_per_example"] / 1e6, rates["stock"], rates["numpy"],
            "{:.0f}".format(rates["onednn"]) if "onednn" in rates else "-", rates["torch"],
            result["numpy_over_torch"],
            "{:.2f}".format(result["onednn_over_torch"]) if "onednn" in rates else "-",
            100 * result["fraction_of_sgemm"][fastest],
            "{:.0f}".format(rates["onednn_bf16"]) if bf16 else "-",
            "{:.0f}".format(rates["torch_bf16"]) if bf16 else "-",
            "{:.2f}".format(result["onednn_bf16_over_torch_bf16"]) if bf16 else "-"), flush=True)
    return results


# ---- on a GPU ---------------------------------------------------------------------------------------
def torch_gpu_step(spec, batch, tf32):
    """``torch_step`` on the first CUDA device; ``tf32``: PyTorch's default TF32 convolutions, else float32."""
    import torch
    # PyTorch's precision settings (2.9 and later; the older allow_tf32 flags must not be mixed with them)
    torch.backends.cuda.matmul.fp32_precision = "ieee"
    step = torch_step(spec, batch, model_device="cuda")

    def synchronised():
        torch.backends.cudnn.conv.fp32_precision = "tf32" if tf32 else "ieee"
        step()
        torch.cuda.synchronize()
    return synchronised


def gpu_step_report(args, device):
    """The GPU's training steps, Chainer against PyTorch: the report of ``--device`` without its scripts."""
    import torch
    report = Report("training_gpu")
    report.data.update(torch=torch.__version__, torch_cuda=torch.version.cuda, chainer=chainer.__version__,
                       numpy=np.__version__, batch=args.batch, device=args.device)
    import cupy
    properties = cupy.cuda.runtime.getDeviceProperties(device.device.id)
    report.data.update(cupy=cupy.__version__, gpu=properties["name"].decode(),
                       cudnn_in_chainer=bool(chainer.backends.cuda.cudnn_enabled))
    print("training steps on {} ({}), batch {}, {} rounds of {} s per variant; Chainer {} with CuPy {}, "
          "cuDNN {}; PyTorch {}".format(args.device, report.data["gpu"], args.batch, args.rounds, args.seconds,
                                        chainer.__version__, cupy.__version__,
                                        "on" if report.data["cudnn_in_chainer"] else "off", torch.__version__))
    print("  {:<15s} {:>10s} {:>10s} {:>11s} {:>14s}".format("model", "chainer/s", "torch/s", "torchTF32/s",
                                                            "chainer/torch"))
    results = {}
    for name in args.models:
        spec = MODELS[name]
        steps = {"chainer": chainer_step(spec, FAST, args.batch, device=device),
                 "torch": torch_gpu_step(spec, args.batch, tf32=False),
                 "torch_tf32": torch_gpu_step(spec, args.batch, tf32=True)}
        for step in steps.values():
            for _ in range(5):
                step()
        times = interleaved({label: (lambda step=step: steps_per_second(step, args.seconds))
                             for label, step in steps.items()}, args.rounds, warmup=0)
        rates = {label: args.batch / median(seconds) for label, seconds in times.items()}
        results[name] = {"samples_per_s": rates, "chainer_over_torch": paired_ratio(times["torch"], times["chainer"]),
                         "chainer_over_torch_tf32": paired_ratio(times["torch_tf32"], times["chainer"])}
        print("  {:<15s} {:>10.0f} {:>10.0f} {:>11.0f} {:>14.2f}".format(
            name, rates["chainer"], rates["torch"], rates["torch_tf32"], results[name]["chainer_over_torch"]),
            flush=True)
    report.data["models"] = results
    for name, result in results.items():
        report.figure("{} training step on the GPU, Chainer / PyTorch".format(name), result["chainer_over_torch"], "x")
    return report


def gpu_scripts(args, report):
    """Epoch seconds of AE1 and the 3-CNN (training, evaluation, snapshot, log) on the GPU and on the CPU."""
    work = os.path.join(OUT, "training_gpu")
    shutil.rmtree(work, ignore_errors=True)
    common = ["--dataset", args.dataset, "--batchsize", str(args.batch), "--epoch", "3"]
    env = dict(os.environ, PYTHONUNBUFFERED="1")

    def epoch(script, device, *extra):
        out = os.path.join(work, "{}_{}".format(script, device.replace("@", "").replace(":", "")))

        def run():
            run_timed([sys.executable, script, *common, *extra, "--device", device, "--out", out], env=env)
            return epoch_seconds(out)
        return run

    times = interleaved({"AE1 GPU": epoch("cnn_autoencoder1.py", args.device),
                         "AE1 CPU": epoch("cnn_autoencoder1.py", "-1"),
                         "3-CNN GPU": epoch("cnn_classifier1.py", args.device, "--layers", "3"),
                         "3-CNN CPU": epoch("cnn_classifier1.py", "-1", "--layers", "3")},
                        max(2, args.rounds - 1), warmup=0)
    print("one epoch on {} (training + evaluation + snapshot + log), whole scripts, {} CPU cores:".format(
        args.dataset, os.cpu_count()))
    for name, seconds in times.items():
        report.figure("{} epoch".format(name), median(seconds), "s")
    for model in ("AE1", "3-CNN"):
        report.figure("{} epoch, CPU / GPU".format(model),
                      paired_ratio(times[model + " CPU"], times[model + " GPU"]), "x")
    shutil.rmtree(work, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.7, help="per model, variant and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=30)
    parser.add_argument("--dataset", default=os.path.join(ROOT, "DataSet"))
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--threads", type=int, nargs="+", default=[1, os.cpu_count()],
                        help="BLAS and torch thread counts to measure")
    parser.add_argument("--skip-scripts", action="store_true", help="only the step benchmark")
    parser.add_argument("--device", default="-1",
                        help="-1: the CPU benchmark; @cupy:0: the GPU's (Chainer against PyTorch on that device)")
    args = parser.parse_args()
    device = chainer.get_device(args.device)
    if device.xp is not np:
        device.use()
        report = gpu_step_report(args, device)
        if not args.skip_scripts:
            gpu_scripts(args, report)
        return report.write()
    # As the training scripts run (trainer_setup.make_trainer); PyTorch's steps share the process, so both
    # sides are timed with the same allocator settings.
    kept = allocator.keep_freed_memory()
    import torch
    report = Report("training")
    report.data.update(allocator_keeps_freed_memory=kept,
                       torch=torch.__version__, chainer=chainer.__version__, numpy=np.__version__,
                       threads=args.threads, batch=args.batch, onednn=onednn.library_path(),
                       onednn_reason=onednn.reason)
    if not onednn.available():
        print("oneDNN not loaded ({}): the goals below are judged on the numpy code".format(onednn.reason))

    # threadpool_limits with no user_api sets BLAS and OpenMP (oneDNN runs on GNU OpenMP threads).
    from threadpoolctl import threadpool_limits
    results = {}
    for threads in args.threads:
        torch.set_num_threads(threads)
        with threadpool_limits(threads):
            results[threads] = step_rates(args, threads)
    report.data["models"] = {str(threads): models for threads, models in results.items()}
    report.data["onednn_implementations"] = {" ".join(map(str, key)): name
                                             for key, name in onednn.implementations().items()}
    ratio = "onednn_over_torch" if onednn.available() else "numpy_over_torch"
    for threads, models in results.items():
        for name in GOAL_MODELS:
            if name in models:
                report.goal("{} training step, specae / PyTorch, {} thread{}".format(
                    name, threads, "s" if threads > 1 else ""), models[name][ratio], 1.0)
                if "onednn_bf16_over_torch_bf16" in models[name]:
                    # as the training scripts run on AMX, against PyTorch with the same bfloat16 setting
                    report.goal("{} training step, bfloat16 convolutions, specae / PyTorch, {} thread{}".format(
                        name, threads, "s" if threads > 1 else ""), models[name]["onednn_bf16_over_torch_bf16"], 1.0)

    if not args.skip_scripts:
        scripts(args, report)
    report.write()


def scripts(args, report):
    work = os.path.join(OUT, "training")
    shutil.rmtree(work, ignore_errors=True)
    # The scripts run in the project's own venv where it exists (the one make pretrain classify uses).
    python = RUNTIME_PYTHON if os.path.exists(RUNTIME_PYTHON) else sys.executable
    common = ["--dataset", args.dataset, "--batchsize", str(args.batch)]
    quiet = dict(os.environ, PYTHONUNBUFFERED="1")

    def script(name, out, *extra, env=None):
        command = [python, name, *common, "--out", os.path.join(work, out), *extra]
        return run_timed(command, env=env or quiet)

    # Initial weights for AE2 and AE3 (untrained: the cost of an epoch does not depend on them).
    script("cnn_autoencoder1.py", "init1", "--epoch", "0")
    script("cnn_autoencoder2.py", "init2", "--epoch", "0", "--init", os.path.join(work, "init1", "model.npz"))
    init3 = ("--init", os.path.join(work, "init2", "model.npz"))

    # One BLAS thread: the question is what caching saves, and on a shared machine a second thread's
    # waits for a busy core would blur it.
    single = dict(quiet, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")

    def epoch(name, out, *extra):
        def run():
            script(name, out, "--epoch", "3", *extra, env=single)
            return epoch_seconds(os.path.join(work, out))
        return run

    rounds = args.rounds
    times = interleaved({"AE1": epoch("cnn_autoencoder1.py", "ae1"),
                         "AE3 cached": epoch("cnn_autoencoder3.py", "ae3", *init3),
                         "AE3 --no-cache": epoch("cnn_autoencoder3.py", "ae3nc", *init3, "--no-cache")},
                        rounds, warmup=0)
    print("one epoch on {} (training + evaluation + snapshot + log), whole scripts, 1 thread:".format(args.dataset))
    for name, seconds in times.items():
        report.figure("{} epoch".format(name), median(seconds), "s")
    report.figure("AE3 --no-cache epoch / AE1 epoch", paired_ratio(times["AE3 --no-cache"], times["AE1"]), "x")
    report.goal("AE3 epoch / AE1 epoch (cached features)", paired_ratio(times["AE3 cached"], times["AE1"]), 1.2,
                higher_is_better=False)

    # Two classifier runs: one after the other with 2 threads each, or side by side with 1 thread each.
    def classifier(seed, threads):
        env = dict(quiet, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
        command = [python, "cnn_classifier1.py", *common, "--layers", "3", "--epoch", "1", "--seed", str(seed),
                   "--out", os.path.join(work, "clf{}_{}".format(seed, threads))]
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def wait(processes):
        for process in processes:
            _, error = process.communicate()
            if process.returncode:
                raise RuntimeError(error.decode(errors="replace")[-2000:])

    def sequential():
        for seed in (1, 2):
            wait([classifier(seed, 2)])

    def side_by_side():
        wait([classifier(1, 1), classifier(2, 1)])

    long_rounds = max(2, rounds - 1)  # these runs are long; two rounds keep make bench near 12 minutes
    times = interleaved({"one 2-thread process at a time": sequential,
                         "two 1-thread processes side by side": side_by_side}, long_rounds, warmup=0)
    for name, seconds in times.items():
        report.figure("two 3-CNN runs of 1 epoch, {}".format(name), median(seconds), "s")
    report.figure("throughput, two 1-thread processes / one 2-thread process",
                  paired_ratio(times["one 2-thread process at a time"], times["two 1-thread processes side by side"]),
                  "x")
    if os.path.exists(MPIEXEC):
        chainermn(args, report, work, python, common, quiet, long_rounds)
    else:
        print("  (ChainerMN skipped: no {}; make mpi installs it)".format(os.path.relpath(MPIEXEC, ROOT)))
    shutil.rmtree(work, ignore_errors=True)


def chainermn(args, report, work, python, common, env, rounds):
    """Training samples/s of the 3-CNN in one process and in two MPI processes (ChainerMN, naive)."""
    train_examples = len(np.load(os.path.join(args.dataset, "train_label.npy"), mmap_mode="r"))
    base = ["cnn_classifier1.py", *common, "--layers", "3", "--epoch", "3", "--seed", "1"]

    def one():
        run_timed([python, *base, "--out", os.path.join(work, "mn1")], env=env)
        return epoch_seconds(os.path.join(work, "mn1"))

    def two():
        single = dict(env, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
        run_timed([MPIEXEC, "-n", "2", python, *base, "--out", os.path.join(work, "mn2"), "--communicator", "naive"],
                  env=single)
        return epoch_seconds(os.path.join(work, "mn2"))

    times = interleaved({"1 process": one, "2 processes": two}, rounds, warmup=0)
    print("ChainerMN, 3-CNN, {} training examples, global batch {}:".format(train_examples, args.batch))
    for name, seconds in times.items():
        report.figure("ChainerMN {} epoch (training + evaluation)".format(name), median(seconds), "s")
        report.figure("ChainerMN {} samples/s".format(name), train_examples / median(seconds), "samples/s")
    report.figure("ChainerMN 2 processes / 1 process throughput", paired_ratio(times["1 process"], times["2 processes"]),
                  "x")


if __name__ == "__main__":
    main()
