"""Unit tests, natively: `python3 -m unittest` in this directory (with sdk/python on
PYTHONPATH). The byte-for-byte comparison with the Rust plugin is
`plugins/python/conformance.py`."""

import unittest

import sluice_sdk as sluice
from sluice_sdk.testing import TestMessage as M
from sluice_sdk.testing import counters, run_transform

from plugin import MaskPii


def masked(cfg, body):
    out = run_transform(MaskPii, cfg, [M(body)])[0]
    return body if out is sluice.UNCHANGED else out[0].body


class MaskPiiTest(unittest.TestCase):
    def test_masks_cards_and_emails(self):
        self.assertEqual(masked({}, b"card 4111 1111 1111 1111 ok"), b"card **** **** **** 1111 ok")
        self.assertEqual(masked({}, b"4111-1111-1111-1111"), b"****-****-****-1111")
        self.assertEqual(masked({}, b'{"pan":"5500005555555559"}'), b'{"pan":"************5559"}')
        self.assertEqual(masked({}, b"mail jane.doe@example.com now"), b"mail j*******@example.com now")
        self.assertEqual(masked({"mask": "#", "keep_last": "0"}, b"4111111111111111"), b"################")
        self.assertEqual(counters(), {"cards_masked": 1})

    def test_leaves_other_numbers_and_non_utf8_alone(self):
        out = run_transform(MaskPii, {}, [M("order 1234567890123 total 12"), M("a@b"), M("")])
        self.assertEqual(out, [sluice.UNCHANGED] * 3)
        self.assertEqual(masked({}, b"\xff x@example.org"), b"\xff x@example.org")
        self.assertEqual(masked({}, b"\xfe 4111111111111111"), b"\xfe ************1111")

    def test_refuses_bad_config(self):
        for cfg in ({"mask": "ab"}, {"mask": " "}, {"keep_last": "9"}, {"keep_last": "-1"}, {"cards": "yes"}, {"colour": "red"}):
            with self.assertRaises(sluice.ConfigError, msg=cfg):
                run_transform(MaskPii, cfg, [])


if __name__ == "__main__":
    unittest.main()
