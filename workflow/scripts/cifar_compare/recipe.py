"""Framework-neutral readings of one model's config entry, the same for both frameworks:
its batch-norm mode and learning-rate schedule."""

import math


def batch_norm_mode(model_config):
    """'train' (batch statistics, running averages updated) or 'frozen' (the stored
    statistics, as at inference). The config's `batch_norm`; by default frozen for a
    pretrained model, whose ImageNet statistics small fine-tuning batches would blur,
    and train from scratch, where there are no statistics to keep."""
    choice = model_config.get("batch_norm")
    if choice is not None:
        return choice
    return "frozen" if model_config["pretrained"] else "train"


def lr_factor(step, total_steps, schedule):
    """Multiplier of the base learning rate at `step` (0-based) of `total_steps`.

    - constant: 1 throughout (the original study's plain Adam).
    - cosine: linear warm-up, then cosine decay to `final_factor`.
    - onecycle: linear warm-up to the peak, then linear decay to `final_factor`
      (the triangular schedule fast CIFAR-10 training runs use).
    """
    name = schedule["name"]
    if name == "constant":
        return 1.0
    warmup = max(1, int(round(schedule["warmup_fraction"] * total_steps)))
    final = schedule["final_factor"]
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
    if name == "cosine":
        return final + (1 - final) * 0.5 * (1 + math.cos(math.pi * progress))
    if name == "onecycle":
        return 1 - (1 - final) * progress
    raise ValueError(f"unknown schedule {name!r}")
