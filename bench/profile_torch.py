"""Where one PyTorch training step's time goes: batch preparation vs the model, and
the top operators, from torch.profiler. Evidence for the benchmark's figures.

    .venv/bin/python bench/profile_torch.py --models alexnet_pretrained_pytorch --steps 3

Uses the pipeline's own functions on synthetic data of the real shapes (the
harness's arguments apply); prints a table per model and writes nothing.
"""

import sys

from cifar_compare.config import load_study_config
from harness import load_images, parse_args, selected_models


def profile_model(model_config, args):
    import torch
    from cifar_compare.pytorch.adapter import PyTorch
    from cifar_compare.pytorch.train import make_optimizer, model_ready_batch, optimization_step
    from torch.profiler import ProfilerActivity, profile, record_function

    adapter = PyTorch()  # as a training job: its device and precision
    adapter.start(model_config, args.threads, model_config.get("precision"))
    device, recipe = adapter.device, adapter.recipe
    images, labels = (torch.from_numpy(a).to(device) for a in load_images(args))
    model = adapter.build(None, 0).train()
    optimizer, scheduler = make_optimizer(model, recipe, 100)
    generator = torch.Generator(device=device).manual_seed(0)

    def step(i):
        index = torch.arange(i * recipe.batch_size, (i + 1) * recipe.batch_size, device=device)
        with record_function("prepare batch"):
            x = model_ready_batch(images[index], recipe, generator)
        with record_function("optimisation step"):
            optimization_step(model, x, labels[index], recipe, optimizer, scheduler)

    for i in range(args.warmup):
        step(i)
    activities = [ProfilerActivity.CPU] + [ProfilerActivity.CUDA] * (device.type == "cuda")
    with profile(activities=activities) as profiler:
        for i in range(args.steps):
            step(args.warmup + i)
        if device.type == "cuda":
            torch.cuda.synchronize()
    events = profiler.key_averages()
    sort_key = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    phases = {
        e.key: e.cpu_time_total for e in events if e.key in ("prepare batch", "optimisation step")
    }
    total = sum(phases.values())
    for name, micros in phases.items():
        print(f"{name}: {micros / 1e6 / args.steps:.3f} s per step ({micros / total:.0%})")
    print(events.table(sort_by=sort_key, row_limit=12))


def main(argv=None):
    args = parse_args(__doc__, sys.argv[1:] if argv is None else argv)
    models = selected_models(load_study_config(args.configfile), "pytorch", args.models)
    for name, model_config in models.items():
        print(f"== {name}")
        profile_model(model_config, args)


if __name__ == "__main__":
    main()
