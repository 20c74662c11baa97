#!/usr/bin/env python3
"""Conformance of the Go json-filter and mask-pii with the Rust ones.

Runs every case of tests/conformance/cases.toml through `sluice plugin test` with the Rust
plugin and with the Go plugin, over tests/conformance/messages.jsonl, and compares the
output lines: same outcomes, same output messages byte for byte, same error class, and the
same error text up to its first ':', and the same plugin counters. A configuration the Rust plugin refuses must be
refused (non-zero exit), one it accepts must be accepted.

    python3 plugins/go/conformance.py SLUICE RUST_PLUGIN_DIR GO_PLUGIN_DIR

RUST_PLUGIN_DIR holds json_filter.wasm and mask_pii.wasm; GO_PLUGIN_DIR holds
json-filter.wasm and mask-pii.wasm. Prints one line per case and a closing
'N passed, N failed' line; exits non-zero on any failure.
"""

import json
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CASES = REPO / "tests/conformance/cases.toml"
MESSAGES = REPO / "tests/conformance/messages.jsonl"


def run(sluice, wasm, config):
    cmd = [sluice, "plugin", "test", str(wasm), "--input", str(MESSAGES)]
    for kv in config:
        cmd += ["-c", kv]
    p = subprocess.run(cmd, capture_output=True, text=True)
    lines = []
    for line in p.stdout.splitlines():
        out = json.loads(line)
        if "error" in out:
            out["error"] = out["error"].split(":", 1)[0]
        lines.append(out)
    counters = [l for l in p.stderr.splitlines() if l.startswith("plugin counters:")]
    return p.returncode, lines + counters, p.stderr


def main():
    sluice, rust_dir, go_dir = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    cases = tomllib.loads(CASES.read_text())["case"]
    passed = failed = 0
    for case in cases:
        plugin, name, config = case["plugin"], case["name"], case.get("config", [])
        rust = rust_dir / (plugin.replace("-", "_") + ".wasm")
        go = go_dir / (plugin + ".wasm")
        rc_r, out_r, err_r = run(sluice, rust, config)
        rc_g, out_g, err_g = run(sluice, go, config)
        problems = []
        if case.get("refused", False) != (rc_r != 0):
            problems.append(f"the Rust plugin exits {rc_r}, but the case says refused={case.get('refused', False)}")
        if (rc_r == 0) != (rc_g == 0):
            problems.append(f"exit codes differ: Rust {rc_r}, Go {rc_g}: {err_g.strip()[-300:]}")
        if rc_r == 0 and out_r != out_g:
            if len(out_r) != len(out_g):
                problems.append(f"{len(out_r)} Rust output lines, {len(out_g)} Go output lines")
            for a, b in zip(out_r, out_g):
                if a != b:
                    problems.append(f"Rust {json.dumps(a)[:300]}\n      Go   {json.dumps(b)[:300]}")
                    break
        if rc_r == 0 and len(out_r) == 0:
            problems.append("no output lines")
        n_msgs = sum(1 for o in out_g if isinstance(o, dict))
        what = "refused by both" if rc_r != 0 and rc_g != 0 else (
            f"{n_msgs} message lines identical" + (", counters identical" if len(out_g) > n_msgs else ""))
        if problems:
            failed += 1
            print(f"FAIL {plugin} {name}")
            for p in problems:
                print("     " + p)
        else:
            passed += 1
            print(f"ok   {plugin} {name}: {what}")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
