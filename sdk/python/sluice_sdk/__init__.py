"""Write Sluice plugins in Python: one class, one method.

A Sluice plugin is a WebAssembly component that Sluice calls with batches of RocketMQ
messages. This package hides the WIT bindings, the batch loop and the bulk frame layout
(the contract's fast path): you write what happens to *one* message, and unit-test it
natively with :mod:`sluice_sdk.testing`.

A filter (``plugin.py`` of a project whose ``sluice-plugin.toml`` says ``kind = "filter"``)::

    import sluice_sdk as sluice

    class RegionFilter(sluice.Filter):
        def __init__(self, config: sluice.Config):
            config.only(["region"])                 # a typo in the config is an error
            self.region = config.require("region")  # ConfigError when missing

        def filter(self, msg: sluice.Message) -> bool:
            return msg.property("region") == self.region

A transform answers each message with :data:`UNCHANGED` (nothing crosses back to the
host: the cheapest answer), :data:`DROP`, an :class:`Output` or a list of them::

    class Upper(sluice.Transform):
        def transform(self, msg):
            text = msg.body_str()
            if text is None:
                raise sluice.Reject("body is not UTF-8")
            return sluice.Output(body=text.upper())

Raise :class:`Retry` (transient) or :class:`Reject` (permanent) for failures you expect.
Any other exception rejects that one message with the exception's type, text and line as
the reason (and is logged once per instance with its traceback); the batch goes on.

Build with ``sluice plugin build`` (or ``sdk/python/build.sh``), try with
``sluice plugin test plugin.wasm --input msgs.jsonl``.
"""

from ._frames import BatchInfo, Message
from ._host import Level, counter_add, log
from ._types import (
    DROP,
    UNCHANGED,
    Config,
    ConfigError,
    Filter,
    Output,
    PluginError,
    Reject,
    Retry,
    Transform,
)

__all__ = [
    "BatchInfo",
    "Config",
    "ConfigError",
    "DROP",
    "Filter",
    "Level",
    "Message",
    "Output",
    "PluginError",
    "Reject",
    "Retry",
    "Transform",
    "UNCHANGED",
    "counter_add",
    "log",
]

__version__ = "0.1.0"
