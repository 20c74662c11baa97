"""The frame layout (wit/FRAMES.md) as the kit reads and writes it: messages read in place,
outcome buffers byte for byte. Runs natively: `cd sdk/python && python3 -m unittest`."""

import random
import struct
import unittest

import sluice_sdk as sluice
from sluice_sdk import _frames
from sluice_sdk._frames import HEADER, BatchInfo, Message, decode_outcomes, encode_frame, encode_output


def message(frame, at=0, buf=None):
    buf = frame if buf is None else buf
    return Message(buf, at, HEADER.unpack_from(buf, at), BatchInfo("orders", 7, "p", "s"))


class FrameLayoutTest(unittest.TestCase):
    def test_header_offsets_follow_frames_md(self):
        f = encode_frame(
            queue_offset=10,
            born_timestamp_ms=1_700_000_000_000,
            reconsume_count=2,
            message_id="A1",
            keys=["k1", "k2"],
            tag="",
            properties=[("a", "1")],
            body=b"\xff\x00x",
        )
        # Fixed 48-byte header, little-endian, then id, keys, tag, properties, body.
        want = (
            struct.pack("<IIqqI", len(f), 1, 10, 1_700_000_000_000, 2)
            + struct.pack("<5I", 2, 12, 0, 10, 3)
            + b"A1"
            + b"\x02\x00\x00\x00k1\x02\x00\x00\x00k2"
            + b"\x01\x00\x00\x00a\x01\x00\x00\x001"
            + b"\xff\x00x"
        )
        self.assertEqual(f, want)
        self.assertEqual(len(f), 48 + 2 + 12 + 0 + 10 + 3)

    def test_message_fields(self):
        f = encode_frame(
            queue_offset=-5,
            born_timestamp_ms=1_700_000_000_123,
            reconsume_count=3,
            message_id="id-1",
            keys=["k1", "ключ"],
            tag="paid",
            properties={"region": "eu", "name": "Zoë"},
            body="héllo",
        )
        m = message(f)
        self.assertEqual(m.queue_offset, -5)
        self.assertEqual(m.born_timestamp_ms, 1_700_000_000_123)
        self.assertEqual(m.reconsume_count, 3)
        self.assertEqual(m.message_id, "id-1")
        self.assertEqual(m.keys, ["k1", "ключ"])
        self.assertEqual(m.key, "k1")
        self.assertEqual(m.tag, "paid")
        self.assertEqual(m.properties, {"region": "eu", "name": "Zoë"})
        self.assertEqual(m.property("name"), "Zoë")
        self.assertEqual(m.body, "héllo".encode())
        self.assertEqual(m.body_str(), "héllo")
        self.assertEqual(m.body_len, 6)
        self.assertEqual((m.topic, m.queue_id, m.batch.pipeline, m.batch.stage), ("orders", 7, "p", "s"))

    def test_empty_tag_is_not_no_tag(self):
        self.assertEqual(message(encode_frame(tag="")).tag, "")
        self.assertIsNone(message(encode_frame()).tag)

    def test_empty_message(self):
        m = message(encode_frame())
        self.assertEqual((m.message_id, m.keys, m.key, m.properties, m.body), ("", [], None, {}, b""))
        self.assertIsNone(m.property("x"))
        self.assertEqual(m.property("x", "dflt"), "dflt")
        self.assertFalse(m.has_property("x"))
        self.assertFalse(m.property_is("x", ""))

    def test_body_not_utf8(self):
        m = message(encode_frame(body=b"\xff\xfe"))
        self.assertEqual(m.body, b"\xff\xfe")
        self.assertIsNone(m.body_str())

    def test_frames_back_to_back(self):
        frames = encode_frame(queue_offset=1, body=b"a") + encode_frame(queue_offset=2, properties={"p": "v"}, body=b"bb")
        second = HEADER.unpack_from(frames, 0)[0]
        m = message(None, second, frames)
        self.assertEqual((m.queue_offset, m.body, m.property("p")), (2, b"bb", "v"))


