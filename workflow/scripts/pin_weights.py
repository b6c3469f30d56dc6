"""Pin the full sha256 of weights files whose publisher gives none, or only a prefix
(MobileNetV2; AlexNet's 8 hex digits): an explicit user action.

    python workflow/scripts/pin_weights.py [--configfile OVERLAY ...] [NAME ...]
    python workflow/scripts/pin_weights.py NAME --file /data/copy.h5

Without names it pins every weights file the study's enabled models use that needs
a pin and has none yet, fetching each from where the study's config says,
`weights.sources.<name>.url` (a local file or a mirror: an offline machine), else its
official URL; a source's `sha256`, where given, must match. With --file it pins the
sha256 of a local copy you trust. Either way the pin is only as trustworthy as the
copy it hashes. A file whose sha256 does
not start with the published prefix is never pinned. The lock file,
config/weights.lock.json of this checkout, is replaced atomically under a lock, so
concurrent pins neither corrupt it nor lose each other's entries. Fetch jobs only
read it.
"""

import argparse
import sys
import tempfile
from pathlib import Path

from cifar_compare.config import load_study_config
from cifar_compare.data.download import fetch_verified
from cifar_compare.fileio import file_digest
from cifar_compare.messages import redact_url
from cifar_compare.weights import (
    LOCK_FILE,
    check_published_prefix,
    needs_pin,
    official_entry,
    pin_sha256,
    read_lock,
)


def unpinned_names(config, lock_path):
    """Weights of the enabled models that need a pin and have none, in config order."""
    pins = read_lock(lock_path)
    names = [m["weights"] for m in config["models"].values() if m["enabled"] and m["weights"]]
    return list(dict.fromkeys(n for n in names if needs_pin(n) and n not in pins))


def source_sha256(name, config):
    """(sha256, source) of `name` fetched, bounded, to a temporary file from the config's
    `weights.sources.<name>` (whose `sha256`, if any, must match), else its official URL."""
    entry = official_entry(name)
    source = config["weights"]["sources"].get(name, {})
    url = source.get("url") or entry["url"]
    with tempfile.TemporaryDirectory(prefix="pin-weights-") as folder:
        target = Path(folder) / "weights"
        sha256 = fetch_verified(
            url,
            target,
            "sha256",
            source.get("sha256"),
            f"weights.sources.{name}.url",
            max_bytes=entry["max_bytes"],
        )
    return sha256, redact_url(url)


def main(argv, lock_path=LOCK_FILE):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="weights names (default: the study's unpinned)")
    parser.add_argument(
        "--configfile", nargs="*", action="extend", default=[], help="config overlays"
    )
    parser.add_argument("--file", type=Path, help="pin this local file's sha256 (one name)")
    parser.add_argument("--replace", action="store_true", help="replace a different pin")
    args = parser.parse_args(argv)
    if args.file and len(args.names) != 1:
        parser.error("--file pins exactly one NAME")
    config = load_study_config(args.configfile)
    names = args.names or unpinned_names(config, lock_path)
    for name in names:
        if args.file:
            sha256, source = file_digest(args.file, "sha256"), str(args.file)
        else:
            sha256, source = source_sha256(name, config)
        check_published_prefix(name, sha256)
        before = pin_sha256(lock_path, name, sha256, args.replace)
        change = "already pinned" if before == sha256 else "pinned"
        print(f"{name}: {change} sha256 {sha256} (from {source}) in {lock_path}")
    if not names:
        print(f"nothing to pin: every weights file the study uses is verifiable ({lock_path})")


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except (ValueError, KeyError, OSError, RuntimeError) as error:
        sys.exit(f"pin_weights: {error}")
