"""Benchmark PyTorch training and evaluation per configured model.

Not a test: it measures this machine. Each model runs in its own process so its
peak RSS is its own. The whole training set (50,000 images by default, as uint8
at 32x32) is loaded on the training device, exactly as the pipeline does. Per
model: training img/s through the pipeline's own step, the same step on
pre-staged model-ready tensors (the data pipeline's overhead), evaluation img/s,
peak host and device memory, time to the first step, and counted FLOPs per image
as a share of the same run's matmul FLOP/s. With --compile the model goes through
torch.compile (its compile time shows in the time to the first step). With
--naive, the tutorial-style baseline (bench/naive_torch.py) runs beside it.

    .venv/bin/python bench/bench_torch.py --naive                # models of config/config.yaml
    .venv/bin/python bench/bench_torch.py --configfile config/quick.yaml --steps 10
    .venv/bin/python bench/bench_torch.py --models alexnet_pretrained_pytorch --batch-size 128

Writes bench/out/pytorch.json and bench/out/pytorch.csv and prints the tables.
"""

from harness import (
    best_of_alternating,
    first_step_seconds,
    load_images,
    main,
    matmul_flops_per_second,
    matmul_size,
    step_stretch,
    timed_steps,
    torch_matmul_step,
)
from naive_torch import measure_naive


def train_flops_per_image(model, recipe, device):
    """FLOPs of one training step (forward and backward) per image, counted by PyTorch."""
    import torch
    from cifar_compare.pytorch.data import to_model_input
    from torch.utils.flop_counter import FlopCounterMode

    batch = torch.zeros(2, 32, 32, 3, dtype=torch.uint8, device=device)
    with FlopCounterMode(display=False) as counter:
        model(to_model_input(batch, recipe.mean, recipe.std, recipe.input_size)).sum().backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops() / len(batch)


def peak_device_memory_mb(device):
    import torch

    return torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None


def synchronizer(device):
    import torch

    return torch.cuda.synchronize if device.type == "cuda" else (lambda: None)


def training_steps(model, images, labels, recipe):
    """(pipeline step, make_staged): the pipeline's own step from uint8 data, and a
    function making the optimisation step alone on two model-ready batches prepared
    beforehand (made only when called, so they stay out of the training peak)."""
    import torch
    from cifar_compare.pytorch.train import (
        make_optimizer,
        model_ready_batch,
        optimization_step,
        train_step,
    )

    optimizer, scheduler = make_optimizer(model, recipe, len(labels) // recipe.batch_size)
    generator = torch.Generator(device=images.device).manual_seed(0)
    order = torch.randperm(len(labels), generator=generator, device=images.device)

    def pipeline(i):
        index = order[(i * recipe.batch_size) % len(labels) :][: recipe.batch_size]
        train_step(model, images[index], labels[index], recipe, optimizer, scheduler, generator)

    def make_staged():
        batches = [order[i * recipe.batch_size :][: recipe.batch_size] for i in range(2)]
        ready = [(model_ready_batch(images[b], recipe, generator), labels[b]) for b in batches]

        def staged(i):
            x, y = ready[i % 2]
            optimization_step(model, x, y, recipe, optimizer, scheduler)

        return staged

    return pipeline, make_staged


def alternate_with_references(pipeline, staged, matmuls, args, sync):
    """Best seconds of pipeline steps, pre-staged steps and each matmul reference,
    timed in alternation after their warm-ups (the pipeline's is done already)."""
    first_step_seconds(staged, args.warmup, sync)
    for matmul in matmuls.values():
        first_step_seconds(matmul, 1, sync)
    stretches = {
        "pipeline": step_stretch(pipeline, args.warmup, args.steps, sync),
        "staged": step_stretch(staged, args.warmup, args.steps, sync),
        **{name: step_stretch(matmul, 1, 1, sync) for name, matmul in matmuls.items()},
    }
    return best_of_alternating(stretches, args.repeats)


def matmul_references(device, precision):
    """The large-matmul steps timed beside a model: at its precision and in fp32."""
    import torch

    size = matmul_size(device.type == "cuda")
    dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
    names = {"matmul": precision, "matmul_fp32": "fp32"}
    if precision == "fp32":
        names.pop("matmul_fp32")
    return {name: torch_matmul_step(device, dtypes[p], size) for name, p in names.items()}, size


def time_evaluation(model, images, recipe, args):
    """Evaluation images/s through the pipeline's own predict, one eval batch per step."""
    from cifar_compare.pytorch.train import predict

    size = args.eval_batch_size or recipe.eval_batch_size

    def step(i):
        predict(model, images[(i * size) % len(images) :][:size], recipe)

    _, seconds = timed_steps(step, 1, args.steps, synchronizer(images.device), args.repeats)
    return args.steps * size / seconds


def measure_pipeline(model_config, args):
    """The pipeline's own training and evaluation of one model; its measurements."""
    import torch
    from cifar_compare.pytorch.checkpoint import device_from_env, device_name
    from cifar_compare.pytorch.models import get_spec, set_batchnorm_eval
    from cifar_compare.pytorch.train import Recipe, seed_everything
    from cifar_compare.runtime.resources import peak_rss_mb
    from train_torch import build_model

    if args.threads:
        torch.set_num_threads(args.threads)
    seed_everything(0)
    device = device_from_env()
    images, labels = (torch.from_numpy(a).to(device) for a in load_images(args))
    spec = get_spec(model_config["architecture"])
    recipe = Recipe.from_config(model_config, spec).with_precision(device)
    network = build_model(model_config, None, device)
    network.train()
    set_batchnorm_eval(network)
    model = torch.compile(network) if args.compile else network
    pipeline, make_staged = training_steps(model, images, labels, recipe)
    sync = synchronizer(device)
    first_step = first_step_seconds(pipeline, args.warmup, sync)
    eval_images_per_second = time_evaluation(model, images, recipe, args)
    peak_rss, peak_device = peak_rss_mb(), peak_device_memory_mb(device)  # a training job's
    network.train()
    set_batchnorm_eval(network)
    matmuls, size = matmul_references(device, recipe.precision)
    best = alternate_with_references(pipeline, make_staged(), matmuls, args, sync)
    return {
        "train_flops_per_image": train_flops_per_image(network, recipe, device),
        "compiled": args.compile,
        "compute_precision": recipe.precision,
        "device": device_name(device),
        "train_images_loaded": len(labels),
        "batch_size": recipe.batch_size,
        "input_size": recipe.input_size,
        "first_step_seconds": first_step,
        "train_images_per_second": args.steps * recipe.batch_size / best["pipeline"],
        "staged_images_per_second": args.steps * recipe.batch_size / best["staged"],
        "interleaved_matmul_flops_per_second": matmul_flops_per_second(size, best["matmul"]),
        "interleaved_fp32_matmul_flops_per_second": matmul_flops_per_second(
            size, best.get("matmul_fp32", best["matmul"])
        ),
        "eval_images_per_second": eval_images_per_second,
        "peak_rss_mb": peak_rss,
        "peak_device_memory_mb": peak_device,
    }


if __name__ == "__main__":
    main(__doc__, __file__, "pytorch", {"pipeline": measure_pipeline, "naive": measure_naive})
