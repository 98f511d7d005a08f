"""Adam over one flat array: the update of every trained parameter in a handful of numpy calls.

Chainer's Adam updates a model parameter by parameter: for each one an update rule runs its hooks, steps
its counter and makes about ten numpy calls on that parameter's array (the 3-CNN's eight parameters: half
a millisecond of a nine-millisecond step, nearly all of it Python and numpy's cost per call, not
arithmetic). ``FlatAdam`` lays the weights, and Adam's running moments ``m`` and ``v``, of all the
parameters it updates end to end in three flat arrays, each parameter's array and state a view of its
part, and updates them with the same numpy expressions as ``chainer.optimizers.AdamRule.update_core_cpu``
once for the whole model. The arithmetic is element by element the same, so the weights come out the
same bit for bit (tests/test_flat_adam.py); the views keep everything else as it was: the links, the
snapshots (``m``, ``v`` and ``t`` of each rule, as Chainer writes them), resuming, ChainerMN.

Where the flat update does not apply, Chainer's own per-parameter update runs: arrays not on the CPU or
not float32, an update rule with hooks of its own, its own hyperparameters, or another step count than
the others (a layer released later in the run), AMSGrad, AdaBound, loss scaling.
"""
import chainer
import numpy as np
from chainer.optimizers.adam import AdamRule


class FlatAdam(chainer.optimizers.Adam):
    """``chainer.optimizers.Adam`` (same arguments, same results) updating its parameters as one array."""

    _flat = None  # the packed parameters: see _pack

    def update(self, lossfun=None, *args, **kwds):
        """As ``GradientMethod.update``, with the loop over the parameters replaced by one flat update."""
        if lossfun is not None:
            loss = lossfun(*args, **kwds)
            self.target.cleargrads()
            loss.backward(loss_scale=self._loss_scale)
            del loss
        self.reallocate_cleared_grads()
        self.check_nan_in_grads()
        self.call_hooks('pre')
        self.t += 1
        if self.is_safe_to_update():
            if not self._update_flat():
                for param in self.target.params():
                    param.update()
        self.reallocate_cleared_grads()
        self.call_hooks('post')
        self.update_loss_scale()

    # ---- the flat update -----------------------------------------------------------------------------
    def _update_flat(self):
        """Adam's step on the packed parameters; False (nothing done) where the flat update does not apply."""
        params = [param for param in self.target.params() if param.update_rule is not None
                  and param.update_rule.enabled]
        # asked at every step: a hook or a hyperparameter of its own may be given to a rule at any time
        if not params or not all(self._flat_rule_applies(param) for param in params):
            return False
        if not self._packed(params) and not self._pack(params):
            return False
        flat = self._flat
        np.concatenate([param.grad.reshape(-1) for param in params], out=flat["grad"])
        rules = flat["rules"]
        for rule in rules:
            rule.t += 1
        hp = self.hyperparam
        grad, m, v, data = flat["grad"], flat["m"], flat["v"], flat["data"]
        # AdamRule.update_core_cpu, its _inplace_axpby(x, a, b, y) written out: the same expressions in
        # the same order, so that every element is computed as Chainer computes it
        m += (1.0 - hp.beta1) * (grad - m)
        v += (1.0 - hp.beta2) * (grad * grad - v)
        step = rules[0].alpha_t / (np.sqrt(v) + hp.eps)
        decay = 1.0 - hp.eta * hp.weight_decay_rate
        if decay == 1:
            data += -hp.eta * (step * m)
        else:
            data[...] = decay * data + -hp.eta * (step * m)
        return True

    def _packed(self, params):
        """Whether ``params`` are the packed ones, each still a view of the flat arrays."""
        flat = self._flat
        if flat is None or len(params) != len(flat["params"]):
            return False
        for param, packed, data, m, v in zip(params, flat["params"], flat["data_views"], flat["m_views"],
                                             flat["v_views"]):
            state = param.update_rule.state
            if param is not packed or param.array is not data or state is None or state["m"] is not m \
                    or state["v"] is not v:
                return False
        return True

    def _pack(self, params):
        """Copy the weights and moments of ``params`` into flat arrays and make theirs views of them."""
        self._flat = None
        rules = [param.update_rule for param in params]
        if len({rule.t for rule in rules}) != 1:
            return False
        for param, rule in zip(params, rules):
            rule._init_states(param)  # zeros before the first update, or what a snapshot loaded
        sizes = [param.array.size for param in params]
        flat = {"params": params, "rules": rules, "grad": np.empty(sum(sizes), np.float32)}
        offsets = np.cumsum([0] + sizes)
        for name, current in (("data", [param.array for param in params]),
                              ("m", [rule.state["m"] for rule in rules]),
                              ("v", [rule.state["v"] for rule in rules])):
            flat[name] = np.concatenate([array.reshape(-1) for array in current])
            flat[name + "_views"] = [flat[name][start:stop].reshape(array.shape)
                                     for start, stop, array in zip(offsets[:-1], offsets[1:], current)]
        for param, rule, data, m, v in zip(params, rules, flat["data_views"], flat["m_views"], flat["v_views"]):
            param.array = data
            rule.state["m"], rule.state["v"] = m, v
        self._flat = flat
        return True

    def _flat_rule_applies(self, param):
        rule = param.update_rule
        hp = rule.hyperparam
        return (type(rule) is AdamRule and isinstance(param.array, np.ndarray) and param.dtype == np.float32
                and isinstance(param.grad, np.ndarray) and param._loss_scale is None
                and not rule._use_fp32_update and not rule._hookable._pre_update_hooks
                and not rule._hookable._post_update_hooks
                and set(vars(hp)) <= {"_parent"} and hp.parent is self.hyperparam  # no values of its own
                and not hp.amsgrad and not hp.adabound)
