"""Packaging: the wheel's package list is complete, and the Dockerfile is sound."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_directory_is_listed_in_pyproject() -> None:
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("bmmsync", "connectors")
        for init in (ROOT / top).rglob("__init__.py")
    } | {"bmmsync.migrations", "bmmsync.examples"}
    assert listed == found


def test_third_party_connectors_entry_point_group() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "bmmsync.connectors" in project["entry-points"]
    assert project["scripts"]["bmmsync"] == "bmmsync.cli.main:main"


def _instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            rows.append((word.upper(), rest.strip()))
    return rows


def test_dockerfile_parses_and_copies_existing_files() -> None:
    rows = _instructions()
    known = {"FROM", "WORKDIR", "COPY", "RUN", "USER", "VOLUME", "ENV", "ENTRYPOINT", "CMD"}
    assert {word for word, _ in rows} <= known | {"HEALTHCHECK"}
    health = [rest for word, rest in rows if word == "HEALTHCHECK"]
    assert len(health) == 1 and "127.0.0.1:8080/livez" in health[0]
    froms = [rest for word, rest in rows if word == "FROM"]
    assert len(froms) >= 2, "multi-stage build"
    for image in froms:
        version = re.search(r"python:(\d+)\.(\d+)-slim", image)
        assert version and (int(version[1]), int(version[2])) >= (3, 11)
    for word, rest in rows:
        if word == "COPY" and not rest.startswith("--from"):
            *sources, _dest = rest.split()
            for src in sources:
                assert (ROOT / src).exists(), f"Dockerfile copies missing {src}"
    users = [rest for word, rest in rows if word == "USER"]
    assert users and users[-1] not in {"root", "0"}
    assert ("ENTRYPOINT", '["bmmsync"]') in rows
    assert any(word == "VOLUME" for word, _ in rows)
