#!/usr/bin/env python3
"""Runs the conformance cases (tests/conformance/cases.toml) against the Rust reference
plugins and the Python ones, and compares what `sluice plugin test` prints: outcomes,
output messages byte for byte, error classes, and error texts up to their first `:`. A
case marked `refused` must make both plugins refuse their configuration.

    python3 plugins/python/conformance.py --sluice PATH/TO/sluice \\
        --rust DIR_WITH_RUST_WASM --python DIR_WITH_PYTHON_WASM

The .wasm files are looked up as `<dir>/<name>.wasm` with `-` or `_` in the name. Exits
non-zero on any difference, printing it.
"""

import argparse
import json
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def wasm(directory, name):
    for n in (name, name.replace("-", "_")):
        p = Path(directory) / f"{n}.wasm"
        if p.exists():
            return p
    sys.exit(f"no {name}.wasm in {directory}")


def run(sluice, plugin, messages, config):
    args = [sluice, "plugin", "test", str(plugin), "--input", str(messages)]
    for c in config:
        args += ["-c", c]
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode != 0:
        return None, p.stderr.strip().splitlines()[-1:] or [""]
    lines = []
    for line in p.stdout.splitlines():
        v = json.loads(line)
        if "error" in v:
            v["error"] = v["error"].split(":", 1)[0]
        lines.append(json.dumps(v, sort_keys=True))
    return lines, None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sluice", required=True)
    ap.add_argument("--rust", required=True, help="directory of the Rust plugins' .wasm")
    ap.add_argument("--python", required=True, help="directory of the Python plugins' .wasm")
    ap.add_argument("--cases", default=ROOT / "tests/conformance/cases.toml")
    ap.add_argument("--messages", default=ROOT / "tests/conformance/messages.jsonl")
    a = ap.parse_args()
    cases = tomllib.loads(Path(a.cases).read_text())["case"]
    failed = 0
    for c in cases:
        rust = wasm(a.rust, c["plugin"])
        mine = wasm(a.python, c["plugin"])
        want, want_err = run(a.sluice, rust, a.messages, c["config"])
        got, got_err = run(a.sluice, mine, a.messages, c["config"])
        label = f"{c['plugin']}/{c['name']}"
        if c.get("refused"):
            if want is not None:
                print(f"FAIL {label}: the Rust plugin accepted a configuration marked refused")
                failed += 1
            elif got is not None:
                print(f"FAIL {label}: the Python plugin accepted a refused configuration")
                failed += 1
            else:
                print(f"ok   {label}: refused ({got_err[0][-90:]})")
            continue
        if want is None or got is None:
            print(f"FAIL {label}: refused by {'Rust' if want is None else 'Python'}: {(want_err or got_err)[0]}")
            failed += 1
            continue
        diffs = [(i, w, g) for i, (w, g) in enumerate(zip(want, got)) if w != g]
        if len(want) != len(got) or diffs:
            failed += 1
            print(f"FAIL {label}: {len(diffs)} lines differ ({len(want)} vs {len(got)} lines)")
            for i, w, g in diffs[:5]:
                print(f"  line {i + 1}\n    rust:   {w}\n    python: {g}")
        else:
            print(f"ok   {label}: {len(got)} lines identical")
    print(f"{len(cases) - failed} of {len(cases)} cases pass")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
