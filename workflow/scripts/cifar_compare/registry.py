"""The lookup both frameworks' model registries share."""


def lookup(registry, name, framework):
    """registry[name], or an error that lists the known architectures."""
    try:
        return registry[name]
    except KeyError:
        known = ", ".join(sorted(registry))
        raise KeyError(f"unknown {framework} architecture {name!r}; known: {known}") from None
