"""Declaring and checking configuration options, for every component.

A configuration section is a dataclass whose fields are declared with
`option`, which records what `rlwatch init`, the generated configuration
reference and secret redaction need: a one-line help text, the environment
variable that sets the field, whether it is a secret. Sections check their
values in a ``validate()`` method with `require`.
"""

from __future__ import annotations

from dataclasses import field
from typing import Any

from rlwatch.errors import ConfigError


def option(default: Any, help: str, env: str = "", secret: bool = False, redact_as: str = "") -> Any:
    """A dataclass field with its documentation.

    Args:
        default: The default value (lists and dicts are copied per instance).
        help: One line saying what the option does (docs, ``rlwatch init``).
        env: Environment variable that sets it, if any.
        secret: Never shown or stored unredacted (tokens, URLs with keys).
        redact_as: How a secret is redacted: ``""`` replaces the whole value;
            ``"url"`` keeps a URL's scheme, host and path and removes only its
            credentials (a database URL), where the whole URL is the secret
            otherwise (a webhook URL).
    """
    meta: dict[str, Any] = {"help": help}
    if env:
        meta["env"] = env
    if secret:
        meta["secret"] = True
    if redact_as:
        meta["redact_as"] = redact_as
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


def require(condition: bool, message: str) -> None:
    """Raise `ConfigError(message)` unless `condition` holds."""
    if not condition:
        raise ConfigError(message)


def require_choice(path: str, value: str, choices: tuple[str, ...]) -> None:
    """Raise `ConfigError` naming the valid choices unless `value` is one of them."""
    if value not in choices:
        raise ConfigError(f"{path}: {value!r} is not valid; choose one of {', '.join(choices)}")


def require_k_of_n(k: int, n: int, key: str) -> None:
    """Check a k-of-n persistence pair named ``<key>_k`` / ``<key>_n``."""
    require(k >= 1, f"{key}_k must be >= 1, got {k}")
    require(n >= k, f"{key}_n must be >= {key}_k ({k}), got {n}")
    require(n <= 10_000, f"{key}_n must be <= 10000, got {n}")
