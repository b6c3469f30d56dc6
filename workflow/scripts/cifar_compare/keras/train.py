"""Keras training: PyTorch's optimizers, the phases of fine-tuning, prediction and the
hooks of the shared epoch loop (cifar_compare.epochs)."""

import contextlib
import functools

import keras
import numpy as np

from cifar_compare.data.archive import NUM_CLASSES
from cifar_compare.epochs import Phase, steps_per_epoch
from cifar_compare.fileio import atomic_path
from cifar_compare.keras.averaging import WeightAverage
from cifar_compare.keras.models import get_model, set_trainable_top
from cifar_compare.keras.runtime import POLICIES
from cifar_compare.metrics import softmax_cross_entropy
from cifar_compare.recipe import batch_norm_mode, lr_factor


class CoupledL2:
    """Weight decay as torch.optim.SGD and Adam apply it: `l2 * weight` added to the
    gradient before the update (Keras' own `weight_decay` is decoupled, AdamW-style,
    for every optimizer). Vectors (biases, normalisation) are not decayed, as in
    cifar_compare.pytorch.train.parameter_groups."""

    def __init__(self, *args, l2=0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.l2 = l2

    def apply(self, grads, trainable_variables=None):
        variables = trainable_variables or self._trainable_variables
        grads = [
            g if g is None or len(v.shape) <= 1 else g + self.l2 * keras.ops.cast(v, g.dtype)
            for g, v in zip(grads, variables, strict=True)
        ]
        return super().apply(grads, trainable_variables)


class TorchAdamStep:
    """Adam's update as torch.optim.Adam and AdamW compute it: epsilon added to the
    bias-corrected sqrt(v). Keras adds it before the correction, an epsilon
    1/sqrt(1 - beta_2**t) times larger (about 30x at the first step with beta_2
    0.999), which moves weights with small gradients differently."""

    def update_step(self, gradient, variable, learning_rate):
        ops, dtype = keras.ops, variable.dtype
        gradient = ops.cast(gradient, dtype)
        step = ops.cast(self.iterations + 1, dtype)
        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]
        self.assign_add(m, ops.multiply(ops.subtract(gradient, m), 1 - self.beta_1))
        self.assign_add(v, ops.multiply(ops.subtract(ops.square(gradient), v), 1 - self.beta_2))
        m_hat = ops.divide(m, 1 - ops.power(ops.cast(self.beta_1, dtype), step))
        v_hat = ops.divide(v, 1 - ops.power(ops.cast(self.beta_2, dtype), step))
        update = ops.divide(m_hat, ops.add(ops.sqrt(v_hat), self.epsilon))
        self.assign_sub(variable, ops.multiply(ops.cast(learning_rate, dtype), update))


SGDWithL2 = type("SGDWithL2", (CoupledL2, keras.optimizers.SGD), {})
AdamWithL2 = type("AdamWithL2", (CoupledL2, TorchAdamStep, keras.optimizers.Adam), {})
TorchAdamW = type("TorchAdamW", (TorchAdamStep, keras.optimizers.AdamW), {})


def build_optimizer(settings, lr):
    """The PyTorch side's optimizer, with PyTorch's defaults made explicit."""
    name, decay = settings["name"], settings["weight_decay"]
    if name == "sgd":
        momentum = {"momentum": settings["momentum"], "nesterov": settings["nesterov"]}
        return SGDWithL2(lr, l2=decay, **momentum)
    beta_1, beta_2 = settings["betas"]
    common = {"beta_1": beta_1, "beta_2": beta_2, "epsilon": settings["eps"]}
    if name == "adamw":
        return TorchAdamW(lr, weight_decay=decay, **common)
    if name == "adam":
        return AdamWithL2(lr, l2=decay, **common)
    raise ValueError(f"unknown optimizer {name!r}")


