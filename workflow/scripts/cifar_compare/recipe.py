"""Framework-neutral readings of one model's config entry, the same for both frameworks."""


def batch_norm_mode(model_config):
    """'train' (batch statistics, running averages updated) or 'frozen' (the stored
    statistics, as at inference). The config's `batch_norm`; by default frozen for a
    pretrained model, whose ImageNet statistics small fine-tuning batches would blur,
    and train from scratch, where there are no statistics to keep."""
    choice = model_config.get("batch_norm")
    if choice is not None:
        return choice
    return "frozen" if model_config["pretrained"] else "train"
