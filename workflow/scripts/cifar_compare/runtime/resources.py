"""Measurements of the running process and machine, recorded with every result."""

import os
import platform
import resource
import sys

from cifar_compare.runtime.environment import cpu_model


def peak_rss_mb():
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_name():
    """How metrics files name a CPU device."""
    return f"cpu ({cpu_model()}, {os.cpu_count()} cores)"


def library_versions(*modules):
    versions = {"python": sys.version.split()[0], "platform": platform.platform()}
    for module in modules:
        versions[module.__name__] = str(getattr(module, "__version__", "unknown"))
    return versions
