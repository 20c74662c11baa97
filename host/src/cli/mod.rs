//! The `sluice` command line: argument parsing, logging set-up and dispatch to the
//! subcommands. Errors reach `main` as `anyhow` chains and are printed with their context.

pub mod broker;
pub mod generator;
pub mod jsonl;
pub mod kit;
pub mod mq;
pub mod plugin;
pub mod run;

use clap::{Parser, Subcommand, ValueEnum};

/// Sluice: RocketMQ stream processing through sandboxed WebAssembly plugins.
#[derive(Debug, Parser)]
#[command(name = "sluice", version, about, propagate_version = true)]
pub struct Cli {
    /// Logging.
    #[command(flatten)]
    pub log: LogArgs,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Logging options (the config file's `[log]` applies when these are not given).
#[derive(Debug, Clone, clap::Args)]
pub struct LogArgs {
    /// Log format [default: text].
    #[arg(long, global = true, value_enum, env = "SLUICE_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,
    /// Log filter, e.g. `info` or `sluice=debug,warn` (RUST_LOG syntax) [default: `warn`,
    /// or the config file's `[log] level`]. The RocketMQ crates' chatter stays at `error`
    /// unless named here.
    #[arg(long, global = true, env = "SLUICE_LOG")]
    pub log: Option<String>,
}

/// The embedded RocketMQ's start-up chatter (missing config files on a new store, client
/// reconnects already reported by Sluice) is kept out of the default log.
const QUIET: &str = "rocketmq_runtime=error,rocketmq_transport=error,rocketmq_broker=error,rocketmq_store=error,\
rocketmq_namesrv=error,rocketmq_client_rust=error,rocketmq_remoting=error,rocketmq_common=error";

impl LogArgs {
    /// Sets up logging to stderr, from these options or else the config's `[log]`.
    pub fn init(&self, cfg: Option<&crate::config::Config>) {
        let level = self.log.clone().or_else(|| cfg.map(|c| c.log.level.clone())).unwrap_or_else(|| "warn".into());
        let format = self.log_format.unwrap_or(match cfg.map(|c| c.log.format.as_str()) {
            Some("json") => LogFormat::Json,
            _ => LogFormat::Text,
        });
        init_logging(format, &format!("{QUIET},{level}"));
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable text.
    Text,
    /// One JSON object per line.
    Json,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the pipelines of a configuration file until SIGTERM/SIGINT (SIGHUP reloads).
    Run(run::RunArgs),
    /// Run a configuration on the embedded broker with sample orders and live counts.
    Dev(run::DevArgs),
    /// Check a configuration file and its plugins; report every problem.
    Check(run::CheckArgs),
    /// Work with plugin files: test them without a broker, inspect them.
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
    /// Create things: `sluice new plugin --lang LANG --kind KIND NAME`.
    #[command(subcommand)]
    New(NewCommand),
    /// Run the embedded RocketMQ name server and broker on loopback.
    Broker(broker::BrokerArgs),
    /// Send JSON Lines messages to a topic.
    Produce(mq::ProduceArgs),
    /// Print the messages of a topic as JSON Lines.
    Consume(mq::ConsumeArgs),
}

/// `sluice new …`
#[derive(Debug, Subcommand)]
pub enum NewCommand {
    /// Scaffold a plugin project (Rust, C, Python, JavaScript or Go) that builds with
    /// `sluice plugin build` and passes `sluice plugin test .` as it is.
    Plugin(kit::NewPluginArgs),
}

/// Sets up logging to stderr (once; later calls are ignored).
pub fn init_logging(format: LogFormat, filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|e| {
        eprintln!("warning: invalid log filter {filter:?} ({e}); using `warn`");
        tracing_subscriber::EnvFilter::new("warn")
    });
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Runs the CLI; returns the process exit code.
pub fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Run(_) | Command::Dev(_)) {
        cli.log.init(None);
    }
    let r = match cli.command {
        Command::Run(a) => run::run(a, &cli.log),
        Command::Dev(a) => run::dev(a, &cli.log),
        Command::Check(a) => run::check(a),
        Command::Plugin(cmd) => plugin::run(cmd),
        Command::New(NewCommand::Plugin(a)) => kit::new_plugin(a),
        Command::Broker(args) => broker::run(args),
        Command::Produce(a) => mq::produce(a),
        Command::Consume(a) => mq::consume(a),
    };
    match r {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
