"""Unit tests, natively: `python3 -m unittest` in this directory (with sdk/python on
PYTHONPATH)."""

import unittest

import sluice_sdk as sluice
from sluice_sdk.testing import TestMessage as M
from sluice_sdk.testing import run_transform

from plugin import Passthrough


class PassthroughTest(unittest.TestCase):
    def test_everything_unchanged(self):
        out = run_transform(Passthrough, {}, [M("a"), M(b"\xff"), M()])
        self.assertEqual(out, [sluice.UNCHANGED] * 3)

    def test_refuses_any_config(self):
        with self.assertRaises(sluice.ConfigError) as e:
            run_transform(Passthrough, {"x": "1"}, [])
        self.assertEqual(e.exception.key, "x")


if __name__ == "__main__":
    unittest.main()
