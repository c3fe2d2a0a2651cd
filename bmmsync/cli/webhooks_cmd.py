"""`bmmsync webhooks check`: do deliveries arrive, and what is refused or failing."""

from __future__ import annotations

from datetime import UTC, datetime

import typer
from rich.table import Table

from bmmsync.cli.context import Format, app_context
from bmmsync.cli.output import print_json
from bmmsync.hooks.worker import webhooks_on
from bmmsync.store.event_queue import health

webhooks_app = typer.Typer(help="Webhook deliveries from GitHub and Jira.", no_args_is_help=True)


@webhooks_app.command("check")
def check(
    ctx: typer.Context,
    fmt: Format = typer.Option(Format.TABLE, "--format", help="table or json."),
) -> None:
    """For each tracker: the last delivery, how many are queued or failing, refusals by cause.

    Exit 1 when a secret is configured but that tracker has never delivered."""
    app = app_context(ctx)
    config = app.config()
    store = app.store()
    with store.session() as session:
        rows = health(session, ["github", "jira"])
    configured = {
        "github": config.webhooks.github_secret is not None,
        "jira": config.webhooks.jira_secret is not None,
    }
    silent = [h.tracker for h in rows if configured[h.tracker] and h.last_delivery is None]
    if fmt is Format.JSON:
        print_json(
            {
                "now": datetime.now(UTC),
                "trackers": [vars(h) | {"configured": configured[h.tracker]} for h in rows],
            }
        )
        raise typer.Exit(1 if silent else 0)
    console = app.console
    if not webhooks_on(config):
        console.print("webhooks are off: set webhooks.github_secret and/or webhooks.jira_secret")
    table = Table("tracker", "secret", "last delivery", "received", "queued", "failing", "refused")
    for h in rows:
        refused = ", ".join(f"{cause}={n}" for cause, n in h.refusals.items()) or "-"
        table.add_row(
            h.tracker,
            "set" if configured[h.tracker] else "not set",
            f"{h.last_delivery:%Y-%m-%d %H:%M:%S} UTC" if h.last_delivery else "never",
            str(h.deliveries),
            str(h.pending),
            str(h.failing),
            refused,
        )
    console.print(table)
    for h in rows:
        if h.last_error:
            shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in h.last_error)
            console.print(f"{h.tracker}: last failure: {shown}", highlight=False, markup=False)
    for tracker in silent:
        console.print(
            f"{tracker}: no delivery has arrived yet: check the webhook URL "
            f"(/hooks/{tracker}), its secret, and that the service's web.listen is reachable",
            highlight=False,
        )
    raise typer.Exit(1 if silent else 0)
