//! `sluice plugin test` and `sluice plugin inspect`: the plugin author's inner loop,
//! without a broker.

use std::io::{BufRead, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use bytesize::ByteSize;
use clap::{Args, Subcommand};
use serde_json::json;

use super::jsonl::{self, InputMessage, MessageOut};
use crate::message::{Batch, Message, Outcome};
use crate::plugin::{EngineConfig, PluginEngine, PluginKind, PluginSpec};

/// `sluice plugin …`
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Run a plugin over messages from a JSON Lines file and print every output and
    /// per-message error as JSON Lines (see the README for the line format).
    Test(TestArgs),
    /// Print a plugin's kind, contract version, imports, exports, size and sha256.
    Inspect(InspectArgs),
    /// Measure a plugin's cost per message on generated messages, as the pipeline calls it.
    Bench(BenchArgs),
    /// Build a plugin project (a directory with `sluice-plugin.toml`) into its `.wasm`,
    /// installing the language's toolchain on first use.
    Build(super::kit::BuildArgs),
}

/// Arguments of `sluice plugin bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// The plugin component (.wasm), or a plugin project directory.
    pub plugin: PathBuf,
    /// A configuration pair for the plugin's `init`, as `key=value`; repeatable.
    #[arg(long = "config", short = 'c', value_name = "KEY=VALUE", value_parser = parse_pair)]
    pub config: Vec<(String, String)>,
    /// Messages per call.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub batch_size: u32,
    /// Body size in bytes of the generated messages.
    #[arg(long, default_value_t = 100)]
    pub body: usize,
    /// How long to measure, e.g. `3s`.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    pub time: Duration,
    /// Memory limit per instance, e.g. `128MiB` (SpiderMonkey JS plugins need more than
    /// the default).
    #[arg(long)]
    pub memory: Option<ByteSize>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `sluice plugin test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// The plugin component (.wasm), or a plugin project directory (its built `.wasm`;
    /// `--input` and `--config` then default to the manifest's `[test]` table).
    pub plugin: PathBuf,
    /// JSON Lines file of input messages; `-` reads standard input.
    #[arg(long, short)]
    pub input: Option<PathBuf>,
    /// A configuration pair for the plugin's `init`, as `key=value`; repeatable.
    #[arg(long = "config", short = 'c', value_name = "KEY=VALUE", value_parser = parse_pair)]
    pub config: Vec<(String, String)>,
    /// Most messages per call (consecutive messages of one topic and queue are batched).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub batch_size: u32,
    /// Memory limit per instance, e.g. `64MiB`.
    #[arg(long)]
    pub memory: Option<ByteSize>,
    /// Deadline per call, e.g. `1s`, `250ms`.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub deadline: Option<Duration>,
    /// Most outputs per input message.
    #[arg(long)]
    pub max_outputs: Option<u32>,
    /// Refuse the plugin unless its sha256 is this.
    #[arg(long)]
    pub sha256: Option<String>,
    /// Do not use the compile cache.
    #[arg(long)]
    pub no_cache: bool,
}

/// Arguments of `sluice plugin inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The plugin component (.wasm).
    pub plugin: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

fn parse_pair(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.to_owned())),
        _ => Err(format!("expected KEY=VALUE, got {s:?}")),
    }
}

/// Runs a `plugin` subcommand.
///
/// # Errors
/// Load, init and input failures, with context.
pub fn run(cmd: PluginCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        PluginCommand::Test(a) => test(a),
        PluginCommand::Inspect(a) => inspect(a),
        PluginCommand::Bench(a) => bench(a),
        PluginCommand::Build(a) => super::kit::build(a),
    }
}

fn engine(no_cache: bool) -> anyhow::Result<PluginEngine> {
    let cfg = EngineConfig { no_cache, ..EngineConfig::default() };
    Ok(PluginEngine::new(&cfg)?)
}

fn read_input(path: &PathBuf) -> anyhow::Result<Vec<InputMessage>> {
    let reader: Box<dyn BufRead> = if path.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(path).with_context(|| format!("cannot open input file {}", path.display()))?,
        ))
    };
    let mut out = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("cannot read {} at line {}", path.display(), i + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let index = out.len();
        let m = jsonl::parse_line(&line, index)
            .map_err(|e| anyhow::anyhow!("{}:{}: {e} (see the README, \"Message lines\")", path.display(), i + 1))?;
        out.push(m);
    }
    Ok(out)
}

