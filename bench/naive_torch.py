"""The usual tutorial approach to PyTorch training, as the baseline to beat.

A Dataset hands out one PIL image at a time; per-sample torchvision transforms
crop, flip, resize, convert and normalise it on the CPU; a DataLoader with
worker processes collates batches, which are copied to the device every step.
The model is the pipeline's own, in fp32 with the default memory format.
"""

from harness import load_images, synchronizer, timed_steps


def naive_transforms(recipe, train):
    from torchvision import transforms as T

    steps = []
    if train:
        steps += [T.RandomCrop(32, padding=recipe.augmentation["crop_padding"])]
        steps += [T.RandomHorizontalFlip()] if recipe.augmentation["flip"] else []
    if recipe.input_size != 32:
        steps.append(T.Resize(recipe.input_size))
    return T.Compose([*steps, T.ToTensor(), T.Normalize(recipe.mean, recipe.std)])


def array_dataset(images, labels, transform):
    from PIL import Image
    from torch.utils.data import Dataset

    class ArrayImages(Dataset):
        def __len__(self):
            return len(labels)

        def __getitem__(self, index):
            return transform(Image.fromarray(images[index])), int(labels[index])

    return ArrayImages()


def loader_steps(loader, device, work):
    """A step function that takes the loader's next batch to the device and calls work."""
    batches = iter(loader)

    def step(_i):
        x, y = next(batches)
        work(x.to(device, non_blocking=True), y.to(device, non_blocking=True))

    return step


def measure_naive(model_config, args):
    """Tutorial-style training and evaluation of one model; its measurements."""
    import resource

    import torch
    import torch.nn.functional as F
    from cifar_compare.pytorch.adapter import PyTorch
    from cifar_compare.pytorch.models import get_model
    from cifar_compare.pytorch.train import autocast_for, build_optimizer
    from cifar_compare.runtime.resources import peak_rss_mb
    from torch.utils.data import DataLoader

    adapter = PyTorch()
    # The pipeline's device and precision, so the comparison is of the data pipelines alone.
    device_name = adapter.start(model_config, args.threads, model_config.get("precision"))
    device, recipe = adapter.device, adapter.recipe
    torch.manual_seed(0)
    images, labels = load_images(args)
    model = get_model(model_config["architecture"]).to(device)
    optimizer = build_optimizer(model.parameters(), recipe.optimizer)

    def train(x, y):
        with autocast_for(device, recipe.precision):
            logits = model(x)
        loss = F.cross_entropy(logits.float(), y, label_smoothing=recipe.label_smoothing)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    @torch.no_grad()
    def evaluate(x, _y):
        with autocast_for(device, recipe.precision):
            model(x).argmax(1).cpu()

    def loader(train_mode, batch_size):
        dataset = array_dataset(images, labels, naive_transforms(recipe, train_mode))
        return DataLoader(
            dataset,
            batch_size,
            shuffle=train_mode,
            num_workers=args.naive_workers,
            pin_memory=device.type == "cuda",
            drop_last=True,
        )

    sync = synchronizer(device)
    model.train()
    train_step = loader_steps(loader(True, recipe.batch_size), device, train)
    first_step, seconds = timed_steps(train_step, args.warmup, args.steps, sync, args.repeats)
    model.eval()
    eval_size = args.eval_batch_size or recipe.batch_size
    eval_step = loader_steps(loader(False, eval_size), device, evaluate)
    _, eval_seconds = timed_steps(eval_step, 1, args.steps, sync, args.repeats)
    del train_step, eval_step  # ends the worker processes, so their peak is known
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {
        "device": device_name,
        "compute_precision": recipe.precision,
        "train_images_loaded": len(labels),
        "batch_size": recipe.batch_size,
        "input_size": recipe.input_size,
        "first_step_seconds": first_step,
        "train_images_per_second": args.steps * recipe.batch_size / seconds,
        "eval_images_per_second": args.steps * eval_size / eval_seconds,
        "peak_rss_mb": peak_rss_mb(),
        "naive_workers": args.naive_workers,
        "largest_worker_peak_rss_mb": workers if args.naive_workers else None,
        "peak_device_memory_mb": adapter.peak_device_memory_mb(),
    }
