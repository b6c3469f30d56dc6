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

import harness
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


def matmul_references(device, precision):
    """The large-matmul steps timed beside a model: at its precision and in fp32."""
    import torch

    size = harness.matmul_size(device.type == "cuda")
    dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
    names = {"matmul": precision, "matmul_fp32": "fp32"}
    if precision == "fp32":
        names.pop("matmul_fp32")
    steps = {name: harness.torch_matmul_step(device, dtypes[p], size) for name, p in names.items()}
    return steps, size


def time_evaluation(model, images, recipe, args):
    """Evaluation images/s through the pipeline's own predict, one eval batch per step."""
    from cifar_compare.pytorch.train import predict

    size = args.eval_batch_size or recipe.batch_size

    def step(i):
        predict(model, images[(i * size) % len(images) :][:size], recipe)

    sync = harness.synchronizer(images.device)
    _, seconds = harness.timed_steps(step, 1, args.steps, sync, args.repeats)
    return args.steps * size / seconds


def measure_pipeline(model_config, args):
    """The pipeline's own training and evaluation of one model; its measurements."""
    import torch
    from cifar_compare.pytorch.adapter import PyTorch
    from cifar_compare.pytorch.models import set_batchnorm_eval
    from cifar_compare.runtime.resources import peak_rss_mb

    adapter = PyTorch()  # as a training job: its device, precision and determinism
    device_name = adapter.start(model_config, args.threads, model_config.get("precision"))
    device, recipe = adapter.device, adapter.recipe
    images, labels = (torch.from_numpy(a).to(device) for a in harness.load_images(args))
    network = adapter.build(None, 0)
    network.train()
    set_batchnorm_eval(network)
    model = torch.compile(network) if args.compile else network
    pipeline, make_staged = training_steps(model, images, labels, recipe)
    sync = harness.synchronizer(device)
    first_step = harness.first_step_seconds(pipeline, args.warmup, sync)
    eval_images_per_second = time_evaluation(model, images, recipe, args)
    peak_rss, peak_device = peak_rss_mb(), adapter.peak_device_memory_mb()  # a training job's
    network.train()
    set_batchnorm_eval(network)
    matmuls, size = matmul_references(device, recipe.precision)
    pipeline_stretch = harness.step_stretch(pipeline, args.warmup, args.steps, sync)
    best = harness.alternate_with_references(pipeline_stretch, make_staged(), matmuls, args, sync)
    return {
        "train_flops_per_image": train_flops_per_image(network, recipe, device),
        "compiled": args.compile,
        "compute_precision": recipe.precision,
        "device": device_name,
        "train_images_loaded": len(labels),
        "batch_size": recipe.batch_size,
        "input_size": recipe.input_size,
        "first_step_seconds": first_step,
        "train_images_per_second": args.steps * recipe.batch_size / best["pipeline"],
        "staged_images_per_second": args.steps * recipe.batch_size / best["staged"],
        **harness.interleaved_matmul_flops(size, best),
        "eval_images_per_second": eval_images_per_second,
        "peak_rss_mb": peak_rss,
        "peak_device_memory_mb": peak_device,
        **harness.auto_precision(adapter),
    }


if __name__ == "__main__":
    harness.main(
        __doc__, __file__, "pytorch", {"pipeline": measure_pipeline, "naive": measure_naive}
    )