class StepHooks(keras.callbacks.Callback):
    """Before every step the shared schedule's learning rate; after it the progress line
    (cifar_compare.runtime.progress) and, once SIGTERM/SIGINT arrived, the epoch's end."""

    def __init__(self, base_lr, total_steps, schedule, step, stop, progress):
        super().__init__()
        self.base_lr, self.total_steps, self.schedule = base_lr, total_steps, schedule
        self.step, self.stop, self.progress = step, stop, progress

    def on_train_batch_begin(self, batch, logs=None):
        factor = lr_factor(self.step, self.total_steps, self.schedule)
        self.model.optimizer.learning_rate.assign(self.base_lr * factor)
        self.step += 1

    def on_train_batch_end(self, batch, logs=None):
        if self.stop.requested:
            self.model.stop_training = True
        self.progress.update(batch + 1, lambda: float(logs["loss"]))


def predict_logits(model, images, batch_size):
    """Logits in batches of the training batch size: inference then never needs more
    memory than training did (500-image batches at 224 px took MobileNetV2 past 5 GB)."""
    return np.asarray(model.predict(images, batch_size=batch_size, verbose=0), np.float32)


def plan_phases(config, has_base):
    """Phase 1 (base frozen under freeze_base), then the optional fine-tuning phase 2."""
    fine_tune = config["fine_tune"]
    last = config["epochs"] - (fine_tune["epochs"] if fine_tune else 0)
    if last < 1:
        raise ValueError("fine_tune.epochs must be smaller than epochs")
    frozen = has_base and config["freeze_base"]
    phases = [Phase(1, last, config["optimizer"]["lr"], None if frozen else 0)]
    if fine_tune:
        phases.append(Phase(last + 1, config["epochs"], fine_tune["lr"], fine_tune["layers"]))
    return phases


def reseed(model, seed):
    """Restart every random generator of the model (augmentation, dropout) from `seed`."""
    generators = [g for layer in model._flatten_layers() for g in layer._seed_generators]
    for index, generator in enumerate(generators):
        generator.state.assign(np.array([seed, index], dtype=generator.state.dtype))


def compile_phase(model, base, phase, config):
    if base is not None:
        if phase.trainable_top is None:
            base.trainable = False
        else:
            set_trainable_top(base, phase.trainable_top, batch_norm_mode(config))
    smoothing = config["label_smoothing"]
    loss = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=smoothing)
    # Logged without label smoothing, so train, validation and test losses compare.
    plain_loss = keras.metrics.CategoricalCrossentropy(from_logits=True, name="cross_entropy")
    optimizer = build_optimizer(config["optimizer"], phase.lr)
    model.compile(optimizer=optimizer, loss=loss, metrics=["categorical_accuracy", plain_loss])
    # As in cifar_compare.pytorch.train.parameter_groups: no weight decay on vectors.
    vectors = [v for v in model.trainable_variables if len(v.shape) <= 1]
    model.optimizer.exclude_from_weight_decay(var_list=vectors)
    model.optimizer.build(model.trainable_variables)


def probe_steps(config):
    """(batch size, {precision: one training step of a model of `config` on random
    images}) for the precision probe (cifar_compare.runtime.precision): one model per
    precision, each built under its policy and compiled for phase 1 as in training."""
    batch = config["batch_size"]
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (batch, 32, 32, 3), dtype=np.uint8)
    targets = keras.utils.to_categorical(rng.integers(0, NUM_CLASSES, batch), NUM_CLASSES)
    steps, previous = {}, keras.mixed_precision.global_policy()
    try:
        for precision in ("fp32", "bf16"):
            keras.mixed_precision.set_global_policy(POLICIES[precision])
            model, base = get_model(config["architecture"], config, NUM_CLASSES, None, seed=0)
            compile_phase(model, base, plan_phases(config, base is not None)[0], config)
            steps[precision] = functools.partial(model.train_on_batch, images, targets)
    finally:
        keras.mixed_precision.set_global_policy(previous)
    return batch, steps


