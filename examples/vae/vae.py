#!/usr/bin/env python
"""Variational autoencoder on the log-mel images, and morphs between clips through its latent space.

Trains a convolutional VAE (the classifier's encoder geometry, a 16-d Gaussian latent by default,
transposed-convolution decoder; Bernoulli reconstruction + β·KL, with β warmed up from 0 over --warmup
epochs) or, with --bottleneck vq, a VQ-VAE; then writes to --out, besides the Trainer's log, plots,
snapshots and model:

- report.md / report.json: on the held-out voices, reconstruction MSE, ELBO and input/reconstruction
  cosine similarity, beside the same figures of the autoencoders named by --compare (report.json also
  lists the figures and WAVs below for the report page, and records this command);
- morph_digits.png / morph_voices.png and morph_{digits,voices}_{0,25,50,75,100}.wav: two digits of one
  voice, and one digit of two voices, decoded at 0, ¼, ½, ¾ and 1 of the way between their latent
  means, as images and as audio (specae.inversion: the front end undone, Griffin-Lim);
- latent_map.png: the test clips' latent means on their first two principal axes, coloured by digit.

cnn_classifier2.py --init OUT/model.npz starts the 3-layer CNN from this encoder.
"""
import os
import sys

# specae/ is at the repository root, two folders up: the one shared way examples import it (examples/README.md)
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

import specae  # noqa: E402,F401  (before chainer: it keeps Chainer's cuDNN path off, specae/__init__.py)
import chainer
import numpy as np

from specae import checkpoints, command_line, errors, inversion, plots, tables, trainer_setup, vae
from specae.audio import write_wav
from specae.dataset import DataSetError, load_dataset
from specae.features import FeatureParams
from specae.models import reconstruct_all

STEPS = (0.0, 0.25, 0.5, 0.75, 1.0)


def write_audible(path, samples, rate_hz, peak=0.99):
    """At the level the inversion gives, turned down only where it would clip."""
    top = float(np.abs(samples).max()) if len(samples) else 0.0
    write_wav(path, samples * (min(1.0, peak / top) if top > 0 else 1.0), rate_hz)


def compare_autoencoders(directories, manifest, test):
    """MSE and cosine of each autoencoder's reconstruction (clipped to [0, 1]) of the test images."""
    rows = {}
    for directory in directories:
        try:
            model, info = checkpoints.load_autoencoder(directory, manifest)
        except (FileNotFoundError, ValueError, DataSetError) as error:
            errors.fail(error)
        rebuilt = np.clip(reconstruct_all(model, test, info.get("n_layers")), 0.0, 1.0)
        rows[os.path.normpath(directory)] = {
            "kind": info["kind"], "mse": float(np.mean(np.square(rebuilt - test))),
            "cosine": float(np.mean(vae.cosine_similarity(test, rebuilt))), "elbo": None}
    return rows


def report_table(rows):
    return tables.table(["model", "kind", "reconstruction MSE", "cosine(input, reconstruction)", "ELBO (nats per clip)"],
                        [[name, row["kind"], "{:.5f}".format(row["mse"]), "{:.4f}".format(row["cosine"]),
                          "—" if row["elbo"] is None else "{:.1f}".format(row["elbo"])] for name, row in rows.items()])


def write_morphs(model, arrays, files, params, args):
    """The strip PNG and five WAVs of each morph pair; returns {name: [clip a, clip b]} and the WAV paths."""
    written, wavs = {}, []
    for name, a, b in vae.morph_pairs(files, args.digits, args.digit):
        z = vae.latents(model, np.asarray(arrays["test_data"][[a, b]]))
        images = vae.decode_images(model, vae.interpolate(z[0], z[1], STEPS))
        for t, image in zip(STEPS, images):
            info = vae.interpolate_info(files[a], files[b], t)
            audio = inversion.image_to_audio(image, info, params, args.iterations, rng=np.random.default_rng(0))
            wavs.append(os.path.join(args.out, "morph_{}_{:03d}.wav".format(name, int(100 * t))))
            write_audible(wavs[-1], audio, params.sample_rate_hz)
        ends = [np.asarray(arrays["test_data"][i, 0]) for i in (a, b)]
        describe = lambda i: "{} ({})".format(files[i]["digit"], files[i]["speaker"])  # noqa: E731
        plots.spectrogram_grid([ends[0]] + list(images) + [ends[1]],
                               ["input {}".format(describe(a))] + ["t = {:g}".format(t) for t in STEPS] +
                               ["input {}".format(describe(b))],
                               os.path.join(args.out, "morph_{}.png".format(name)), columns=len(STEPS) + 2,
                               suptitle="{} morph through the latent means: {} → {}".format(
                                   name, describe(a), describe(b)))
        print("morph {}: {} → {}".format(name, describe(a), describe(b)))
        written[name] = [files[a]["wav"], files[b]["wav"]]
    return written, wavs


