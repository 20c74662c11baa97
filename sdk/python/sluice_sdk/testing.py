"""Native unit tests of plugins: no WebAssembly, no host.

:func:`run_filter` and :func:`run_transform` encode test messages into a batch in the
frame layout, run it through the very batch loop the component runs, and read the answer
back with the host's checks::

    import unittest
    import sluice_sdk as sluice
    from sluice_sdk.testing import TestMessage, run_filter

    from plugin import RegionFilter

    class RegionFilterTest(unittest.TestCase):
        def test_keeps_the_region(self):
            out = run_filter(RegionFilter, {"region": "eu"}, [
                TestMessage(properties={"region": "eu"}),
                TestMessage(body="no region"),
            ])
            self.assertEqual(out, [sluice.UNCHANGED, sluice.DROP])

Each answer is ``UNCHANGED``, ``DROP``, ``Retry(reason)``, ``Reject(reason)`` or, for a
replaced message, the list of its :class:`~sluice_sdk.Output` objects as the host read
them (properties as a list of pairs, body as bytes; ``Output`` equality ignores that
difference). A refused configuration raises the plugin's :class:`~sluice_sdk.ConfigError`.
"""

from . import _host, _runner
from ._frames import BatchInfo, decode_outcomes, encode_frame

__all__ = ["TestMessage", "counters", "run_filter", "run_transform"]


class TestMessage:
    """A message to feed a plugin in a test. Every field is optional; ``body`` may be a
    ``str`` (UTF-8) or bytes, ``properties`` a dict or a list of pairs, ``keys`` a list
    (or ``key`` one key)."""

    __test__ = False  # not a test case, whatever pytest thinks of the name

    def __init__(
        self,
        body=b"",
        *,
        key=None,
        keys=(),
        tag=None,
        properties=(),
        message_id=None,
        queue_offset=None,
        born_timestamp_ms=0,
        reconsume_count=0,
    ):
        self.body = body
        self.keys = list(keys) + ([key] if key is not None else [])
        self.tag = tag
        self.properties = properties
        self.message_id = message_id
        self.queue_offset = queue_offset
        self.born_timestamp_ms = born_timestamp_ms
        self.reconsume_count = reconsume_count

    def frame(self, index):
        """This message as a frame, the ``index``-th of its batch."""
        return encode_frame(
            queue_offset=index if self.queue_offset is None else self.queue_offset,
            born_timestamp_ms=self.born_timestamp_ms,
            reconsume_count=self.reconsume_count,
            message_id=f"msg-{index}" if self.message_id is None else self.message_id,
            keys=self.keys,
            tag=self.tag,
            properties=self.properties,
            body=self.body,
        )


def _batch(messages):
    return b"".join((m if isinstance(m, TestMessage) else TestMessage(m)).frame(i) for i, m in enumerate(messages))


def _start(cls, config):
    _host.counters.clear()
    err = _runner.init(cls, config)
    if err is not None:
        raise err


def run_filter(cls, config, messages, *, batch=None):
    """Builds filter ``cls`` with ``config`` (a dict or pairs), runs it over ``messages``
    (``TestMessage`` objects, or bodies) as one batch, and returns one answer each."""
    _start(cls, config)
    frames = _batch(messages)
    out = _runner.filter_batch(batch or BatchInfo(), frames)
    return decode_outcomes(out, len(messages), filter_only=True)


def run_transform(cls, config, messages, *, batch=None):
    """As :func:`run_filter`, for a transform."""
    _start(cls, config)
    frames = _batch(messages)
    out = _runner.transform_batch(batch or BatchInfo(), frames)
    return decode_outcomes(out, len(messages))


def counters():
    """The counters the plugin added (``counter_add``) since the last ``run_*`` began."""
    return dict(_host.counters)
