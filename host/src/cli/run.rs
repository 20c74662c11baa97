//! `sluice check`, `sluice run` and `sluice dev`: validating a configuration, running the
//! daemon until SIGTERM/SIGINT (reloading on SIGHUP and on plugin file changes), and the
//! same on the embedded broker with a generator of sample orders and live counts.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;
use tokio::signal::unix::{SignalKind, signal};

use super::LogArgs;
use crate::config::{Config, Problem};
use crate::daemon::Daemon;
use crate::plugin::PluginEngine;

/// Arguments of `sluice check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The configuration file.
    #[arg(long, short)]
    pub config: PathBuf,
    /// Only check the file, do not load the plugins.
    #[arg(long)]
    pub no_plugins: bool,
}

/// Arguments of `sluice run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The configuration file.
    #[arg(long, short)]
    pub config: PathBuf,
}

/// Arguments of `sluice dev`.
#[derive(Debug, Args)]
pub struct DevArgs {
    /// The configuration file (its `[rocketmq]` is replaced by the embedded broker).
    #[arg(long, short, default_value = "examples/quickstart.toml")]
    pub config: PathBuf,
    /// Sample order events per second into the first pipeline's source topic (0 = none).
    #[arg(long, default_value_t = 200)]
    pub rate: u32,
    /// Stop after this long (e.g. `30s`); default: until Ctrl-C.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
    /// Data directory of the embedded broker (default: a fresh temporary one).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

/// Loads the file and, if asked, every plugin; returns all problems.
pub fn check_all(path: &Path, load_plugins: bool) -> Result<Config, Vec<Problem>> {
    let cfg = Config::load(path).map_err(|e| e.problems)?;
    if load_plugins {
        check_plugins(&cfg)?;
    }
    Ok(cfg)
}

/// Loads and initialises every plugin of `cfg`; returns all problems.
pub fn check_plugins(cfg: &Config) -> Result<(), Vec<Problem>> {
    let mut problems = cfg.check_plugin_files();
    if !problems.is_empty() {
        return Err(problems);
    }
    let engine = match PluginEngine::new(&cfg.engine) {
        Ok(e) => e,
        Err(e) => return Err(vec![Problem { path: "engine".into(), message: e.to_string() }]),
    };
    for p in &cfg.pipelines {
        for (j, st) in p.stages.iter().enumerate() {
            if let Err(e) = engine.load(&st.plugin_spec(&p.name, cfg)) {
                problems.push(Problem { path: format!("pipeline[{}].stage[{j}]", p.name), message: e.to_string() });
            }
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(problems) }
}

/// `sluice check`.
///
/// # Errors
/// Never: problems are printed and turn into exit code 1.
pub fn check(a: CheckArgs) -> anyhow::Result<ExitCode> {
    match check_all(&a.config, !a.no_plugins) {
        Ok(cfg) => {
            let stages: usize = cfg.pipelines.iter().map(|p| p.stages.len()).sum();
            println!(
                "{}: OK ({} pipeline{}, {stages} stage{}{})",
                a.config.display(),
                cfg.pipelines.len(),
                if cfg.pipelines.len() == 1 { "" } else { "s" },
                if stages == 1 { "" } else { "s" },
                if a.no_plugins { ", plugins not loaded" } else { ", every plugin loaded and initialised" }
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(problems) => {
            eprintln!("{}: {} problem{}", a.config.display(), problems.len(), if problems.len() == 1 { "" } else { "s" });
            for p in problems {
                eprintln!("  - {p}");
            }
            Ok(ExitCode::FAILURE)
        }
    }
}

fn refuse(path: &Path, problems: Vec<Problem>) -> anyhow::Error {
    let list: Vec<String> = problems.iter().map(|p| format!("  - {p}")).collect();
    anyhow::anyhow!("{} is not valid; nothing was started:\n{}", path.display(), list.join("\n"))
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    // Queue handlers run on blocking threads; workers carry the clients and sinks.
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().thread_name("sluice").max_blocking_threads(1024).build()?)
}

/// `sluice run`.
///
/// # Errors
/// An invalid configuration, or a start-up failure.
pub fn run(a: RunArgs, log: &LogArgs) -> anyhow::Result<ExitCode> {
    let cfg = check_all(&a.config, false).map_err(|p| refuse(&a.config, p))?;
    log.init(Some(&cfg));
    check_plugins(&cfg).map_err(|p| refuse(&a.config, p))?;
    runtime()?.block_on(serve(cfg, Some(a.config), None))
}

/// `sluice dev`.
///
/// # Errors
/// An invalid configuration, or a start-up failure.
pub fn dev(a: DevArgs, log: &LogArgs) -> anyhow::Result<ExitCode> {
    let mut cfg = check_all(&a.config, false).map_err(|p| refuse(&a.config, p))?;
    log.init(Some(&cfg));
    check_plugins(&cfg).map_err(|p| refuse(&a.config, p))?;
    let tmp = tempfile::Builder::new().prefix("sluice-dev-").tempdir()?;
    if !cfg.rocketmq.is_embedded() {
        eprintln!("sluice dev: using the embedded broker instead of {}", cfg.rocketmq.name_server);
        cfg.rocketmq.name_server = "embedded".into();
    }
    cfg.rocketmq.embedded.data_dir = a.data_dir.clone().unwrap_or_else(|| tmp.path().to_owned());
    let dev = DevOptions { rate: a.rate, duration: a.duration };
    let r = runtime()?.block_on(serve(cfg, Some(a.config), Some(dev)));
    drop(tmp);
    r
}

/// What `sluice dev` adds to `run`.
#[derive(Debug, Clone, Copy)]
pub struct DevOptions {
    /// Events per second.
    pub rate: u32,
    /// Run time.
    pub duration: Option<Duration>,
}

/// Runs the daemon until a signal (or the dev duration).
///
/// # Errors
/// A start-up failure.
pub async fn serve(cfg: Config, path: Option<PathBuf>, dev: Option<DevOptions>) -> anyhow::Result<ExitCode> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    let poll = cfg.reload.poll_interval;
    let watch = cfg.reload.watch_plugins;
    let admin = crate::admin::AdminState::new();
    if cfg.admin.enabled {
        crate::admin::serve(&cfg.admin.listen, admin.clone()).await?;
    }
    let start = tokio::select! {
        d = Daemon::start(cfg, &stop_rx) => d.context("cannot start")?,
        _ = term.recv() => None,
        _ = int.recv() => None,
    };
    let Some(mut daemon) = start else {
        let _ = stop_tx.send(true);
        return Ok(ExitCode::SUCCESS);
    };
    admin.set_pipelines(daemon.pipelines(), daemon.name_server());
    admin.set_ready(true);
    tracing::info!(name_server = daemon.name_server(), "sluice running; SIGHUP reloads, SIGTERM/SIGINT stop");
    let generator = match dev {
        Some(d) if d.rate > 0 => Some(super::generator::spawn(&daemon, d.rate).await?),
        _ => None,
    };
    let started = Instant::now();
    let deadline = dev.and_then(|d| d.duration).map(|d| tokio::time::Instant::now() + d);
    let mut files = daemon.plugin_files();
    let mut tick = tokio::time::interval(poll.min(Duration::from_secs(1)));
    let mut last_print = Instant::now();
    let mut last_poll = Instant::now();
    loop {
        tokio::select! {
            _ = term.recv() => { tracing::info!("SIGTERM: draining"); break }
            _ = int.recv() => { tracing::info!("SIGINT: draining"); break }
            _ = async { match deadline { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => break,
            _ = hup.recv() => {
                tracing::info!("SIGHUP: reloading");
                reload(&mut daemon, path.as_deref()).await;
                admin.set_pipelines(daemon.pipelines(), daemon.name_server());
                files = daemon.plugin_files();
            }
            _ = tick.tick() => {
                daemon.reap_stopped().await;
                if watch && last_poll.elapsed() >= poll {
                    last_poll = Instant::now();
                    let now = daemon.plugin_files();
                    if now != files {
                        let changed: Vec<String> = now.iter().filter(|f| !files.contains(f)).map(|(p, _)| p.display().to_string()).collect();
                        tracing::info!(files = ?changed, "plugin file changed: reloading");
                        reload(&mut daemon, path.as_deref()).await;
                        admin.set_pipelines(daemon.pipelines(), daemon.name_server());
                        files = daemon.plugin_files();
                    }
                }
                if dev.is_some() && last_print.elapsed() >= Duration::from_secs(2) {
                    last_print = Instant::now();
                    print_counts(&daemon, started.elapsed());
                }
            }
        }
    }
    let _ = stop_tx.send(true);
    admin.set_ready(false);
    if let Some(g) = generator {
        g.stop().await;
    }
    let t = Instant::now();
    if dev.is_some() {
        print_counts(&daemon, started.elapsed());
    }
    daemon.shutdown().await;
    tracing::info!("stopped in {:.1}s", t.elapsed().as_secs_f64());
    Ok(ExitCode::SUCCESS)
}

async fn reload(daemon: &mut Daemon, path: Option<&Path>) {
    let Some(path) = path else { return };
    let cfg = match tokio::task::spawn_blocking({
        let path = path.to_owned();
        move || check_all(&path, false)
    })
    .await
    {
        Ok(Ok(cfg)) => cfg,
        Ok(Err(problems)) => {
            tracing::error!("reload refused, the running configuration stays: {}", refuse(path, problems));
            return;
        }
        Err(e) => {
            tracing::error!("reload failed: {e}");
            return;
        }
    };
    let mut cfg = cfg;
    // `sluice dev` rewrote these; keep what is running.
    cfg.rocketmq = daemon.config().rocketmq.clone();
    cfg.admin = daemon.config().admin.clone();
    if let Err(e) = daemon.reload(cfg).await {
        tracing::error!("reload refused, the running configuration stays: {e:#}");
    }
}

fn print_counts(daemon: &Daemon, elapsed: Duration) {
    let mut out = format!("── {:>4}s ──\n", elapsed.as_secs());
    for s in daemon.snapshots() {
        let sinks: Vec<String> = s.sinks.iter().map(|k| format!("{} {}", k.name, k.sent)).collect();
        out += &format!(
            "{:<12} consumed {:>7}  filtered {:>6}  dead-lettered {:>5}  in flight {:>4}  → {}  [{}]\n",
            s.pipeline,
            s.consumed,
            s.filtered,
            s.dead_lettered,
            s.in_flight,
            sinks.join(", "),
            s.state
        );
        for st in &s.stages {
            let fails: u64 = st.failures.values().sum();
            out += &format!(
                "  stage {:<10} in {:>7}  out {:>7}  dropped {:>6}  failures {:>4}  retries {:>4}{}\n",
                st.name,
                st.messages_in,
                st.messages_out,
                st.dropped,
                fails,
                st.retries,
                if st.breaker_open { "  BREAKER OPEN" } else { "" }
            );
        }
    }
    eprint!("{out}");
}