def main():
    parser = command_line.argument_parser(__doc__, epochs=20)
    parser.add_argument("--latent", type=int, default=16, help="latent dimensions (per grid cell with vq)")
    parser.add_argument("--beta", type=float, default=1.0, help="weight of the KL term once warmed up")
    parser.add_argument("--warmup", type=float, default=5.0, help="epochs over which β rises from 0; 0 for none")
    parser.add_argument("--bottleneck", choices=vae.BOTTLENECKS, default="gaussian")
    parser.add_argument("--codebook", type=int, default=64, help="vq: codebook entries")
    parser.add_argument("--commitment", type=float, default=0.25, help="vq: weight of the commitment loss")
    parser.add_argument("--compare", nargs="*", default=[], metavar="AE_DIR",
                        help="autoencoder run directories to report beside the VAE (e.g. result/autoencoder3)")
    parser.add_argument("--digits", type=int, nargs=2, default=[3, 8], help="the two digits of one voice to morph")
    parser.add_argument("--digit", type=int, default=5, help="the digit to morph between two voices")
    parser.add_argument("--iterations", type=int, default=100, help="Griffin-Lim iterations for the WAVs")
    args = parser.parse_args()
    if args.latent < 1 or args.codebook < 1 or args.beta < 0 or args.warmup < 0:
        errors.fail("--latent and --codebook must be positive, --beta and --warmup not negative")
    device = command_line.get_device(args.device)
    try:
        arrays, manifest = load_dataset(args.dataset)
        params = FeatureParams.from_dict(manifest["params"])
    except (DataSetError, ValueError) as error:
        errors.fail(error)
    command_line.seed_everything(args.seed, device)
    size = arrays["train_data"].shape[-1]
    if args.bottleneck == "vq":
        model = vae.VQVAE(args.latent, size, codebook_size=args.codebook, commitment=args.commitment)
        keys = ["main/loss", "validation/main/loss", "main/reconstruction", "main/perplexity",
                "validation/main/perplexity"]
        plots_ = [(["main/loss", "validation/main/loss"], "loss.png"),
                  (["main/perplexity", "validation/main/perplexity"], "perplexity.png")]
    else:
        model = vae.VAE(args.latent, size, beta=args.beta if args.warmup == 0 else 0.0)
        keys = ["main/loss", "validation/main/loss", "main/kl", "main/beta", "validation/main/elbo"]
        plots_ = [(["main/loss", "validation/main/loss"], "loss.png"),
                  (["main/elbo", "validation/main/elbo"], "elbo.png")]
    print("{} VAE: {} parameters, training on {} examples".format(
        args.bottleneck, sum(p.size for p in model.params()), len(arrays["train_data"])))
    trainer = trainer_setup.make_trainer(model, arrays["train_data"], arrays["test_data"], args, device, keys, plots_)
    if args.bottleneck == "gaussian":
        trainer.extend(vae.KLWarmup(model, args.beta, args.warmup))
    trainer_setup.run(trainer)

    model.to_cpu()
    info = {"kind": "vae", "bottleneck": args.bottleneck, "n_latent": args.latent, "channels": list(model.channels),
            "input_size": size, "beta": args.beta, "warmup": args.warmup, "codebook_size": args.codebook,
            "commitment": args.commitment, "epochs": args.epoch, "seed": args.seed}
    checkpoints.save_model(args.out, model, checkpoints.add_features_to_info(info, manifest))

    test = np.asarray(arrays["test_data"], np.float32)
    rows = {os.path.normpath(args.out): dict(vae.evaluate(model, test), kind="vae ({})".format(args.bottleneck))}
    rows.update(compare_autoencoders(args.compare, manifest, test))
    extra = {}
    if args.bottleneck == "vq":
        with chainer.no_backprop_mode(), chainer.using_config("train", False):
            indices = np.concatenate([model.nearest(model.encode(test[i:i + 256])) for i in range(0, len(test), 256)])
        extra = {"test_perplexity": vae.perplexity(indices, args.codebook), "codes_used": int(len(np.unique(indices)))}
    made = [report_table(rows)]

    files = manifest["test"]["files"]
    points, explained = vae.pca_2d(vae.latents(model, test))
    plots.latent_map(points, arrays["test_label"], os.path.join(args.out, "latent_map.png"),
                     "{} VAE latent means of {} held-out clips ({:.0f} % + {:.0f} % of the variance)".format(
                         args.bottleneck, len(test), 100 * explained[0], 100 * explained[1]))
    morphs, wavs = {}, []
    if all(key in files[0] for key in ("reference_db", "span_frames")):
        morphs, wavs = write_morphs(model, arrays, files, params, args)
    else:
        print("no morph WAVs: the data set's manifest carries no levels (rebuild it with make_dataset.py)")
    figures = [tables.figure(os.path.join(args.out, "morph_{}.png".format(name)), "{} morph: {} → {}, decoded at "
                             "t = {} of the way between their latent means".format(
                                 name, *[os.path.basename(clip) for clip in clips], ", ".join(map("{:g}".format, STEPS))),
                             args.out) for name, clips in morphs.items()]
    figures.append(tables.figure(os.path.join(args.out, "latent_map.png"), "latent means of the held-out clips on "
                                 "their first two principal axes, coloured by digit", args.out))
    figures += [tables.figure(os.path.join(args.out, name), "training and test {} per epoch".format(
        os.path.splitext(name)[0]), args.out) for _, name in plots_]
    tables.save_report(args.out, made, (), figures, wavs, test_clips=len(test), models=rows, morphs=morphs,
                       pca_explained_variance=[float(v) for v in explained], **extra)
    print("saved {}".format(os.path.join(args.out, checkpoints.MODEL_FILE)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
