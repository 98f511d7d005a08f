"""--average-from: the saved classifier is the mean of the weights after every update past the start."""
import json

import chainer
import chainer.links as L
import numpy as np
from chainer import training

from conftest import run_script
from specae.weight_averaging import WeightAveraging
from test_training import weights


def test_the_model_ends_as_the_mean_of_the_weights_after_each_update_past_the_start():
    rng = np.random.default_rng(0)
    data = chainer.datasets.TupleDataset(rng.normal(size=(40, 5)).astype(np.float32), rng.integers(0, 3, 40))
    model = L.Classifier(L.Linear(5, 3))
    optimizer = chainer.optimizers.SGD(lr=0.1)
    optimizer.setup(model)
    updater = training.updaters.StandardUpdater(chainer.iterators.SerialIterator(data, 8, shuffle=False), optimizer)
    trainer = training.Trainer(updater, (3, "epoch"))
    seen = []  # the weights after each update, recorded before the averaging writes the mean at the end

    def record(trainer):
        if trainer.updater.epoch_detail > 1.0:
            seen.append({name: param.array.copy() for name, param in model.namedparams()})
    trainer.extend(record, trigger=(1, "iteration"), priority=training.PRIORITY_WRITER + 2)
    trainer.extend(WeightAveraging(model, 1.0))
    trainer.run()
    assert len(seen) == 10  # epochs 2 and 3, five batches each
    for name, param in model.namedparams():
        np.testing.assert_allclose(param.array, np.mean([step[name] for step in seen], axis=0), rtol=1e-6, atol=1e-7)
        assert not np.allclose(param.array, seen[-1][name])  # not simply the last update's weights


def test_averaged_run_resumes_identically_and_differs_from_the_last_weights(tiny_corpus, tmp_path):
    data = ("--dataset", tiny_corpus / "DataSet", "--batchsize", 20, "--layers", 2, "--seed", 5)
    run_script("cnn_classifier1.py", *data, "--epoch", 3, "--average-from", 1, "--out", tmp_path / "straight")
    run_script("cnn_classifier1.py", *data, "--epoch", 3, "--out", tmp_path / "plain")
    # A finished run of 2 epochs, resumed to a third, trains on from the weights it reached, not their mean.
    run_script("cnn_classifier1.py", *data, "--epoch", 2, "--average-from", 1, "--out", tmp_path / "first")
    run_script("cnn_classifier1.py", *data, "--epoch", 3, "--average-from", 1, "--out", tmp_path / "resumed",
               "--resume", tmp_path / "first" / "snapshot_epoch_2")
    straight, plain = weights(tmp_path / "straight" / "model.npz"), weights(tmp_path / "plain" / "model.npz")
    for name, value in weights(tmp_path / "resumed" / "model.npz").items():
        np.testing.assert_array_equal(value, straight[name], err_msg=name)
    assert not np.array_equal(straight["fc/W"], plain["fc/W"])
    info = json.loads((tmp_path / "straight" / "model.json").read_text())
    assert info["average_from"] == 1.0
    # The last epoch's validation is the averaged model's: it differs from the plain run's.
    last = [json.loads((tmp_path / run / "log").read_text())[-1]["validation/main/loss"] for run in ("straight", "plain")]
    assert last[0] != last[1]


def test_a_start_outside_the_run_is_a_one_line_error(tiny_corpus, tmp_path):
    result = run_script("cnn_classifier1.py", "--dataset", tiny_corpus / "DataSet", "--epoch", 2, "--average-from", 2,
                        "--out", tmp_path / "run", check=False)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == ["error: --average-from must be at least 0 and "
                                                  "below --epoch 2, not 2.0"]
