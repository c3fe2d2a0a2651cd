"""Logging: one line per notable event, key=value or JSON, secrets masked.

A log line may carry tracker text, so neither format lets a value start a new line, forge a
`key=value` pair, or replace the fields a log collector keys on (time, level, message)."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

from bmmsync.config.secrets import MaskingFilter
from bmmsync.untrusted import visible

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}
_RESERVED = ("time", "level", "logger", "message", "exception")
# A bare value is one word of plain characters; anything else is quoted and escaped.
_BARE = re.compile(r"[^\s=\"'\\\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_NOISY = ("httpx", "httpcore", "urllib3", "github", "uvicorn.access", "alembic", "apscheduler")


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    """The record's `extra=` fields; one named like a reserved field gets an `extra_` prefix."""
    out: dict[str, Any] = {}
    for key, value in record.__dict__.items():
        if key not in _STANDARD:
            out[f"extra_{key}" if key in _RESERVED else key] = value
    return out


def _quoted(value: object) -> str:
    """`value` bare when it is one plain word, else in double quotes with JSON escapes
    (so `=`, quotes, newlines and control characters can neither split nor forge a pair)."""
    text = str(value)
    return text if _BARE.fullmatch(text) else visible(json.dumps(text, ensure_ascii=False))


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        message = record.getMessage()
        shown = _quoted(message) if "=" in message else visible(message)
        line = f"{stamp} {record.levelname.lower()} {record.name}: {shown}"
        pairs = " ".join(f"{_quoted(k)}={_quoted(v)}" for k, v in _extras(record).items())
        if pairs:
            line += " " + pairs
        if record.exc_info or record.exc_text:
            line += "\n" + (record.exc_text or self.formatException(record.exc_info))  # type: ignore[arg-type]
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {
            **_extras(record),
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info or record.exc_text:
            doc["exception"] = record.exc_text or self.formatException(record.exc_info)  # type: ignore[arg-type]
        return json.dumps(doc, default=str)


def configure_logging(level: str = "warning", fmt: str = "text") -> None:
    """Log to stderr. The masking filter sits on the handler, so every record passes it.

    Idempotent: each call replaces the previous handler (the CLI calls it once with the
    command line's options, then again when the config file's `logging` section is known)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else KeyValueFormatter())
    handler.addFilter(MaskingFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for noisy in _NOISY:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
