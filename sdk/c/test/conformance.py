#!/usr/bin/env python3
"""Runs the conformance cases (tests/conformance/cases.toml) against the C plugins and the
Rust reference plugins with `sluice plugin test`, and compares what they answer.

    python3 sdk/c/test/conformance.py SLUICE_BIN RUST_WASM_DIR C_WASM_DIR [CONFORMANCE_DIR]

RUST_WASM_DIR holds json_filter.wasm and mask_pii.wasm; C_WASM_DIR holds json-filter.wasm
and mask-pii.wasm. Outcomes, output messages, error classes and the error text up to its
first ':' must be equal; a configuration is refused by both or by neither; plugin counters
must be equal. Exits non-zero on any difference.
"""
import json
import os
import subprocess
import sys
import tomllib


def run(sluice, wasm, messages, config):
    cmd = [sluice, "plugin", "test", wasm, "--input", messages, "--no-cache"]
    for kv in config:
        cmd += ["-c", kv]
    p = subprocess.run(cmd, capture_output=True, text=True)
    lines = []
    for line in p.stdout.splitlines():
        rec = json.loads(line)
        if "error" in rec:
            rec["error"] = rec["error"].split(":", 1)[0]
        lines.append(rec)
    counters = [l for l in p.stderr.splitlines() if l.startswith("plugin counters")]
    return p.returncode, lines, counters, p.stderr


def main():
    sluice, rust_dir, c_dir = sys.argv[1:4]
    conf = sys.argv[4] if len(sys.argv) > 4 else os.path.join(
        os.path.dirname(__file__), "..", "..", "..", "tests", "conformance")
    messages = os.path.join(conf, "messages.jsonl")
    with open(os.path.join(conf, "cases.toml"), "rb") as f:
        cases = tomllib.load(f)["case"]
    passed = failed = 0
    for case in cases:
        plugin = case["plugin"]
        rust = os.path.join(rust_dir, plugin.replace("-", "_") + ".wasm")
        c = os.path.join(c_dir, plugin + ".wasm")
        r = run(sluice, rust, messages, case["config"])
        k = run(sluice, c, messages, case["config"])
        problems = []
        if case.get("refused"):
            if r[0] == 0 or k[0] == 0:
                problems.append(f"refused: rust exit {r[0]}, c exit {k[0]}")
        else:
            if r[0] != 0 or k[0] != 0:
                problems.append(f"exit: rust {r[0]}, c {k[0]}: {k[3].strip()[:300]}")
            if len(r[1]) != len(k[1]):
                problems.append(f"{len(r[1])} lines from rust, {len(k[1])} from c")
            for a, b in zip(r[1], k[1]):
                if a != b:
                    problems.append(f"rust {json.dumps(a)}\n       c    {json.dumps(b)}")
            if r[2] != k[2]:
                problems.append(f"counters: rust {r[2]}, c {k[2]}")
        name = f"{plugin}/{case['name']}"
        if problems:
            failed += 1
            print(f"FAIL {name}")
            for p in problems[:10]:
                print("     " + p)
        else:
            passed += 1
            print(f"ok   {name}")
    print(f"conformance: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
