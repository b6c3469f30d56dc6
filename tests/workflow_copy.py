"""A private copy of the workflow to run Snakemake in (tests and bench/gpu_pipeline.py)."""

import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORKFLOW_PARTS = ["Snakefile", "workflow", "config", "profiles", "envs"]


def copy_workflow(target):
    """Copy the workflow into `target`, so a run has its own results/ and .snakemake/."""
    target.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for part in WORKFLOW_PARTS:
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, target / part, ignore=ignore, dirs_exist_ok=True)
        else:
            shutil.copy2(source, target / part)
    return target
