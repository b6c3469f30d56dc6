"""The offline path: `make run CONFIG=overlay.yaml` on a machine without network, from a
local archive and local weights files (docs/usage.md: Offline machines)."""

import hashlib
import json
import os
import shutil
import subprocess

import pytest
from cifar_fixtures import write_archive
from conftest import REPO, write_overlay
from workflow_copy import copy_workflow

pytestmark = pytest.mark.pipeline
MOBILENET = "mobilenet_v2_imagenet_no_top_96"  # the quick study's MobileNetV2 file
VENV = REPO / ".venv"
NO_NETWORK = "http://127.0.0.1:9"  # every http(s) fetch fails fast through this proxy


def make_run(workdir, *variables):
    """`make run` in `workdir` with the checkout's environment, taken as installed."""
    env = {k: v for k, v in os.environ.items() if k.lower() != "no_proxy"}
    env.update({key: NO_NETWORK for key in ("http_proxy", "https_proxy", "HTTP_PROXY")})
    env["HTTPS_PROXY"] = NO_NETWORK
    # PYTHON=false: were make to think the environment out of date, it would fail at
    # once rather than reinstall the checkout's .venv.
    command = ["make", "--no-print-directory", f"VENV={VENV}", "PYTHON=false", "GPU=no"]
    done = subprocess.run(
        [*command, "run", *variables],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    return output


@pytest.fixture
def offline(tmp_path):
    """A workflow copy (its own lock file) and an overlay naming only local files."""
    workdir = copy_workflow(tmp_path / "wf")
    for name in ("Makefile", "requirements.txt", "requirements-gpu.txt"):
        shutil.copy2(REPO / name, workdir / name)
    for name in ("requirements.txt", "requirements-gpu.txt"):
        os.utime(workdir / name, (0, 0))  # older than .venv/.installed: set up already
    files = tmp_path / "carried"
    files.mkdir()
    archive = files / "cifar-10-python.tar.gz"
    md5 = write_archive(archive)
    alexnet = files / "alexnet-owt-7be5be79.pth"
    alexnet.write_bytes(b"AlexNet's file, carried over")  # not fetched: dry run only
    mobilenet = files / f"{MOBILENET}.h5"
    mobilenet.write_bytes(b"MobileNetV2's 96 px file, carried over")
    sources = {"alexnet_imagenet1k_v1": {"url": str(alexnet)}, MOBILENET: {"url": str(mobilenet)}}
    overlay = {"data": {"url": f"file://{archive}", "md5": md5}, "weights": {"sources": sources}}
    write_overlay(workdir / "my-offline.yaml", overlay)
    return workdir, mobilenet


def test_make_run_with_an_offline_overlay_pins_and_fetches_local_files(offline):
    workdir, mobilenet = offline
    sha256 = hashlib.sha256(mobilenet.read_bytes()).hexdigest()
    dry = make_run(workdir, "CONFIG=my-offline.yaml", "SNAKEMAKE_ARGS=-n")
    # pin_weights read the overlay: the pin is the local file's, not the official URL's.
    assert f"{MOBILENET}: pinned sha256 {sha256} (from {mobilenet})" in dry
    lock = json.loads((workdir / "config" / "weights.lock.json").read_text())
    assert lock[MOBILENET] == sha256
    for rule in ("download_cifar", "fetch_weights", "train_keras", "report"):
        assert f"rule {rule}:" in dry or f"{rule} " in dry, dry[-3000:]
    # The local rules for real, still without network: the archive and the pinned file.
    targets = f"results/download/cifar-10-python.tar.gz results/weights/{MOBILENET}.h5"
    real = make_run(workdir, "CONFIG=my-offline.yaml", f"SNAKEMAKE_ARGS={targets}")
    assert "nothing to pin" in real  # pinned by the first run
    provenance = json.loads((workdir / f"results/weights/{MOBILENET}.h5.json").read_text())
    assert provenance["official"] and provenance["source"] == str(mobilenet)
    assert (workdir / "results/download/cifar-10-python.tar.gz").is_file()
    assert "The report:" not in real  # the report was no target of this run
