"""Rules declare what their jobs need; the shipped profiles only say what a site has.

tests/test_slurm.py checks on a real SLURM that a retry gets twice the memory; this
checks, without a cluster, where each setting is written.
"""

import re

import pytest
import yaml
from conftest import REPO, copy_workflow, snakemake

PROFILES = ["default", "slurm", "test-slurm"]
CLUSTER_RULES = [
    "prepare_data",
    "train_pytorch",
    "train_keras",
    "evaluate_pytorch",
    "evaluate_keras",
]
# What a job needs, which its rule declares (docs/cluster.md); a profile that repeated
# one would be a second place to change it.
JOB_NEEDS = {"threads", "mem_mb", "mem", "runtime", "cpus_per_task", "cpus_per_gpu", "gpu"}


def profile(name):
    return yaml.safe_load((REPO / "profiles" / name / "config.yaml").read_text())


def resource_names(settings):
    """Every resource a profile sets, for all jobs or for one rule."""
    names = set(settings.get("default-resources") or {})
    for per_rule in (settings.get("set-resources") or {}).values():
        names |= set(per_rule)
    return names


@pytest.mark.parametrize("name", PROFILES)
def test_profiles_leave_the_jobs_needs_to_the_rules(name):
    assert not resource_names(profile(name)) & JOB_NEEDS


def test_only_the_test_cluster_profile_sets_threads():
    """Its one node has 2 CPUs; the shipped profiles keep the rules' threads."""
    assert "set-threads" not in profile("default") and "set-threads" not in profile("slurm")
    assert set(profile("test-slurm")["set-threads"]) == set(CLUSTER_RULES)


def test_shipped_cluster_profile_retries_and_keeps_the_slurm_logs():
    shipped = profile("slurm")
    assert shipped["retries"] >= 1
    assert shipped["slurm-keep-successful-logs"] is True
    assert shipped["slurm-pass-command-as-script"] is True  # no shell re-reads file names


def planned_needs(plan):
    """Rule -> (threads, resources line) of each job in a dry-run plan (the last job
    of a rule wins: they all declare the same). A job of one thread shows none."""
    jobs = {}
    for block in re.split(r"^rule ", plan, flags=re.M)[1:]:
        threads = re.search(r"^\s+threads: (\d+)$", block, re.M)
        resources = re.search(r"^\s+resources: (.+)$", block, re.M)
        jobs[block.split(":")[0]] = (int(threads[1]) if threads else 1, resources[1])
    return jobs


def test_rules_declare_threads_memory_and_time_without_a_profile(tmp_path):
    workdir = copy_workflow(tmp_path / "wf")
    plan = snakemake(
        workdir,
        "-n",
        "--workflow-profile",
        "none",
        "--cores",
        "8",
        "--configfile",
        "config/test.yaml",
    ).stdout
    needs = planned_needs(plan)
    for rule in CLUSTER_RULES:
        threads, resources = needs[rule]
        assert re.search(r"\bmem_mb=\d+", resources) and re.search(r"\bruntime=\d+", resources)
        assert ("gpu=1" in resources) == (rule != "prepare_data"), rule
        assert threads > 1 or rule == "prepare_data", rule  # more than the one thread of old
