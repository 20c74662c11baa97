"""Unit tests of {{name}}, natively (no WebAssembly): the messages go through the same
batch loop and frame layout as in the component.

    PYTHONPATH=.sluice-build/kit python3 -m unittest
"""

import unittest

import sluice_sdk as sluice
from sluice_sdk.testing import TestMessage, run_filter

from plugin import Plugin

CONFIG = {"property": "region", "equals": "eu"}


class PluginTest(unittest.TestCase):
    def test_keeps_the_matching_messages(self):
        out = run_filter(Plugin, CONFIG, [
            TestMessage('{"id": 1}', properties={"region": "eu"}),
            TestMessage('{"id": 2}', properties={"region": "us"}),
            TestMessage('{"id": 3}'),
        ])
        self.assertEqual(out, [sluice.UNCHANGED, sluice.DROP, sluice.DROP])

    def test_refuses_an_incomplete_configuration(self):
        with self.assertRaises(sluice.ConfigError):
            run_filter(Plugin, {"property": "region"}, [])


if __name__ == "__main__":
    unittest.main()
