"""`bmmsync serve`: the read-only dashboard over the store, with health and metrics."""

from __future__ import annotations

import signal
import threading
from collections.abc import Sequence

import typer
from starlette.routing import BaseRoute

from bmmsync.cli.context import app_context
from bmmsync.config.settings import Config
from bmmsync.config.web import is_loopback, split_listen
from bmmsync.errors import ConfigError
from bmmsync.web.server import DashboardServer


def stop_on_signals() -> threading.Event:
    """An event set by SIGINT or SIGTERM. Installed explicitly, whatever was inherited: a
    process started in the background of a script inherits SIGINT ignored, and Ctrl+C or
    `kill -INT` would then never stop it."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def dashboard_server(
    config: Config,
    host: str | None = None,
    port: int | None = None,
    extra_routes: Sequence[BaseRoute] = (),
) -> DashboardServer:
    """The dashboard app bound to `web.listen` (or `host`/`port`), not yet started;
    `extra_routes` are the webhook endpoints, under `/hooks/` (signed, not behind web auth).

    Refuses `auth: none` on an address that is not loopback, as `config check` does."""
    from bmmsync.web.app import create_app
    from bmmsync.web.storehandle import StoreHandle

    listen_host, listen_port = split_listen(config.web.listen)
    host = listen_host if host is None else host
    port = listen_port if port is None else port
    if config.web.auth == "none" and not is_loopback(host):
        raise ConfigError(
            [
                f"--host: expected a loopback address with web.auth none (got {host}); "
                "set web.auth to basic, token or proxy to serve other hosts"
            ]
        )
    app = create_app(
        config,
        StoreHandle(config.store.url.get_secret_value()),
        extra_routes=extra_routes,
        open_prefixes=("/hooks/",) if extra_routes else (),
    )
    return DashboardServer(app, host, port)


def serve(
    ctx: typer.Context,
    host: str | None = typer.Option(None, "--host", help="Address to bind (default: web.listen)."),
    port: int | None = typer.Option(
        None, "--port", min=0, max=65535, help="Port to bind (default: web.listen)."
    ),
) -> None:
    """Serve the dashboard (read-only) until SIGTERM/SIGINT; health at /livez and /readyz."""
    config = app_context(ctx).config()
    stop = stop_on_signals()
    with dashboard_server(config, host, port) as server:
        print(f"dashboard on {server.url}/", flush=True)
        while not stop.wait(0.5):
            pass
