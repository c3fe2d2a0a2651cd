"""`bmmsync config`: validate a config file and print its JSON Schema."""

from __future__ import annotations

import json

import typer

from bmmsync.cli.context import app_context
from bmmsync.config.settings import GitHubSource, config_json_schema

config_app = typer.Typer(
    help="Check the configuration, print its JSON Schema.", no_args_is_help=True
)


@config_app.command("check")
def check(ctx: typer.Context) -> None:
    """Validate the config and its model file; print a short summary, or every error (exit 2)."""
    app = app_context(ctx)
    config = app.config()
    model = config.load_model()
    print(f"config OK: {app.config_path}")
    print(f"  store: {config.store.url}")
    for source in config.sources:
        if isinstance(source, GitHubSource):
            scope = ", ".join([*source.repos, *(f"org {o}" for o in source.orgs)])
            print(f"  source {source.name}: github {source.base_url} ({scope})")
        else:
            print(f"  source {source.name}: jira {source.url} ({source.jql})")
    print(
        f"  model: {len(model.motivators)} motivators, {len(model.decisions)} decisions, "
        f"{len(model.capabilities)} capabilities"
    )
    web = config.web
    print(f"  dashboard: {'http://' + web.listen + '/' if web.enabled else 'off'}, auth {web.auth}")
    print(
        f"  labels: {', '.join(config.mapping.capability_labels)}; "
        f"flag label: {config.flagging.label}"
    )


@config_app.command("schema")
def schema() -> None:
    """Print the config's JSON Schema (point your editor's YAML support at it)."""
    print(json.dumps(config_json_schema(), indent=2))
