"""specae.flat_adam.FlatAdam against chainer.optimizers.Adam: the same weights bit for bit after training
steps (from scratch, with frozen layers, with weight decay, across a snapshot and a resume), the fallback
to Chainer's per-parameter update where the flat one does not apply, and the views it keeps."""
import numpy as np
import pytest

import chainer
import chainer.functions as F
import chainer.links as L
from chainer import serializers

from specae import flat_adam, models


def _model(seed=0):
    with chainer.using_config("dtype", np.float32):
        np.random.seed(seed)
        return L.Classifier(models.CNN(n_layers=3))


def _batches(n, seed=1, batch=6):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((batch, 1, 64, 64)).astype(np.float32), rng.integers(0, 10, batch).astype(np.int32))
            for _ in range(n)]


def _train(model, optimizer, batches, frozen=()):
    optimizer.setup(model)
    for link in frozen:
        link.disable_update()
    for x, t in batches:
        optimizer.update(model, x, t)
    return model


def _weights(model):
    return {name: param.array.copy() for name, param in model.namedparams()}


def _assert_same_bits(a, b):
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].dtype == b[name].dtype == np.float32
        np.testing.assert_array_equal(a[name].view(np.uint32), b[name].view(np.uint32), err_msg=name)


@pytest.mark.parametrize("kwargs", [{}, {"alpha": 0.003, "beta1": 0.8, "eps": 1e-6}, {"weight_decay_rate": 0.01}],
                         ids=["default", "hyperparameters", "weight-decay"])
def test_same_weights_as_chainer_adam(kwargs):
    batches = _batches(5)
    reference = _train(_model(), chainer.optimizers.Adam(**kwargs), batches)
    optimizer = flat_adam.FlatAdam(**kwargs)
    ours = _train(_model(), optimizer, batches)
    assert optimizer._flat is not None, "the flat update did not run"
    _assert_same_bits(_weights(ours), _weights(reference))
    before = _weights(_model())
    assert any((before[name] != value).any() for name, value in _weights(ours).items())  # it did train


def test_frozen_layers_stay_and_are_left_out():
    batches = _batches(4)
    reference_model, model = _model(), _model()
    _train(reference_model, chainer.optimizers.Adam(), batches, frozen=[reference_model.predictor.convs[0]])
    optimizer = flat_adam.FlatAdam()
    _train(model, optimizer, batches, frozen=[model.predictor.convs[0]])
    _assert_same_bits(_weights(model), _weights(reference_model))
    np.testing.assert_array_equal(model.predictor.convs[0].W.array, _model().predictor.convs[0].W.array)
    packed = {id(param) for param in optimizer._flat["params"]}
    assert id(model.predictor.convs[0].W) not in packed and id(model.predictor.convs[1].W) in packed
    assert model.predictor.convs[0].W.update_rule.state is None  # as Chainer: no state for a frozen layer


def _with_each_optimizer(steps):
    """(weights, optimizer) after ``steps(model, optimizer)``, with Chainer's Adam and with FlatAdam."""
    results = []
    for make in (chainer.optimizers.Adam, flat_adam.FlatAdam):
        model, optimizer = _model(), make()
        steps(model, optimizer)
        results.append((_weights(model), optimizer))
    return results


def test_releasing_a_frozen_layer_falls_back_then_matches():
    """A layer released later has another step count: Chainer's per-parameter update runs, still equal."""
    batches = _batches(6)

    def steps(model, optimizer):
        _train(model, optimizer, batches[:3], frozen=[model.predictor.convs[0]])
        model.predictor.convs[0].enable_update()
        for x, t in batches[3:]:
            optimizer.update(model, x, t)
    (reference, _), (ours, _) = _with_each_optimizer(steps)
    _assert_same_bits(ours, reference)


