"""What every command shares: the config path, `--debug`, and lazily the config and store."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from bmmsync.store.database import Store

if TYPE_CHECKING:
    from bmmsync.config.settings import Config


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"


@dataclass
class AppContext:
    config_path: Path | None = None
    debug: bool = False
    console: Console = field(default_factory=Console)
    _config: Config | None = None
    _store: Store | None = None

    def config(self) -> Config:
        """The validated config (raises ConfigError listing every problem)."""
        if self._config is None:
            from bmmsync.config.settings import find_config_path, load_config

            self.config_path = find_config_path(self.config_path)
            self._config = load_config(self.config_path)
        return self._config

    def store(self) -> Store:
        if self._store is None:
            self._store = Store.open(self.config().store.url.get_secret_value())
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


def app_context(ctx: typer.Context) -> AppContext:
    root = ctx.find_root()
    if not isinstance(root.obj, AppContext):
        root.obj = AppContext()
    return root.obj
