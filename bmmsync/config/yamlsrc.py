"""YAML with line numbers, and validation problems located as `file:line: key.path: message`.

Every problem a user sees about a config or model file points at the line to edit. PyYAML's
nodes carry positions; we keep them in a map from key path to line next to the plain data, so
validation (Pydantic, reference checks) can run on ordinary dicts and lists.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from pydantic_core.core_schema import ErrorType

from bmmsync.errors import ConfigError

KeyPath = tuple[str | int, ...]


class _LineLoader(yaml.SafeLoader):
    """SafeLoader without YAML 1.1's surprises, so Pydantic sees what the user typed.

    Dropped implicit types: timestamps (a bad date would fail inside PyYAML, without a key;
    Pydantic parses ISO dates with one), sexagesimal numbers (`snapshot_at: 12:30` must not
    become 750) and yes/no/on/off booleans (`ignore_types: [No]` stays a string; boolean fields
    still accept them through Pydantic).
    """

    yaml_implicit_resolvers = {
        first: [
            (tag, rx)
            for tag, rx in resolvers
            if tag
            not in {
                "tag:yaml.org,2002:timestamp",
                "tag:yaml.org,2002:int",
                "tag:yaml.org,2002:float",
                "tag:yaml.org,2002:bool",
            }
        ]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


_LineLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)
_LineLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"),
)
_LineLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?"
        r"|\.[0-9_]+(?:[eE][-+][0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


@dataclass(frozen=True)
class YamlDoc:
    """Parsed YAML data plus the line of every mapping key and sequence item.

    `prefix` is the key path of this document inside its file: an inline `model:` block of a
    config is a `YamlDoc` with prefix `("model",)`, so its problems read `model.capabilities[0]`
    with the config file's line numbers.
    """

    source: str
    data: Any
    lines: Mapping[KeyPath, int] = field(default_factory=dict)
    prefix: KeyPath = ()

    def line(self, path: KeyPath) -> int:
        """Line of `path`, or of its nearest ancestor that has one (a missing key's parent)."""
        full = self.prefix + tuple(path)
        for end in range(len(full), -1, -1):
            found = self.lines.get(full[:end])
            if found is not None:
                return found
        return 1

    def problem(self, path: KeyPath, message: str) -> str:
        """One located problem line: `file:line: key.path: message`."""
        shown = format_path(self.prefix + tuple(path))
        where = f"{self.source}:{self.line(path)}"
        return f"{where}: {shown}: {message}" if shown else f"{where}: {message}"

    def sub(self, key: str | int) -> YamlDoc:
        """The document under `key`, keeping this file's lines."""
        data: Any = None
        if isinstance(self.data, dict):
            data = self.data.get(key)
        elif isinstance(self.data, list) and isinstance(key, int) and key < len(self.data):
            data = self.data[key]
        return YamlDoc(self.source, data, self.lines, (*self.prefix, key))


def format_path(path: Iterable[str | int]) -> str:
    """`("sources", 1, "kind")` -> `sources[1].kind`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def load_yaml(path: Path) -> YamlDoc:
    """Read and parse one YAML file. Raises `ConfigError` (located) if unreadable or malformed."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror or exc}"]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{path}: cannot read: not UTF-8 text ({exc.reason})"]) from None
    return parse_yaml(text, str(path))


def parse_yaml(text: str, source: str) -> YamlDoc:
    """Parse YAML text; `source` is the name problems start with. Raises `ConfigError`."""
    loader = _LineLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
        lines: dict[KeyPath, int] = {}
        duplicates: list[str] = []
        if node is not None:
            _record_lines(loader, node, (), lines, duplicates, source)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        what = exc.problem or "malformed YAML"
        if exc.context and exc.context_mark:
            what += f" ({exc.context} at line {exc.context_mark.line + 1})"
        raise ConfigError([f"{source}:{line}: YAML syntax error: {what}"]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"{source}:1: YAML syntax error: {exc}"]) from None
    finally:
        loader.dispose()
    if duplicates:
        raise ConfigError(duplicates)
    return YamlDoc(source, data, lines)


def _record_lines(
    loader: _LineLoader,
    node: yaml.Node,
    path: KeyPath,
    lines: dict[KeyPath, int],
    duplicates: list[str],
    source: str,
) -> None:
    """Fill `lines` for `node`'s subtree; a repeated key (PyYAML keeps the last) is a problem."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int):
                continue
            line = key_node.start_mark.line + 1
            if key in seen:
                duplicates.append(
                    f"{source}:{line}: {format_path((*path, key))}: "
                    f"duplicate key (first at line {seen[key]})"
                )
                continue
            seen[key] = line
            lines[(*path, key)] = line
            _record_lines(loader, value_node, (*path, key), lines, duplicates, source)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*path, index)] = item.start_mark.line + 1
            _record_lines(loader, item, (*path, index), lines, duplicates, source)


# ---------------------------------------------------------------- Pydantic errors, located


_LOCATED = re.compile(r"^(.*?):(\d+): ")


def sort_problems(problems: Iterable[str]) -> list[str]:
    """Order problems by file and line, so the output reads top to bottom like the file."""

    def key(problem: str) -> tuple[str, int]:
        found = _LOCATED.match(problem)
        return (found.group(1), int(found.group(2))) if found else ("", 0)

    return sorted(problems, key=key)


def describe_value(value: Any) -> str:
    """A short, safe rendering of a bad input for `(got ...)`."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def suggest(word: str, choices: Iterable[str]) -> str | None:
    """The closest of `choices` to `word`, if any is close enough to be a likely typo."""
    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return found[0] if found else None


