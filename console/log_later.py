"""Logging that `ingest` sets up at its first line.

An MTA starts one `ingest` per mail, and filing an ordinary mail logs nothing: the logging package,
console.logs' handler and the config's secrets are loaded when a line is first logged (or an error is
printed), not at every start. Only `ingest` defers: no third-party library logs on its path, whose records
would otherwise reach the root logger before console.logs masks them. Every other command sets up at once.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import logging

    from console.config import Config

INFO, WARNING = 20, 30  # logging.INFO and logging.WARNING, named without importing logging

_level: int | None = None  # console.logs.setup() is still to run, at this level (set_up(later=True))
_config: Config | None = None  # whose secrets console.logs is to mask once it is set up


def set_up(level: int, *, later: bool = False) -> None:
    """console.logs.setup(level): now, or (`later`) at the first line logged through a Logger here or at
    now(). Each command's set-up replaces the last (a test may run several in one process)."""
    global _level, _config
    _level, _config = level, None
    if not later:
        now()


def keep_secrets_of(cfg: Config) -> None:
    """Mask `cfg`'s secrets (notify URLs and so on) in every log line: now, or when the set-up runs."""
    global _config
    if _level is not None:
        _config = cfg
        return
    from console import logs, redact

    logs.set_secrets(redact.config_secrets(cfg))


def now() -> None:
    """Run the deferred set-up, if there is one: before a line is logged or an error printed."""
    global _level, _config
    if _level is None:
        return
    level, cfg = _level, _config
    _level, _config = None, None
    from console import logs

    logs.setup(level)
    if cfg is not None:
        keep_secrets_of(cfg)


class Logger:
    """logging.getLogger(name), fetched at its first line, after the deferred set-up."""

    def __init__(self, name: str) -> None:
        self.name = name

    def _logger(self) -> logging.Logger:
        now()
        import logging

        return logging.getLogger(self.name)

    def debug(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self._logger().debug(msg, *args, **kwargs)

    def info(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self._logger().info(msg, *args, **kwargs)

    def warning(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self._logger().warning(msg, *args, **kwargs)

    def error(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self._logger().error(msg, *args, **kwargs)

    def exception(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self._logger().exception(msg, *args, **kwargs)
