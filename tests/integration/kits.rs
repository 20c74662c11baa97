//! The language kits (`sdk/<lang>/`), as plugin authors use them through the `sluice`
//! binary: every language's `json-filter` and `mask-pii` (`plugins/<lang>/`) against the
//! Rust versions over the conformance corpus (`tests/conformance/`), and a new project of
//! every language and kind from `sluice new plugin`, built and run as it comes.
//!
//! The toolchains come from PyPI, npm, apt and crates.io: `cargo xtask test` installs them
//! (by building `plugins/<lang>/` once, with the network) before these tests run offline;
//! here `sluice plugin build` only rebuilds what changed.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::util::{output, root, sluice};

/// Languages with a kit, besides Rust.
const LANGS: [&str; 4] = ["c", "python", "js", "go"];

#[derive(Deserialize)]
struct Cases {
    case: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    plugin: String,
    name: String,
    config: Vec<String>,
    #[serde(default)]
    refused: bool,
}

/// `sluice plugin build DIR`, asserted; returns the component.
fn build(dir: &Path) -> PathBuf {
    let mut c = sluice();
    // The tests run offline: cargo (Rust projects) must use what is in its cache.
    c.args(["plugin", "build"]).arg(dir).env("CARGO_NET_OFFLINE", "true");
    let (code, stdout, stderr) = output(c);
    assert_eq!(code, 0, "sluice plugin build {} failed:\n{stdout}\n{stderr}", dir.display());
    let name = dir.file_name().expect("dir name").to_string_lossy().into_owned();
    dir.join(format!("{name}.wasm"))
}

/// `sluice plugin test` over the corpus: (exit code, output lines, stderr).
fn plugin_test(wasm: &Path, config: &[String]) -> (i32, Vec<Value>, String) {
    let mut c = sluice();
    c.args(["plugin", "test"]).arg(wasm).arg("--input").arg(root().join("tests/conformance/messages.jsonl"));
    for kv in config {
        c.args(["--config", kv]);
    }
    let (code, stdout, stderr) = output(c);
    let lines = stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    (code, lines, stderr)
}

/// An output line with its error text cut at the first `:` (the rest is the language's
/// own parser's words; the class and the reason's head must agree).
fn normalised(mut line: Value) -> Value {
    if let Some(Value::String(e)) = line.get_mut("error") {
        *e = e.split(':').next().unwrap_or_default().to_owned();
    }
    line
}

#[test]
fn every_language_gives_the_rust_plugins_output_on_the_conformance_corpus() {
    let text = std::fs::read_to_string(root().join("tests/conformance/cases.toml")).expect("cases.toml");
    let cases: Cases = toml::from_str(&text).expect("cases.toml parses");
    let rust = |plugin: &str| match plugin {
        "json-filter" => PathBuf::from(sluice_test_plugins::JSON_FILTER),
        "mask-pii" => PathBuf::from(sluice_test_plugins::MASK_PII),
        other => panic!("no Rust plugin {other}"),
    };
    let mut failures = Vec::new();
    let mut compared = 0;
    for lang in LANGS {
        for plugin in ["json-filter", "mask-pii"] {
            let wasm = build(&root().join("plugins").join(lang).join(plugin));
            for case in cases.case.iter().filter(|c| c.plugin == plugin) {
                let (rcode, rlines, rerr) = plugin_test(&rust(plugin), &case.config);
                let (code, lines, err) = plugin_test(&wasm, &case.config);
                let what = format!("{lang} {plugin} case `{}` ({:?})", case.name, case.config);
                assert_eq!(rcode != 0, case.refused, "the Rust plugin, {what}: exit {rcode}\n{rerr}");
                if (code != 0) != case.refused {
                    failures.push(format!("{what}: exit {code}, expected {}\n{err}", if case.refused { "a refusal" } else { "0" }));
                    continue;
                }
                if case.refused {
                    assert!(err.contains("failed to start"), "{what}: the refusal should be the plugin's init: {err}");
                    compared += 1;
                    continue;
                }
                assert_eq!(rlines.len(), 69, "one line per corpus message");
                for (r, l) in rlines.into_iter().zip(lines.into_iter().chain(std::iter::repeat(Value::Null))) {
                    let (r, l) = (normalised(r), normalised(l));
                    if r != l {
                        failures.push(format!("{what}:\n  rust: {r}\n  {lang}: {l}"));
                    }
                }
                compared += 1;
            }
        }
    }
    assert!(failures.is_empty(), "{} differences:\n{}", failures.len(), failures.join("\n"));
    assert_eq!(compared, LANGS.len() * cases.case.len(), "every case ran for every language");
}

