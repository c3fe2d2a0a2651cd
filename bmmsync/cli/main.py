"""The `bmmsync` command: global options, sub-commands, and errors turned into exit codes.

Exit codes: 0 ok, 1 the job found problems or failed, 2 usage or config error.
"""

from __future__ import annotations

import logging
import sys
import traceback
from pathlib import Path

import typer
from rich.console import Console

from bmmsync import __version__
from bmmsync.cli.config_cmd import config_app
from bmmsync.cli.context import AppContext, LogFormat
from bmmsync.cli.db import db_app
from bmmsync.cli.demo_cmd import demo
from bmmsync.cli.flag_cmds import apply, audit, plan, review
from bmmsync.cli.model_cmd import model_app
from bmmsync.cli.report_cmd import report
from bmmsync.cli.sandbox import sandbox_app
from bmmsync.cli.serve_cmd import serve
from bmmsync.cli.service_cmds import run, status
from bmmsync.cli.sync import sync_command
from bmmsync.cli.trace_cmds import check, explain
from bmmsync.cli.webhooks_cmd import webhooks_app
from bmmsync.errors import BmmsyncError, ConfigError

app = typer.Typer(
    name="bmmsync",
    help="Trace every backlog item up to the strategy it serves: "
    "ticket -> capability -> decision -> motivator.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(config_app, name="config")
app.add_typer(db_app, name="db")
app.add_typer(model_app, name="model")
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(webhooks_app, name="webhooks")
app.command("sync")(sync_command)
app.command("check")(check)
app.command("explain")(explain)
app.command("report")(report)
app.command("plan")(plan)
app.command("apply")(apply)
app.command("audit")(audit)
app.command("review")(review)
app.command("run")(run)
app.command("status")(status)
app.command("serve")(serve)
app.command("demo")(demo)

log = logging.getLogger("bmmsync")


def _show_version(value: bool) -> None:
    if value:
        print(f"bmmsync {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    config: Path | None = typer.Option(
        None, "--config", "-c", help="Config file (default: $BMMSYNC_CONFIG, ./bmmsync.yaml)."
    ),
    debug: bool = typer.Option(
        False, "--debug", help="Show tracebacks and debug logs (wins over logging.level)."
    ),
    log_format: LogFormat | None = typer.Option(
        None, "--log-format", help="Log lines as text or json (wins over logging.format)."
    ),
    version: bool = typer.Option(
        False, "--version", callback=_show_version, is_eager=True, help="Print the version."
    ),
) -> None:
    ctx.obj = AppContext(config_path=config, debug=debug, log_format=log_format)
    ctx.call_on_close(ctx.obj.close)
    ctx.obj.apply_logging()


def _report(err: BmmsyncError) -> None:
    stderr = Console(stderr=True, highlight=False, soft_wrap=True)
    lines = err.problems if isinstance(err, ConfigError) else [str(err)]
    for line in lines:
        stderr.print(f"error: {line}", markup=False)


_GLOBAL_WITH_VALUE = {"--config", "-c", "--log-format"}
_GLOBAL_FLAGS = {"--debug"}


def hoist_global_options(args: list[str]) -> list[str]:
    """Accept global options anywhere (`bmmsync config check --config x.yaml`) by moving them
    before the sub-command, where click expects them."""
    hoisted: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest.extend(args[i:])
            break
        name = arg.split("=", 1)[0]
        if arg in _GLOBAL_FLAGS or (name in _GLOBAL_WITH_VALUE and "=" in arg):
            hoisted.append(arg)
        elif arg in _GLOBAL_WITH_VALUE and i + 1 < len(args):
            hoisted.extend(args[i : i + 2])
            i += 1
        else:
            rest.append(arg)
        i += 1
    return hoisted + rest


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: one clear line per problem; a traceback only with --debug."""
    args = hoist_global_options(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    command = typer.main.get_command(app)
    try:
        # Standalone mode: usage errors print and exit 2 the way click users expect.
        command.main(args=args, prog_name="bmmsync", standalone_mode=True)
        code = 0
    except BmmsyncError as exc:
        if debug:
            traceback.print_exc()
        _report(exc)
        code = exc.exit_code
    except KeyboardInterrupt:
        code = 130
    except Exception as exc:
        if debug:
            raise
        print(
            f"error: internal error: {type(exc).__name__}: {exc} (rerun with --debug)",
            file=sys.stderr,
        )
        code = 1
    sys.exit(code if isinstance(code, int) else 0)
