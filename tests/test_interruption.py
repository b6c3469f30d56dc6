"""Killed training jobs resume where they stopped, to the same result; runs with the same
seed and precision train the same weights, so give the same metrics (docs/reruns.md).

One study is run twice from scratch. The first (reference) run trains every model without a
break. The second SIGTERMs each fp32 model's training once its first epoch is saved, then is
resumed: resumed == reference is the resume promise and, the two runs being separate runs
of one seed, the same-seed promise in fp32. The bf16 copies train without a break in both
runs: reference == second run is the same-seed promise in bf16 (auto picks bf16 on CPUs
with AMX or AVX512-BF16), for both frameworks. "The same" is what training leaves: the
weights bit for bit, the checkpoint's record and the history, less what measures time
or memory (evaluation is a function of the weights, so the runs stop before it).
"""

import csv
import hashlib
import json
import os
import re
import subprocess
import sys

import h5py
import pytest
import torch
from cifar_compare.config import load_study_config
from conftest import TWO_JOBS_AT_A_TIME, copy_workflow, inputs_overlay, snakemake, write_overlay

INTERRUPTED = ["alexnet_scratch_pytorch", "alexnet_scratch_keras"]  # in fp32
BF16 = {f"{name}_bf16": name for name in INTERRUPTED}  # the same recipes in bf16
EPOCHS = 3  # stopped after epoch 1: two epochs left to resume
TIMING_FIELDS = ("wall_seconds", "images_per_second", "peak_rss_mb", "peak_device_memory_mb")
HISTORY_TIMING_COLUMNS = ("epoch_seconds", "images_per_second", "peak_rss_mb")


def study_models(config_files):
    """The overlay's models: the scratch pair in fp32 for EPOCHS epochs with weight
    averaging (whose average a resumed run must restore too), their bf16 copies (the
    tiny recipe in bf16) and the pretrained models left out."""
    tiny = load_study_config(config_files)["models"]
    fp32 = {"epochs": EPOCHS, "precision": "fp32", "ema_decay": 0.9}
    models = {name: fp32 for name in INTERRUPTED}
    models.update({copy: {**tiny[name], "precision": "bf16"} for copy, name in BF16.items()})
    for name in set(tiny) - set(INTERRUPTED):
        models[name] = {"enabled": False}
    return models


def study_workdir(path, test_inputs):
    workdir = copy_workflow(path)
    overlay = inputs_overlay(test_inputs)
    overlay["models"] = study_models([workdir / "config/test.yaml"])
    write_overlay(workdir / "inputs.yaml", overlay)
    return workdir


TARGETS = [f"results/models/{name}/seed0/history.csv" for name in [*INTERRUPTED, *BF16]]
RUN = [*TWO_JOBS_AT_A_TIME, "--keep-going", *TARGETS, "--configfile", "config/test.yaml"]


def digest(data):
    return hashlib.sha256(data).hexdigest()[:16]


def tensor_digest(tensor):
    """The digest of a tensor's bytes, whatever its dtype (bf16 has no numpy type)."""
    return digest(bytes(tensor.reshape(-1).view(torch.uint8).numpy()))


def weight_digests(run):
    """Each weight array's digest, from the model's PyTorch or Keras checkpoint."""
    if (run / "checkpoint.pt").is_file():
        checkpoint = torch.load(run / "checkpoint.pt", weights_only=True)
        state = checkpoint.pop("state_dict")
        return {name: tensor_digest(tensor) for name, tensor in state.items()}, checkpoint
    arrays = {}

    def add_array(name, item):  # returns None: h5py's visit stops at any other value
        if isinstance(item, h5py.Dataset):
            arrays[name] = digest(item[()].tobytes())

    with h5py.File(run / "checkpoint.weights.h5", "r") as weights:
        weights.visititems(add_array)
    return arrays, json.loads((run / "checkpoint.json").read_text())


def stable_training(workdir, model):
    """What the model's training job left, less the fields that measure time or memory:
    its weights' digests, its checkpoint's record and its history."""
    run = workdir / f"results/models/{model}/seed0"
    weights, record = weight_digests(run)
    assert weights, f"{run} holds no weights"
    for field in TIMING_FIELDS:
        record["train_summary"].pop(field)
    with open(run / "history.csv", newline="") as history:
        rows = [
            {k: v for k, v in row.items() if k not in HISTORY_TIMING_COLUMNS}
            for row in csv.DictReader(history)
        ]
    return {"weights": weights, "record": record, "history": rows}


def saved_epoch(workdir, model):
    state = workdir / f"results/resume/{model}/seed0/state.json"
    return json.loads(state.read_text())["epoch"] if state.is_file() else 0


