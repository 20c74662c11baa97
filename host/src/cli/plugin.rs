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
}

/// Arguments of `sluice plugin test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// The plugin component (.wasm).
    pub plugin: PathBuf,
    /// JSON Lines file of input messages; `-` reads standard input.
    #[arg(long, short)]
    pub input: PathBuf,
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
    let input = read_input(&a.input)?;
    let engine = engine(a.no_cache)?;
    let mut spec = PluginSpec::new(&a.plugin);
    spec.config = a.config;
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
    let plugin = engine.load(&spec).with_context(|| format!("cannot load plugin {}", a.plugin.display()))?;
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
    let i = engine.inspect(&a.plugin).with_context(|| format!("cannot inspect plugin {}", a.plugin.display()))?;
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
