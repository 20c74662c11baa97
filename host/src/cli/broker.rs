//! `sluice broker`: the embedded RocketMQ name server and broker on their own, for trying
//! Sluice (or anything that speaks RocketMQ) without installing a cluster.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use crate::broker::{EmbeddedBroker, EmbeddedBrokerConfig};

/// Arguments of `sluice broker`.
#[derive(Debug, Args)]
pub struct BrokerArgs {
    /// Data directory (created if missing; reused across restarts).
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Name server port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 9876)]
    pub namesrv_port: u16,
    /// Broker port on 127.0.0.1; the broker also listens on this port minus 2.
    #[arg(long, default_value_t = 10911)]
    pub broker_port: u16,
    /// Require authentication: the name of the environment variable holding the access
    /// key of the one user (with --secret-key-env).
    #[arg(long, requires = "secret_key_env", value_name = "VAR")]
    pub access_key_env: Option<String>,
    /// The name of the environment variable holding that user's secret key.
    #[arg(long, requires = "access_key_env", value_name = "VAR")]
    pub secret_key_env: Option<String>,
    /// A topic to create, as `NAME` or `NAME:QUEUES` (default 8 queues); repeatable.
    #[arg(long = "topic", value_name = "NAME[:QUEUES]", value_parser = parse_topic)]
    pub topics: Vec<(String, u32)>,
}

fn parse_topic(s: &str) -> Result<(String, u32), String> {
    let (name, queues) = match s.split_once(':') {
        Some((n, q)) => (n, q.parse::<u32>().map_err(|e| format!("queue count in {s:?}: {e}"))?),
        None => (s, 8),
    };
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_%|".contains(c)) {
        return Err(format!("{name:?} is not a valid RocketMQ topic name (letters, digits, - _ % |)"));
    }
    if !(1..=1024).contains(&queues) {
        return Err(format!("{queues} queues: give 1 to 1024"));
    }
    Ok((name.to_owned(), queues))
}

/// Runs the embedded broker until SIGINT or SIGTERM.
///
/// # Errors
/// When it cannot start or a topic cannot be created.
pub fn run(a: BrokerArgs) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().thread_name("sluice-broker").build()?;
    rt.block_on(async {
        let auth = match (&a.access_key_env, &a.secret_key_env) {
            (Some(ak), Some(sk)) => {
                let read = |v: &str| std::env::var(v).with_context(|| format!("the environment variable {v} is not set"));
                Some((read(ak)?, read(sk)?))
            }
            _ => None,
        };
        let cfg = EmbeddedBrokerConfig { data_dir: a.data_dir.clone(), namesrv_port: a.namesrv_port, broker_port: a.broker_port, auth, tls: None };
        let mut broker = EmbeddedBroker::start(&cfg).await.context("cannot start the embedded broker")?;
        for (topic, queues) in &a.topics {
            broker.create_topic(topic, *queues).await?;
        }
        println!("name server {}  broker {}  data {}", broker.namesrv_addr(), broker.broker_addr(), broker.data_dir().display());
        for (topic, queues) in &a.topics {
            println!("topic {topic}: {queues} queues");
        }
        println!("stop with Ctrl-C (SIGINT) or SIGTERM");
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        broker.shutdown().await;
        Ok(ExitCode::SUCCESS)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_are_checked() {
        assert_eq!(parse_topic("orders").unwrap(), ("orders".into(), 8));
        assert_eq!(parse_topic("orders:3").unwrap(), ("orders".into(), 3));
        assert!(parse_topic("or ders").is_err());
        assert!(parse_topic("orders:0").is_err());
        assert!(parse_topic("orders:x").is_err());
    }
}
