"""Known pretrained weight files, fetching them with a provenance record, pinning hashes."""

import fcntl
import hashlib
from pathlib import Path

from cifar_compare.data.download import fetch_verified
from cifar_compare.fileio import file_digest, read_json, write_json_atomic
from cifar_compare.messages import known_entry, redact_url

KERAS_APPS = "https://storage.googleapis.com/tensorflow/keras-applications"
MOBILENET_V2_SIZES = (96, 128, 160, 192, 224)
MB = 10**6
FIELDS = ("url", "framework", "algorithm", "digest", "max_bytes")
MOBILENET_V2 = f"{KERAS_APPS}/mobilenet_v2/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0"

# The lock file of this checkout: not a config key, so that no config overlay can
# point the check at hashes of its own choosing.
LOCK_FILE_NAME = "config/weights.lock.json"
LOCK_FILE = Path(__file__).resolve().parents[3] / LOCK_FILE_NAME
# The official files and the hashes their publishers check, each with a ceiling on
# its size well above the real one (in brackets), so a download can stop. torchvision
# puts the first 8 hex digits of the sha256 in the file name and checks that prefix
# (torch.hub's check_hash): 32 bits, which can be brute-forced, so the full sha256
# must be pinned in the lock file too. Keras' own source lists md5s for VGG16,
# ResNet50 and EfficientNet. Keras publishes no hash for MobileNetV2 and does not
# check it (digest None here). A pin is made by `pin_sha256`, an explicit user
# action (workflow/scripts/pin_weights.py, `make pin-weights`).
OFFICIAL_WEIGHTS = {
    name: dict(zip(FIELDS, entry, strict=True))
    for name, entry in {
        "alexnet_imagenet1k_v1": (
            "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
            *("pytorch", "sha256", "7be5be79", 300 * MB),  # (244 MB)
        ),
        "vgg16_imagenet_no_top": (
            f"{KERAS_APPS}/vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
            *("keras", "md5", "6d6bbae143d832006294945121d1f1fc", 100 * MB),  # (59 MB)
        ),
        "resnet50_imagenet_no_top": (
            f"{KERAS_APPS}/resnet/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
            *("keras", "md5", "4d473c1dd8becc155b73f8504c6f6626", 150 * MB),  # (95 MB)
        ),
        "efficientnet_b0_imagenet_no_top": (
            "https://storage.googleapis.com/keras-applications/efficientnetb0_notop.h5",
            *("keras", "md5", "50bc09e76180e00e4465e1a485ddc09d", 50 * MB),  # (17 MB)
        ),
        **{
            f"mobilenet_v2_imagenet_no_top_{size}": (
                f"{MOBILENET_V2}_{size}_no_top.h5",
                *("keras", "sha256", None, 50 * MB),  # (9 MB at 224 px, less below)
            )
            for size in MOBILENET_V2_SIZES
        },
    }.items()
}
FILE_SUFFIX = {"pytorch": "pth", "keras": "h5"}  # Keras picks its h5 loader by suffix
PUBLISHER = {"pytorch": "torchvision's file name", "keras": "Keras' source"}


class UnofficialWeightsError(RuntimeError):
    pass


def official_entry(name):
    return known_entry(OFFICIAL_WEIGHTS, name, "weights")


def file_suffix(name):
    return FILE_SUFFIX[official_entry(name)["framework"]]


def read_lock(path=LOCK_FILE):
    return read_json(path) if Path(path).is_file() else {}


def needs_pin(name):
    """True where the publisher gives no hash, or only a prefix of one: the file is
    official only with its full sha256 pinned in the lock file."""
    entry = official_entry(name)
    full_length = 2 * hashlib.new(entry["algorithm"]).digest_size
    return not entry["digest"] or len(entry["digest"]) < full_length


def published_check(name):
    """What the publisher's hash is, in words (None where there is none)."""
    entry = official_entry(name)
    if not entry["digest"]:
        return None
    publisher = PUBLISHER[entry["framework"]]
    if needs_pin(name):
        return f"{entry['algorithm']} prefix {entry['digest']} from {publisher}"
    return f"{entry['algorithm']} published in {publisher} for {name}"


