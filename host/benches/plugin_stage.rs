//! ns per message through the plugin stage, WASM plugin beside a native Rust closure doing
//! the same work through the same `BatchProcessor` interface, measured in the same run.
//!
//! Scenarios: a filter (keep messages whose `region` property is `eu`, half of them), a
//! transform leaving every message unchanged, and a transform replacing every message
//! (adding a property); batch sizes 1, 16, 64, 256; 100 B and 1 KiB bodies. Messages carry
//! a key, a tag, three properties and a 32-character message id.
//!
//! `cargo bench -p sluice --bench plugin_stage` prints criterion's report for each case and,
//! at the end, a table of ns/msg with the WASM/native ratio and the targets at batch 64.
//! Under `cargo test --benches` every case runs once, as a check that it works.
//!
//! With `SLUICE_BENCH_KITS=<dir>` (what `cargo xtask bench-plugins` sets, pointing at
//! `plugins/`) it also runs `<dir>/<lang>/property-filter` and `<dir>/<lang>/passthrough`
//! of every language kit (built with `sluice plugin build`) at batch 64 and prints them
//! against the per-language targets.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use sluice::message::{Batch, Message, MessageParts, Outcome};
use sluice::plugin::{BatchProcessor, EngineConfig, NativeStage, PluginEngine, PluginSpec};

const BATCHES: [usize; 4] = [1, 16, 64, 256];
const BODIES: [usize; 2] = [100, 1024];

/// (scenario, body bytes, batch size, implementation) → ns/msg of every sample.
type Samples = BTreeMap<(&'static str, usize, usize, &'static str), Vec<f64>>;
static SAMPLES: Mutex<Samples> = Mutex::new(BTreeMap::new());

/// A batch as a source builds it: the frames of one pull in one buffer.
fn messages(n: usize, body: usize) -> Vec<Message> {
    MessageParts::sample_batch(n, body)
}

fn bench_case(c: &mut Criterion, scenario: &'static str, imp: &'static str, p: &dyn BatchProcessor) {
    let mut g = c.benchmark_group(format!("{scenario}/{imp}"));
    g.warm_up_time(Duration::from_millis(700)).measurement_time(Duration::from_secs(2)).sample_size(30);
    for body in BODIES {
        for n in BATCHES {
            let msgs = messages(n, body);
            let batch = Batch { topic: "orders", queue_id: 3, messages: &msgs };
            g.throughput(Throughput::Elements(n as u64));
            g.bench_function(format!("body{body}/batch{n}"), |b| {
                b.iter_custom(|iters| {
                    let start = Instant::now();
                    for _ in 0..iters {
                        black_box(p.process(black_box(&batch)).expect("batch"));
                    }
                    let took = start.elapsed();
                    let ns = took.as_nanos() as f64 / (iters as f64 * n as f64);
                    SAMPLES.lock().unwrap().entry((scenario, body, n, imp)).or_default().push(ns);
                    took
                })
            });
        }
    }
    g.finish();
}

/// The languages with a kit besides Rust, and their targets at batch 64, 100 B (ns/msg).
const LANGS: [&str; 4] = ["c", "python", "js", "go"];

fn lang_target(lang: &str) -> Option<f64> {
    match lang {
        "c" => Some(60.0),
        "python" => Some(1500.0),
        "js" => Some(2000.0),
        _ => None,
    }
}

