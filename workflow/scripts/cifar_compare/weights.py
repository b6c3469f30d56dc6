"""Known pretrained weight files, and fetching them with a provenance record."""

from pathlib import Path

from cifar_compare.download import fetch_verified
from cifar_compare.fileio import file_digest, read_json, write_json_atomic

KERAS_APPS = "https://storage.googleapis.com/tensorflow/keras-applications"
MOBILENET_V2_SIZES = (96, 128, 160, 192, 224)


MB = 10**6


def _entry(url, framework, algorithm, digest, max_bytes):
    """`max_bytes`: a ceiling well above the official file's size, so a download can stop."""
    return {
        "url": url,
        "framework": framework,
        "algorithm": algorithm,
        "digest": digest,
        "max_bytes": max_bytes,
    }


# The official files and the hashes their publishers check. torchvision puts the
# first 8 hex digits of the sha256 in the file name and checks that prefix
# (torch.hub's check_hash); Keras' own source lists md5s for VGG16, ResNet50 and
# EfficientNet. Keras publishes no hash for MobileNetV2 and does not check it:
# its sha256 is pinned in the lock file on first download (digest None here).
OFFICIAL_WEIGHTS = {
    "alexnet_imagenet1k_v1": _entry(
        "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
        "pytorch",
        "sha256",
        "7be5be79",
        300 * MB,  # the file is 244 MB
    ),
    "vgg16_imagenet_no_top": _entry(
        f"{KERAS_APPS}/vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "keras",
        "md5",
        "6d6bbae143d832006294945121d1f1fc",
        100 * MB,  # 59 MB
    ),
    "resnet50_imagenet_no_top": _entry(
        f"{KERAS_APPS}/resnet/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "keras",
        "md5",
        "4d473c1dd8becc155b73f8504c6f6626",
        150 * MB,  # 95 MB
    ),
    "efficientnet_b0_imagenet_no_top": _entry(
        "https://storage.googleapis.com/keras-applications/efficientnetb0_notop.h5",
        "keras",
        "md5",
        "50bc09e76180e00e4465e1a485ddc09d",
        50 * MB,  # 17 MB
    ),
    **{
        f"mobilenet_v2_imagenet_no_top_{size}": _entry(
            f"{KERAS_APPS}/mobilenet_v2/"
            f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_{size}_no_top.h5",
            "keras",
            "sha256",
            None,
            50 * MB,  # 9 MB at 224 px, less below
        )
        for size in MOBILENET_V2_SIZES
    },
}
FILE_SUFFIX = {"pytorch": "pth", "keras": "h5"}  # Keras picks its h5 loader by suffix


class UnofficialWeightsError(RuntimeError):
    pass


def official_entry(name):
    try:
        return OFFICIAL_WEIGHTS[name]
    except KeyError:
        known = ", ".join(sorted(OFFICIAL_WEIGHTS))
        raise KeyError(f"unknown weights {name!r}; known: {known}") from None


def file_suffix(name):
    return FILE_SUFFIX[official_entry(name)["framework"]]


def read_lock(path):
    return read_json(path) if Path(path).is_file() else {}


def judge_official(name, path, from_official_url, lock_path):
    """(official?, reference hash, how it was judged) for a fetched file."""
    entry = official_entry(name)
    if entry["digest"]:
        actual = file_digest(path, entry["algorithm"])
        basis = f"{entry['algorithm']} published for {name}"
        return actual.startswith(entry["digest"]), entry["digest"], basis
    pinned = read_lock(lock_path).get(name)
    actual = file_digest(path, "sha256")
    if pinned:
        return actual == pinned, pinned, f"sha256 pinned in {lock_path}"
    if from_official_url:
        write_json_atomic(lock_path, {**read_lock(lock_path), name: actual})
        return True, actual, f"sha256 pinned now, on first download, in {lock_path}"
    return False, None, "no published hash and none pinned yet; a local copy cannot be verified"


def fetch_weights(name, url, destination, allow_unofficial, lock_path):
    """Copy the weights file and return its provenance record.

    A file that is not the official one is refused unless `allow_unofficial`;
    then the record says plainly that it is not official.
    """
    entry = official_entry(name)
    source = url or entry["url"]
    config_key = f"weights.sources.{name}.url"
    sha256 = fetch_verified(
        source, destination, "sha256", None, config_key, max_bytes=entry["max_bytes"]
    )
    official, reference, basis = judge_official(name, destination, url is None, lock_path)
    if not official and not allow_unofficial:
        Path(destination).unlink()
        raise UnofficialWeightsError(
            f"{source}: sha256 {sha256} is not the official {name} weights "
            f"(checked against the {basis}: {reference}). Point {config_key} at the "
            "official file, or set weights.allow_unofficial: true to run with these "
            "weights (every result will then be marked as using unofficial weights)."
        )
    return {
        "name": name,
        "source": str(source),
        "file": str(destination),
        "sha256": sha256,
        "official_hash": reference,
        "checked_against": basis,
        "official": official,
    }
