"""Packaging: the package list, the installed entry points, declared imports, and a wheel
built from exactly what the Dockerfile copies, installed and run outside the repository."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import tomllib
from importlib.metadata import entry_points, packages_distributions
from pathlib import Path

import pytest

from bmmsync import __version__

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


def test_console_entry_point_loads_and_runs(capsys: pytest.CaptureFixture[str]) -> None:
    """The installed metadata, not pyproject: what `pip install` made is what users run."""
    (script,) = entry_points(group="console_scripts", name="bmmsync")
    main = script.load()
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"bmmsync {__version__}"
    with pytest.raises(SystemExit) as stop:
        main(["frobnicate"])
    assert stop.value.code == 2
    connectors = {ep.name: ep.load() for ep in entry_points(group="bmmsync.connectors")}
    assert {name: cls.__name__ for name, cls in connectors.items()} == {
        "github": "GitHubConnector",
        "jira": "JiraConnector",
    }


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {_dist_name(req) for req in project["dependencies"]}


def _dist_name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


# Imports that need no entry of their own, and why.
NOT_DECLARED = {
    ("pytest", "pytest_plugin.py"),  # the sandbox's pytest plugin: only pytest loads it
    ("pydantic_core", "*"),  # pydantic's documented API for custom errors; pydantic pins it
}


def test_every_third_party_import_is_a_declared_dependency() -> None:
    """A package that is only there because another one pulls it in breaks the day that one
    stops (`requests`, through jira and PyGithub, was such a case)."""
    providers = packages_distributions()
    stdlib = sys.stdlib_module_names
    ours = {"bmmsync", "connectors"}
    undeclared: dict[str, str] = {}
    for top in ours:
        for path in (ROOT / top).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    root = name.split(".")[0]
                    if root in stdlib or root in ours or root == "__future__":
                        continue
                    if (root, path.name) in NOT_DECLARED or (root, "*") in NOT_DECLARED:
                        continue
                    dists = {d.lower().replace("_", "-") for d in providers.get(root, [root])}
                    if not dists & _declared():
                        undeclared[root] = str(path.relative_to(ROOT))
    assert undeclared == {}


def _build_context(destination: Path, skip: str | None = None) -> list[str]:
    """Copy what the Dockerfile's build stage COPYs (and nothing else) to `destination`."""
    copied = []
    for word, rest in _instructions():
        if word == "FROM" and copied:
            break  # the runtime stage copies only from the build stage
        if word != "COPY" or rest.startswith("--from"):
            continue
        *sources, dest = rest.split()
        for src in sources:
            if src == skip:
                continue
            # Docker's rules: a directory's contents go into `dest`; a file goes into `dest`
            # when it ends with "/", else becomes `dest`.
            if (ROOT / src).is_dir():
                target = destination / dest
                shutil.copytree(ROOT / src, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                target = destination / dest / src if dest.endswith("/") else destination / dest
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / src, target)
            copied.append(src)
    return copied


def _build_wheel(context: Path, wheels: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(wheels), "."],
        cwd=context,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_wheel_from_the_dockerfile_context_installs_and_runs(tmp_path: Path) -> None:
    """No Docker engine here: build what the Dockerfile would, the way it would, from its
    COPY lines; install it from the hashed lock in a fresh venv; run it outside the repo."""
    context = tmp_path / "context"
    copied = _build_context(context)
    assert {"pyproject.toml", "bmmsync", "connectors", "migrations", "config"} <= set(copied)
    built = _build_wheel(context, tmp_path / "wheels")
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = (tmp_path / "wheels").glob("bmmsync-*.whl")

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check"]
    for step in (
        [*pip, "--require-hashes", "--no-deps", "-r", str(context / "constraints.txt")],
        [*pip, "--no-deps", str(wheel)],
        [str(venv / "bin" / "python"), "-m", "pip", "check"],
    ):
        done = subprocess.run(step, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, (step, done.stdout[-2000:], done.stderr[-2000:])

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("BMMSYNC_CONFIG", "PYTHONPATH", "VIRTUAL_ENV")
    } | {"NO_COLOR": "1", "PATH": f"{venv / 'bin'}:/usr/bin:/bin"}
    bmmsync = str(venv / "bin" / "bmmsync")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [bmmsync, *args], cwd=outside, env=env, capture_output=True, text=True, timeout=600
        )

    version = run("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"bmmsync {__version__}"
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import bmmsync; print(bmmsync.__file__)"],
        cwd=outside,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert str(venv) in where.stdout and str(ROOT) not in where.stdout
    demo = run("demo", "--dir", str(outside / "demo"))
    assert demo.returncode == 0, demo.stderr[-3000:]
    assert "item(s)" in demo.stdout or "Sprint review" in demo.stdout
    status = run("--config", str(outside / "demo" / "bmmsync.yaml"), "status")
    assert status.returncode == 0, status.stderr
    assert "last run" in status.stdout


def test_a_build_context_missing_a_file_fails_clearly(tmp_path: Path) -> None:
    """`config/` was once left out of the COPY lines: the wheel build must fail, naming it."""
    context = tmp_path / "context"
    _build_context(context, skip="config")
    built = _build_wheel(context, tmp_path / "wheels")
    assert built.returncode != 0
    assert "config" in built.stdout + built.stderr
    assert not list((tmp_path / "wheels").glob("*.whl"))
