"""The batch loop: finds the author's plugin class, builds it in `init`, and runs it over
each batch of frames, answering with one outcome buffer. The same functions run inside the
component (called by the `exports/` app modules) and natively (`sluice_sdk.testing`).

An exception the author did not mean (anything but `Retry`/`Reject`, e.g. a `KeyError`)
rejects that one message, with the exception's type, text and line as the reason; the
rest of the batch goes on, and the instance is kept (a Python exception leaves the
interpreter sound, unlike a Rust panic, which traps). The first such exception of an
instance is also logged once, with its traceback, at `warn`. `MemoryError` (the instance
reached its memory limit) and exceptions that are not `Exception`s (`SystemExit`) leave the
export: componentize-py then exits, the host sees a trap and discards the instance.
"""

import os
import struct
import sys
import traceback

from . import _host
from ._frames import (
    HEADER,
    HEADER_LEN,
    OUTCOME_MAGIC,
    TAG_REPLACED,
    MalformedBatch,
    Message,
    encode_output,
    failure,
)
from ._types import DROP, UNCHANGED, Config, ConfigError, Filter, Output, PluginError, Transform

_pack_u32 = struct.Struct("<I").pack


class BatchError(Exception):
    """A failure of the whole batch (reported to the host as `err(reject(reason))`)."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


# ---------------------------------------------------------------------------------------
# Finding and building the plugin


def find_plugin(module, kind):
    """The plugin class of `module` for `kind` ("filter" or "transform"): the module's
    `PLUGIN` if it sets one, else the one class defined in it that subclasses
    `sluice_sdk.Filter` (or `Transform`). Raises `TypeError` naming what is wrong."""
    base, other = (Filter, Transform) if kind == "filter" else (Transform, Filter)
    where = getattr(module, "__file__", None) or module.__name__
    explicit = getattr(module, "PLUGIN", None)
    if explicit is not None:
        if not (isinstance(explicit, type) and issubclass(explicit, base)):
            raise TypeError(f"{where}: PLUGIN = {explicit!r} is not a subclass of sluice_sdk.{base.__name__}")
        return explicit
    found = [
        v
        for v in vars(module).values()
        if isinstance(v, type) and v.__module__ == module.__name__ and issubclass(v, (Filter, Transform))
    ]
    mine = [c for c in found if issubclass(c, base)]
    if len(mine) == 1:
        return mine[0]
    if len(mine) > 1:
        names = ", ".join(c.__name__ for c in mine)
        raise TypeError(f"{where} defines several {base.__name__} classes ({names}); set PLUGIN = TheOne")
    if any(issubclass(c, other) for c in found):
        raise TypeError(
            f"{where} defines a sluice_sdk.{other.__name__}, but the project is a {kind} "
            f"(`kind` in sluice-plugin.toml); make it a {kind} or change `kind`"
        )
    raise TypeError(f"{where} defines no subclass of sluice_sdk.{base.__name__}; write one (see the template)")


_plugin = None
_logged_uncaught = False


def init(cls, pairs):
    """Builds the plugin from the configuration pairs; returns a `ConfigError` or None."""
    global _plugin
    _plugin = None
    try:
        _plugin = cls(Config(pairs))
    except ConfigError as e:
        return e
    except MemoryError:
        raise
    except Exception as e:  # A bug or an unchecked bad value: refuse, saying what happened.
        return ConfigError(f"{cls.__name__}.__init__ raised {_describe(e)}")
    return None


def _plugin_or_fail():
    if _plugin is None:
        raise BatchError("plugin called before a successful init")
    return _plugin


# ---------------------------------------------------------------------------------------
# Exceptions the author did not mean


_SDK_DIR = os.path.dirname(os.path.abspath(__file__))


def _describe(e):
    """`Type: text (at file.py:line)`, the line being the innermost one outside the SDK."""
    where = ""
    tb = e.__traceback__
    while tb is not None:
        file = tb.tb_frame.f_code.co_filename
        if os.path.dirname(os.path.abspath(file)) != _SDK_DIR:
            where = f" (at {os.path.basename(file)}:{tb.tb_lineno})"
        tb = tb.tb_next
    text = str(e)
    return f"{type(e).__name__}{': ' + text if text else ''}{where}"


def _uncaught(e):
    """The reject outcome for an exception the author did not mean."""
    global _logged_uncaught
    reason = f"uncaught {_describe(e)}"
    if not _logged_uncaught:
        _logged_uncaught = True
        try:
            tb = "".join(traceback.format_exception(e))
            _host.log("warn", "uncaught exception in the plugin; the message is rejected "
                      "(logged once per instance)", traceback=tb)
        except Exception:  # Logging must never turn one rejected message into a failed batch.
            pass
    return failure(4, reason)


def _malformed(e):
    return BatchError(f"malformed batch from the host: {e}")


def _bad_frame(at, flen, n):
    if flen < HEADER_LEN:
        return _malformed(MalformedBatch(at, f"frame length {flen} is shorter than the 48-byte header"))
    return _malformed(MalformedBatch(at, f"frame of {flen} bytes runs past the end of the buffer ({n} bytes)"))


# ---------------------------------------------------------------------------------------
# The loops: the per-message cost of every Python plugin, so they are kept flat and lean
# (inside the component an interpreted operation costs tens of nanoseconds and a call or an
# allocation hundreds; every one below was measured).
#
# * One header unpack per frame. A frame's length is checked before the plugin sees it
#   (shorter than its header, or running past the end, fails the batch); the lengths of the
#   fields inside a frame are the host's to get right (`sluice-frames` writes and checks
#   them), and Python slicing cannot read outside the buffer whatever they say.
# * One Message per batch, moved from frame to frame (see `Message`), unless the plugin
#   kept a reference to it: then its reference count stays above the loop's own and the
#   next frame gets a new one.
# * The answer is one tag byte per message in a zeroed buffer (0 = unchanged/keep, so a
#   kept message costs no write); outcomes longer than a byte (drop is one byte too) are
#   set aside with their index and spliced in at the end.


def filter_batch(batch, frames):
    """Runs the filter over one batch; returns the outcome buffer (bytes)."""
    f = _plugin_or_fail().filter
    n = len(frames)
    tags = bytearray(n // HEADER_LEN + 1)
    long = []
    unpack = HEADER.unpack_from
    refs = sys.getrefcount
    m = Message(frames, 0, None, batch)
    mine = refs(m)
    at = 0
    j = 0
    try:
        while at < n:
            h = unpack(frames, at)
            flen = h[0]
            nxt = at + flen
            if flen < HEADER_LEN or nxt > n:
                raise _bad_frame(at, flen, n)
            m._at = at
            m._h = h
            try:
                keep = f(m)
            except PluginError as e:
                long.append((j, failure(e._tag, e.reason)))
            except MemoryError:
                raise  # the instance hit its memory limit: let the host discard it
            except Exception as e:
                long.append((j, _uncaught(e)))
            else:
                if keep is not True:
                    if keep is False:
                        tags[j] = 1
                    else:
                        long.append((j, _odd_verdict(keep)))
            if refs(m) != mine:
                m = Message(frames, 0, None, batch)
            at = nxt
            j += 1
    except struct.error:
        raise _malformed(MalformedBatch(at, "message frame header cut short")) from None
    return _outcomes(tags, j, long)


def _odd_verdict(keep):
    if keep is None:
        return failure(4, "filter returned None; return True to keep the message or False to drop it")
    try:
        return b"\x00" if keep else b"\x01"
    except Exception as e:  # UNCHANGED / DROP refuse to be read as a bool.
        return _uncaught(e)


def transform_batch(batch, frames):
    """Runs the transform over one batch; returns the outcome buffer (bytes)."""
    t = _plugin_or_fail().transform
    n = len(frames)
    tags = bytearray(n // HEADER_LEN + 1)
    long = []
    unpack = HEADER.unpack_from
    refs = sys.getrefcount
    m = Message(frames, 0, None, batch)
    mine = refs(m)
    at = 0
    j = 0
    try:
        while at < n:
            h = unpack(frames, at)
            flen = h[0]
            nxt = at + flen
            if flen < HEADER_LEN or nxt > n:
                raise _bad_frame(at, flen, n)
            m._at = at
            m._h = h
            try:
                r = t(m)
                if r is not UNCHANGED:
                    if r is DROP:
                        tags[j] = 1
                    else:
                        long.append((j, _replaced(r)))
            except PluginError as e:
                long.append((j, failure(e._tag, e.reason)))
            except MemoryError:
                raise  # the instance hit its memory limit: let the host discard it
            except Exception as e:
                long.append((j, _uncaught(e)))
            r = None  # a list of outputs could hold the message; let it go before counting
            if refs(m) != mine:
                m = Message(frames, 0, None, batch)
            at = nxt
            j += 1
    except struct.error:
        raise _malformed(MalformedBatch(at, "message frame header cut short")) from None
    return _outcomes(tags, j, long)


def _outcomes(tags, count, long):
    """The outcome buffer: the tag bytes of `count` messages, with the longer outcomes
    (index, bytes), in index order, in place of theirs."""
    parts = [OUTCOME_MAGIC, _pack_u32(count)]
    prev = 0
    for j, o in long:
        parts.append(tags[prev:j])
        parts.append(o)
        prev = j + 1
    parts.append(tags[prev:count])
    return b"".join(parts)


def _replaced(r):
    """The bytes of a replaced outcome for a transform's answer (an Output or a list)."""
    if isinstance(r, Output):
        return b"\x02\x01\x00\x00\x00" + encode_output(r)
    if isinstance(r, (list, tuple)):
        parts = [encode_output(o) for o in r]
        return bytes((TAG_REPLACED,)) + _pack_u32(len(parts)) + b"".join(parts)
    what = "None" if r is None else f"a {type(r).__name__}"
    return failure(
        4, f"transform returned {what}; return sluice_sdk.UNCHANGED, sluice_sdk.DROP, an Output or a list of Outputs"
    )