/// One language's plugin at batch 64, 100 B and 1 KiB bodies.
fn bench_lang(c: &mut Criterion, lang: &'static str, scenario: &'static str, p: &dyn BatchProcessor) {
    let mut g = c.benchmark_group(format!("{scenario}/{lang}"));
    g.warm_up_time(Duration::from_millis(700)).measurement_time(Duration::from_secs(2)).sample_size(30);
    for body in BODIES {
        let msgs = messages(64, body);
        let batch = Batch { topic: "orders", queue_id: 3, messages: &msgs };
        g.throughput(Throughput::Elements(64));
        g.bench_function(format!("body{body}/batch64"), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(p.process(black_box(&batch)).expect("batch"));
                }
                let took = start.elapsed();
                let ns = took.as_nanos() as f64 / (iters as f64 * 64.0);
                SAMPLES.lock().unwrap().entry((scenario, body, 64, lang)).or_default().push(ns);
                took
            })
        });
    }
    g.finish();
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let cache = tempfile::tempdir().expect("temp dir");
    let engine = PluginEngine::new(&EngineConfig { cache_dir: Some(cache.path().to_owned()), ..EngineConfig::default() }).expect("engine");
    let load = |path: &str, cfg: &[(&str, &str)]| {
        let mut s = PluginSpec::new(path);
        s.config = cfg.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
        engine.load(&s).expect("load plugin")
    };

    let filter = load(sluice_test_plugins::PROPERTY_FILTER, &[("property", "region"), ("equals", "eu")]);
    let native_filter = NativeStage(|m: &Message| if m.property("region") == Some("eu") { Outcome::Keep } else { Outcome::Drop });
    let typed_filter = load(sluice_test_plugins::TAG_FILTER, &[("tags", "paid")]);
    let native_tag_filter = NativeStage(|m: &Message| if m.tags() == Some("paid") { Outcome::Keep } else { Outcome::Drop });
    let unchanged = load(sluice_test_plugins::PASSTHROUGH, &[]);
    let native_unchanged = NativeStage(|_: &Message| Outcome::Keep);
    let replace = load(sluice_test_plugins::SET_PROPERTY, &[("key", "enriched"), ("value", "yes")]);
    let native_replace = NativeStage(|m: &Message| {
        let mut parts = m.to_parts();
        parts.properties.push(("enriched".into(), "yes".into()));
        Outcome::Replace(vec![parts.build()])
    });

    bench_case(&mut c, "filter", "wasm", &filter);
    bench_case(&mut c, "filter", "native", &native_filter);
    bench_case(&mut c, "unchanged", "wasm", &unchanged);
    bench_case(&mut c, "unchanged", "native", &native_unchanged);
    bench_case(&mut c, "replace", "wasm", &replace);
    bench_case(&mut c, "replace", "native", &native_replace);
    bench_case(&mut c, "filter-typed", "wasm", &typed_filter);
    bench_case(&mut c, "filter-typed", "native", &native_tag_filter);
    // Every language kit's property filter and passthrough, at batch 64.
    let kits = std::env::var_os("SLUICE_BENCH_KITS").map(std::path::PathBuf::from);
    let mut langs = Vec::new();
    if let Some(dir) = &kits {
        for lang in LANGS {
            let wasm = |p: &str| dir.join(lang).join(p).join(format!("{p}.wasm"));
            let (f, u) = (wasm("property-filter"), wasm("passthrough"));
            if !f.exists() || !u.exists() {
                eprintln!("{lang}: {} or {} is not built; run `cargo xtask kits`", f.display(), u.display());
                continue;
            }
            let filter = load(f.to_str().expect("UTF-8 path"), &[("property", "region"), ("equals", "eu")]);
            let unchanged = load(u.to_str().expect("UTF-8 path"), &[]);
            bench_lang(&mut c, lang, "filter", &filter);
            bench_lang(&mut c, lang, "unchanged", &unchanged);
            langs.push(lang);
        }
    }
    c.final_summary();

    let mut samples = SAMPLES.lock().unwrap();
    if samples.values().all(|v| v.len() < 5) {
        return; // test mode: nothing was measured
    }
    println!("\nns per message (median of criterion's samples); ratio = wasm / native");
    println!("{:<13} {:>5} {:>6} {:>10} {:>10} {:>8}   target (batch 64, 100 B)", "scenario", "body", "batch", "wasm", "native", "ratio");
    for scenario in ["filter", "unchanged", "replace", "filter-typed"] {
        for body in BODIES {
            for n in BATCHES {
                let (Some(mut w), Some(mut nat)) = (samples.get(&(scenario, body, n, "wasm")).cloned(), samples.get(&(scenario, body, n, "native")).cloned()) else { continue };
                let (w, nat) = (median(&mut w), median(&mut nat));
                let target = match (scenario, body, n) {
                    ("filter" | "unchanged", 100, 64) => format!("<= 60 ns: {}", if w <= 60.0 { "met" } else { "MISSED" }),
                    ("replace", 100, 64) => format!("<= 600 ns: {}", if w <= 600.0 { "met" } else { "MISSED" }),
                    _ => String::new(),
                };
                println!("{scenario:<13} {body:>5} {n:>6} {w:>10.1} {nat:>10.1} {:>8.1}   {target}", w / nat);
            }
        }
    }
    if langs.is_empty() {
        return;
    }
    println!("\nper language, batch 64: ns per message (median); ratio = language / Rust WASM");
    println!("{:<8} {:<10} {:>5} {:>10} {:>10} {:>8}   target (100 B)", "language", "scenario", "body", "ns/msg", "rust", "ratio");
    for lang in langs {
        for scenario in ["filter", "unchanged"] {
            for body in BODIES {
                let Some(mut v) = samples.remove(&(scenario, body, 64, lang)) else { continue };
                let v = median(&mut v);
                let rust = samples.get_mut(&(scenario, body, 64, "wasm")).map(|r| median(r)).unwrap_or(f64::NAN);
                let target = match lang_target(lang) {
                    Some(t) if body == 100 => format!("<= {t} ns: {}", if v <= t { "met" } else { "MISSED" }),
                    _ => String::new(),
                };
                println!("{lang:<8} {scenario:<10} {body:>5} {v:>10.1} {rust:>10.1} {:>8.1}   {target}", v / rust);
            }
        }
    }
}
