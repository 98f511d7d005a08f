"""Averaging the weights a run passes through (stochastic weight averaging, Izmailov et al. 2018; taken
densely, every step, as SWAD does for domain generalisation, Cha et al. 2021).

A classifier trained on synthetic voices and judged on people is judged away from the data it fits: the
weights of one step are one point of a wide valley of low training loss, and which point the last step
lands on decides much of the answer for a new domain (the FSDD figures of one recipe move by 2–6 points
between seeds, docs/human.md). The mean of the weights visited over the last epochs sits nearer the middle
of that valley. The classifiers have no batch normalisation, so the mean needs no statistics recomputed.

``WeightAveraging`` is a Trainer extension: after every update past ``start_epoch`` it adds the weights to
a running mean, and after the last update it writes that mean into the model, before the evaluator of the
last epoch runs (its priority is above the evaluator's), so that the log, the plots and the saved model
are the averaged one. Its state (the count, the means and the weights the last update reached) is in the
trainer's snapshot, so a resumed run averages what the uninterrupted one would have.
"""
from chainer import training


class WeightAveraging(training.Extension):
    trigger = (1, "iteration")
    priority = training.PRIORITY_WRITER + 1  # before the evaluator (PRIORITY_WRITER) and the snapshot of the step
    name = "WeightAveraging"

    def __init__(self, model, start_epoch):
        self.model, self.start_epoch = model, float(start_epoch)
        self.count, self.swapped = 0, False
        self.means = {name: param.xp.zeros_like(param.array) for name, param in model.namedparams()}
        self.reached = {name: param.xp.zeros_like(param.array) for name, param in model.namedparams()}

    def initialize(self, trainer):
        # A finished run resumed to train for more epochs trains on from the weights it had reached, not
        # from their mean, and goes on adding to the mean: it ends as one longer run would have.
        if self.swapped and not _after_last_update(trainer):
            for name, param in self.model.namedparams():
                param.array[...] = self.reached[name]
            self.swapped = False

    def __call__(self, trainer):
        updater = trainer.updater
        if updater.epoch_detail <= self.start_epoch:
            return
        self.count += 1
        for name, param in self.model.namedparams():
            mean = self.means[name]
            mean += (param.array - mean) / self.count
        if _after_last_update(trainer):
            for name, param in self.model.namedparams():
                self.reached[name][...] = param.array
                param.array[...] = self.means[name]
            self.swapped = True

    def serialize(self, serializer):
        self.count = int(serializer("count", self.count))
        self.swapped = bool(serializer("swapped", self.swapped))
        for name in self.means:
            key = name.replace("/", ".")
            serializer("mean" + key, self.means[name])
            serializer("reached" + key, self.reached[name])


def _after_last_update(trainer):
    """Whether the trainer's stop condition (so many epochs, or so many updates) is met."""
    length, unit = trainer.stop_trigger.get_training_length()
    return (trainer.updater.iteration if unit == "iteration" else trainer.updater.epoch) >= length
