"""Unit tests, natively: `python3 -m unittest` in this directory (with sdk/python on
PYTHONPATH)."""

import unittest

import sluice_sdk as sluice
from sluice_sdk.testing import TestMessage as M
from sluice_sdk.testing import run_filter

from plugin import PropertyFilter


class PropertyFilterTest(unittest.TestCase):
    MSGS = [M(properties={"region": "eu"}), M(properties={"region": "us"}), M(), M(properties={"x": "region"})]

    def test_filters_on_the_property(self):
        out = run_filter(PropertyFilter, {"property": "region", "equals": "eu"}, self.MSGS)
        self.assertEqual(out, [sluice.UNCHANGED, sluice.DROP, sluice.DROP, sluice.DROP])

    def test_missing_keep(self):
        cfg = {"property": "region", "equals": "eu", "missing": "keep"}
        out = run_filter(PropertyFilter, cfg, self.MSGS)
        self.assertEqual(out, [sluice.UNCHANGED, sluice.DROP, sluice.UNCHANGED, sluice.UNCHANGED])

    def test_refuses_bad_config(self):
        for cfg in ({"equals": "eu"}, {"property": "p"}, {"property": "p", "equals": "e", "missing": "maybe"},
                    {"property": "p", "equals": "e", "colour": "red"}):
            with self.assertRaises(sluice.ConfigError):
                run_filter(PropertyFilter, cfg, [])


if __name__ == "__main__":
    unittest.main()
