//! One process's connection settings to a RocketMQ cluster, shared by the sources
//! (consumers), the RocketMQ sinks and the dead-letter producer: name servers, the client
//! runtime, ACL credentials read from environment variables, TLS.

use std::sync::Arc;
use std::time::Duration;

use rocketmq_client_rust::ClientConfig;
use rocketmq_client_rust::{AclClientRPCHook, ClientRuntime, ClientRuntimeConfig, SessionCredentials};
use rocketmq_runtime::RuntimeContext;
use rocketmq_transport::api::RPCHook;

use crate::config::{Config, RocketMqConfig};

/// Why a connection could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    /// The client library refused the settings.
    #[error("invalid RocketMQ client settings: {0}")]
    Client(String),
    /// A credential variable is missing.
    #[error("environment variable `{0}` (rocketmq.access_key_env / secret_key_env) is not set")]
    MissingCredential(String),
}

/// Connection settings plus the client runtime every producer and consumer of this
/// process is built on. Cheap to clone.
#[derive(Clone)]
pub struct Connection {
    name_server: String,
    client_config: ClientConfig,
    rpc_hook: Option<Arc<dyn RPCHook>>,
    runtime: Arc<ClientRuntime>,
    send_timeout: Duration,
    _context: Arc<RuntimeContext>,
}

impl Connection {
    /// Settings from `[rocketmq]`, with `name_server` already resolved (the embedded
    /// broker's address when `embedded`). Must be called inside a tokio runtime.
    ///
    /// # Errors
    /// A missing credential variable, or settings the client refuses.
    pub fn new(cfg: &RocketMqConfig, name_server: &str, whole: &Config) -> Result<Self, ConnectionError> {
        let mut b = ClientConfig::builder().namesrv_addr(name_server.to_owned()).enable_tls(cfg.tls);
        if let Some(ca) = &cfg.tls_trust_cert {
            b = b.tls_client_trust_cert_path(whole.resolve(ca).to_string_lossy().into_owned());
        }
        let client_ip = cfg.client_ip.clone().or_else(|| cfg.is_embedded().then(|| "127.0.0.1".to_owned()));
        if let Some(ip) = client_ip {
            b = b.client_ip(ip);
        }
        let client_config = b.build().map_err(|e| ConnectionError::Client(e.to_string()))?;
        let rpc_hook: Option<Arc<dyn RPCHook>> = match (&cfg.access_key_env, &cfg.secret_key_env) {
            (Some(ak), Some(sk)) => {
                let read = |v: &String| std::env::var(v).map_err(|_| ConnectionError::MissingCredential(v.clone()));
                let creds = SessionCredentials::with_keys(read(ak)?, read(sk)?);
                Some(Arc::new(AclClientRPCHook::new(creds)))
            }
            _ => None,
        };
        let context = Arc::new(RuntimeContext::from_current("sluice"));
        let runtime = ClientRuntime::try_new(
            context.service_context("clients"),
            ClientRuntimeConfig::default(),
            rocketmq_client_rust::TelemetryHandle::noop(),
        )
        .map_err(|e| ConnectionError::Client(e.to_string()))?;
        Ok(Self {
            name_server: name_server.to_owned(),
            client_config,
            rpc_hook,
            runtime,
            send_timeout: cfg.send_timeout,
            _context: context,
        })
    }

    /// The name server list, `host:port;host:port`.
    pub fn name_server(&self) -> &str {
        &self.name_server
    }

    /// The client settings to hand a builder.
    pub fn client_config(&self) -> ClientConfig {
        self.client_config.clone()
    }

    /// The ACL hook, if credentials are configured.
    pub fn rpc_hook(&self) -> Option<Arc<dyn RPCHook>> {
        self.rpc_hook.clone()
    }

    /// The client runtime.
    pub fn runtime(&self) -> Arc<ClientRuntime> {
        self.runtime.clone()
    }

    /// Timeout of one send.
    pub fn send_timeout(&self) -> Duration {
        self.send_timeout
    }

    /// Waits until a name server accepts TCP connections, retrying with backoff (1 s
    /// doubling to 30 s) and saying so in the log; returns early when `stop` fires.
    /// Returns whether one was reached.
    pub async fn wait_reachable(&self, stop: &tokio::sync::watch::Receiver<bool>) -> bool {
        let mut wait = Duration::from_secs(1);
        loop {
            let mut last = String::new();
            for addr in self.name_server.split(';').map(str::trim).filter(|a| !a.is_empty()) {
                match tokio::time::timeout(Duration::from_secs(3), tokio::net::TcpStream::connect(addr)).await {
                    Ok(Ok(_)) => return true,
                    Ok(Err(e)) => last = format!("{addr}: {e}"),
                    Err(_) => last = format!("{addr}: no answer within 3s"),
                }
            }
            tracing::warn!(
                name_server = %self.name_server,
                "cannot reach the RocketMQ name server ({last}); retrying in {}",
                humantime::format_duration(wait)
            );
            let mut stop = stop.clone();
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.wait_for(|s| *s) => return false,
            }
            wait = (wait * 2).min(Duration::from_secs(30));
        }
    }
}
