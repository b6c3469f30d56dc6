"""PyTorch training: the recipe, the optimisation step, prediction and the hooks of the
shared epoch loop (cifar_compare.epochs)."""

import contextlib
import dataclasses
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from cifar_compare.epochs import Phase
from cifar_compare.fileio import atomic_path
from cifar_compare.pytorch.averaging import WeightAverage
from cifar_compare.pytorch.data import random_crop_flip, shuffled_batches, to_model_input
from cifar_compare.pytorch.models import set_batchnorm_eval
from cifar_compare.recipe import batch_norm_mode, lr_factor

# The Recipe fields taken from the config entry as they are.
CONFIG_KEYS = (
    "epochs batch_size optimizer schedule augmentation label_smoothing input_size ema_decay"
).split()


@dataclass(frozen=True)
class Recipe:
    """Everything about how one model is trained, taken from its config entry."""

    epochs: int
    batch_size: int
    optimizer: dict
    schedule: dict
    augmentation: dict
    label_smoothing: float
    input_size: int
    ema_decay: float | None  # weight averaging (cifar_compare.pytorch.averaging); None: off
    mean: tuple
    std: tuple
    batch_norm: str  # cifar_compare.recipe.batch_norm_mode
    head: str  # the registry's classification layer (optimizer.head_lr_factor)
    precision: str = "fp32"  # what it computes in: the adapter resolves the config's choice

    @classmethod
    def from_config(cls, model_config, spec):
        normalization = model_config.get("normalization") or {}
        return cls(
            **{key: model_config[key] for key in CONFIG_KEYS},
            mean=tuple(normalization.get("mean", spec.mean)),
            std=tuple(normalization.get("std", spec.std)),
            batch_norm=batch_norm_mode(model_config),
            head=spec.head,
        )


AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def autocast_for(device, precision):
    """Autocast to `precision` on `device` (CPU or GPU); plain fp32 for fp32. The model's
    output layer opts out (pytorch.models.Float32Linear), and the loss is taken outside."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=AUTOCAST_DTYPES[precision])


def build_optimizer(parameters, settings):
    name = settings["name"]
    common = {"lr": settings["lr"], "weight_decay": settings["weight_decay"]}
    if name == "sgd":
        momentum = {"momentum": settings["momentum"], "nesterov": settings["nesterov"]}
        return torch.optim.SGD(parameters, **momentum, **common)
    if name in ("adam", "adamw"):
        adam = torch.optim.Adam if name == "adam" else torch.optim.AdamW
        return adam(parameters, betas=tuple(settings["betas"]), eps=settings["eps"], **common)
    raise ValueError(f"unknown optimizer {name!r}")


def model_ready_batch(images, recipe, generator):
    """Augmented, normalised, resized model input from a uint8 NHWC batch."""
    aug = recipe.augmentation
    batch = random_crop_flip(images, aug["crop_padding"], aug["flip"], generator)
    return to_model_input(batch, recipe.mean, recipe.std, recipe.input_size)


# Loss scaling for fp16 only (small fp16 gradients would flush to zero); a disabled
# GradScaler passes the loss and the step through unchanged.
NO_SCALING = torch.amp.GradScaler("cpu", enabled=False)


def optimization_step(model, x, labels, recipe, optimizer, scheduler, scaler=NO_SCALING):
    """Forward, backward and update on model-ready input; returns (summed loss, correct).
    The forward runs in the recipe's precision, the loss in float32."""
    with autocast_for(x.device, recipe.precision):
        logits = model(x)
    logits = logits.float()
    loss = F.cross_entropy(logits, labels, label_smoothing=recipe.label_smoothing)
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    scheduler.step()
    # Logged without label smoothing, so train, validation and test losses compare.
    plain_loss = F.cross_entropy(logits.detach(), labels, reduction="sum")
    return plain_loss, (logits.argmax(1) == labels).sum()


def train_step(model, images, labels, recipe, optimizer, scheduler, generator, scaler=NO_SCALING):
    """One optimisation step on a uint8 batch; returns (summed loss, correct count)."""
    x = model_ready_batch(images, recipe, generator)
    return optimization_step(model, x, labels, recipe, optimizer, scheduler, scaler)


def probe_steps(model, recipe, device):
    """(batch size, {precision: one training step of `model` on random images}) for
    the precision probe (cifar_compare.runtime.precision)."""
    batch = recipe.batch_size  # per-step costs (the update) weigh less at small batches
    generator = torch.Generator(device=device).manual_seed(0)
    images = torch.randint(0, 256, (batch, 32, 32, 3), generator=generator, device=device)
    images = images.to(torch.uint8)
    labels = torch.randint(0, 10, (batch,), generator=generator, device=device)
    optimizer, scheduler = make_optimizer(model, recipe, steps_per_epoch=1000)

    def step_in(precision):
        update = (dataclasses.replace(recipe, precision=precision), optimizer, scheduler)
        return lambda: train_step(model, images, labels, *update, generator)

    return batch, {precision: step_in(precision) for precision in ("fp32", "bf16")}


