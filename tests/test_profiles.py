"""The shipped cluster profile's resources, read as Snakemake reads them (no SLURM needed).

tests/test_slurm.py checks a retry's memory on a real SLURM under profiles/test-slurm,
whose resources replace the shipped ones; this checks the shipped profiles/slurm.
"""

import pytest
import yaml
from conftest import REPO

SHIPPED = yaml.safe_load((REPO / "profiles/slurm/config.yaml").read_text())
CLUSTER_RULES = [
    "prepare_data",
    "train_pytorch",
    "train_keras",
    "evaluate_pytorch",
    "evaluate_keras",
]


def resource_at(value, attempt):
    """A resource as Snakemake evaluates it: a number, or an expression of `attempt`."""
    if isinstance(value, str):
        return eval(value, {"__builtins__": {}}, {"attempt": attempt})  # noqa: S307
    return value


def test_shipped_profile_retries_failed_jobs():
    assert SHIPPED["retries"] >= 1


@pytest.mark.parametrize("rule", CLUSTER_RULES)
@pytest.mark.parametrize("resource", ["mem_mb", "runtime"])
def test_shipped_profile_doubles_memory_and_time_on_retry(rule, resource):
    value = SHIPPED["set-resources"][rule][resource]
    first, retry = resource_at(value, 1), resource_at(value, 2)
    assert first > 0 and retry == 2 * first, (rule, resource, value)


def test_every_cluster_rule_has_its_resources():
    assert set(SHIPPED["set-resources"]) == set(CLUSTER_RULES)
    gpu_rules = [rule for rule in CLUSTER_RULES if rule != "prepare_data"]
    assert all(SHIPPED["set-resources"][rule]["gpu"] == 1 for rule in gpu_rules)
