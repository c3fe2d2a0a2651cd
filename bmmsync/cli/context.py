"""What every command shares: the config path, `--debug`, and lazily the config and store."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from bmmsync.logs import configure_logging
from bmmsync.store.database import Store

if TYPE_CHECKING:
    from bmmsync.config.settings import Config


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


@dataclass
class AppContext:
    config_path: Path | None = None
    debug: bool = False
    log_format: LogFormat | None = None
    # Used when the config does not set `logging.level`: `run` (the service) logs INFO.
    default_log_level: str = "WARNING"
    console: Console = field(default_factory=Console)
    _config: Config | None = None
    _store: Store | None = None

    def config(self) -> Config:
        """The validated config (raises ConfigError listing every problem); from then on
        logging follows its `logging` section."""
        if self._config is None:
            from bmmsync.config.settings import find_config_path, load_config

            self.config_path = find_config_path(self.config_path)
            self._config = load_config(self.config_path)
            self.apply_logging(self._config)
        return self._config

    def apply_logging(self, config: Config | None = None) -> None:
        """`--debug` and `--log-format` win; then the config's `logging` section; then the
        command's default level and text."""
        section = config.logging if config is not None else None
        level = self.default_log_level
        fmt = LogFormat.TEXT
        if section is not None:
            if "level" in section.model_fields_set:
                level = section.level
            fmt = LogFormat(section.format)
        configure_logging(
            "DEBUG" if self.debug else level,
            (self.log_format or fmt).value,
        )

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
