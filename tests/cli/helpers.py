"""Running the real console script, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bmmsync.sandbox.server import SandboxServer

BMMSYNC = str(Path(sys.executable).with_name("bmmsync"))
REPO = Path(__file__).resolve().parents[2]


def run_cli(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str | None] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """`env` adds to the environment; a None value removes that variable."""
    merged = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})}
    full_env = {k: v for k, v in merged.items() if v is not None}
    full_env.pop("BMMSYNC_CONFIG", None) if env is None or "BMMSYNC_CONFIG" not in env else None
    return subprocess.run(
        [BMMSYNC, *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout
    )


def write_config(directory: Path, db_url: str, extra: str = "", model: str | None = None) -> Path:
    """A config with the example model next to it, on the given store."""
    model_path = directory / "model.yaml"
    model_path.write_text(model or (REPO / "config" / "model.example.yaml").read_text())
    path = directory / "bmmsync.yaml"
    path.write_text(f'store: {{url: "{db_url}"}}\nmodel_file: model.yaml\n{extra}')
    return path


def write_sandbox_config(
    directory: Path,
    server: SandboxServer,
    db_url: str,
    *,
    budget: int = 200,
    poll: str = "15m",
    write_interval: float = 0,
) -> Path:
    """The demo sources and map, pointed at a running sandbox, on the given store."""
    path = directory / "bmmsync.yaml"
    path.write_text(
        f"""store: {{url: "{db_url}"}}
model_file: {REPO / "config" / "demo-model.yaml"}
sources:
  - {{name: web, kind: github, base_url: "{server.github_url}", token: bot-token, orgs: [acme]}}
  - name: platform
    kind: jira
    url: "{server.jira_url}"
    deployment: cloud
    email: bot@example.com
    token: jira-bot-token
    jql: project = PLAT
    capability_field: Capability
flagging: {{write_interval: {write_interval}, max_writes_per_run: {budget}}}
schedule: {{poll_every: {poll}, jitter: 0s}}
"""
    )
    return path