def test_snapshot_and_resume_give_the_same_weights(tmp_path):
    batches = _batches(6)
    straight = _train(_model(), flat_adam.FlatAdam(), batches)
    model, optimizer = _model(), flat_adam.FlatAdam()
    _train(model, optimizer, batches[:3])
    serializers.save_npz(tmp_path / "model.npz", model)
    serializers.save_npz(tmp_path / "optimizer.npz", optimizer)
    with np.load(tmp_path / "optimizer.npz") as saved:  # Chainer's own layout: m, v, t per parameter
        assert saved["predictor/convs/1/W/m"].shape == model.predictor.convs[1].W.shape
        assert int(saved["predictor/convs/1/W/t"]) == 3
    _assert_same_bits(_resumed(tmp_path / "model.npz", tmp_path / "optimizer.npz", batches[3:]), _weights(straight))
    # and a snapshot of Chainer's Adam resumes under FlatAdam alike
    chainer_optimizer = chainer.optimizers.Adam()
    _train(_model(), chainer_optimizer, batches[:3])
    serializers.save_npz(tmp_path / "chainer_optimizer.npz", chainer_optimizer)
    _assert_same_bits(_resumed(tmp_path / "model.npz", tmp_path / "chainer_optimizer.npz", batches[3:]),
                      _weights(straight))


def _resumed(model_file, optimizer_file, batches):
    """Weights after ``batches`` from a model and an optimizer loaded from their files (another seed first)."""
    model, optimizer = _model(seed=5), flat_adam.FlatAdam()
    optimizer.setup(model)
    serializers.load_npz(model_file, model)
    serializers.load_npz(optimizer_file, optimizer)
    for x, t in batches:
        optimizer.update(model, x, t)
    return _weights(model)


def test_parameters_stay_views_of_the_flat_arrays():
    model, optimizer = _model(), flat_adam.FlatAdam()
    _train(model, optimizer, _batches(2))
    flat = optimizer._flat
    for param in model.params():
        assert np.shares_memory(param.array, flat["data"])
        assert np.shares_memory(param.update_rule.state["m"], flat["m"])
    # an array replaced from outside (here: the weights reloaded as new arrays) is packed again
    for param in model.params():
        param.array = param.array.copy()
    x, t = _batches(1, seed=9)[0]
    reference = _model()
    _train(reference, chainer.optimizers.Adam(), _batches(2) + [(x, t)])
    optimizer.update(model, x, t)
    _assert_same_bits(_weights(model), _weights(reference))
    assert all(np.shares_memory(param.array, optimizer._flat["data"]) for param in model.params())


def test_hooks_fall_back_to_chainers_update():
    batches = _batches(3)

    def steps(model, optimizer):
        optimizer.setup(model)
        model.predictor.fc.W.update_rule.add_hook(chainer.optimizer_hooks.WeightDecay(0.01))
        for x, t in batches:
            optimizer.update(model, x, t)
    (reference, _), (ours, optimizer) = _with_each_optimizer(steps)
    assert optimizer._flat is None
    _assert_same_bits(ours, reference)


def test_a_hook_given_after_flat_updates_is_run():
    batches = _batches(5)

    def steps(model, optimizer):
        _train(model, optimizer, batches[:2])
        model.predictor.fc.W.update_rule.add_hook(chainer.optimizer_hooks.WeightDecay(0.01))
        for x, t in batches[2:]:
            optimizer.update(model, x, t)
    (reference, _), (ours, _) = _with_each_optimizer(steps)
    _assert_same_bits(ours, reference)


def test_gradients_given_without_a_loss_function():
    """ChainerMN's optimizer computes the gradients itself and then calls update() with none."""
    x, t = _batches(1)[0]

    def steps(model, optimizer):
        optimizer.setup(model)
        model.cleargrads()
        F.sum(model(x, t)).backward()
        optimizer.update()
    (reference, _), (ours, optimizer) = _with_each_optimizer(steps)
    assert optimizer._flat is not None
    _assert_same_bits(ours, reference)
