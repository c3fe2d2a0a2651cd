"""`bmmsync sandbox serve`: run the local fake GitHub + Jira until SIGINT/SIGTERM."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from bmmsync.sandbox.state import (
    GITHUB_APP_BOT,
    GITHUB_APP_ID,
    GITHUB_APP_INSTALLATION,
    GITHUB_TOKENS,
    JIRA_BASIC,
    JIRA_PATS,
)

sandbox_app = typer.Typer(help="A local server that behaves like GitHub's and Jira's REST APIs.")


class Deployment(StrEnum):
    CLOUD = "cloud"
    SERVER = "server"


@sandbox_app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(0, help="Port (0: any free port)."),
    seed: str = typer.Option("demo", help="'demo' or a number of generated tickets."),
    state: Path | None = typer.Option(None, "--state", help="Keep data in this file."),
    jira_deployment: Deployment = typer.Option(Deployment.CLOUD, help="Jira flavour."),
) -> None:
    """Serve GitHub under /github, Jira under /jira and the control API under /_sandbox."""
    from bmmsync.sandbox.server import SandboxServer

    if seed != "demo" and not seed.isdigit():
        raise typer.BadParameter("must be 'demo' or a number", param_hint="--seed")
    server = SandboxServer(host, port, seed, jira_deployment.value, state)
    typer.echo(f"GitHub : {server.github_url}  (PyGithub base_url)")
    typer.echo(f"Jira   : {server.jira_url}  ({server.state.data.jira_deployment})")
    typer.echo(f"Control: {server.url}/_sandbox/")
    typer.echo("GitHub tokens: " + ", ".join(f"{t} -> {u}" for t, u in GITHUB_TOKENS.items()))
    typer.echo(
        f"GitHub App: app_id {GITHUB_APP_ID}, installation_id {GITHUB_APP_INSTALLATION} "
        f"(any private key; acts as {GITHUB_APP_BOT})"
    )
    typer.echo("Jira basic auth: " + ", ".join(f"{e} / {t}" for e, t in JIRA_BASIC))
    typer.echo("Jira bearer PATs: " + ", ".join(JIRA_PATS))
    if state is not None:
        typer.echo(f"State file: {state}")
    typer.echo("Press Ctrl+C to stop.", err=True)
    server.serve_forever()
