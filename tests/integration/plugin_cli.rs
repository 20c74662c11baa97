//! `sluice plugin test` and `sluice plugin inspect`, as a plugin author runs them.
//!
//! Golden files: `tests/golden/messages.jsonl` is the input of every case; the expected
//! output of case NAME is `tests/golden/NAME.out.jsonl`. Re-bless with
//! `SLUICE_BLESS=1 cargo test --test integration plugin_cli` and review the diff.

use crate::util::{golden, output, root, sluice};

/// (case, plugin, config pairs).
const CASES: &[(&str, &str, &[&str])] = &[
    ("passthrough", sluice_test_plugins::PASSTHROUGH, &[]),
    ("json-filter", sluice_test_plugins::JSON_FILTER, &["field=type", "equals=paid"]),
    ("json-filter-nested", sluice_test_plugins::JSON_FILTER, &["field=order.total", "equals=42"]),
    ("mask-pii", sluice_test_plugins::MASK_PII, &[]),
    ("split-array", sluice_test_plugins::SPLIT_ARRAY, &["index_property=index"]),
    ("property-filter", sluice_test_plugins::PROPERTY_FILTER, &["property=region", "equals=eu"]),
    ("set-property", sluice_test_plugins::SET_PROPERTY, &["key=region", "value=apac"]),
    ("tag-filter", sluice_test_plugins::TAG_FILTER, &["tags=paid || refunded"]),
    ("uppercase", sluice_test_plugins::UPPERCASE, &[]),
];

fn plugin_test(plugin: &str, config: &[&str], extra: &[&str]) -> (i32, String, String) {
    let mut c = sluice();
    c.args(["plugin", "test", plugin, "--input"]).arg(golden("messages.jsonl"));
    for kv in config {
        c.args(["--config", kv]);
    }
    c.args(extra);
    output(c)
}

#[test]
fn every_example_plugin_matches_its_golden_output() {
    let bless = std::env::var_os("SLUICE_BLESS").is_some();
    let mut failures = Vec::new();
    for (case, plugin, config) in CASES {
        let (code, stdout, stderr) = plugin_test(plugin, config, &[]);
        assert_eq!(code, 0, "{case}: exit {code}\n{stderr}");
        let path = golden(&format!("{case}.out.jsonl"));
        if bless {
            std::fs::write(&path, &stdout).expect("bless");
            continue;
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("{} is missing; run with SLUICE_BLESS=1", path.display()));
        if stdout != expected {
            failures.push(format!("--- {case}: expected {}\n{expected}\n--- got\n{stdout}", path.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn batch_size_does_not_change_the_output() {
    for (case, plugin, config) in CASES {
        let (_, one, _) = plugin_test(plugin, config, &["--batch-size", "1"]);
        let (_, all, _) = plugin_test(plugin, config, &["--batch-size", "1000"]);
        assert_eq!(one, all, "{case}");
    }
}

#[test]
fn load_and_init_failures_exit_non_zero_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.wasm");
    std::fs::write(&text, "these are not the bytes you are looking for").unwrap();
    let empty = dir.path().join("empty.wasm");
    std::fs::write(&empty, "").unwrap();
    let core = dir.path().join("core.wasm");
    std::fs::write(&core, wat::parse_str("(module (func (export \"f\")))").unwrap()).unwrap();
    let full = std::fs::read(sluice_test_plugins::JSON_FILTER).unwrap();
    let truncated = dir.path().join("truncated.wasm");
    std::fs::write(&truncated, &full[..full.len() / 2]).unwrap();
    let missing = dir.path().join("missing.wasm");

    let cases: Vec<(&std::path::Path, Vec<&str>, &str)> = vec![
        (&text, vec![], "is not a WebAssembly file"),
        (&empty, vec![], "the file is empty"),
        (&core, vec![], "is a core WebAssembly module, not a component"),
        (&truncated, vec![], "not a valid WebAssembly component (truncated or corrupt?)"),
        (&missing, vec![], "cannot read plugin file"),
        (std::path::Path::new(sluice_test_plugins::JSON_FILTER), vec!["--config", "equals=1"], "refused its configuration (key `field`): missing required key `field`"),
        (std::path::Path::new(sluice_test_plugins::JSON_FILTER), vec!["--config", "field=a", "--config", "equals=1", "--config", "feild=b"], "unknown key `feild`; expected one of: field, equals"),
        (std::path::Path::new(sluice_test_plugins::PASSTHROUGH), vec!["--sha256", "00"], "configuration pins 00"),
    ];
    for (path, args, expected) in cases {
        let mut c = sluice();
        c.args(["plugin", "test"]).arg(path).arg("--input").arg(golden("messages.jsonl")).args(&args);
        let (code, stdout, stderr) = output(c);
        assert_eq!(code, 1, "{}: {stderr}", path.display());
        assert!(stdout.is_empty(), "nothing is printed as output when loading fails: {stdout}");
        assert!(stderr.contains(expected), "{}: expected {expected:?} in\n{stderr}", path.display());
        assert!(stderr.contains(&path.display().to_string()) || stderr.contains("plugin `"), "the error names the file or plugin: {stderr}");
    }
}

#[test]
fn bad_input_lines_are_reported_with_their_line_number() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, "{\"body\":\"ok\"}\n\n{\"bdy\":\"typo\"}\n").unwrap();
    let mut c = sluice();
    c.args(["plugin", "test", sluice_test_plugins::PASSTHROUGH, "--input"]).arg(&input);
    let (code, stdout, stderr) = output(c);
    assert_eq!(code, 1);
    assert!(stdout.is_empty());
    assert!(stderr.contains("in.jsonl:3: unknown field `bdy`"), "{stderr}");
}

#[test]
fn sha256_pin_accepts_the_right_digest() {
    let (_, text, _) = {
        let mut c = sluice();
        c.args(["plugin", "inspect", "--json", sluice_test_plugins::PASSTHROUGH]);
        output(c)
    };
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let sha = v["sha256"].as_str().unwrap().to_owned();
    let (code, _, stderr) = plugin_test(sluice_test_plugins::PASSTHROUGH, &[], &["--sha256", &sha]);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn inspect_reports_kind_contract_imports_exports_size_and_sha256() {
    let mut c = sluice();
    c.args(["plugin", "inspect", "--json", sluice_test_plugins::MASK_PII]);
    let (code, stdout, stderr) = output(c);
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["kind"], "transform");
    assert_eq!(v["abi"], "frames");
    assert_eq!(v["contract_version"], "0.1.0");
    assert_eq!(v["export"], "sluice:plugin/frames-transform@0.1.0");
    let bytes = std::fs::read(sluice_test_plugins::MASK_PII).unwrap();
    assert_eq!(v["size"], bytes.len());
    assert_eq!(v["sha256"].as_str().unwrap().len(), 64);
    let imports: Vec<&str> = v["imports"].as_array().unwrap().iter().map(|i| i.as_str().unwrap()).collect();
    assert!(imports.contains(&"sluice:plugin/host@0.1.0"), "{imports:?}");

    let mut c = sluice();
    c.args(["plugin", "inspect", sluice_test_plugins::TAG_FILTER]);
    let (code, stdout, _) = output(c);
    assert_eq!(code, 0);
    assert!(stdout.contains("kind:              filter"), "{stdout}");
    assert!(stdout.contains("sluice:plugin/typed-filter@0.1.0 (typed path)"), "{stdout}");
    let _ = root();
}
