#!/usr/bin/env python3
"""Differential test of the Go json-filter against the Rust one (serde_json) on generated
bodies: JSON documents, mutations of them (cut, doubled, swapped characters), number
spellings at the edges of u64/i64/f64, escapes and surrogates, deep nesting.

    python3 plugins/go/json_differential.py SLUICE RUST_JSON_FILTER.wasm GO_JSON_FILTER.wasm [N]

Every body is filtered with field `n` against several `equals` values; the outcomes and the
error classes (and error text up to ':') must agree. Prints 'N passed, N failed'.
"""

import json
import random
import subprocess
import sys
import tempfile

NUMBERS = ["0", "-0", "1", "-1", "42", "42.0", "4.2e1", "420e-1", "0.0", "-0.0", "1e0", "1E+0", "1e-0",
           "18446744073709551615", "18446744073709551616", "-9223372036854775808", "-9223372036854775809",
           "9223372036854775807", "123456789012345678901234567890", "1.7976931348623157e308", "1.8e308",
           "5e-324", "1e-400", "2.2250738585072014e-308", "0.1", "0.30000000000000004", "53316156909642602e28",
           "5.33161569096426e+44", "1e999999999999", "0e999999999999", "1e-999999999999", "00", "01", "-", "1.",
           ".1", "+1", "1e", "1e+", "0x10", "1_000", "NaN", "Infinity", "-Infinity", "12345678901234567890.5e-3",
           "1.00000000000000000000000000001", "9007199254740993", "9007199254740993.0"]
STRINGS = ['"paid"', '"pa\\u0069d"', '"\\ud83d\\ude00"', '"\\ud83d"', '"\\ude00"', '"\\ud83dx"', '"\\ud83d\\u0041"',
           '"\\u00e9"', '"é"', '"\\x"', '"a\\/b"', '"tab\there"', '"\\t"', '""', '"\\u0000"', '"\\uD83D\\uDE00"',
           "'paid'", '"unterminated']
OTHERS = ["true", "false", "null", "tru", "nul", "[]", "{}", "[1,2]", "[1,]", "{\"a\":1}", "{\"a\":1,}", "[1 2]",
          "{\"b\":2,\"a\":1}", "{\"a\":1,\"a\":2}", "[[[]]]"]
EQUALS = ["42", "42.0", "0", "-0", "paid", "\"paid\"", "😀", "18446744073709551615", "1e-400", "0.1", "true", "null",
          "{\"a\":1,\"b\":2}", "[1,2]", "5.33161569096426e+44", "-9223372036854775808"]


def bodies(n, rng):
    atoms = NUMBERS + STRINGS + OTHERS
    out = []
    for a in atoms:
        out += [f'{{"n":{a}}}', f' {{ "n" : {a} }} ', f'{{"n":{a}}} x', f'[{a}]', a]
    for d in (126, 127, 128, 129):
        out.append('{"n":' + "[" * d + "]" * d + "}")
        out.append("[" * d + "]" * d)
    while len(out) < n:
        s = rng.choice(out[: len(atoms) * 5])
        op = rng.randrange(4)
        i = rng.randrange(len(s) + 1)
        if op == 0:
            s = s[:i]
        elif op == 1:
            s = s[:i] + rng.choice(',:[]{}"\\ -+.eE0123456789aun\x01\x7f') + s[i:]
        elif op == 2 and len(s) > 1:
            s = s[:i] + s[i + 1:]
        else:
            s = f'{{"n":{s},"n":{rng.choice(atoms)}}}'
        out.append(s)
    return out[:n]


def run(sluice, wasm, inp, equals):
    p = subprocess.run([sluice, "plugin", "test", wasm, "--input", inp, "-c", "field=n", "-c", f"equals={equals}"],
                       capture_output=True, text=True)
    lines = []
    for line in p.stdout.splitlines():
        o = json.loads(line)
        o.pop("message", None)
        if "error" in o:
            o["error"] = o["error"].split(":", 1)[0]
        lines.append(o)
    return p.returncode, lines


def main():
    sluice, rust, go = sys.argv[1:4]
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 3000
    rng = random.Random(7)
    docs = bodies(n, rng)
    raw = [b"\xef\xbb\xbf{\"n\":1}", b"{\"n\":\"\xff\"}", b"{\"n\":1}\xff", b"\xc3\x28"]
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        for i, d in enumerate(docs):
            f.write(json.dumps({"key": str(i), "body": d}) + "\n")
        import base64
        for r in raw:
            f.write(json.dumps({"key": "raw", "body_base64": base64.b64encode(r).decode()}) + "\n")
        inp = f.name
    passed = failed = 0
    for eq in EQUALS:
        rc_r, out_r = run(sluice, rust, inp, eq)
        rc_g, out_g = run(sluice, go, inp, eq)
        bad = [(i, a, b) for i, (a, b) in enumerate(zip(out_r, out_g)) if a != b]
        if rc_r != rc_g or len(out_r) != len(out_g) or bad:
            failed += 1
            print(f"FAIL equals={eq}: exit {rc_r}/{rc_g}, lines {len(out_r)}/{len(out_g)}, {len(bad)} differ")
            for i, a, b in bad[:5]:
                print(f"     body {docs[i] if i < len(docs) else raw[i - len(docs)]!r}\n       Rust {a}\n       Go   {b}")
        else:
            passed += 1
            print(f"ok   equals={eq}: {len(out_g)} bodies agree")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
