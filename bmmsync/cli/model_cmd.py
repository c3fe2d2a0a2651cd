"""`bmmsync model`: load the strategy map into the store, draw it, export it."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

import typer
from rich.tree import Tree

from bmmsync.cli.context import Format, app_context
from bmmsync.cli.output import print_json
from bmmsync.config.model_file import dump_model
from bmmsync.domain import Model, Status
from bmmsync.store.map_repo import load_model, sync_model

model_app = typer.Typer(help="The motivator -> decision -> capability map.", no_args_is_help=True)


class ExportFormat(StrEnum):
    YAML = "yaml"
    JSON = "json"


@model_app.command("sync")
def sync(
    ctx: typer.Context,
    fmt: Format = typer.Option(Format.TABLE, "--format", help="Output format."),
) -> None:
    """Load the model file into the store (idempotent). Entries gone from the file are retired,
    never deleted, so history keeps its meaning."""
    app = app_context(ctx)
    model = app.config().load_model()
    with app.store().session() as session:
        report = sync_model(session, model, datetime.now(UTC))
    if fmt is Format.JSON:
        print_json(report.as_dict())
        return
    if report.unchanged:
        print("model unchanged")
        return
    for verb, entries in (
        ("added", report.added),
        ("changed", report.changed),
        ("retired", report.retired),
    ):
        for kind, ids in entries.items():
            print(f"{verb} {len(ids)} {kind}: {', '.join(ids)}")


def _label(name: str, ident: str, status: Status) -> str:
    text = f"[bold]{ident}[/] {name}"
    return f"[dim]{text} (retired)[/]" if status is Status.RETIRED else text


def model_tree(model: Model) -> Tree:
    """Motivator -> decision -> capability, with what hangs loose listed at the end."""
    tree = Tree("strategy map")
    decisions_of: dict[str, list[str]] = {}
    for decision in model.decisions:
        for m_id in decision.motivators:
            decisions_of.setdefault(m_id, []).append(decision.id)
    capabilities_of: dict[str, list[str]] = {}
    for c in model.capabilities:
        for d_id in c.decisions:
            capabilities_of.setdefault(d_id, []).append(c.id)
    decisions = {d.id: d for d in model.decisions}
    capabilities = {c.id: c for c in model.capabilities}

    def add_decision(parent: Tree, d_id: str) -> None:
        d = decisions[d_id]
        node = parent.add(_label(d.name, f"decision {d.id}", d.status))
        for c_id in capabilities_of.get(d_id, []):
            c = capabilities[c_id]
            aliases = f" [dim](aliases: {', '.join(c.aliases)})[/]" if c.aliases else ""
            node.add(_label(c.name, f"capability {c.id}", c.status) + aliases)

    for m in model.motivators:
        node = tree.add(_label(m.name, f"motivator {m.id} ({m.kind.value})", m.status))
        for d_id in decisions_of.get(m.id, []):
            add_decision(node, d_id)
    orphans = [d.id for d in model.decisions if not d.motivators]
    loose = [c.id for c in model.capabilities if not c.decisions]
    if orphans or loose:
        branch = tree.add("[yellow]not linked to a motivator[/]")
        for d_id in orphans:
            add_decision(branch, d_id)
        for c_id in loose:
            c = capabilities[c_id]
            branch.add(_label(c.name, f"capability {c.id}", c.status))
    return tree


@model_app.command("show")
def show(ctx: typer.Context) -> None:
    """Draw the stored map as a tree: motivator -> decision -> capability."""
    app = app_context(ctx)
    with app.store().session() as session:
        model = load_model(session)
    if not model.motivators and not model.capabilities:
        print("the store holds no map yet: run `bmmsync model sync`")
        raise typer.Exit(1)
    app.console.print(model_tree(model))


@model_app.command("export")
def export(
    ctx: typer.Context,
    fmt: ExportFormat = typer.Option(ExportFormat.YAML, "--format", help="yaml or json."),
) -> None:
    """Print the stored map as a model file (YAML) or JSON."""
    app = app_context(ctx)
    with app.store().session() as session:
        model = load_model(session)
    print(dump_model(model, fmt.value), end="")