#[test]
fn a_new_plugin_project_builds_and_passes_its_sample_in_every_language() {
    let tmp = tempfile::tempdir().expect("temp dir");
    for lang in ["rust", "c", "python", "js", "go"] {
        for kind in ["filter", "transform"] {
            let name = format!("my-{lang}-{kind}");
            let dir = tmp.path().join(&name);
            let mut c = sluice();
            c.args(["new", "plugin", "--lang", lang, "--kind", kind, &name, "--path"]).arg(&dir);
            let (code, stdout, stderr) = output(c);
            assert_eq!(code, 0, "{stdout}\n{stderr}");
            assert!(stdout.contains("sluice plugin build"), "the next steps are shown: {stdout}");
            build(&dir);
            let mut c = sluice();
            c.args(["plugin", "test"]).arg(&dir);
            let (code, stdout, stderr) = output(c);
            assert_eq!(code, 0, "{lang} {kind}: {stdout}\n{stderr}");
            let outcomes: Vec<Value> = stdout.lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect();
            assert_eq!(outcomes.len(), 6, "{lang} {kind}: one line per sample message:\n{stdout}");
            let kinds: Vec<&str> = outcomes.iter().map(|o| o["outcome"].as_str().unwrap_or_default()).collect();
            if kind == "filter" {
                assert_eq!(kinds, ["keep", "drop", "keep", "drop", "drop", "drop"], "{lang}: region = eu is kept");
            } else {
                for o in &outcomes {
                    assert_eq!(o["outcome"], "replaced", "{lang}: {o}");
                    assert_eq!(o["message"]["properties"]["processed-by"], name.as_str(), "{lang}: {o}");
                }
            }
        }
    }
    // A second build of an unchanged project is a no-op.
    let mut c = sluice();
    c.args(["plugin", "build"]).arg(tmp.path().join("my-python-filter"));
    let (code, _, stderr) = output(c);
    assert_eq!(code, 0);
    assert!(stderr.contains("is up to date"), "{stderr}");
}

#[test]
fn plugin_projects_with_bad_manifests_are_refused_with_the_reason() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let attempt = |manifest: Option<&str>| {
        if let Some(m) = manifest {
            std::fs::write(dir.join("sluice-plugin.toml"), m).expect("write");
        }
        let mut c = sluice();
        c.args(["plugin", "build"]).arg(dir);
        let (code, _, stderr) = output(c);
        assert_eq!(code, 1, "{stderr}");
        stderr
    };
    assert!(attempt(None).contains("sluice new plugin"), "no manifest: say how to make a project");
    assert!(attempt(Some("name = \"x\"\nlang = \"cobol\"\nkind = \"filter\"\n")).contains("unknown variant `cobol`"));
    assert!(attempt(Some("name = \"x\"\nlang = \"python\"\nkind = \"map\"\n")).contains("unknown variant `map`"));
    assert!(attempt(Some("name = \"x\"\nlang = \"python\"\n")).contains("missing field `kind`"));
    let mut c = sluice();
    c.args(["new", "plugin", "--lang", "python", "--kind", "filter", "bad name"]);
    let (code, _, stderr) = output(c);
    assert_eq!(code, 1);
    assert!(stderr.contains("use letters, digits"), "{stderr}");
    let mut c = sluice();
    c.args(["new", "plugin", "--lang", "python", "--kind", "filter", "x", "--path"]).arg(dir);
    let (code, _, stderr) = output(c);
    assert_eq!(code, 1);
    assert!(stderr.contains("already exists and is not empty"), "{stderr}");
}
