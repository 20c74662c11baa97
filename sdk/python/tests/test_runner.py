"""The batch loop: outcome buffers byte for byte, failures, exceptions, configuration,
plugin discovery. Runs natively: `cd sdk/python && python3 -m unittest`."""

import struct
import types
import unittest

import sluice_sdk as sluice
from sluice_sdk import _host, _runner
from sluice_sdk._frames import BatchInfo, encode_frame
from sluice_sdk.testing import TestMessage as M
from sluice_sdk.testing import counters, run_filter, run_transform


def batch(*bodies):
    return b"".join(encode_frame(queue_offset=i, body=b) for i, b in enumerate(bodies))


class ByBody(sluice.Filter):
    """keep / drop / retry / reject / odd answers, by body."""

    def __init__(self, config):
        config.only([])

    def filter(self, msg):
        b = msg.body
        if b == b"keep":
            return True
        if b == b"drop":
            return False
        if b == b"retry":
            raise sluice.Retry("later")
        if b == b"reject":
            raise sluice.Reject("never")
        if b == b"none":
            return None
        if b == b"unchanged":
            return sluice.UNCHANGED
        if b == b"truthy":
            return "yes"
        return {}[b]  # KeyError: a bug


class Edits(sluice.Transform):
    def __init__(self, config):
        self.name = config.get("name", "me")

    def transform(self, msg):
        b = msg.body
        if b == b"same":
            return sluice.UNCHANGED
        if b == b"gone":
            return sluice.DROP
        if b == b"upper":
            return sluice.Output(body=b.upper())
        if b == b"split":
            return [sluice.Output(body="a", destination="x"), sluice.Output(tag="")]
        if b == b"none-out":
            return []
        if b == b"derive":
            out = msg.derive()
            out.properties["by"] = self.name
            return out
        if b == b"bad-field":
            return sluice.Output(body=42)
        if b == b"retry":
            raise sluice.Retry("busy")
        return None


class FilterLoopTest(unittest.TestCase):
    def setUp(self):
        self.assertIsNone(_runner.init(ByBody, []))

    def test_outcome_buffer_bytes(self):
        out = _runner.filter_batch(BatchInfo(), batch(b"keep", b"drop", b"retry", b"keep", b"reject", b"drop"))
        want = (
            b"SLO\x01" + struct.pack("<I", 6)
            + b"\x00\x01"
            + b"\x03" + struct.pack("<I", 5) + b"later"
            + b"\x00"
            + b"\x04" + struct.pack("<I", 5) + b"never"
            + b"\x01"
        )
        self.assertEqual(out, want)

    def test_empty_batch(self):
        self.assertEqual(_runner.filter_batch(BatchInfo(), b""), b"SLO\x01\x00\x00\x00\x00")

    def test_odd_answers_and_bugs_reject_one_message(self):
        out = run_filter(ByBody, {}, [M("none"), M("unchanged"), M("truthy"), M("bug"), M("keep")])
        self.assertEqual(out[0], sluice.Reject("filter returned None; return True to keep the message or False to drop it"))
        self.assertTrue(out[1].reason.startswith("uncaught TypeError: UNCHANGED is a transform answer"), out[1])
        self.assertEqual(out[2], sluice.UNCHANGED)
        self.assertRegex(out[3].reason, r"^uncaught KeyError: b'bug' \(at test_runner\.py:\d+\)$")
        self.assertEqual(out[4], sluice.UNCHANGED)

    def test_malformed_batches_fail_the_batch(self):
        good = batch(b"keep", b"drop")
        for frames, what in (
            (good[:-1], "runs past the end"),
            (good + b"\x00" * 10, "cut short"),
            (struct.pack("<I", 20) + good[4:], "shorter than the 48-byte header"),
        ):
            with self.assertRaises(_runner.BatchError) as e:
                _runner.filter_batch(BatchInfo(), frames)
            self.assertIn("malformed batch from the host", e.exception.reason)
            self.assertIn(what, e.exception.reason)

    def test_kept_messages_stay_on_their_frame(self):
        kept = []

        class Keeper(sluice.Filter):
            def __init__(self, config):
                pass

            def filter(self, msg):
                if msg.queue_offset % 2 == 0:
                    kept.append(msg)
                return True

        run_filter(Keeper, {}, [M(str(i), queue_offset=i) for i in range(6)])
        self.assertEqual([(m.queue_offset, m.body) for m in kept], [(0, b"0"), (2, b"2"), (4, b"4")])


