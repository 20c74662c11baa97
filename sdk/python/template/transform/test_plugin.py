"""Unit tests of {{name}}, natively (no WebAssembly): the messages go through the same
batch loop and frame layout as in the component.

    PYTHONPATH=.sluice-build/kit python3 -m unittest
"""

import unittest

import sluice_sdk as sluice
from sluice_sdk.testing import TestMessage, run_transform

from plugin import Plugin


class PluginTest(unittest.TestCase):
    def test_adds_the_property(self):
        out = run_transform(Plugin, {}, [TestMessage("hello", properties={"region": "eu"})])
        self.assertEqual(out, [[sluice.Output(properties={"region": "eu", "processed-by": "{{name}}"})]])

    def test_refuses_settings(self):
        with self.assertRaises(sluice.ConfigError):
            run_transform(Plugin, {"colour": "red"}, [])


if __name__ == "__main__":
    unittest.main()
