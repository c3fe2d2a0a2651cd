"""The configuration reference (a Markdown table of every key), generated from the schema.

The README embeds it between `<!-- config-reference:start -->` and `<!-- config-reference:end -->`;
a test regenerates it and fails when the two differ, so the documentation cannot drift from the
code. Update both the README section and the editor schema with:

    python -m bmmsync.readme.config_reference --write README.md --schema config/bmmsync.schema.json
"""

from __future__ import annotations

import argparse
import json
import sys
import types
import typing
from collections.abc import Iterator
from datetime import time, timedelta
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from bmmsync.config.model_file import ModelFile
from bmmsync.config.settings import Config, config_json_schema, format_duration
from bmmsync.readme.sections import GeneratedSection


def render_reference() -> str:
    """Markdown table: key path, type, default, description, for every config key."""
    lines = ["| Key | Type | Default | Description |", "| --- | --- | --- | --- |"]
    for path, kind, default, description in _rows(Config, ""):
        cells = (f"`{path}`", kind, default, description)
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _rows(model: type[BaseModel], prefix: str) -> Iterator[tuple[str, str, str, str]]:
    for name, info in model.model_fields.items():
        if name == "kind" and prefix.endswith(")."):
            continue  # the discriminator is shown in the path: sources[] (github).
        path = f"{prefix}{name}"
        annotation = _strip_optional(info.annotation)
        members = _model_members(annotation)
        is_list = typing.get_origin(annotation) is list
        if members and members[0] is not ModelFile:
            suffix = "[]" if is_list else ""
            kind = "list" if is_list else "mapping"
            yield path + suffix, kind, _default(info), info.description or ""
            for member in members:
                tag = _kind_tag(member)
                inner = f"{path}{suffix} ({tag})." if tag else f"{path}{suffix}."
                yield from _rows(member, inner)
            continue
        yield path, _type_name(annotation), _default(info), info.description or ""


def _strip_optional(tp: Any) -> Any:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def _model_members(tp: Any) -> list[type[BaseModel]]:
    """The models a field holds: itself, a list's item, or a (discriminated) union's members."""
    if typing.get_origin(tp) is list:
        tp = typing.get_args(tp)[0]
    if typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    candidates = (
        typing.get_args(tp) if typing.get_origin(tp) in (typing.Union, types.UnionType) else (tp,)
    )
    return [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]


def _kind_tag(model: type[BaseModel]) -> str | None:
    kind = model.model_fields.get("kind")
    if kind is None:
        return None
    args = typing.get_args(kind.annotation)
    return str(args[0]) if args else None


def _type_name(tp: Any) -> str:
    tp = _strip_optional(tp)
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _type_name(typing.get_args(tp)[0])
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    if origin is list:
        return f"list of {_type_name(typing.get_args(tp)[0])}"
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp) if a is not type(None))
    if isinstance(tp, type):
        if tp is ModelFile:
            return "mapping (model file shape)"
        if issubclass(tp, BaseModel):
            return "mapping"
        if issubclass(tp, SecretStr):
            return "secret"
        if issubclass(tp, Enum):
            return " | ".join(repr(m.value) for m in tp)
        names = {timedelta: "duration", time: "time (HH:MM)", Path: "path"}
        return names.get(tp, tp.__name__)
    return str(tp)


def _default(info: FieldInfo) -> str:
    if info.is_required():
        return "required"
    value = info.get_default(call_default_factory=True)
    if value is None or isinstance(value, BaseModel):
        return ""
    return f"`{_show(value)}`"


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, SecretStr):
        return value.get_secret_value()  # only defaults are shown here, never a user's value
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)


def readme_section(text: str) -> str | None:
    return SECTION.current(text)


def with_reference(text: str) -> str:
    return SECTION.updated(text)


def schema_text() -> str:
    return json.dumps(config_json_schema(), indent=2) + "\n"


SECTION = GeneratedSection("config-reference", render_reference)
START, END = SECTION.start, SECTION.end


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bmmsync.readme.config_reference",
        description="Print the configuration reference, or update a README section with it.",
    )
    parser.add_argument("--write", type=Path, help="README to update between the markers")
    parser.add_argument("--schema", type=Path, help="also write the JSON Schema to this file")
    args = parser.parse_args(argv)
    if args.schema:
        args.schema.write_text(schema_text(), encoding="utf-8")
    if args.write is None:
        if not args.schema:
            sys.stdout.write(render_reference())
        return 0
    return SECTION.write(args.write)


if __name__ == "__main__":
    raise SystemExit(main())
