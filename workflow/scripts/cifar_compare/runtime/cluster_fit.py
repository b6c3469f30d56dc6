"""The pre-flight of a SLURM run: does every job's request (CPUs, memory, time, GPUs, at
each attempt) fit one node of its partition? SLURM lets a request no node can hold pend
forever (reason PartitionConfig) and Snakemake says nothing, so the run stops before
submitting anything, with one line per rule naming the setting to change (docs/cluster.md).
"""

import subprocess
from dataclasses import dataclass

# One line per node and partition: partition (the default one ends with *), CPUs,
# memory (MB), GRES, the partition's time limit.
SINFO = ["sinfo", "--Node", "--noheader", "--format", "%P|%c|%m|%G|%l"]
UNLIMITED = {"infinite", "unlimited"}


class ClusterError(RuntimeError):
    """sinfo failed or printed what cannot be read."""


@dataclass(frozen=True)
class Node:
    cpus: int
    mem_mb: int
    gpus: int
    max_minutes: int | None  # the partition's time limit; None: none


@dataclass(frozen=True)
class Request:
    """What one attempt of a rule's job asks SLURM for."""

    rule_name: str
    attempt: int
    partition: str | None  # None: the cluster's default partition
    cpus: int
    mem_mb: int
    gpus: int
    minutes: int | None


def limit_minutes(limit):
    """sinfo's time limit ([days-]hours:minutes:seconds, minutes:seconds or minutes) in
    whole minutes; None for no limit."""
    if limit.lower() in UNLIMITED:
        return None
    days, _, clock = limit.rpartition("-")
    parts = [int(part) for part in clock.split(":")]
    if len(parts) == 3 or (days and len(parts) == 2):  # hours:minutes[:seconds]
        hours, minutes = parts[0], parts[1]
    else:  # minutes[:seconds]
        hours, minutes = 0, parts[0]
    return (int(days or 0) * 24 + hours) * 60 + minutes


def gpu_count(gres):
    """GPUs in a GRES list such as `gpu:a100:4(S:0-1),shard:8` or `(null)`."""
    count = 0
    for entry in gres.split(","):
        fields = entry.split("(")[0].split(":")
        if fields[0] == "gpu":
            count += int(fields[-1]) if len(fields) > 1 and fields[-1].isdigit() else 1
    return count


def parse_sinfo(text):
    """(partition -> [Node], the default partition or None) from SINFO's output."""
    partitions, default = {}, None
    for line in filter(None, (line.strip() for line in text.splitlines())):
        try:
            name, cpus, mem_mb, gres, limit = line.split("|")
            node = Node(int(cpus), int(mem_mb), gpu_count(gres), limit_minutes(limit))
        except ValueError:
            raise ClusterError(f"cannot read this line of {' '.join(SINFO)}: {line!r}") from None
        if name.endswith("*"):
            name = default = name.removesuffix("*")
        partitions.setdefault(name, []).append(node)
    return partitions, default


def read_partitions():
    """parse_sinfo of this cluster's sinfo."""
    try:
        done = subprocess.run(SINFO, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as error:
        detail = getattr(error, "stderr", "") or error
        raise ClusterError(f"{' '.join(SINFO)} failed: {detail}") from None
    return parse_sinfo(done.stdout)


def fits(request, node):
    return (
        request.cpus <= node.cpus
        and request.mem_mb <= node.mem_mb
        and request.gpus <= node.gpus
        and (node.max_minutes is None or (request.minutes or 0) <= node.max_minutes)
    )


def retry_caps(first, nodes):
    """{"mem_mb", "runtime"}: the most a retry of `first` (a first attempt) may ask on
    `nodes`, the most memory of the nodes that hold its CPUs and GPUs and the time limit;
    {} when no node holds `first`."""
    holding = [node for node in nodes if fits(first, node)]
    if not holding:
        return {}
    return {"mem_mb": max(node.mem_mb for node in holding), "runtime": holding[0].max_minutes}


def grown(amount, attempt, cap=None):
    """`amount` times the attempt, no more than `cap` (None: no cap), never less than `amount`."""
    if cap is None:
        return amount * attempt
    return max(amount, min(amount * attempt, cap))


def shortfalls(request, nodes):
    """What of `request` no node of `nodes` has, each with the setting to change."""
    rule, time_limit = request.rule_name, nodes[0].max_minutes
    most = {name: max(getattr(node, name) for node in nodes) for name in ("cpus", "mem_mb", "gpus")}
    found = []
    if request.cpus > most["cpus"]:
        found.append(f"{request.cpus} CPUs (nodes have {most['cpus']}; set-threads: {rule})")
    if request.mem_mb > most["mem_mb"]:
        found.append(
            f"mem_mb={request.mem_mb} (nodes have {most['mem_mb']} MB; "
            f"set-resources: {rule}: mem_mb)"
        )
    if time_limit is not None and (request.minutes or 0) > time_limit:
        found.append(
            f"runtime={request.minutes} min (the time limit is {time_limit}; "
            f"set-resources: {rule}: runtime)"
        )
    if request.gpus > most["gpus"]:
        found.append(f"{request.gpus} GPUs (nodes have {most['gpus']}; slurm_partition)")
    if not found and not any(fits(request, node) for node in nodes):
        found.append("CPUs, memory and GPUs that no one node has together (set-threads, mem_mb)")
    return found


def unfit_line(request, partitions, default):
    """The line saying why `request` cannot run on its partition, or None if it can."""
    name = request.partition or default
    which = "retry" if request.attempt > 1 else "job"
    where = f"{request.rule_name} (attempt {request.attempt}, the {which})"
    if name not in partitions:
        known = ", ".join(sorted(partitions)) or "none"
        missing = f"partition {name!r}" if name else "no partition (and no default)"
        return f"{where}: {missing} in sinfo (partitions: {known}); set slurm_partition"
    found = shortfalls(request, partitions[name])
    return f"{where} asks partition {name!r} for " + ", ".join(found) if found else None


def unfit_lines(requests, partitions, default):
    """One line per rule with a request (its first attempt that fails) no node can hold."""
    lines = {}
    for request in sorted(requests, key=lambda r: (r.rule_name, r.attempt)):
        if request.rule_name not in lines:
            line = unfit_line(request, partitions, default)
            if line:
                lines[request.rule_name] = line
    return list(lines.values())