# SIGTERMs an fp32 training job at its "epoch 1/" line, which is logged once epoch 1 is
# saved: the stop lands mid-training at a known epoch, with no timing window. The signal
# comes from the job's own process, as `kill` or a scheduler's would: the code path
# (the handler, the step in progress ending, the log line) is the same.
TERM_AT_FIRST_EPOCH_LINE = """
import logging, os, signal, sys

handle = logging.Logger.handle

def term_once(logger, record):
    handled = handle(logger, record)
    job = getattr(sys.modules.get("__main__"), "snakemake", None)
    model = getattr(getattr(job, "wildcards", None), "model", None)
    message = record.getMessage()
    if model in {models!r} and message.startswith("epoch 1/") and " train_loss=" in message:
        try:
            os.close(os.open(os.path.join({folder!r}, model), os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            return handled
        os.kill(os.getpid(), signal.SIGTERM)
    return handled

logging.Logger.handle = term_once
"""


def interrupt_each_training_job(workdir, hook):
    """Run the study, each fp32 training job SIGTERMed at its first epoch line; returns
    the epoch each stopped job kept, by model."""
    (hook / "stopped").mkdir(parents=True)
    code = TERM_AT_FIRST_EPOCH_LINE.format(models=INTERRUPTED, folder=str(hook / "stopped"))
    (hook / "sitecustomize.py").write_text(code)
    path = [str(hook), os.environ.get("PYTHONPATH")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, path))}
    with open(workdir / "console.txt", "w") as console:
        run = subprocess.run(
            [sys.executable, "-m", "snakemake", "--cores", "2", *RUN, "inputs.yaml"],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=console,
            stderr=subprocess.STDOUT,
        )
    assert run.returncode != 0, "the run should fail: its training jobs were stopped"
    stopped = [path.name for path in (hook / "stopped").iterdir()]
    return {model: saved_epoch(workdir, model) for model in stopped}


@pytest.mark.pipeline
def test_killed_training_resumes_to_the_uninterrupted_result(tmp_path, test_inputs):
    reference = study_workdir(tmp_path / "reference", test_inputs)
    snakemake(reference, *RUN, "inputs.yaml")
    interrupted = study_workdir(tmp_path / "interrupted", test_inputs)
    stopped_at = interrupt_each_training_job(interrupted, tmp_path / "hook")
    console = (interrupted / "console.txt").read_text()[-3000:]
    assert sorted(stopped_at) == sorted(INTERRUPTED), console
    kept = {model: saved_epoch(interrupted, model) for model in INTERRUPTED}
    for model, epoch in kept.items():
        assert epoch == 1  # the state of the last finished epoch is kept
        assert not (interrupted / f"results/models/{model}/seed0/history.csv").exists()
        log = (interrupted / f"results/logs/train/{model}/seed0.log").read_text()
        assert "stopped by SIGTERM" in log
    for model in BF16:  # not interrupted: the same seed trains the same model in bf16
        trained = stable_training(interrupted, model)
        assert trained["record"]["train_summary"]["precision"] == "bf16"
        assert trained == stable_training(reference, model), model
    snakemake(interrupted, *RUN, "inputs.yaml")
    for model, epoch in kept.items():
        log = (interrupted / f"results/logs/train/{model}/seed0.log").read_text()
        assert f"resuming after epoch {epoch}" in log
        assert f"epoch {epoch + 1}/{EPOCHS}" in log.split("resuming")[-1]
        assert not (interrupted / f"results/resume/{model}").exists()  # cleaned up
        trained = stable_training(interrupted, model)
        assert trained["record"]["train_summary"]["precision"] == "fp32"
        assert len(trained["history"]) == EPOCHS
        assert trained == stable_training(reference, model), model


def test_a_state_from_other_data_or_weights_is_discarded_not_resumed(tmp_path):
    from cifar_compare.runtime.interruption import ResumeDir, fingerprint

    files = {}
    for name in ("data", "other_data", "weights", "other_weights"):
        files[name] = tmp_path / name
        files[name].write_bytes(name.encode())
    (tmp_path / "same_data").write_bytes(b"data")  # a copy elsewhere: the same content
    config, state = {"epochs": 3}, tmp_path / "resume/model/seed0"

    def save_state(data, weights):
        resume = ResumeDir(state, fingerprint(config, 0, files[data], files[weights]))
        resume.epoch_file(1, ".pt").write_bytes(b"epoch 1 weights")
        resume.save_record({"epoch": 1, "history": []})

    def resumed_epoch(data_path, weights_path):
        record = ResumeDir(state, fingerprint(config, 0, data_path, weights_path)).load_record()
        return record and record["epoch"]

    save_state("data", "weights")
    assert resumed_epoch(tmp_path / "same_data", files["weights"]) == 1
    for data_path, weights_path in [
        (files["other_data"], files["weights"]),  # other prepared data
        (files["data"], files["other_weights"]),  # other pretrained weights
        (files["data"], None),  # no pretrained weights
    ]:
        save_state("data", "weights")
        assert resumed_epoch(data_path, weights_path) is None
        assert not state.exists()  # the foreign state is removed, not kept
    save_state("data", "weights")
    other_seed = ResumeDir(state, fingerprint(config, 1, files["data"], files["weights"]))
    assert other_seed.load_record() is None