def train_epoch(model, train, batch_size, seed, callbacks):
    """One epoch in a data order drawn from the epoch's `seed`; returns Keras' epoch logs."""
    images, labels = train
    reseed(model, seed)
    order = np.random.default_rng(seed).permutation(len(labels))
    # The last partial batch is dropped, as on the PyTorch side.
    order = order[: steps_per_epoch(len(labels), batch_size) * batch_size]
    targets = keras.utils.to_categorical(labels[order], NUM_CLASSES)
    result = model.fit(
        images[order], targets, batch_size, epochs=1, shuffle=False, verbose=0, callbacks=callbacks
    )
    return {key: values[-1] for key, values in result.history.items()}


class KerasTrainer:
    """Keras' hooks of the shared epoch loop (cifar_compare.epochs.fit): the optimizer
    is compiled per phase, and its state restored only within the phase it was saved in."""

    def __init__(self, model, base, train, val, config):
        self.model, self.base, self.train, self.val, self.config = model, base, train, val, config
        self.phases = plan_phases(config, base is not None)
        decay = config.get("ema_decay")
        self.average = WeightAverage(model, decay) if decay is not None else None

    def begin(self, phase, steps):
        compile_phase(self.model, self.base, phase, self.config)
        self.phase, self.steps = phase, steps

    def restore(self, resume, record, same_phase):
        self.model.load_weights(resume.state_file(record["files"]["weights"]))
        if same_phase:
            with np.load(resume.state_file(record["files"]["optimizer"])) as saved:
                for index, variable in enumerate(self.model.optimizer.variables):
                    variable.assign(saved[f"arr_{index}"])
        if self.average is not None:
            with np.load(resume.state_file(record["files"]["average"])) as saved:
                self.average.load_values([saved[f"arr_{i}"] for i in range(len(saved.files))])

    def train_epoch(self, epoch, seed, stop, progress):
        phase, steps, batch_size = self.phase, self.steps, self.config["batch_size"]
        total_steps = steps * (phase.last_epoch - phase.first_epoch + 1)
        step = steps * (epoch - phase.first_epoch)
        hooks = StepHooks(phase.lr, total_steps, self.config["schedule"], step, stop, progress)
        callbacks = [hooks] if self.average is None else [hooks, self.average]
        logs = train_epoch(self.model, self.train, batch_size, seed, callbacks)
        if stop.requested:
            return None
        return float(logs["cross_entropy"]), float(logs["categorical_accuracy"])

    def validate(self):
        with self.weights_to_score():
            logits = predict_logits(self.model, self.val[0], self.config["batch_size"])
        accuracy = float((logits.argmax(1) == self.val[1]).mean())
        return softmax_cross_entropy(logits, self.val[1]), accuracy

    def weights_to_score(self):
        """The weights validation scores: the average under ema_decay, else the model's."""
        return contextlib.nullcontext() if self.average is None else self.average.swapped_in()

    def finish(self):
        """Leave the model holding the weights training ends with (the average, if any)."""
        if self.average is not None:
            self.average.copy_to_model()

    def lr(self):
        return float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))

    def save(self, resume, epoch):
        weights = resume.epoch_file(epoch, ".weights.h5")
        with atomic_path(weights, suffix=".partial.weights.h5") as tmp:
            self.model.save_weights(tmp)
        optimizer = resume.epoch_file(epoch, ".optimizer.npz")
        with atomic_path(optimizer, suffix=".partial.npz") as tmp:
            variables = self.model.optimizer.variables
            np.savez(tmp, *[keras.ops.convert_to_numpy(v) for v in variables])
        files = {"weights": weights.name, "optimizer": optimizer.name}
        if self.average is not None:
            average = resume.epoch_file(epoch, ".average.npz")
            with atomic_path(average, suffix=".partial.npz") as tmp:
                np.savez(tmp, *self.average.values())
            files["average"] = average.name
        return {"files": files}