@torch.no_grad()
def predict(model, images, recipe):
    """Logits for every image, in order, in batches of the training batch size:
    inference then needs no more memory than training did."""
    model.eval()
    outputs, size = [], recipe.batch_size
    for start in range(0, len(images), size):
        x = to_model_input(images[start : start + size], recipe.mean, recipe.std, recipe.input_size)
        with autocast_for(images.device, recipe.precision):
            outputs.append(model(x).float())
    return torch.cat(outputs)


def parameter_groups(model, decay, lr, head, head_lr_factor=1.0):
    """The trainable parameters in groups: weight decay on weights (matrices,
    kernels) only, none on biases and normalisation parameters (vectors), which it
    would only pull towards zero (as in torchvision's reference recipes); the
    module named `head` at `head_lr_factor` times the body's learning rate `lr`
    (a fresh head learns faster than pretrained features should move)."""
    groups = []
    for in_head in (False, True):
        params = [
            p
            for name, p in model.named_parameters()
            if p.requires_grad and name.startswith(head + ".") == in_head
        ]
        group_lr = lr * head_lr_factor if in_head else lr
        groups += [
            {"params": [p for p in params if p.ndim > 1], "weight_decay": decay, "lr": group_lr},
            {"params": [p for p in params if p.ndim <= 1], "weight_decay": 0.0, "lr": group_lr},
        ]
    return [group for group in groups if group["params"]]


def make_optimizer(model, recipe, steps_per_epoch):
    """Optimizer over the trainable parameters and its per-step schedule."""
    settings, total_steps = recipe.optimizer, recipe.epochs * steps_per_epoch
    groups = parameter_groups(
        model, settings["weight_decay"], settings["lr"], recipe.head, settings["head_lr_factor"]
    )
    optimizer = build_optimizer(groups, settings)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, total_steps, recipe.schedule)
    )
    return optimizer, scheduler


class TorchTrainer:
    """PyTorch's hooks of the shared epoch loop (cifar_compare.epochs.fit)."""

    STATE = ("model", "optimizer", "scheduler")

    def __init__(self, model, train, val, recipe):
        self.model, self.train, self.val, self.recipe = model, train, val, recipe
        self.phases = [Phase(1, recipe.epochs, recipe.optimizer["lr"], None)]
        decay = recipe.ema_decay
        self.average = WeightAverage(model, decay) if decay is not None else None
        # fp16's loss scale restarts on resume (it adapts within steps).
        fp16 = recipe.precision == "fp16"
        self.scaler = torch.amp.GradScaler(train[0].device.type, enabled=fp16)

    def begin(self, phase, steps):
        self.optimizer, self.scheduler = make_optimizer(self.model, self.recipe, steps)

    def restore(self, resume, record, same_phase):
        state = torch.load(resume.state_file(record["file"]), map_location="cpu", weights_only=True)
        for name in self.STATE if same_phase else ("model",):
            getattr(self, name).load_state_dict(state[name])
        if self.average is not None:
            self.average.load_state_dict(state["average"])

    def train_epoch(self, epoch, seed, stop, progress):
        """One pass over the training tensors; (mean loss, accuracy), or None once
        `stop` is requested (after the step in progress)."""
        model, (images, labels), recipe = self.model, self.train, self.recipe
        torch.manual_seed(seed)
        generator = torch.Generator(device=images.device).manual_seed(seed)
        model.train()
        if recipe.batch_norm == "frozen":
            set_batchnorm_eval(model)
        total_loss = torch.zeros((), device=images.device)
        correct = torch.zeros((), device=images.device, dtype=torch.long)
        seen = 0
        update = (recipe, self.optimizer, self.scheduler, generator, self.scaler)
        batches = shuffled_batches(len(labels), recipe.batch_size, generator)
        for step, index in enumerate(batches, start=1):
            loss_sum, hits = train_step(model, images[index], labels[index], *update)
            if self.average is not None:
                self.average.update(model)
            total_loss += loss_sum
            correct += hits
            seen += len(index)
            if stop.requested:
                return None
            progress.update(step, lambda total=total_loss, n=seen: total.item() / n)
        return total_loss.item() / seen, correct.item() / seen

    def validate(self):
        with self.weights_to_score():
            logits, labels = predict(self.model, self.val[0], self.recipe), self.val[1]
        accuracy = (logits.argmax(1) == labels).float().mean()
        return F.cross_entropy(logits, labels).item(), accuracy.item()

    def weights_to_score(self):
        """The weights validation scores: the average under ema_decay, else the model's."""
        if self.average is None:
            return contextlib.nullcontext()
        return self.average.swapped_into(self.model)

    def finish(self):
        """Leave the model holding the weights training ends with (the average, if any)."""
        if self.average is not None:
            self.average.copy_to(self.model)

    def lr(self):
        return self.optimizer.param_groups[0]["lr"]

    def save(self, resume, epoch):
        path = resume.epoch_file(epoch, ".pt")
        state = {name: getattr(self, name).state_dict() for name in self.STATE}
        if self.average is not None:
            state["average"] = self.average.state_dict()
        with atomic_path(path) as tmp:
            torch.save(state, tmp)
        return {"file": path.name}
