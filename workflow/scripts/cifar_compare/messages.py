"""Error messages about untrusted input: one line, bounded length, whatever the input holds."""

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