def unknown_key_message(key: str, allowed: Iterable[str]) -> str:
    allowed = sorted(allowed)
    close = suggest(key, allowed)
    if close:
        return f"unknown key; did you mean {close!r}?"
    return "unknown key; expected one of " + ", ".join(repr(a) for a in allowed)


def validation_problems(
    exc: ValidationError,
    doc: YamlDoc,
    root: type[BaseModel],
    *,
    loc_prefix: KeyPath = (),
    masked_keys: frozenset[str] = frozenset(),
    skip: Iterable[KeyPath] = (),
) -> list[str]:
    """Every error of `exc` as a located problem line.

    `root` is the model that was validated (to find allowed keys for a did-you-mean and to
    drop discriminator tags from locations); `loc_prefix` is where its input sits in `doc`.
    Inputs under a key in `masked_keys` are never shown (they may be secrets). Errors at or
    under a path in `skip` are dropped (already reported, e.g. a failed `${...}`).
    """
    skipped = [tuple(s) for s in skip]
    problems = []
    for error in exc.errors():
        path, owner = _walk_loc(root, error["loc"])
        full = loc_prefix + path
        if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
            full += (str(error.get("ctx", {})["discriminator"]).strip("'"),)
        if any(full[: len(s)] == s for s in skipped):
            continue
        masked = any(isinstance(p, str) and p in masked_keys for p in full)
        problems.append(doc.problem(full, _message(error, owner, masked)))
    return problems


def _message(error: ErrorDetails, owner: type[BaseModel] | None, masked: bool) -> str:
    kind = error["type"]
    ctx = error.get("ctx", {})
    got = "" if masked else f" (got {describe_value(error['input'])})"
    if kind == "extra_forbidden":
        key = str(error["loc"][-1])
        allowed = _aliases(owner) if owner else []
        return unknown_key_message(key, allowed) if allowed else "unknown key"
    if kind == "missing":
        return "required key is missing"
    if kind == "union_tag_invalid":
        return f"expected one of {ctx['expected_tags']} (got {describe_value(ctx['tag'])})"
    if kind == "union_tag_not_found":
        return "required key is missing"
    if kind in ("literal_error", "enum"):
        return f"expected one of {ctx['expected'].replace(' or ', ', ')}{got}"
    message = error["msg"]
    for noise in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(noise)
    message = message.replace("Input should be ", "expected ").replace(
        "Input should have ", "expected "
    )
    message = message[:1].lower() + message[1:]
    # Our own errors (value errors, PydanticCustomError) say what they got where it helps.
    return f"{message}{got}" if kind in _PYDANTIC_ERROR_TYPES else message


_PYDANTIC_ERROR_TYPES = frozenset(typing.get_args(ErrorType)) - {"value_error", "assertion_error"}


def _aliases(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


def _walk_loc(
    root: type[BaseModel], loc: tuple[str | int, ...]
) -> tuple[KeyPath, type[BaseModel] | None]:
    """Follow a Pydantic error location through the model types.

    Returns the location as a key path in the YAML (discriminator tags dropped) and the model
    that owns the last key (whose fields an unknown key should be compared with).
    """
    path: list[str | int] = []
    current: Any = root
    owner: type[BaseModel] | None = root
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            owner = current
            fields = current.model_fields
            match = next(
                (f for n, f in fields.items() if part in (n, f.alias)),
                None,
            )
            current = match.annotation if match else None
            path.append(part)
        elif isinstance(current, list):  # union members: `part` is a discriminator tag
            chosen = next((m for m in current if _tag_of(m) == part), None)
            if chosen is None:
                path.append(part)
            current = chosen
        elif typing.get_origin(current) in (list, tuple, set, frozenset):
            current = typing.get_args(current)[0] if typing.get_args(current) else None
            path.append(part)
        elif typing.get_origin(current) is dict:
            args = typing.get_args(current)
            current = args[1] if args else None
            path.append(part)
        else:
            path.append(part)
            current = None
            owner = None
    return tuple(path), owner


def _unwrap(tp: Any) -> Any:
    """Strip Annotated and Optional; a union of models becomes a list of its members."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
            continue
        if origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(members) == 1:
                tp = members[0]
                continue
            return members
        return tp


def _tag_of(model: Any) -> Any:
    if isinstance(model, type) and issubclass(model, BaseModel):
        kind = model.model_fields.get("kind")
        if kind is not None:
            args = typing.get_args(kind.annotation)
            return args[0] if args else kind.default
    return None
