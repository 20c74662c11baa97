"""`mask-pii`: masks payment card numbers and e-mail addresses in message bodies, as the
Rust `plugins/mask-pii` does, byte for byte.

* A card number is a run of 13-19 digits, optionally grouped by single spaces or dashes,
  that passes the Luhn check; all its digits but the last `keep_last` become the mask
  character (`4111 1111 1111 1111` -> `**** **** **** 1111`).
* An e-mail address keeps the first character of its local part and its domain
  (`jane.doe@example.com` -> `j*******@example.com`).

Bodies are scanned as bytes, so bodies that are not UTF-8 are masked too and never
corrupted. A body with nothing to mask is passed on unchanged (nothing is sent back).

Configuration: `mask` (one printable ASCII character, default `*`), `keep_last` (0-8,
default 4), `cards` and `emails` (`true`/`false`, default `true`). Counters:
`cards_masked`, `emails_masked`.
"""

import re

import sluice_sdk as sluice

_DIGIT = tuple(48 <= b <= 57 for b in range(256))
_ALNUM = tuple(48 <= b <= 57 or 65 <= b <= 90 or 97 <= b <= 122 for b in range(256))
_ALPHA = tuple(65 <= b <= 90 or 97 <= b <= 122 for b in range(256))
_LOCAL = tuple(_ALNUM[b] or b in b"._%+-" for b in range(256))
_DOMAIN = tuple(_ALNUM[b] or b in b".-" for b in range(256))
_A_DIGIT = re.compile(rb"[0-9]")


class MaskPii(sluice.Transform):
    def __init__(self, config):
        config.only(["mask", "keep_last", "cards", "emails"])
        mask = config.get("mask", "*").encode()
        if len(mask) != 1 or not 0x21 <= mask[0] <= 0x7E:
            raise sluice.ConfigError("`mask` must be one printable ASCII character", key="mask")
        self.mask = mask[0]
        self.keep_last = config.parse_int("keep_last", 4, min=0)
        if self.keep_last > 8:
            raise sluice.ConfigError("`keep_last` may be at most 8", key="keep_last")
        self.cards = config.parse_bool("cards", True)
        self.emails = config.parse_bool("emails", True)

    def transform(self, msg):
        body, cards, emails = self.mask_body(msg.body)
        if body is None:
            return sluice.UNCHANGED
        if cards:
            sluice.counter_add("cards_masked", cards)
        if emails:
            sluice.counter_add("emails_masked", emails)
        return sluice.Output(body=body)

    def mask_body(self, body):
        """The masked body (``None`` when nothing matched) and the counts of cards and
        e-mail addresses masked."""
        out = None
        cards = emails = 0
        mask = self.mask
        if self.cards:
            for start, end in card_spans(body):
                if out is None:
                    out = bytearray(body)
                digits = sum(1 for b in out[start:end] if _DIGIT[b])
                masked = digits - min(self.keep_last, digits)
                seen = 0
                for p in range(start, end):
                    if _DIGIT[out[p]]:
                        seen += 1
                        if seen <= masked:
                            out[p] = mask
                cards += 1
        if self.emails:
            for start, end in email_local_parts(body):
                if out is None:
                    out = bytearray(body)
                out[start + 1 : end] = bytes((mask,)) * (end - start - 1)
                emails += 1
        return (None if out is None else bytes(out)), cards, emails


def luhn(digits):
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = c - 48
        if i % 2 == 1:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return total % 10 == 0


def card_spans(s):
    """Byte ranges of card numbers."""
    spans = []
    n = len(s)
    i = 0
    while True:
        m = _A_DIGIT.search(s, i)
        if m is None:
            break
        i = m.start()
        if i > 0 and _ALNUM[s[i - 1]]:
            i += 1
            continue
        # A run of digits with single separators between digits.
        start = i
        digits = []
        end = i
        while i < n:
            c = s[i]
            if _DIGIT[c]:
                digits.append(c)
                i += 1
                end = i
            elif (c == 32 or c == 45) and i + 1 < n and _DIGIT[s[i + 1]] and digits:
                i += 1
            else:
                break
        bounded = end >= n or not _ALNUM[s[end]]
        if bounded and 13 <= len(digits) <= 19 and luhn(digits):
            spans.append((start, end))
        i = max(end, start + 1)
    return spans


def email_local_parts(s):
    """Byte ranges of the local parts of e-mail addresses."""
    spans = []
    n = len(s)
    at = s.find(b"@")
    while at >= 0:
        start = at
        while start > 0 and _LOCAL[s[start - 1]]:
            start -= 1
        while start < at and s[start] == 46:
            start += 1
        end = at + 1
        while end < n and _DOMAIN[s[end]]:
            end += 1
        domain = s[at + 1 : end]
        if domain.endswith(b"."):
            domain = domain[:-1]
        tld = domain.rsplit(b".", 1)[-1]
        tld_ok = len(tld) >= 2 and all(_ALPHA[b] for b in tld)
        if at > start and b"." in domain and tld_ok:
            spans.append((start, at))
        at = s.find(b"@", at + 1)
    return spans