fn test(a: TestArgs) -> anyhow::Result<ExitCode> {
    let target = super::kit::PluginTarget::resolve(&a.plugin)?;
    let input_path = match (&a.input, target.test.as_ref().and_then(|t| t.input.as_ref())) {
        (Some(p), _) => p.clone(),
        (None, Some(i)) => target.dir.join(i),
        (None, None) => anyhow::bail!("no input: give `--input FILE.jsonl` (or set `input` in the `[test]` table of sluice-plugin.toml)"),
    };
    let config = target.config_or(a.config)?;
    let input = read_input(&input_path)?;
    let engine = engine(a.no_cache)?;
    let mut spec = PluginSpec::new(&target.wasm);
    spec.config = config;
    spec.sha256 = a.sha256;
    spec.pipeline = "plugin-test".into();
    if let Some(m) = a.memory {
        spec.limits.memory = m;
    }
    if let Some(d) = a.deadline {
        spec.limits.deadline = d;
    }
    if let Some(n) = a.max_outputs {
        spec.limits.max_outputs_per_message = n;
    }
    let plugin = engine.load(&spec).with_context(|| format!("cannot load plugin {}", target.wasm.display()))?;
    let kind = plugin.info().contract.kind;

    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let (mut kept, mut dropped, mut outputs, mut errors) = (0usize, 0usize, 0usize, 0usize);
    let mut start = 0;
    while start < input.len() {
        let first = &input[start];
        let mut end = start + 1;
        while end < input.len()
            && end - start < a.batch_size as usize
            && input[end].topic == first.topic
            && input[end].queue_id == first.queue_id
        {
            end += 1;
        }
        let messages: Vec<Message> = input[start..end].iter().map(|m| m.message.clone()).collect();
        let batch = Batch { topic: &first.topic, queue_id: first.queue_id, messages: &messages };
        match plugin.process(&batch) {
            Ok(outcomes) => {
                for (i, (o, m)) in outcomes.into_iter().zip(&messages).enumerate() {
                    let n = start + i + 1;
                    match o {
                        Outcome::Keep => {
                            kept += 1;
                            let outcome = if kind == PluginKind::Filter { "keep" } else { "unchanged" };
                            writeln!(out, "{}", json!({"input": n, "outcome": outcome, "message": MessageOut::new(m)}))?;
                        }
                        Outcome::Drop => {
                            dropped += 1;
                            writeln!(out, "{}", json!({"input": n, "outcome": "drop"}))?;
                        }
                        Outcome::Replace(outs) if outs.is_empty() => {
                            dropped += 1;
                            writeln!(out, "{}", json!({"input": n, "outcome": "replaced", "outputs": 0}))?;
                        }
                        Outcome::Replace(outs) => {
                            for (k, msg) in outs.iter().enumerate() {
                                outputs += 1;
                                writeln!(out, "{}", json!({"input": n, "outcome": "replaced", "output": k, "message": MessageOut::new(msg)}))?;
                            }
                        }
                        Outcome::Failed(f) => {
                            errors += 1;
                            writeln!(out, "{}", json!({"input": n, "outcome": "error", "class": f.class().as_str(), "error": f.reason()}))?;
                        }
                    }
                }
            }
            Err(e) => {
                for n in start + 1..=end {
                    errors += 1;
                    writeln!(out, "{}", json!({"input": n, "outcome": "error", "class": e.class().as_str(), "error": e.to_string()}))?;
                }
            }
        }
        start = end;
    }
    out.flush()?;
    let stats = plugin.stats();
    eprintln!(
        "{} messages in {} calls: {kept} passed on, {outputs} outputs, {dropped} dropped, {errors} errors; instances created: {}, discarded: {:?}",
        input.len(),
        stats.calls,
        stats.instances_created,
        stats.discarded
    );
    let counters = plugin.guest_counters();
    if !counters.is_empty() {
        eprintln!("plugin counters: {counters:?}");
    }
    Ok(ExitCode::SUCCESS)
}

