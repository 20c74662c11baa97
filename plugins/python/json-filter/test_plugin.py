"""Unit tests, natively: `python3 -m unittest` in this directory (with sdk/python on
PYTHONPATH). The byte-for-byte comparison with the Rust plugin is
`plugins/python/conformance.py`."""

import unittest

import sluice_sdk as sluice
import strict_json
from sluice_sdk.testing import TestMessage as M
from sluice_sdk.testing import run_filter

from plugin import JsonFilter


class JsonFilterTest(unittest.TestCase):
    def test_keeps_equal_drops_other_rejects_non_json(self):
        out = run_filter(
            JsonFilter,
            {"field": "order.status", "equals": "paid"},
            [M('{"order":{"status":"paid"}}'), M('{"order":{"status":"new"}}'), M('{"other":1}'), M("not json"), M(""), M(b"\xff\xfe")],
        )
        self.assertEqual(out[:3], [sluice.UNCHANGED, sluice.DROP, sluice.DROP])
        self.assertTrue(out[3].reason.startswith("body is not JSON: "), out[3])
        self.assertEqual(out[4], sluice.Reject("body is empty, not JSON"))
        self.assertIsInstance(out[5], sluice.Reject)

    def test_values_are_json_when_they_parse(self):
        out = run_filter(JsonFilter, {"field": "/n", "equals": "42"}, [M('{"n":42}'), M('{"n":"42"}'), M('{"n":42.0}')])
        self.assertEqual(out, [sluice.UNCHANGED, sluice.DROP, sluice.DROP])
        with self.assertRaises(sluice.ConfigError) as e:
            run_filter(JsonFilter, {"equals": "1"}, [])
        self.assertIn("missing required key `field`", e.exception.message)


class StrictJsonTest(unittest.TestCase):
    def test_refuses_what_serde_json_refuses(self):
        for text in ("NaN", "[Infinity]", '{"a":1,}', "01", '"\\ud800"', '"\\ude00x"', "1e400", "-1e400",
                     "[" * 128 + "]" * 128, '{"a":1} x', "\ufeff{}", '"\x01"', "", "   "):
            with self.assertRaises(strict_json.JsonError, msg=repr(text)):
                strict_json.loads(text)

    def test_numbers_as_serde_json_holds_them(self):
        cases = {
            "42": 42, "-0": -0.0, "18446744073709551615": 18446744073709551615,
            "18446744073709551616": 1.8446744073709552e19, "-9223372036854775808": -9223372036854775808,
            "-9223372036854775809": -9.223372036854776e18, "4.2e1": 42.0, "1e-400": 0.0, "1e2147483648": None,
            "0e2147483648": 0.0,
        }
        for text, want in cases.items():
            if want is None:
                with self.assertRaises(strict_json.JsonError):
                    strict_json.loads(text)
                continue
            got = strict_json.loads(text)
            self.assertTrue(strict_json.same(got, want), f"{text}: {got!r}")
        self.assertEqual(strict_json.loads("[" * 127 + "]" * 127), strict_json.loads("[" * 127 + "]" * 127))

    def test_equality_is_typed(self):
        same = strict_json.same
        self.assertFalse(same(True, 1))
        self.assertFalse(same(42, 42.0))
        self.assertTrue(same(0.0, -0.0))
        self.assertTrue(same({"a": 1, "b": [1, None]}, {"b": [1, None], "a": 1}))
        self.assertFalse(same({"a": 1}, {"a": 1, "b": 2}))

    def test_pointer(self):
        doc = strict_json.loads('{"a~b":{"c/d":[10,{"":null}]}}')
        self.assertEqual(strict_json.lookup(doc, "/a~0b/c~1d/0"), (True, 10))
        self.assertEqual(strict_json.lookup(doc, "/a~0b/c~1d/1/"), (True, None))
        for p in ("/a~0b/c~1d/01", "/a~0b/c~1d/+1", "/a~0b/c~1d/2", "/x", "a"):
            self.assertEqual(strict_json.lookup(doc, p), (False, None), p)


if __name__ == "__main__":
    unittest.main()
