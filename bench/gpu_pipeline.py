"""The tiny study end to end through Snakemake, then a check that every train and
evaluate job ran on a GPU (bench/gpu-check.sh runs it on the GPU machine).

Generates the test suite's tiny CIFAR-format archive and stand-in weights (no
network), runs all four models of config/test.yaml (the Keras ones on the JAX
backend, or --keras-backend) up to their metrics files, and reads each metrics
file's training and evaluation device. Exit status 1 if any job used the CPU.

    python3 bench/gpu_pipeline.py bench/out/gpu/pipeline
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))


def write_inputs(folder, keras_backend):
    """The tiny archive, stand-in weights and a config overlay pointing at them."""
    from cifar_compare.keras.runtime import native_stderr_filtered, quiet_wanted
    from cifar_fixtures import inputs_overlay, write_tiny_inputs

    if quiet_wanted():  # the stand-in Keras weights load the Keras backend here
        with native_stderr_filtered():
            import keras  # noqa: F401
    keras_models = ("alexnet_scratch_keras", "mobilenetv2_pretrained_keras")
    return {
        **inputs_overlay(write_tiny_inputs(folder)),
        "models": {name: {"backend": keras_backend} for name in keras_models},
    }


def metrics_targets(workdir):
    """Every enabled (model, seed) metrics file of the tiny study."""
    from cifar_compare.config import load_study_config

    config = load_study_config([str(workdir / "config" / "test.yaml")])
    return [
        f"results/metrics/{name}/seed{seed}.json"
        for name, model in config["models"].items()
        if model["enabled"]
        for seed in model["seeds"]
    ]


def cpu_jobs(workdir, targets):
    """(metrics file, job, device) of every train or evaluate job that ran on a CPU."""
    found = []
    for target in targets:
        metrics = json.loads((workdir / target).read_text())
        for job, device in (
            ("train", metrics["training"]["device"]),
            ("evaluate", metrics["evaluation_device"]),
        ):
            print(f"{target}: {job} on {device} in {metrics['training'].get('precision')}")
            if device.startswith("cpu"):
                found.append((target, job, device))
    return found


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", help="working folder (the study's results/ land in it)")
    # The workflow accepts tensorflow or torch; the GPU image has torch but no TensorFlow.
    parser.add_argument("--keras-backend", default="torch")
    parser.add_argument("--cores", default="all")
    args = parser.parse_args(argv)
    workdir = Path(args.out).resolve()
    from workflow_copy import copy_workflow

    copy_workflow(workdir)
    overlay = write_inputs(workdir / "inputs", args.keras_backend)
    (workdir / "inputs.yaml").write_text(yaml.safe_dump(overlay, sort_keys=False))
    targets = metrics_targets(workdir)
    # Up to four jobs share the one GPU at once (the tiny models need little memory):
    # a CUDA_VISIBLE_DEVICES set beforehand keeps the jobs off the GPU-slot queue.
    environ = {**os.environ, "CUDA_VISIBLE_DEVICES": os.environ.get("CUDA_VISIBLE_DEVICES", "0")}
    command = [sys.executable, "-m", "snakemake", "--cores", args.cores, "--resources", "gpu=4"]
    command += ["--configfile", "config/test.yaml", "inputs.yaml", "--", *targets]
    done = subprocess.run(command, cwd=workdir, env=environ)
    if done.returncode != 0:
        print(f"the tiny study failed (status {done.returncode}); logs in {workdir}/results/logs")
        return 1
    on_cpu = cpu_jobs(workdir, targets)
    for target, job, device in on_cpu:
        print(f"FAIL: the {job} job of {target} ran on {device}, not on a GPU")
    print(f"{len(targets) * 2 - len(on_cpu)} of {len(targets) * 2} train/evaluate jobs used a GPU")
    return 1 if on_cpu else 0


if __name__ == "__main__":
    sys.exit(main())
