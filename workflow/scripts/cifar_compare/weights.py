"""Known pretrained weight files, and fetching them with a provenance record."""

from pathlib import Path

from cifar_compare.download import fetch_verified

# The official files and their published hashes. torchvision publishes the
# first 8 hex digits of the sha256 in the file name and checks only that prefix
# (torch.hub's check_hash); we check the same.
OFFICIAL_WEIGHTS = {
    "alexnet_imagenet1k_v1": {
        "url": "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
        "sha256": "7be5be79",
        "framework": "pytorch",
    },
}


class UnofficialWeightsError(RuntimeError):
    pass


def official_entry(name):
    try:
        return OFFICIAL_WEIGHTS[name]
    except KeyError:
        known = ", ".join(sorted(OFFICIAL_WEIGHTS))
        raise KeyError(f"unknown weights {name!r}; known: {known}") from None


def fetch_weights(name, url, destination, allow_unofficial):
    """Copy the weights file and return its provenance record.

    A file whose hash differs from the official one is refused unless
    `allow_unofficial`; then the record says plainly that it is not official.
    """
    entry = official_entry(name)
    url = url or entry["url"]
    config_key = f"weights.sources.{name}.url"
    digest = fetch_verified(url, destination, "sha256", None, config_key)
    official = digest.startswith(entry["sha256"])
    if not official and not allow_unofficial:
        Path(destination).unlink()
        raise UnofficialWeightsError(
            f"{url}: sha256 {digest} does not match the official {name} weights "
            f"({entry['sha256']}…). Point {config_key} at the official file, or set "
            "weights.allow_unofficial: true to run with these weights (every result "
            "will then be marked as using unofficial weights)."
        )
    return {
        "name": name,
        "source": str(url),
        "file": str(destination),
        "sha256": digest,
        "official_sha256": entry["sha256"],
        "official": official,
    }
