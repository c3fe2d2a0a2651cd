"""Secret values: `${...}` substitution in config strings, a masked type, and log masking.

A secret enters bmmsync only through the config loader, which wraps it in `Secret` (masked in
repr/str/JSON) and registers it here, so `MaskingFilter` can scrub it from any log line that
still manages to carry it (an exception message from an HTTP library, for example).
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from pydantic import SecretStr

MASK = "***"
# Shorter values would mask ordinary words in every log line; tokens are never this short.
MIN_MASKED_LENGTH = 4

_SUBSTITUTION = re.compile(r"\$\$\{|\$\{([^}]*)\}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

_lock = threading.Lock()
_known: set[str] = set()


class Secret(SecretStr):
    """A string that shows as `***` in repr, str and logs; `get_secret_value()` reveals it."""

    def _display(self) -> str:
        return MASK


class SecretUrl(Secret):
    """A URL whose password part is secret: it shows with the password masked.

    Used for `store.url`, so a summary can still say which database it is.
    """

    def _display(self) -> str:
        return mask_url_password(self.get_secret_value())


def mask_url_password(url: str) -> str:
    """`postgresql://u:pw@h/db` -> `postgresql://u:***@h/db`; URLs without a password unchanged."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo, _, hostinfo = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{hostinfo}"))


def url_password(url: str) -> str | None:
    return urlsplit(url).password


class SubstitutionError(ValueError):
    """A `${...}` reference could not be resolved; the message names what is missing."""


def substitute(
    text: str, *, base_dir: Path, environ: Mapping[str, str] | None = None
) -> tuple[str, bool]:
    """Resolve `${VAR}`, `${VAR:-default}` and `${file:PATH}` in `text`; `$${` is a literal `${`.

    Returns the new text and whether anything was substituted. An unset or empty variable
    without a default is an error (use `${VAR:-}` to allow empty). A relative `file:` path is
    relative to `base_dir` (the config file's directory); trailing newlines are stripped.
    Raises `SubstitutionError` on the first reference that cannot be resolved.
    """
    env = os.environ if environ is None else environ
    changed = False

    def replace(match: re.Match[str]) -> str:
        nonlocal changed
        if match.group(0) == "$${":
            return "${"
        changed = True
        ref = match.group(1)
        if ref.startswith("file:"):
            return _read_secret_file(ref[len("file:") :], base_dir)
        name, has_default, default = ref.partition(":-")
        if not _ENV_NAME.fullmatch(name):
            raise SubstitutionError(
                f"invalid reference ${{{ref}}}; expected ${{NAME}}, ${{NAME:-default}}"
                " or ${file:/path}"
            )
        value = env.get(name)
        if value:
            return value
        if has_default:
            return default
        state = "is not set" if value is None else "is empty"
        raise SubstitutionError(f"environment variable {name} {state}")

    return _SUBSTITUTION.sub(replace, text), changed


def _read_secret_file(raw: str, base_dir: Path) -> str:
    path = Path(raw).expanduser()
    if not path.is_absolute():
        path = base_dir / path
    try:
        return path.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise SubstitutionError(f"cannot read secret file {path}: {exc.strerror or exc}") from None


def register_secret(value: str) -> None:
    """Remember `value` so `mask` and `MaskingFilter` replace it with `***` from now on."""
    if len(value) >= MIN_MASKED_LENGTH:
        with _lock:
            _known.add(value)


def mask(text: str) -> str:
    """Replace every registered secret in `text` with `***` (longest first, so overlaps hide)."""
    with _lock:
        values = sorted(_known, key=len, reverse=True)
    for value in values:
        if value in text:
            text = text.replace(value, MASK)
    return text


_STANDARD_RECORD_KEYS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class MaskingFilter(logging.Filter):
    """Scrub registered secrets from a log record: message, arguments, traceback, extras.

    Attach it to *handlers* (`handler.addFilter(MaskingFilter())`): a filter on a logger does
    not see records propagated from its child loggers. `install_masking()` does this for you.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask(record.exc_text)
        if record.stack_info:
            record.stack_info = mask(record.stack_info)
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD_RECORD_KEYS and isinstance(value, str):
                setattr(record, key, mask(value))
        return True


def install_masking(logger: logging.Logger | None = None) -> None:
    """Add a `MaskingFilter` to every handler of `logger` (the root logger by default)."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, MaskingFilter) for f in handler.filters):
            handler.addFilter(MaskingFilter())
