//! The bad-input corpus: configuration files and plugin files that are wrong in every way
//! an operator meets, each given to `sluice check` (and `sluice run`), which must exit 1
//! with a message that says what is wrong and where. Bad message bodies are in
//! `pipeline::bad_bodies_…`.

use std::path::Path;

use crate::util::{output, sluice};

/// A valid pipeline around one stage whose lines are `stage`.
fn with_stage(stage: &str) -> String {
    format!(
        "[rocketmq]\nname_server = \"127.0.0.1:9876\"\n[[pipeline]]\nname = \"p\"\nsource = {{ topic = \"in\", group = \"g\" }}\n\
         sinks.out = {{ type = \"stdout\" }}\n[[pipeline.stage]]\n{stage}\n"
    )
}

fn component(wat: &str) -> Vec<u8> {
    wat::parse_str(wat).unwrap()
}

#[test]
fn every_bad_configuration_and_plugin_file_gets_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good = std::fs::read(sluice_test_plugins::PASSTHROUGH).unwrap();
    std::fs::write(d.join("random.wasm"), (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect::<Vec<_>>()).unwrap();
    std::fs::write(d.join("truncated.wasm"), &good[..good.len() / 2]).unwrap();
    std::fs::write(d.join("empty.wasm"), b"").unwrap();
    std::fs::write(d.join("core.wasm"), component("(module (func (export \"filter\")))")).unwrap();
    let body = r#"(core module $m (func (export "f"))) (core instance $i (instantiate $m))
        (func $f (canon lift (core func $i "f"))) (instance $inst (export "init" (func $f)))"#;
    std::fs::write(d.join("v2.wasm"), component(&format!("(component {body} (export \"sluice:plugin/typed-filter@0.2.0\" (instance $inst)))"))).unwrap();
    std::fs::write(d.join("cli.wasm"), component(&format!("(component {body} (export \"wasi:cli/run@0.2.0\" (instance $inst)))"))).unwrap();
    std::fs::write(d.join("passthrough.wasm"), &good).unwrap();
    let chaos = format!("{:?}", sluice_test_plugins::CHAOS);

    let cases: Vec<(&str, Vec<u8>, Vec<&str>)> = vec![
        ("malformed TOML", b"[[pipeline]\nname = \"p\"\n".to_vec(), vec!["line 1, column", "not valid TOML"]),
        ("not UTF-8", b"[rocketmq]\nname_server = \"\xff\xfe\"\n".to_vec(), vec!["not UTF-8 text"]),
        ("empty file", Vec::new(), vec!["no pipeline: add at least one [[pipeline]]"]),
        (
            "unknown key",
            with_stage("plugin = \"passthrough.wasm\"").replace("name_server", "name_servers").into_bytes(),
            vec!["rocketmq.name_servers: unknown field `name_servers`"],
        ),
        (
            "wrong type",
            with_stage("plugin = \"passthrough.wasm\"").replace("group = \"g\"", "group = \"g\", batch_size = \"many\"").into_bytes(),
            vec!["pipeline[p].source.batch_size: invalid type: string \"many\", expected u32"],
        ),
        ("missing plugin", with_stage("plugin = \"nowhere.wasm\"").into_bytes(), vec!["pipeline[p].stage[0].plugin: no plugin file at", "nowhere.wasm"]),
        ("random bytes", with_stage("plugin = \"random.wasm\"").into_bytes(), vec!["pipeline[p].stage[0]: ", "random.wasm", "not a WebAssembly"]),
        ("truncated", with_stage("plugin = \"truncated.wasm\"").into_bytes(), vec!["truncated.wasm is not a valid WebAssembly component (truncated or corrupt?)"]),
        ("empty wasm", with_stage("plugin = \"empty.wasm\"").into_bytes(), vec!["empty.wasm", "not a WebAssembly"]),
        ("core module", with_stage("plugin = \"core.wasm\"").into_bytes(), vec!["core.wasm", "core WebAssembly module"]),
        ("wrong contract version", with_stage("plugin = \"v2.wasm\"").into_bytes(), vec!["v2.wasm implements contract version 0.2.0", "rebuild the plugin against wit/"]),
        ("foreign world", with_stage("plugin = \"cli.wasm\"").into_bytes(), vec!["cli.wasm", "wasi:cli/run@0.2.0"]),
        (
            "plugin refusing its config",
            with_stage(&format!("plugin = {chaos}\nconfig = {{ refuse = \"yes\" }}")).into_bytes(),
            vec!["pipeline[p].stage[0]: ", "refused its configuration (key `refuse`)"],
        ),
        (
            "unknown config key for the plugin",
            with_stage(&format!("plugin = {chaos}\nconfig = {{ colour = \"red\" }}")).into_bytes(),
            vec!["refused its configuration (key `colour`)"],
        ),
        (
            "sha256 pin mismatch",
            with_stage(&format!("plugin = \"passthrough.wasm\"\nsha256 = \"{}\"", "0".repeat(64))).into_bytes(),
            vec!["passthrough.wasm has sha256", "but the configuration pins 0000", "refusing to load"],
        ),
        (
            "grant of an unset variable",
            with_stage("plugin = \"passthrough.wasm\"\ngrants = { env = [\"SLUICE_SURELY_UNSET_GRANT\"] }").into_bytes(),
            vec!["grants.env: the environment variable SLUICE_SURELY_UNSET_GRANT is not set"],
        ),
        (
            "zero deadline",
            with_stage("plugin = \"passthrough.wasm\"\nlimits = { deadline = \"0s\" }").into_bytes(),
            vec!["pipeline[p].stage[0].limits.deadline: is zero"],
        ),
    ];
    let mut report = Vec::new();
    for (name, text, expected) in &cases {
        let config = d.join("case.toml");
        std::fs::write(&config, text).unwrap();
        for cmd in ["check", "run"] {
            let (code, out, err) = output({
                let mut c = sluice();
                c.args([cmd, "--config"]).arg(&config);
                c
            });
            assert_eq!(code, 1, "{name}: `sluice {cmd}` exited {code}\n{out}{err}");
            for e in expected {
                assert!(err.contains(e), "{name}: `sluice {cmd}` does not say {e:?}:\n{err}");
            }
            if cmd == "check" {
                report.push(format!("{name}: {}", first_problem(&err, Path::new(&config))));
            }
        }
    }
    println!("FIGURES bad input corpus: {} cases, each refused with its reason:\n  {}", cases.len(), report.join("\n  "));
}

fn first_problem(err: &str, _config: &Path) -> String {
    err.lines().find(|l| l.trim_start().starts_with("- ")).unwrap_or(err.lines().next().unwrap_or_default()).trim().to_owned()
}
