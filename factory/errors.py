"""Domain errors: the CLI turns these into one-line messages and a non-zero exit."""


class FactoryError(Exception):
    """Something the user can fix: bad config, bad input, missing file."""


class ConfigError(FactoryError):
    """The run configuration is malformed."""


class MissingDependency(FactoryError):
    """An optional heavy dependency is not installed."""


def require(module: str, extra: str):
    """Import an optional dependency lazily, failing with the exact install command."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependency(
            f"{module} is not installed ({exc}); install it with: pip install -e '.[{extra}]'"
        ) from None
