"""Pin the sha256 of weights files whose publisher gives no hash (an explicit user action).

    python workflow/scripts/pin_weights.py [--configfile OVERLAY ...] [NAME ...]
    python workflow/scripts/pin_weights.py NAME --file /data/copy.h5

Without names it pins every weights file the study's enabled models use that has
no published hash and no pin yet, downloading each from its official URL. With
--file it pins the sha256 of a local copy you trust (an offline machine). The
lock file (weights.lock_file) is replaced atomically under a lock, so concurrent
pins neither corrupt it nor lose each other's entries. Fetch jobs only read it.
"""

import argparse
import sys
import tempfile
from pathlib import Path

from cifar_compare.config import ROOT, load_study_config
from cifar_compare.data.download import fetch_verified
from cifar_compare.fileio import file_digest
from cifar_compare.weights import official_entry, pin_sha256, read_lock


def unpinned_names(config):
    """Weights of the enabled models with no published hash and no pin, in config order."""
    pins = read_lock(ROOT / config["weights"]["lock_file"])
    names = [m["weights"] for m in config["models"].values() if m["enabled"] and m["weights"]]
    needed = [n for n in names if official_entry(n)["digest"] is None and n not in pins]
    return list(dict.fromkeys(needed))


def official_sha256(name):
    """Download `name` from its official URL to a temporary file and hash it."""
    with tempfile.TemporaryDirectory(prefix="pin-weights-") as folder:
        target = Path(folder) / "weights"
        entry = official_entry(name)
        return fetch_verified(
            entry["url"], target, "sha256", None, name, max_bytes=entry["max_bytes"]
        )


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="weights names (default: the study's unpinned)")
    parser.add_argument("--configfile", nargs="*", default=[], help="config overlays")
    parser.add_argument("--file", type=Path, help="pin this local file's sha256 (one name)")
    parser.add_argument("--replace", action="store_true", help="replace a different pin")
    args = parser.parse_args(argv)
    if args.file and len(args.names) != 1:
        parser.error("--file pins exactly one NAME")
    config = load_study_config(args.configfile)
    lock_path = ROOT / config["weights"]["lock_file"]
    names = args.names or unpinned_names(config)
    for name in names:
        sha256 = file_digest(args.file, "sha256") if args.file else official_sha256(name)
        before = pin_sha256(lock_path, name, sha256, args.replace)
        change = "already pinned" if before == sha256 else "pinned"
        print(f"{name}: {change} sha256 {sha256} in {lock_path}")
    if not names:
        print(f"nothing to pin: every weights file the study uses is verifiable ({lock_path})")


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except (ValueError, KeyError, OSError, RuntimeError) as error:
        sys.exit(f"pin_weights: {error}")
