//! `deploy/`: what can be validated here. The systemd unit passes `systemd-analyze
//! verify`; the Kubernetes manifests are well-formed YAML documents whose embedded
//! configuration passes `sluice check`; the Grafana dashboard is well-formed JSON whose
//! queries only use metrics Sluice exports.

use std::collections::BTreeSet;

use crate::util::{output, root, sluice};

#[test]
fn the_systemd_unit_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join("deploy/systemd/sluice.service")).unwrap();
    // The unit names /usr/local/bin/sluice; verify it against the binary just built.
    let unit = dir.path().join("sluice.service");
    std::fs::write(&unit, text.replace("/usr/local/bin/sluice", env!("CARGO_BIN_EXE_sluice"))).unwrap();
    let out = std::process::Command::new("systemd-analyze").arg("verify").arg(&unit).output().expect("systemd-analyze (systemd) is installed");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && err.trim().is_empty(), "systemd-analyze verify: {:?}\n{err}", out.status);
}

#[test]
fn the_kubernetes_manifests_are_well_formed_and_their_config_checks() {
    use yaml_rust2::YamlLoader;
    let text = std::fs::read_to_string(root().join("deploy/kubernetes/sluice.yaml")).unwrap();
    let docs = YamlLoader::load_from_str(&text).expect("valid YAML");
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().expect("every document has a kind")).collect();
    assert_eq!(kinds, ["Namespace", "ConfigMap", "Secret", "Deployment", "Service", "PodDisruptionBudget"]);
    assert!(docs.iter().all(|d| d["apiVersion"].as_str().is_some() && d["metadata"]["name"].as_str().is_some()));
    let deployment = &docs[3];
    assert!(deployment["spec"]["replicas"].as_i64().unwrap() > 1, "several replicas in one consumer group");
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["readinessProbe"]["httpGet"]["path"].as_str(), Some("/readyz"));
    assert_eq!(container["livenessProbe"]["httpGet"]["path"].as_str(), Some("/healthz"));
    let config = docs[1]["data"]["sluice.toml"].as_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sluice.toml");
    std::fs::write(&path, config).unwrap();
    let mut c = sluice();
    c.args(["check", "--no-plugins", "--config"]).arg(&path).env("ROCKETMQ_ACCESS_KEY", "a").env("ROCKETMQ_SECRET_KEY", "s");
    let (code, out, err) = output(c);
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn the_grafana_dashboard_uses_only_exported_metrics() {
    let text = std::fs::read_to_string(root().join("deploy/grafana/sluice-dashboard.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let exported: BTreeSet<&str> = sluice::admin::metrics::METRICS.iter().map(|(n, _, _)| *n).collect();
    let mut used = BTreeSet::new();
    for panel in v["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| w.starts_with("sluice_")) {
                let base = ["_total", "_bucket", "_sum", "_count"].iter().find_map(|s| word.strip_suffix(s)).unwrap_or(word);
                assert!(exported.contains(base), "panel {:?} uses {word}, which Sluice does not export", panel["title"]);
                used.insert(base.to_owned());
            }
        }
    }
    assert!(used.len() >= 10, "the dashboard covers the main metrics: {used:?}");
}
