"""PyTorch training and evaluation loops. Everything arrives as arguments."""

import contextlib
import dataclasses
import time
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch
import torch.nn.functional as F

from cifar_compare.fileio import atomic_path
from cifar_compare.history import epoch_line, epoch_row
from cifar_compare.pytorch.data import batch_indices, random_crop_flip, to_model_input
from cifar_compare.pytorch.models import set_batchnorm_eval
from cifar_compare.recipe import batch_norm_mode
from cifar_compare.runtime.hardware import resolve_precision
from cifar_compare.runtime.interruption import Interrupted, StopRequest, epoch_seed
from cifar_compare.runtime.progress import EpochProgress
from cifar_compare.schedules import lr_factor


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
    mean: tuple
    std: tuple
    eval_batch_size: int  # the training batch size: inference then needs less memory
    test_time_flip: bool = False  # evaluation averages each image with its mirror image
    batch_norm: str = "train"  # cifar_compare.recipe.batch_norm_mode
    head: str | None = None  # the registry's classification layer (optimizer.head_lr_factor)
    precision_choice: str = "auto"  # the config's choice
    precision: str = "fp32"  # what it computes in: resolved by with_precision()

    @classmethod
    def from_config(cls, model_config, spec):
        normalization = model_config.get("normalization") or {}
        return cls(
            epochs=model_config["epochs"],
            batch_size=model_config["batch_size"],
            optimizer=model_config["optimizer"],
            schedule=model_config["schedule"],
            augmentation=model_config["augmentation"],
            label_smoothing=model_config["label_smoothing"],
            input_size=model_config["input_size"],
            mean=tuple(normalization.get("mean", spec.mean)),
            std=tuple(normalization.get("std", spec.std)),
            eval_batch_size=model_config["batch_size"],
            test_time_flip=model_config.get("test_time_flip", False),
            batch_norm=batch_norm_mode(model_config),
            head=spec.head,
            precision_choice=model_config.get("precision", "auto"),
        )

    def with_precision(self, device):
        """This recipe with the config's `precision` (auto, fp32, bf16, fp16) resolved
        for `device` (see cifar_compare.runtime.hardware.resolve_precision)."""
        on_gpu = device.type == "cuda"
        gpu_bf16 = on_gpu and torch.cuda.is_bf16_supported()
        return dataclasses.replace(
            self, precision=resolve_precision(self.precision_choice, on_gpu, gpu_bf16)
        )


def seed_everything(seed, deterministic=False):
    """Seed torch and numpy; under `deterministic`, refuse non-deterministic kernels."""
    torch.manual_seed(seed)
    np.random.seed(seed)
    torch.use_deterministic_algorithms(deterministic)


AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def autocast_for(device, precision):
    """Autocast to `precision` on `device` (CPU or GPU); plain fp32 for fp32. The model's
    output layer opts out (torch_models.Float32Linear), and the loss is taken outside."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=AUTOCAST_DTYPES[precision])


def build_optimizer(parameters, settings):
    name = settings["name"]
    common = {"lr": settings["lr"], "weight_decay": settings["weight_decay"]}
    if name == "sgd":
        return torch.optim.SGD(
            parameters, momentum=settings["momentum"], nesterov=settings["nesterov"], **common
        )
    if name in ("adam", "adamw"):
        optimizer_class = torch.optim.Adam if name == "adam" else torch.optim.AdamW
        return optimizer_class(
            parameters, betas=tuple(settings["betas"]), eps=settings["eps"], **common
        )
    raise ValueError(f"unknown optimizer {name!r}")


def build_scheduler(optimizer, schedule, total_steps):
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, total_steps, schedule)
    )


def model_ready_batch(images, recipe, generator):
    """Augmented, normalised, resized model input from a uint8 NHWC batch."""
    aug = recipe.augmentation
    batch = random_crop_flip(images, aug["crop_padding"], aug["flip"], generator)
    return to_model_input(batch, recipe.mean, recipe.std, recipe.input_size)


def optimization_step(model, x, labels, recipe, optimizer, scheduler, scaler=None):
    """Forward, backward and update on model-ready input; returns (summed loss, correct).

    The forward runs in the recipe's precision, the loss in float32; `scaler` (fp16
    only) scales the loss so small fp16 gradients do not flush to zero.
    """
    with autocast_for(x.device, recipe.precision):
        logits = model(x)
    logits = logits.float()
    loss = F.cross_entropy(logits, labels, label_smoothing=recipe.label_smoothing)
    optimizer.zero_grad(set_to_none=True)
    if scaler is None:
        loss.backward()
        optimizer.step()
    else:
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    scheduler.step()
    # Logged without label smoothing, so train, validation and test losses compare.
    plain_loss = F.cross_entropy(logits.detach(), labels, reduction="sum")
    return plain_loss, (logits.argmax(1) == labels).sum()


def train_step(model, images, labels, recipe, optimizer, scheduler, generator, scaler=None):
    """One optimisation step on a uint8 batch; returns (summed loss, correct count)."""
    x = model_ready_batch(images, recipe, generator)
    return optimization_step(model, x, labels, recipe, optimizer, scheduler, scaler)


def train_one_epoch(
    model, images, labels, recipe, optimizer, scheduler, generator, stop, progress=None, scaler=None
):
    """One pass over the training tensors; returns (mean loss, accuracy).

    Stops after the step in progress when `stop.requested` (SIGTERM/SIGINT);
    `progress` (an EpochProgress) logs how far the epoch has come.
    """
    model.train()
    if recipe.batch_norm == "frozen":
        set_batchnorm_eval(model)
    total_loss = torch.zeros((), device=images.device)
    correct = torch.zeros((), device=images.device, dtype=torch.long)
    seen = 0
    batches = batch_indices(len(labels), recipe.batch_size, generator, drop_last=True)
    for step, index in enumerate(batches, start=1):
        loss_sum, hits = train_step(
            model, images[index], labels[index], recipe, optimizer, scheduler, generator, scaler
        )
        total_loss += loss_sum
        correct += hits
        seen += len(index)
        if stop.requested:
            return None
        if progress:
            progress.update(step, lambda total=total_loss, n=seen: total.item() / n)
    return total_loss.item() / seen, correct.item() / seen


@torch.no_grad()
def predict(model, images, recipe):
    """Logits for every image, in order, computed in fixed-size batches."""
    model.eval()
    outputs = []
    for index in batch_indices(len(images), recipe.eval_batch_size, device=images.device):
        x = to_model_input(images[index], recipe.mean, recipe.std, recipe.input_size)
        with autocast_for(images.device, recipe.precision):
            outputs.append(model(x).float())
    return torch.cat(outputs)


def loss_and_accuracy(logits, labels):
    loss = F.cross_entropy(logits, labels).item()
    accuracy = (logits.argmax(1) == labels).float().mean().item()
    return loss, accuracy


def parameter_groups(model, weight_decay, lr, head=None, head_lr_factor=1.0):
    """The trainable parameters in groups: weight decay on weights (matrices,
    kernels) only, none on biases and normalisation parameters (vectors), which it
    would only pull towards zero (as in torchvision's reference recipes); the
    module named `head` at `head_lr_factor` times the body's learning rate `lr`
    (a fresh head learns faster than pretrained features should move)."""
    groups = []
    for in_head in (False, True):
        group_lr = lr * head_lr_factor if in_head else lr
        trainable = [
            p
            for name, p in model.named_parameters()
            if p.requires_grad and (head is not None and name.startswith(head + ".")) == in_head
        ]
        groups += [
            {"params": [p for p in trainable if p.ndim > 1], "weight_decay": weight_decay},
            {"params": [p for p in trainable if p.ndim <= 1], "weight_decay": 0.0},
        ]
        for group in groups[-2:]:
            group["lr"] = group_lr
    return [group for group in groups if group["params"]]


def validate(model, val, recipe):
    """(loss, accuracy) on the validation split; (None, None) when it is empty
    (data.validation_fraction 0: all training images train)."""
    if len(val[1]) == 0:
        return None, None
    return loss_and_accuracy(predict(model, val[0], recipe), val[1])


def make_optimizer(model, recipe, steps_per_epoch):
    """Optimizer over the trainable parameters and its per-step schedule."""
    settings = recipe.optimizer
    groups = parameter_groups(
        model, settings["weight_decay"], settings["lr"], recipe.head, settings["head_lr_factor"]
    )
    optimizer = build_optimizer(groups, settings)
    scheduler = build_scheduler(optimizer, recipe.schedule, recipe.epochs * steps_per_epoch)
    return optimizer, scheduler


def restore(resume, model, optimizer, scheduler, log):
    """Load the last finished epoch's state; return (history so far, next epoch)."""
    record = resume.load_record() if resume else None
    if record is None:
        return [], 1
    state = torch.load(resume.path / record["file"], map_location="cpu", weights_only=True)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    log(f"resuming after epoch {record['epoch']} from {resume.path}")
    return record["history"], record["epoch"] + 1


def save_state(resume, model, optimizer, scheduler, history):
    epoch = history[-1]["epoch"]
    path = resume.epoch_file(epoch, ".pt")
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
    }
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    resume.save_record({"epoch": epoch, "file": path.name, "history": history})


def fit(model, train, val, recipe, seed, log, resume=None, stop=None):
    """Train for recipe.epochs; return the per-epoch history (list of dicts).

    Each epoch's randomness (data order, augmentation, dropout) is seeded from
    (seed, epoch), so a run resumed from `resume` matches an uninterrupted one.
    """
    stop = stop or StopRequest()
    train_images, train_labels = train
    device = train_images.device
    steps_per_epoch = max(1, len(train_labels) // recipe.batch_size)
    optimizer, scheduler = make_optimizer(model, recipe, steps_per_epoch)
    history, first_epoch = restore(resume, model, optimizer, scheduler, log)
    # fp16 needs loss scaling; its scale restarts on resume (it adapts within steps).
    scaler = torch.amp.GradScaler(device.type) if recipe.precision == "fp16" else None
    for epoch in range(first_epoch, recipe.epochs + 1):
        torch.manual_seed(epoch_seed(seed, epoch))
        generator = torch.Generator(device=device).manual_seed(epoch_seed(seed, epoch))
        start = time.perf_counter()
        progress = EpochProgress(log, epoch, recipe.epochs, steps_per_epoch, recipe.batch_size)
        result = train_one_epoch(
            model,
            *train,
            recipe,
            optimizer,
            scheduler,
            generator,
            stop,
            progress,
            scaler,
        )
        if result is None:
            raise Interrupted(stop.signum, epoch)
        seconds = time.perf_counter() - start
        images = steps_per_epoch * recipe.batch_size
        lr = optimizer.param_groups[0]["lr"]
        validation = partial(validate, model, val, recipe)
        history.append(epoch_row(epoch, result, validation, seconds, images, lr))
        log(epoch_line(history[-1], recipe.epochs))
        if resume:
            save_state(resume, model, optimizer, scheduler, history)
    return history