fn inspect(a: InspectArgs) -> anyhow::Result<ExitCode> {
    let engine = engine(false)?;
    let target = super::kit::PluginTarget::resolve(&a.plugin)?;
    let i = engine.inspect(&target.wasm).with_context(|| format!("cannot inspect plugin {}", target.wasm.display()))?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&i)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("file:              {}", i.path.display());
    println!("kind:              {}", i.kind);
    println!("contract:          {} ({} path)", i.export, i.abi);
    println!("contract version:  {}", i.contract_version);
    println!("size:              {} bytes", i.size);
    println!("sha256:            {}", i.sha256);
    println!("imports:");
    for n in &i.imports {
        println!("  {n}");
    }
    println!("exports:");
    for n in &i.exports {
        println!("  {n}");
    }
    Ok(ExitCode::SUCCESS)
}

fn bench(a: BenchArgs) -> anyhow::Result<ExitCode> {
    let target = super::kit::PluginTarget::resolve(&a.plugin)?;
    let config = target.config_or(a.config)?;
    let engine = engine(false)?;
    let mut spec = PluginSpec::new(&target.wasm);
    spec.config = config;
    spec.pipeline = "plugin-bench".into();
    if let Some(m) = a.memory {
        spec.limits.memory = m;
    }
    let plugin = engine.load(&spec).with_context(|| format!("cannot load plugin {}", target.wasm.display()))?;
    let n = a.batch_size as usize;
    let messages = crate::message::MessageParts::sample_batch(n, a.body);
    let batch = Batch { topic: "orders", queue_id: 3, messages: &messages };
    // What one batch comes to, and a warm-up (instance creation, first-call costs).
    let first = plugin.process(&batch).map_err(|e| anyhow::anyhow!("the plugin failed the benchmark batch: {e}"))?;
    let (mut kept, mut dropped, mut replaced, mut failed) = (0, 0, 0, 0);
    for o in &first {
        match o {
            Outcome::Keep => kept += 1,
            Outcome::Drop => dropped += 1,
            Outcome::Replace(_) => replaced += 1,
            Outcome::Failed(_) => failed += 1,
        }
    }
    let warm_until = std::time::Instant::now() + a.time / 4;
    while std::time::Instant::now() < warm_until {
        plugin.process(&batch).map_err(|e| anyhow::anyhow!("the plugin failed the benchmark batch: {e}"))?;
    }
    // Rounds of ~20 ms each; the median round is the figure.
    let mut rounds: Vec<f64> = Vec::new();
    let started = std::time::Instant::now();
    while started.elapsed() < a.time || rounds.len() < 5 {
        let t = std::time::Instant::now();
        let mut calls = 0u64;
        while t.elapsed() < Duration::from_millis(20) {
            std::hint::black_box(plugin.process(std::hint::black_box(&batch)).map_err(|e| anyhow::anyhow!("the plugin failed the benchmark batch: {e}"))?);
            calls += 1;
        }
        rounds.push(t.elapsed().as_nanos() as f64 / (calls as f64 * n as f64));
    }
    rounds.sort_by(f64::total_cmp);
    let median = rounds[rounds.len() / 2];
    let (min, max) = (rounds[0], rounds[rounds.len() - 1]);
    let info = plugin.info();
    if a.json {
        println!(
            "{}",
            json!({"plugin": target.wasm, "kind": info.contract.kind.to_string(), "batch_size": n, "body_bytes": a.body,
                   "ns_per_message": median, "min": min, "max": max, "rounds": rounds.len(),
                   "kept": kept, "dropped": dropped, "replaced": replaced, "failed": failed})
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!("{} ({}), batch {n}, {} B bodies, {} rounds of 20 ms", target.wasm.display(), info.contract.kind, a.body, rounds.len());
    println!("  {median:.1} ns/msg (median; min {min:.1}, max {max:.1}) = {:.0} msg/s on one core", 1e9 / median);
    println!("  one batch: {kept} kept, {dropped} dropped, {replaced} replaced, {failed} failed");
    Ok(ExitCode::SUCCESS)
}