class TransformLoopTest(unittest.TestCase):
    def test_outcome_buffer_bytes(self):
        self.assertIsNone(_runner.init(Edits, []))
        out = _runner.transform_batch(BatchInfo(), batch(b"same", b"gone", b"upper", b"split", b"none-out"))
        want = (
            b"SLO\x01" + struct.pack("<I", 5)
            + b"\x00\x01"
            + b"\x02" + struct.pack("<I", 1) + b"\x08" + struct.pack("<I", 5) + b"UPPER"
            + b"\x02" + struct.pack("<I", 2)
            + b"\x18" + struct.pack("<I", 1) + b"a" + struct.pack("<I", 1) + b"x"
            + b"\x02" + struct.pack("<I", 0)
            + b"\x02" + struct.pack("<I", 0)
        )
        self.assertEqual(out, want)

    def test_answers_as_the_host_reads_them(self):
        msgs = [M("derive", properties={"a": "1"}), M("bad-field"), M("retry"), M("what"), M("same")]
        out = run_transform(Edits, {"name": "t"}, msgs)
        self.assertEqual(out[0], [sluice.Output(properties=[("a", "1"), ("by", "t")])])
        # Raised while encoding, after the plugin returned: no line of the plugin to name.
        self.assertEqual(out[1].reason, "uncaught TypeError: Output.body must be bytes or str, not int")
        self.assertEqual(out[2], sluice.Retry("busy"))
        self.assertTrue(out[3].reason.startswith("transform returned None"), out[3])
        self.assertEqual(out[4], sluice.UNCHANGED)

    def test_counters_are_kept_natively(self):
        class Counting(sluice.Transform):
            def transform(self, msg):
                sluice.counter_add("seen")
                sluice.counter_add("bytes", msg.body_len)
                return sluice.UNCHANGED

        run_transform(Counting, {}, [M("ab"), M("cde")])
        self.assertEqual(counters(), {"seen": 2, "bytes": 5})


class InitTest(unittest.TestCase):
    def test_config_errors(self):
        class Strict(sluice.Filter):
            def __init__(self, config):
                config.only(["n", "b"])
                self.n = config.parse_int("n", 4, min=0, max=8)
                self.b = config.parse_bool("b", True)

            def filter(self, msg):
                return True

        self.assertIsNone(_runner.init(Strict, [("n", "+3"), ("b", "false")]))
        for pairs, key in (
            ([("x", "1")], "x"),
            ([("n", "9")], "n"),
            ([("n", "-1")], "n"),
            ([("n", " 3")], "n"),
            ([("n", "٣")], "n"),
            ([("n", "1_0")], "n"),
            ([("b", "yes")], "b"),
        ):
            e = _runner.init(Strict, pairs)
            self.assertIsInstance(e, sluice.ConfigError, pairs)
            self.assertEqual(e.key, key)

    def test_an_exception_in_init_refuses_the_config(self):
        class Buggy(sluice.Filter):
            def __init__(self, config):
                int(config.get("n"))

        e = _runner.init(Buggy, [("n", "x")])
        self.assertIsNone(e.key)
        self.assertTrue(e.message.startswith("Buggy.__init__ raised ValueError: invalid literal"), e.message)
        with self.assertRaises(_runner.BatchError):
            _runner.filter_batch(BatchInfo(), batch(b"x"))

    def test_config_lookup(self):
        c = sluice.Config([("a", "1"), ("b", "2"), ("a", "3")])
        self.assertEqual((c.get("a"), c.get("z"), c.get("z", "d"), c.require("b")), ("3", None, "d", "2"))
        self.assertIn("a", c)
        with self.assertRaises(sluice.ConfigError) as e:
            c.require("z")
        self.assertEqual((e.exception.key, e.exception.message), ("z", "missing required key `z`"))
        with self.assertRaises(sluice.ConfigError) as e:
            sluice.Config({"k": "v"}).only([])
        self.assertEqual(e.exception.message, "unknown key `k`: this plugin takes no configuration")


class DiscoveryTest(unittest.TestCase):
    def module(self, **classes):
        m = types.ModuleType("plugin")
        for name, cls in classes.items():
            cls.__module__ = "plugin"
            setattr(m, name, cls)
        return m

    def test_finds_the_one_class(self):
        class F(sluice.Filter):
            pass

        m = self.module(F=F)
        m.Filter = sluice.Filter  # imported names do not count
        self.assertIs(_runner.find_plugin(m, "filter"), F)

    def test_ambiguity_and_mistakes_are_explained(self):
        class A(sluice.Filter):
            pass

        class B(sluice.Filter):
            pass

        class T(sluice.Transform):
            pass

        with self.assertRaisesRegex(TypeError, "several Filter classes"):
            _runner.find_plugin(self.module(A=A, B=B), "filter")
        m = self.module(A=A, B=B)
        m.PLUGIN = B
        self.assertIs(_runner.find_plugin(m, "filter"), B)
        with self.assertRaisesRegex(TypeError, "defines a sluice_sdk.Transform, but the project is a filter"):
            _runner.find_plugin(self.module(T=T), "filter")
        with self.assertRaisesRegex(TypeError, "defines no subclass"):
            _runner.find_plugin(self.module(), "transform")


class HostTest(unittest.TestCase):
    def test_log_levels(self):
        with self.assertRaises(ValueError):
            sluice.log("loud", "x")
        _host.log(sluice.Level.DEBUG, "fine", k=1)


if __name__ == "__main__":
    unittest.main()
