"""Fetch a file from an http(s) URL, a file:// URL or a local path, bounded and verified.

The source is untrusted: it is copied in chunks with a size ceiling (checked
against Content-Length up front and while streaming) and an overall deadline,
and its checksum is computed while it streams. Only transient network errors
(refused or reset connections, timeouts, HTTP 5xx) are retried, here, a few
times within the deadline; a wrong checksum, an oversized or a malformed file
fails at once (the rules have no `retries:` so it is never fetched again).
"""

import hashlib
import http.client
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from cifar_compare.fileio import (
    CHUNK_BYTES,
    atomic_path,
    file_digest,
    remove_stale_partials,
    write_json_atomic,
)
from cifar_compare.messages import clip, one_line, redact_url, without_secrets

MIB = 2**20
# The official archive is 170,498,071 bytes; ../shared's full-size rebuild 174 MB.
CIFAR_MAX_BYTES = 200 * MIB
OFFICIAL_CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"  # cifar-10-python.tar.gz
SOCKET_TIMEOUT_SECONDS = 60
DEADLINE_SECONDS = 3600  # for the whole fetch, retries included
ATTEMPTS = 3
RETRY_PAUSE_SECONDS = 10
TRANSIENT_HTTP_CODES = {408, 429, 500, 502, 503, 504}
OFFLINE_HINT = (
    "On a machine without internet access, fetch the file elsewhere, copy it here and set {} "
    "to its local path (or a file:// URL) and the matching checksum key to its checksum."
)


class DownloadError(RuntimeError):
    pass


class TransientDownloadError(DownloadError):
    """A network failure that a later attempt may not meet."""


def _local_source(url):
    """Return a Path when `url` names a local file, else None."""
    parsed = urllib.parse.urlparse(str(url))
    if parsed.scheme == "file":
        return Path(urllib.request.url2pathname(parsed.path))
    if parsed.scheme in ("", "/") or len(parsed.scheme) == 1:  # plain or Windows path
        return Path(url)
    return None


def _open_local(source, config_key):
    """(stream, size) of a local file."""
    if not source.is_file():
        raise DownloadError(
            f"{config_key}: local file {clip(source)} does not exist or is not a file"
        )
    return open(source, "rb"), source.stat().st_size


def _open_remote(url, config_key, deadline):
    """(response, the size the server declares or 0)."""
    timeout = max(1.0, min(SOCKET_TIMEOUT_SECONDS, deadline - time.monotonic()))
    try:
        response = urllib.request.urlopen(url, timeout=timeout)
    except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
        code = getattr(error, "code", None)  # an HTTPError's status
        reason = f"HTTP {code}" if code else getattr(error, "reason", error)
        reason = one_line(without_secrets(reason, url), 200)
        transient = code is None or code in TRANSIENT_HTTP_CODES
        kind = TransientDownloadError if transient else DownloadError
        hint = OFFLINE_HINT.format(config_key)
        raise kind(f"could not download {clip(redact_url(url))} ({reason}). {hint}") from None
    declared = response.headers.get("Content-Length", "")
    return response, int(declared) if declared.isdigit() else 0


def _copy_bounded(stream, handle, digest, max_bytes, deadline, where):
    """Copy `stream` into `handle` and `digest`; refuse past `max_bytes` or `deadline`."""
    copied = 0
    # read1: whatever has arrived, so a slow source cannot block past the deadline
    while chunk := stream.read1(CHUNK_BYTES):
        copied += len(chunk)
        if copied > max_bytes:
            raise DownloadError(
                f"{where}: sent more than {max_bytes} bytes, the most a genuine copy can "
                "have; stopped"
            )
        if time.monotonic() > deadline:
            raise DownloadError(f"{where}: not complete after the {DEADLINE_SECONDS} s deadline")
        handle.write(chunk)
        digest.update(chunk)


def _fetch_once(url, tmp, algorithm, max_bytes, config_key, deadline):
    source = _local_source(url)
    where = f"{clip(redact_url(url))} (config key {config_key})"
    if source is None:
        stream, size = _open_remote(url, config_key, deadline)
    else:
        stream, size = _open_local(source, config_key)
    digest = hashlib.new(algorithm)
    try:
        with stream, open(tmp, "wb") as handle:
            if size > max_bytes:  # refused before a byte is copied
                raise DownloadError(
                    f"{config_key}: {clip(redact_url(url))} "
                    f"{'declares' if source is None else 'has'} "
                    f"{size} bytes, more than the {max_bytes} a genuine copy can have"
                )
            _copy_bounded(stream, handle, digest, max_bytes, deadline, where)
    except (OSError, http.client.HTTPException) as error:
        reason = one_line(without_secrets(f"{type(error).__name__}: {error}", url), 200)
        kind = TransientDownloadError if source is None else DownloadError
        raise kind(f"{where}: copy failed ({reason})") from None
    return digest.hexdigest()


def fetch_verified(
    url, destination, algorithm, expected, config_key, *, max_bytes, checksum_key=None
):
    """Copy `url` to `destination` only if its `algorithm` digest equals `expected`.

    `expected` may be a prefix of the digest (torchvision publishes 8 hex digits).
    Returns the full digest. Nothing is left at `destination` on failure.
    """
    remove_stale_partials(destination)  # left by a fetch that was killed
    deadline = time.monotonic() + DEADLINE_SECONDS
    with atomic_path(destination) as tmp:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                digest = _fetch_once(url, tmp, algorithm, max_bytes, config_key, deadline)
                break
            except TransientDownloadError:
                if attempt == ATTEMPTS or time.monotonic() + RETRY_PAUSE_SECONDS > deadline:
                    raise
                time.sleep(RETRY_PAUSE_SECONDS)
        if expected and not digest.startswith(expected.lower()):
            keys = f"config key {config_key}" + (f", {checksum_key}" if checksum_key else "")
            raise DownloadError(
                f"{algorithm} of {clip(redact_url(url))} is {digest}, expected "
                f"{clip(expected, 64)} ({keys}): the file is corrupt, truncated or not the one "
                "configured"
            )
    return digest


def verify_file(path, algorithm, expected, checksum_key):
    """Refuse `path` unless it is at most CIFAR_MAX_BYTES and its digest is `expected`."""
    size = Path(path).stat().st_size
    if size > CIFAR_MAX_BYTES:
        raise DownloadError(f"{clip(path)} has {size} bytes, more than {CIFAR_MAX_BYTES}")
    digest = file_digest(path, algorithm)
    if digest != expected.lower():
        raise DownloadError(
            f"{clip(path)}: {algorithm} {digest} is not {checksum_key} {clip(expected, 64)}: "
            "the file changed after it was downloaded; delete it and rerun to fetch it "
            f"again, or correct {checksum_key}"
        )
    return digest


def check_tar_gz(path):
    """Walk the CIFAR archive's members as prepare will (bounded), so a bad file fails here."""
    from cifar_compare.data.archive import ArchiveError, read_members

    try:
        for _ in read_members(path):
            pass
    except ArchiveError as error:
        raise DownloadError(
            one_line(f"{clip(path)} is not a readable .tar.gz archive ({error.reason})")
        ) from None


def write_download_provenance(destination, url, archive, md5):
    """Record where the archive was fetched from (no secrets), its md5 and size, beside it."""
    provenance = {
        "url": redact_url(url),
        "md5": md5,
        "bytes": Path(archive).stat().st_size,
        "official": md5 == OFFICIAL_CIFAR10_MD5,
    }
    write_json_atomic(destination, provenance)