class PropertyLookupTest(unittest.TestCase):
    def setUp(self):
        _frames._guesses.clear()

    def lookups(self, props, name, body=b""):
        m = message(encode_frame(properties=props, body=body))
        return m.property(name), m.has_property(name), m.property_is(name, "eu")

    def test_finds_any_position(self):
        for props in ([("region", "eu")], [("a", "1"), ("region", "eu")], [("a", "1"), ("bb", "22"), ("region", "eu")]):
            self.assertEqual(self.lookups(props, "region"), ("eu", True, True), props)

    def test_name_inside_a_value_or_longer_name_is_no_entry(self):
        pat = struct.pack("<I", 6).decode() + "region"
        spoof = pat + "\x02\x00\x00\x00eu"
        self.assertEqual(self.lookups([("x", spoof)], "region"), (None, False, False))
        self.assertEqual(self.lookups([("x", spoof), ("region", "us")], "region"), ("us", True, False))
        self.assertEqual(self.lookups([("my-region", "eu")], "region"), (None, False, False))
        self.assertEqual(self.lookups([("x", "region")], "region"), (None, False, False))

    def test_first_of_duplicates_counts(self):
        m = message(encode_frame(properties=[("k", "1"), ("k", "2")]))
        self.assertEqual((m.property("k"), m.properties), ("1", {"k": "1"}))

    def test_the_body_never_completes_a_match(self):
        # The properties block ends where the body begins; the name's bytes in the body
        # must not be read as an entry.
        pat = struct.pack("<I", 6) + b"region" + struct.pack("<I", 2) + b"eu"
        self.assertEqual(self.lookups([("a", "1")], "region", body=pat), (None, False, False))
        self.assertEqual(self.lookups([], "region", body=pat), (None, False, False))

    def test_remembered_walks_are_sound(self):
        # Learn that "region" follows an entry `a=1`, then present blocks that begin
        # alike or nearly alike.
        self.assertEqual(self.lookups([("a", "1"), ("region", "eu")], "region")[0], "eu")
        self.assertEqual(self.lookups([("a", "1"), ("region", "us")], "region")[0], "us")
        self.assertEqual(self.lookups([("a", "2"), ("region", "eu")], "region")[0], "eu")
        self.assertEqual(self.lookups([("a", "1")], "region")[0], None)
        self.assertEqual(self.lookups([("a", "1"), ("b", "region")], "region")[0], None)
        self.assertEqual(self.lookups([("region", "first"), ("a", "1")], "region")[0], "first")
        # A walk through entries whose content differs each time still finds the entry.
        for i in range(20):
            self.assertEqual(self.lookups([("trace", f"id-{i}"), ("region", "eu")], "region")[0], "eu")

    def test_lookups_agree_with_a_plain_decoder(self):
        # Random blocks, in sequence (so that remembered walks are reused and replaced),
        # full of names inside names and entries inside values.
        rng = random.Random(5)
        names = ["region", "r", "reg", "source", "", "régïon"]

        def entry(k, v):
            return (struct.pack("<I", len(k.encode())) + k.encode() + struct.pack("<I", len(v.encode())) + v.encode()).decode()

        values = ["eu", "us", "", "region", entry("region", "eu"), entry("r", "") + "x", "\x00\x00"]
        for _ in range(3000):
            props = [
                (rng.choice(names + [rng.choice(names) + rng.choice(names)]), rng.choice(values))
                for _ in range(rng.randint(0, 5))
            ]
            body = rng.choice([b"", entry("region", "eu").encode(), b"x"])
            m = message(encode_frame(properties=props, body=body))
            for name in names:
                want = next((v for k, v in props if k == name), None)
                self.assertEqual(m.property(name), want, (props, name))
                self.assertEqual(m.has_property(name), want is not None, (props, name))
                for value in ("eu", "", "region"):
                    self.assertEqual(m.property_is(name, value), want == value, (props, name, value))

    def test_non_ascii_names_and_values(self):
        m = message(encode_frame(properties={"näme": "wört", "k": "v"}))
        self.assertEqual(m.property("näme"), "wört")
        self.assertTrue(m.property_is("näme", "wört"))
        self.assertFalse(m.property_is("näme", "wort"))
        self.assertFalse(m.property_is("k", "vv"))
        self.assertFalse(m.property_is("k", ""))


class OutcomeEncodingTest(unittest.TestCase):
    def test_output_fields_in_flag_order(self):
        o = sluice.Output(body="b", keys=["k"], tag="", properties={"p": "v"}, destination="fraud")
        want = (
            b"\x1f"
            + b"\x05\x00\x00\x00" + b"\x01\x00\x00\x00k"
            + b"\x00\x00\x00\x00"
            + b"\x0a\x00\x00\x00" + b"\x01\x00\x00\x00p\x01\x00\x00\x00v"
            + b"\x01\x00\x00\x00b"
            + b"\x05\x00\x00\x00fraud"
        )
        self.assertEqual(encode_output(o), want)
        self.assertEqual(encode_output(sluice.Output()), b"\x00")
        self.assertEqual(encode_output(sluice.Output(body=bytearray(b"x"))), b"\x08\x01\x00\x00\x00x")

    def test_output_field_types_are_checked(self):
        for o in (sluice.Output(body=1), sluice.Output(keys="k"), sluice.Output(tag=b"t"), sluice.Output(properties={"p": 1})):
            with self.assertRaises(TypeError):
                encode_output(o)

    def test_decode_checks_like_the_host(self):
        good = b"SLO\x01\x02\x00\x00\x00\x00\x04\x03\x00\x00\x00bad"
        self.assertEqual(decode_outcomes(good, 2), [sluice.UNCHANGED, sluice.Reject("bad")])
        for bad, what in (
            (b"SLO\x02\x00\x00\x00\x00", "starts with"),
            (good, "outcomes for a batch of 3"),
            (good + b"\x00", "trail"),
            (b"SLO\x01\x01\x00\x00\x00\x07", "tag 7"),
            (b"SLO\x01\x01\x00\x00\x00\x04\x01\x00\x00\x00\xff", "UTF-8"),
        ):
            with self.assertRaises(_frames.MalformedBatch) as e:
                decode_outcomes(bad, 3 if "batch of 3" in what else (2 if bad.startswith(good) else 1))
            self.assertIn(what, str(e.exception))
        with self.assertRaises(_frames.MalformedBatch):
            decode_outcomes(b"SLO\x01\x01\x00\x00\x00\x02\x00\x00\x00\x00", 1, filter_only=True)


if __name__ == "__main__":
    unittest.main()
