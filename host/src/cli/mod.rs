//! The `sluice` command line: argument parsing, logging set-up and dispatch to the
//! subcommands. Errors reach `main` as `anyhow` chains and are printed with their context.

pub mod broker;
pub mod jsonl;
pub mod plugin;

use clap::{Parser, Subcommand, ValueEnum};

/// Sluice: RocketMQ stream processing through sandboxed WebAssembly plugins.
#[derive(Debug, Parser)]
#[command(name = "sluice", version, about, propagate_version = true)]
pub struct Cli {
    /// Log format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "SLUICE_LOG_FORMAT")]
    pub log_format: LogFormat,
    /// Log filter, e.g. `info` or `sluice=debug,warn` (RUST_LOG syntax). The default keeps
    /// the embedded RocketMQ's start-up chatter (missing config files on a new store…) out.
    #[arg(
        long,
        global = true,
        default_value = "warn,rocketmq_runtime=error,rocketmq_transport=error,rocketmq_broker=error,rocketmq_store=error,rocketmq_namesrv=error",
        env = "SLUICE_LOG"
    )]
    pub log: String,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
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
    /// Work with plugin files: test them without a broker, inspect them.
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
    /// Run the embedded RocketMQ name server and broker on loopback.
    Broker(broker::BrokerArgs),
}

/// Sets up logging to stderr.
pub fn init_logging(format: LogFormat, filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|e| {
        eprintln!("warning: invalid log filter {filter:?} ({e}); using `warn`");
        tracing_subscriber::EnvFilter::new("warn")
    });
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Runs the CLI; returns the process exit code.
pub fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format, &cli.log);
    let r = match cli.command {
        Command::Plugin(cmd) => plugin::run(cmd),
        Command::Broker(args) => broker::run(args),
    };
    match r {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