def check_published_prefix(name, sha256):
    """Refuse to pin a file whose sha256 does not start with the published prefix."""
    entry = official_entry(name)
    if entry["algorithm"] == "sha256" and not sha256.startswith(entry["digest"] or ""):
        raise ValueError(
            f"{name}: sha256 {sha256} does not start with {entry['digest']}, the "
            f"{published_check(name)}: not the official file, not pinned"
        )


def pin_sha256(lock_path, name, sha256, replace=False):
    """Pin `name`'s sha256 in the lock file; returns the hash pinned before (or None).

    Concurrent pins wait for each other on a lock beside the lock file, which is
    replaced atomically, so readers never see half a file and no pin is lost. An
    existing different pin is kept unless `replace`.
    """
    official_entry(name)
    guard = Path(lock_path).with_name(f".{Path(lock_path).name}.flock")
    with open(guard, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        pins = read_lock(lock_path)
        before = pins.get(name)
        if before not in (None, sha256) and not replace:
            raise ValueError(
                f"{lock_path}: {name} is pinned to sha256 {before}, not {sha256}; "
                "pass --replace to pin the new file (every result made with it reruns)"
            )
        write_json_atomic(lock_path, dict(sorted({**pins, name: sha256}.items())))
        return before


def judge_official(name, path, pinned):
    """(official?, reference hash, what it was checked against) for a fetched file."""
    entry = official_entry(name)
    published = published_check(name)
    if entry["digest"] and not file_digest(path, entry["algorithm"]).startswith(entry["digest"]):
        return False, entry["digest"], published
    if not needs_pin(name):
        return True, entry["digest"], published
    if not pinned:
        return False, None, unpinned_check(published)
    return file_digest(path, "sha256") == pinned, pinned, pinned_check(published)


def pinned_check(published):
    if published:
        return f"{published} and full sha256 pinned in {LOCK_FILE_NAME}"
    return f"sha256 pinned in {LOCK_FILE_NAME} (its publisher gives no hash)"


def unpinned_check(published):
    if published:
        return f"{published} only, no full sha256 pinned in {LOCK_FILE_NAME}"
    return f"no published hash and no sha256 pinned in {LOCK_FILE_NAME}"


def refusal(name, source, sha256, reference, basis):
    if reference is None:
        return (
            f"{source}: {name} cannot be verified ({basis}). Pin the official file first: "
            f"`make pin-weights` (or `python workflow/scripts/pin_weights.py {name}`), then "
            "commit the lock file; or set weights.allow_unofficial: true to run with it "
            "marked unofficial."
        )
    return (
        f"{source}: sha256 {sha256} is not the official {name} weights "
        f"(checked against the {basis}: {reference}). Point weights.sources.{name}.url at the "
        "official file, or set weights.allow_unofficial: true to run with these "
        "weights (every result will then be marked as using unofficial weights)."
    )


def fetch_weights(name, url, destination, allow_unofficial, pinned=None, expected=None):
    """Copy the weights file and return its provenance record.

    `pinned` is the lock file's sha256 for `name` (the job never writes that file);
    `expected` a sha256 the configured source must have. A file that is not the
    official one is refused unless `allow_unofficial`; then the record says
    plainly that it is not official.
    """
    entry = official_entry(name)
    source = url or entry["url"]
    config_key = f"weights.sources.{name}.url"
    sha256 = fetch_verified(
        source, destination, "sha256", expected, config_key, max_bytes=entry["max_bytes"]
    )
    official, reference, basis = judge_official(name, destination, pinned)
    if not official and not allow_unofficial:
        Path(destination).unlink()
        raise UnofficialWeightsError(refusal(name, redact_url(source), sha256, reference, basis))
    return {
        "name": name,
        "source": redact_url(source),
        "file": str(destination),
        "sha256": sha256,
        "official_hash": reference,
        "checked_against": basis,
        "official": official,
    }
