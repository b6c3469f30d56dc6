"""Benchmark PyTorch training: images/s and peak memory per configured model.

Not a test: it measures this machine. Each model runs in its own process so its
peak RSS is its own. The whole training set (50,000 images by default, as uint8
at 32x32) is loaded on the training device, exactly as the pipeline does.

    .venv/bin/python bench/bench_torch.py                      # models of config/config.yaml
    .venv/bin/python bench/bench_torch.py --configfile config/quick.yaml --steps 10
    .venv/bin/python bench/bench_torch.py --models alexnet_pretrained_pytorch --batch-size 128

Writes bench/out/pytorch.json and bench/out/pytorch.csv and prints a table.
"""

from harness import load_images, main, timed_steps


def train_flops_per_image(model, recipe, device):
    """FLOPs of one training step (forward and backward) per image, counted by PyTorch."""
    import torch
    from cifar_compare.torch_data import to_model_input
    from torch.utils.flop_counter import FlopCounterMode

    batch = torch.zeros(2, 32, 32, 3, dtype=torch.uint8, device=device)
    with FlopCounterMode(display=False) as counter:
        model(to_model_input(batch, recipe.mean, recipe.std, recipe.input_size)).sum().backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops() / len(batch)


def measure_one(model_config, args):
    """Run warm-up and timed steps of one model; return its measurements."""
    import torch
    from cifar_compare.resources import peak_rss_mb
    from cifar_compare.torch_checkpoint import device_from_env, device_name
    from cifar_compare.torch_models import get_model, get_spec
    from cifar_compare.torch_train import Recipe, make_optimizer, seed_everything, train_step

    if args.threads:
        torch.set_num_threads(args.threads)
    seed_everything(0)
    device = device_from_env()
    images, labels = (torch.from_numpy(a).to(device) for a in load_images(args))
    recipe = Recipe.from_config(model_config, get_spec(model_config["architecture"]))
    model = get_model(model_config["architecture"]).to(device, memory_format=torch.channels_last)
    model.train()
    optimizer, scheduler = make_optimizer(model, recipe, args.warmup + args.steps)
    generator = torch.Generator(device=device).manual_seed(0)
    order = torch.randperm(len(labels), generator=generator, device=device)

    def step(i):
        index = order[(i * recipe.batch_size) % len(labels) :][: recipe.batch_size]
        train_step(model, images[index], labels[index], recipe, optimizer, scheduler, generator)

    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    first_step, seconds = timed_steps(step, args.warmup, args.steps, sync)
    return {
        "train_flops_per_image": train_flops_per_image(model, recipe, device),
        "device": device_name(device),
        "train_images_loaded": len(labels),
        "batch_size": recipe.batch_size,
        "input_size": recipe.input_size,
        "first_step_seconds": first_step,
        "train_images_per_second": args.steps * recipe.batch_size / seconds,
        "peak_rss_mb": peak_rss_mb(),
        "peak_device_memory_mb": (
            torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
        ),
    }


if __name__ == "__main__":
    main(__doc__, __file__, "pytorch", measure_one)
