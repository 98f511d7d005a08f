"""The files of a training run: run.json and the snapshots it resumes from, and the model directory
(model.npz weights, model.json saying what to rebuild and which front end fed it) with the loader of
every autoencoder kind."""
import json
import os
import re
import shutil
import sys

import chainer
import numpy as np

from specae.dataset import check_params
from specae.features import FeatureParams
from specae.files import atomic_path, load_json, remove_stale_temporaries, save_json

MODEL_FILE = "model.npz"
MODEL_INFO = "model.json"
RUN_FILE = "run.json"

SNAPSHOT_PREFIX = "snapshot_epoch_"
# What chainer's snapshot writer and LogReport leave in ``out`` when killed while writing:
# tempfile.mkdtemp directories named after the file they were writing.
_CHAINER_TEMPORARY = re.compile(r"^(tmp{}.+|log[a-z0-9_]{{8}})$".format(SNAPSHOT_PREFIX))


def remove_stale_output(out):
    """Remove the temporary files and directories that a killed run left in its output directory."""
    if not os.path.isdir(out):
        return
    remove_stale_temporaries(out)
    for name in os.listdir(out):
        path = os.path.join(out, name)
        if _CHAINER_TEMPORARY.match(name) and os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)


def latest_snapshot(out):
    """The snapshot of the highest epoch in ``out``, or None."""
    epochs = [int(name[len(SNAPSHOT_PREFIX):]) for name in os.listdir(out)
              if name.startswith(SNAPSHOT_PREFIX) and name[len(SNAPSHOT_PREFIX):].isdigit()]
    return os.path.join(out, SNAPSHOT_PREFIX + str(max(epochs))) if epochs else None


def load_npz(path, target):
    """chainer.serializers.load_npz without pickle (chainer's own allows it): loading never runs code."""
    with np.load(path, allow_pickle=False) as stored:
        chainer.serializers.NpzDeserializer(stored).load(target)


def prepare_output(out, args):
    """Record the run's settings and its command line in run.json; snapshots of a run with other settings
    are removed, not resumed.

    The command is the script and its arguments as given (sys.argv), so that the report shows what ran
    rather than a reconstruction; it does not decide resuming, as --resume, --autoload and the spelling
    of paths may differ between the parts of one run."""
    # as run.json holds them (a tuple of --channels reads back as a list), so that they compare equal
    settings = json_safe({key: value for key, value in sorted(vars(args).items())
                          if key not in ("resume", "autoload", "out")})
    path = os.path.join(out, RUN_FILE)
    remove_stale_output(out)
    if os.path.exists(path) and {key: value for key, value in load_json(path).items() if key != "command"} != settings:
        for name in os.listdir(out):
            if name.startswith("snapshot_"):
                os.remove(os.path.join(out, name))
    save_json(path, dict(settings, command=sys.argv))


def save_model(out, model, info):
    """Weights as model.npz and what is needed to rebuild and feed the model as model.json."""
    with atomic_path(os.path.join(out, MODEL_FILE)) as temporary:
        chainer.serializers.save_npz(temporary, model)
    save_json(os.path.join(out, MODEL_INFO), info)


def load_model_info(directory):
    path = os.path.join(directory, MODEL_INFO)
    if not os.path.exists(path):
        raise FileNotFoundError("{}: no {} (train a model there first)".format(directory, MODEL_INFO))
    return load_json(path)


def json_safe(obj):
    return json.loads(json.dumps(obj, default=str))


def check_npz_matches(path, link):
    """Refuse a weights file whose arrays are missing or shaped differently from ``link``'s."""
    if not os.path.exists(path):
        raise FileNotFoundError("{}: no such weights file".format(path))
    try:
        with np.load(path, allow_pickle=False) as stored:
            shapes = {name: stored[name].shape for name in stored.files}
    except (OSError, ValueError) as error:
        raise ValueError("{}: not a weights file ({})".format(path, error))
    for name, param in sorted(link.namedparams()):
        key = name.lstrip("/")
        if key not in shapes:
            raise ValueError("{}: has no weights for {}".format(path, key))
        if shapes[key] != param.shape:
            raise ValueError("{}: {} has shape {}, expected {}".format(path, key, shapes[key], param.shape))


def load_weights(path, link, manifest=None):
    """Load ``path`` into ``link``; with a data-set manifest, also refuse weights trained on features
    made with other front-end parameters (model.json beside the weights says which)."""
    check_npz_matches(path, link)
    if manifest is not None:
        info = load_model_info(os.path.dirname(path) or ".")
        check_params(FeatureParams.from_dict(info["feature_params"]), FeatureParams.from_dict(manifest["params"]),
                     "{} (trained on other features than the data set)".format(path))
    load_npz(path, link)
    return link


AUTOENCODER_KINDS = ("greedy_stack", "deep_autoencoder", "vae")


def load_autoencoder(directory, manifest=None):
    """``(model, info)``: the GreedyStack, DeepAutoencoder or VAE saved in ``directory`` (its model.json
    says which); with a data-set manifest, refused when trained on other features (see load_weights)."""
    from specae import vae  # models and vae do not need this module
    from specae.models import DeepAutoencoder, GreedyStack
    info = load_model_info(directory)
    if info.get("kind") == "greedy_stack":
        model = GreedyStack(info["n_layers"], input_size=info["input_size"], channels=info["channels"])
    elif info.get("kind") == "deep_autoencoder":
        model = DeepAutoencoder(input_size=info["input_size"], channels=info["channels"], slope=info.get("slope", 0.2))
    elif info.get("kind") == "vae":
        model = vae.build(info)
    else:
        raise ValueError("{}: holds a {!r} model, not one of the autoencoders {}".format(
            directory, info.get("kind"), ", ".join(AUTOENCODER_KINDS)))
    load_weights(os.path.join(directory, MODEL_FILE), model, manifest)
    return model, info


def add_features_to_info(info, manifest):
    """What a model directory must carry so that inference uses the training front end."""
    info = dict(info)
    info["feature_params"] = manifest["params"]
    info["dataset"] = {"split": manifest["split"], "seed": manifest["seed"],
                       "train_speakers": len(manifest["train"]["speakers"]),
                       "test_speakers": len(manifest["test"]["speakers"])}
    return info
