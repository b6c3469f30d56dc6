"""Fetch a file from an http(s) URL, a file:// URL or a local path, verifying its checksum."""

import shutil
import tarfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from cifar_compare.fileio import atomic_path, file_digest

TIMEOUT_SECONDS = 60


class DownloadError(RuntimeError):
    pass


def _local_source(url):
    """Return a Path when `url` names a local file, else None."""
    parsed = urllib.parse.urlparse(str(url))
    if parsed.scheme == "file":
        return Path(urllib.request.url2pathname(parsed.path))
    if parsed.scheme in ("", "/") or len(parsed.scheme) == 1:  # plain or Windows path
        return Path(url)
    return None


def _copy_local(source, target, config_key):
    if not source.is_file():
        raise DownloadError(f"{config_key}: local file {source} does not exist or is not a file")
    shutil.copyfile(source, target)


def _copy_remote(url, target, config_key):
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
            with open(target, "wb") as handle:
                shutil.copyfileobj(response, handle)
    except (urllib.error.URLError, OSError) as error:
        raise DownloadError(
            f"could not download {url} ({error}). On a machine without internet access, "
            f"fetch the file elsewhere, copy it here and set {config_key} to its local "
            "path (or a file:// URL) and the matching checksum key to its checksum."
        ) from error


def fetch_verified(url, destination, algorithm, expected, config_key):
    """Copy `url` to `destination` only if its `algorithm` digest equals `expected`.

    `expected` may be a prefix of the digest (torchvision publishes 8 hex digits).
    Returns the full digest. Nothing is left at `destination` on failure.
    """
    source = _local_source(url)
    with atomic_path(destination) as tmp:
        if source is None:
            _copy_remote(url, tmp, config_key)
        else:
            _copy_local(source, tmp, config_key)
        digest = file_digest(tmp, algorithm)
        if expected and not digest.startswith(expected.lower()):
            raise DownloadError(
                f"{algorithm} of {url} is {digest}, expected {expected} "
                f"(config key {config_key}): the file is corrupt, truncated or not "
                "the one configured"
            )
    return digest


def check_tar_gz(path):
    """Read every member header of a gzip'd tar, so truncation is caught here."""
    try:
        with tarfile.open(path, "r:gz") as archive:
            for _ in archive:
                pass
    except (tarfile.TarError, EOFError, OSError) as error:
        raise DownloadError(f"{path} is not a readable .tar.gz archive: {error}") from error
