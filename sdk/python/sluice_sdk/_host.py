"""The host imports (`sluice:plugin/host`): log lines and counters.

Inside the component the generated bindings (`wit_world`) exist; natively (unit tests) they
do not, and log lines go to standard error while counters are kept in `counters` for
tests to read.
"""

import sys

try:  # Inside the component.
    from wit_world.imports import host as _wit_host
except ImportError:  # Natively.
    _wit_host = None

__all__ = ["Level", "counter_add", "log"]


class Level:
    """Log levels, as strings: ``log(Level.INFO, ...)`` equals ``log("info", ...)``."""

    TRACE = "trace"
    DEBUG = "debug"
    INFO = "info"
    WARN = "warn"
    ERROR = "error"


_LEVELS = ("trace", "debug", "info", "warn", "error")

#: Natively: the counters added so far, by name (``sluice_sdk.testing`` resets it).
counters = {}


def log(level, message, /, **fields):
    """Writes a line into the host's log, tagged with the plugin, pipeline and stage.

    ``level`` is ``"trace"``, ``"debug"``, ``"info"``, ``"warn"`` or ``"error"`` (or a
    :class:`Level` attribute); ``fields`` are shown beside the message (values turned into
    strings). Do not log per message above ``debug``: operators see every line above it,
    and the host keeps at most 100 lines a second per plugin.
    """
    try:
        lvl = _LEVELS.index(level)
    except ValueError:
        raise ValueError(f"unknown log level {level!r}; expected one of {', '.join(_LEVELS)}") from None
    pairs = [(str(k), str(v)) for k, v in fields.items()]
    if _wit_host is not None:
        _wit_host.log(_wit_host.LogLevel(lvl), str(message), pairs)
    else:
        extra = " ".join(f"{k}={v}" for k, v in pairs)
        print(f"[{level}] {message}{' ' + extra if extra else ''}", file=sys.stderr)


def counter_add(name, delta=1):
    """Adds ``delta`` (a non-negative int) to the plugin counter ``name``, exported by the
    host as ``sluice_plugin_counter_total{name=...}``. The host keeps at most 64 names per
    plugin."""
    if _wit_host is not None:
        _wit_host.counter_add(name, delta)
    else:
        if delta < 0:
            raise ValueError("counter_add: delta must not be negative")
        counters[name] = counters.get(name, 0) + delta
