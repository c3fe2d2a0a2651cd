"""`bmmsync model`: load the strategy map into the store, draw it, export it."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

import typer
from rich.tree import Tree

from bmmsync.cli.context import Format, app_context
from bmmsync.cli.output import print_json
from bmmsync.config.model_file import dump_model
from bmmsync.domain import Model, Status
from bmmsync.errors import InputError
from bmmsync.outcomes.archimate import to_archimate
from bmmsync.outcomes.keyresults import key_results
from bmmsync.outcomes.mapviews import okr_json, okr_markdown, okr_tree, to_csv, to_mermaid
from bmmsync.outcomes.measure_input import MeasurementChecker, RawMeasurement, read_csv, read_json
from bmmsync.reporting import map_health
from bmmsync.store.map_repo import load_model, sync_model
from bmmsync.store.measurement_repo import all_measurements, record_measurements

model_app = typer.Typer(help="The motivator -> decision -> capability map.", no_args_is_help=True)


class ExportFormat(StrEnum):
    YAML = "yaml"
    JSON = "json"
    ARCHIMATE = "archimate"
    OKR = "okr"
    OKR_MARKDOWN = "okr-markdown"
    MERMAID = "mermaid"
    CSV = "csv"


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
    fmt: ExportFormat = typer.Option(
        ExportFormat.YAML,
        "--format",
        help="yaml or json (a model file), archimate (Open Group exchange file), okr (JSON), "
        "okr-markdown, mermaid (flowchart) or csv (one row per chain).",
    ),
) -> None:
    """Print the stored map: as a model file, or for other tools. okr, mermaid and csv show
    each node's health (open tickets, traced share, flagged) when the store holds tickets.
    Retired entries and capability parent cycles are marked, never dropped."""
    app = app_context(ctx)
    with app.store().session() as session:
        model = load_model(session)
        if fmt in (ExportFormat.YAML, ExportFormat.JSON):
            print(dump_model(model, "yaml" if fmt is ExportFormat.YAML else "json"), end="")
            return
        if fmt is ExportFormat.ARCHIMATE:
            print(to_archimate(model), end="")
            return
        today = datetime.now(UTC).date()
        health = map_health(session, app.config().mapping.to_rules(), today)
        results = key_results(model, all_measurements(session), today)
    if fmt is ExportFormat.MERMAID:
        print(to_mermaid(model, health), end="")
    elif fmt is ExportFormat.CSV:
        print(to_csv(model, health), end="")
    elif fmt is ExportFormat.OKR:
        print(okr_json(okr_tree(model, results, health)), end="")
    else:
        print(okr_markdown(okr_tree(model, results, health)), end="")


def _raw_measurements(
    motivator: str | None, metric: str | None, value: str | None, at: str | None, file: Path | None
) -> list[RawMeasurement]:
    if file is not None:
        if motivator or metric or value or at:
            raise InputError(["give either MOTIVATOR METRIC VALUE [--at DATE] or --file, not both"])
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError([f"{file}: cannot read: {exc}"]) from None
        reader = read_json if file.suffix.lower() == ".json" else read_csv
        return reader(text, str(file))
    if motivator is None or metric is None or value is None:
        raise InputError(["expected MOTIVATOR METRIC VALUE (or --file FILE.csv|.json)"])
    return [RawMeasurement("", motivator, metric, value, at)]


@model_app.command("measure")
def measure(
    ctx: typer.Context,
    motivator: str | None = typer.Argument(None, help="Motivator id."),
    metric: str | None = typer.Argument(None, help="The target's metric, e.g. churn."),
    value: str | None = typer.Argument(None, help="The value, in the target's form: 12 or 12%."),
    at: str | None = typer.Option(None, "--at", help="Date measured (YYYY-MM-DD; default today)."),
    file: Path | None = typer.Option(
        None, "--file", help="CSV (header motivator,metric,value[,at]) or JSON list to import."
    ),
    fmt: Format = typer.Option(Format.TABLE, "--format", help="Output format."),
) -> None:
    """Record key-result values against the stored map's targets. Every value is checked first
    (known motivator and metric, the target's form, not in the future); on any problem nothing
    is recorded and each problem is listed with its line. A second value for the same metric
    and day replaces the first."""
    app = app_context(ctx)
    raws = _raw_measurements(motivator, metric, value, at, file)
    now = datetime.now(UTC)
    with app.store().session() as session:
        model = load_model(session)
        if not model.motivators:
            raise InputError(["the store holds no map yet: run `bmmsync model sync` first"])
        measured = MeasurementChecker(model, now.date()).check_all(raws)
        record_measurements(session, measured, now)
        results = key_results(model, all_measurements(session), now.date())
    touched = {(m.motivator, m.metric) for m in measured}
    shown = [kr for kr in results if (kr.motivator, kr.metric) in touched]
    if fmt is Format.JSON:
        print_json(
            {
                "recorded": len(measured),
                "key_results": [
                    {
                        "motivator": kr.motivator,
                        "metric": kr.metric,
                        "current": kr.current,
                        "progress": kr.progress,
                        "met": kr.met,
                        "summary": kr.summary(),
                    }
                    for kr in shown
                ],
            }
        )
        return
    print(f"recorded {len(measured)} measurement(s)")
    for kr in shown:
        app.console.print(f"{kr.motivator}: {kr.summary()}", markup=False, highlight=False)
