"""The SLURM pre-flight's reading of sinfo and its verdicts, without a cluster
(cifar_compare.runtime.cluster_fit; tests/test_slurm.py runs it on the test SLURM)."""

import re

import pytest
from cifar_compare.runtime.cluster_fit import (
    ClusterError,
    Node,
    Request,
    grown,
    limit_minutes,
    parse_sinfo,
    retry_caps,
    unfit_lines,
)

# `sinfo --Node --noheader --format "%P|%c|%m|%G|%l"` of a small cluster: two kinds of
# GPU node in `gpu`, CPU nodes in the default partition `cpu`.
SINFO = """\
gpu|2|12000|gpu:a100:1(S:0)|2-00:00:00
gpu|8|64000|gpu:a100:4(S:0-1),shard:8|2-00:00:00
cpu*|16|32000|(null)|infinite
cpu*|16|32000|(null)|infinite
"""
SMALL_GPU_NODE = Node(cpus=2, mem_mb=12000, gpus=1, max_minutes=2880)


def request(rule="train_pytorch", attempt=1, partition="gpu", **asks):
    asks = {"cpus": 2, "mem_mb": 8000, "gpus": 1, "minutes": 120, **asks}
    return Request(rule, attempt, partition, **asks)


def test_sinfo_lines_become_nodes_per_partition():
    partitions, default = parse_sinfo(SINFO)
    assert default == "cpu"
    assert partitions["gpu"] == [SMALL_GPU_NODE, Node(8, 64000, 4, 2880)]
    assert partitions["cpu"] == [Node(16, 32000, 0, None)] * 2


@pytest.mark.parametrize(
    "limit, minutes",
    [("infinite", None), ("UNLIMITED", None), ("1-02:03:59", 1563), ("2:00:00", 120),
     ("30:00", 30), ("45", 45), ("3-04:05", 4565)],
)  # fmt: skip
def test_time_limits_are_read_in_whole_minutes(limit, minutes):
    assert limit_minutes(limit) == minutes


def test_an_unreadable_sinfo_line_is_an_error_that_shows_it():
    with pytest.raises(ClusterError, match=re.escape("gpu|two|12000")):
        parse_sinfo("gpu|two|12000|(null)|infinite\n")


def test_requests_a_node_holds_exactly_pass():
    partitions, default = parse_sinfo(SINFO)
    exact = request(cpus=8, mem_mb=64000, gpus=4, minutes=2880)
    on_default = request("prepare_data", partition=None, cpus=16, gpus=0, minutes=10_000)
    assert unfit_lines([exact, on_default], partitions, default) == []


def test_each_rule_that_cannot_fit_gets_one_line_naming_the_setting():
    partitions, default = parse_sinfo(SINFO)
    lines = unfit_lines(
        [
            request("train_pytorch", cpus=9),
            request("train_pytorch", attempt=2, cpus=9, mem_mb=128000),
            request("train_keras", mem_mb=64001),
            request("evaluate_keras", minutes=2881),
            request("evaluate_pytorch", partition=None),  # the default partition has no GPU
            request("prepare_data", partition="gpus"),
        ],
        partitions,
        default,
    )
    assert lines == [
        "evaluate_keras (attempt 1, the job) asks partition 'gpu' for runtime=2881 min "
        "(the time limit is 2880; set-resources: evaluate_keras: runtime)",
        "evaluate_pytorch (attempt 1, the job) asks partition 'cpu' for 1 GPUs "
        "(nodes have 0; slurm_partition)",
        "prepare_data (attempt 1, the job): partition 'gpus' in sinfo (partitions: cpu, gpu); "
        "set slurm_partition",
        "train_keras (attempt 1, the job) asks partition 'gpu' for mem_mb=64001 "
        "(nodes have 64000 MB; set-resources: train_keras: mem_mb)",
        "train_pytorch (attempt 1, the job) asks partition 'gpu' for 9 CPUs "
        "(nodes have 8; set-threads: train_pytorch)",
    ]


def test_a_retry_that_no_node_holds_is_named_as_the_retry():
    partitions, default = parse_sinfo(SINFO)
    retry = request(attempt=2, mem_mb=96000)
    assert unfit_lines([request(), retry], partitions, default) == [
        "train_pytorch (attempt 2, the retry) asks partition 'gpu' for mem_mb=96000 "
        "(nodes have 64000 MB; set-resources: train_pytorch: mem_mb)"
    ]


def test_a_request_split_across_nodes_fits_none():
    partitions, default = parse_sinfo(SINFO)
    lines = unfit_lines([request(cpus=8, mem_mb=8000, gpus=1)], partitions, default)
    assert lines == []  # the big node holds it
    small_and_big = {"gpu": [SMALL_GPU_NODE, Node(8, 64000, 0, 2880)]}
    lines = unfit_lines([request(cpus=8, gpus=1)], small_and_big, default)
    assert len(lines) == 1 and "no one node has together" in lines[0]


def test_retries_grow_up_to_what_the_nodes_hold():
    first = request(cpus=2, mem_mb=8000)
    caps = retry_caps(first, [SMALL_GPU_NODE])
    assert caps == {"mem_mb": 12000, "runtime": 2880}
    assert [grown(8000, attempt, caps["mem_mb"]) for attempt in (1, 2, 3)] == [8000, 12000, 12000]
    assert grown(120, 2, caps["runtime"]) == 240
    # Memory from the largest node that holds the job's CPUs and GPUs, not the largest.
    nodes = [Node(8, 32000, 1, 2880), Node(2, 64000, 1, 2880)]
    assert retry_caps(request(cpus=4), nodes)["mem_mb"] == 32000
    assert retry_caps(request(cpus=4), [SMALL_GPU_NODE]) == {}  # no node holds the first attempt


def test_without_a_cap_a_retry_doubles_and_a_cap_never_lowers_the_first_attempt():
    assert grown(8000, 2) == 16000
    assert grown(8000, 1, 6000) == 8000
    assert grown(8000, 2, 6000) == 8000
