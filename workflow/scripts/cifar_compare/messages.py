"""Error messages about untrusted input: one line, bounded length, whatever the input holds,
and URLs without the secrets they may carry."""

import urllib.parse

NAME_LIMIT = 80
LINE_LIMIT = 600


def clip(text, limit=NAME_LIMIT):
    """`text` on one printable line of at most `limit` characters (a name in a message)."""
    text = "".join(char if char.isprintable() else "?" for char in str(text)[: limit + 1])
    return text if len(text) <= limit else text[: limit - 3] + "..."


def one_line(text, limit=LINE_LIMIT):
    """A whole message on one line of at most `limit` characters."""
    return clip(" ".join(str(text)[: limit * 4].split()), limit)


def known_entry(table, name, what):
    """table[name], or a KeyError saying that `name` is an unknown `what`, listing the known."""
    try:
        return table[name]
    except KeyError:
        known = ", ".join(sorted(table))
        raise KeyError(f"unknown {what} {name!r}; known: {known}") from None


def redact_url(url):
    """`url` as it may be logged, recorded or shown: user and password, query string and
    fragment (where credentials, signatures and tokens travel) become ***; the scheme,
    host and path stay, to say where the file came from. A local path is kept as it is."""
    text = str(url)
    try:
        parts = urllib.parse.urlsplit(text)
    except ValueError:
        return "(a URL that cannot be parsed)"
    if len(parts.scheme) <= 1:  # a plain or Windows path
        return text
    host = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit(
        (
            parts.scheme,
            f"***@{host}" if "@" in parts.netloc else host,
            parts.path,
            "***" if parts.query else "",
            "***" if parts.fragment else "",
        )
    )


def without_secrets(text, url):
    """`text` (an error about `url`) with what redact_url hides replaced by ***: a library's
    message may quote the URL's password (http.client: "nonnumeric port: 'pass@host'")."""
    try:
        parts = urllib.parse.urlsplit(str(url))
    except ValueError:
        return "(a message about a URL that cannot be parsed)"
    userinfo = parts.netloc.rpartition("@")[0]
    secrets = {userinfo, userinfo.partition(":")[2], parts.query, parts.fragment} - {""}
    for secret in sorted(secrets, key=len, reverse=True):
        text = str(text).replace(secret, "***")
    return text