@pytest.mark.parametrize(
    "record, message",
    [
        ({"epoch": 1, "history": [], "file": "../../x"}, "names '../../x' as a state file"),
        ({"epoch": 1, "history": [], "file": "/etc/passwd"}, "names '/etc/passwd' as a state"),
        ({"epoch": 1, "history": [], "file": "epoch1.d/../../x"}, "names 'epoch1.d/../../x' as"),
        ({"epoch": "1", "history": []}, "not a resume record (epoch, history)"),
    ],
    ids=["parent-folders", "absolute", "through-a-folder", "epoch-not-a-number"],
)
def test_a_state_record_naming_files_outside_its_folder_is_refused(tmp_path, record, message):
    """state.json is read back from disk: the files it names stay in its own folder."""
    from cifar_compare.pytorch.train import TorchTrainer
    from cifar_compare.runtime.interruption import BadResumeState, ResumeDir

    (tmp_path / "x").write_bytes(b"outside")
    state = tmp_path / "resume/m/seed0"
    state.mkdir(parents=True)
    (state / "state.json").write_text(json.dumps({**record, "fingerprint": "f"}))
    resume = ResumeDir(state, "f")
    with pytest.raises(BadResumeState) as refused:
        TorchTrainer.restore(None, resume, resume.load_record(), same_phase=False)
    assert str(refused.value).startswith(f"{state}/state.json: ") and message in str(refused.value)


# A sitecustomize module on the jobs' PYTHONPATH: the moment a train_pytorch job has
# written an epoch's line ("epoch k/N train_loss=…", not a progress line) to its log,
# it SIGKILLs its process group, Snakemake included, as a node loss would: no delay
# in which a state saved after the line could still be written.
KILL_AT_EPOCH_LINE = """
import logging, os, re, signal, sys

handle = logging.Logger.handle

def kill_after_epoch_line(logger, record):
    handled = handle(logger, record)
    job = getattr(sys.modules.get("__main__"), "snakemake", None)
    if getattr(job, "rule", None) == "train_pytorch" and re.match(
        r"epoch \\d+/\\d+ train_loss=", record.getMessage()
    ):
        os.killpg(os.getpgid(0), signal.SIGKILL)
    return handled

logging.Logger.handle = kill_after_epoch_line
"""
HARD_KILLED = "alexnet_scratch_pytorch"
HARD_KILL_EPOCHS = 3
HARD_KILL_RUN = ["--configfile", "config/test.yaml", "inputs.yaml"]


def run_training(workdir, hook=None):
    """Train HARD_KILLED alone in its own process group; the log of this attempt."""
    env = dict(os.environ)
    if hook:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(hook), env.get("PYTHONPATH")]))
    target = f"results/models/{HARD_KILLED}/seed0/history.csv"
    subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "1", "--nolock", target, *HARD_KILL_RUN],
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        start_new_session=True,
    )
    log = (workdir / f"results/logs/train/{HARD_KILLED}/seed0.log").read_text()
    return log.split("--- attempt")[-1]


@pytest.mark.pipeline
def test_a_job_killed_right_after_an_epoch_line_resumes_after_that_epoch(tmp_path, test_inputs):
    """SIGKILL (scancel --full, node loss) the instant each epoch's line is logged: the
    next run resumes after that epoch, every time, and the last run finishes."""
    workdir = copy_workflow(tmp_path / "wf")
    overlay = inputs_overlay(test_inputs)
    tiny = load_study_config([workdir / "config/test.yaml"])["models"]
    overlay["models"] = {name: {"enabled": False} for name in tiny if name != HARD_KILLED}
    # fp32: no precision probe at the start of each of its four attempts
    overlay["models"][HARD_KILLED] = {"epochs": HARD_KILL_EPOCHS, "precision": "fp32"}
    write_overlay(workdir / "inputs.yaml", overlay)
    hook = tmp_path / "kill-at-epoch-line"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(KILL_AT_EPOCH_LINE)
    for epoch in range(1, HARD_KILL_EPOCHS + 1):
        attempt = run_training(workdir, hook)
        if epoch > 1:
            assert f"resuming after epoch {epoch - 1} " in attempt, attempt
        assert re.search(rf"^.* epoch {epoch}/{HARD_KILL_EPOCHS} train_loss=", attempt, re.M)
        assert f"epoch {epoch + 1}/" not in attempt  # killed at the line, not later
    attempt = run_training(workdir)
    assert f"resuming after epoch {HARD_KILL_EPOCHS} " in attempt, attempt
    history = (workdir / f"results/models/{HARD_KILLED}/seed0/history.csv").read_text()
    assert len(history.splitlines()) == 1 + HARD_KILL_EPOCHS
    assert not (workdir / f"results/resume/{HARD_KILLED}").exists()
