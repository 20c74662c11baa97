//! The embedded RocketMQ broker: the rocketmq-rust 1.0.0 name server and broker running
//! in-process on loopback with a data directory, so that `sluice dev`, `sluice broker`
//! and the tests need nothing installed. Production points Sluice at an existing cluster.
//!
//! Every address is loopback: the name server and broker bind 127.0.0.1, the broker
//! advertises 127.0.0.1 (`brokerIp1`/`brokerIp2`, HA address). One upstream quirk remains:
//! the 1.0.0 name server points its own internal client at the machine's first
//! non-loopback address. Where that must not happen (this project's tests, benchmarks and
//! demos), run the process in a loopback-only network namespace (`cargo xtask test` does);
//! see [`loopback_only_network`].
//!
//! The store is tuned as measured in `../shared/notes/rocketmq-rust.md`: commit-log
//! micro-batch wait 0 (the 50 µs default costs ~1 ms per send), 64 MiB commit-log files and
//! small consume-queue and index files (~78 MB on disk instead of ~1.5 GiB preallocated).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rocketmq_broker::config::broker_config::BrokerConfig;
use rocketmq_broker::config::validated::ValidatedBrokerConfig;
use rocketmq_client_rust::{ClientRuntime, ClientRuntimeConfig, DefaultMQProducer};
use rocketmq_model::common::topic::TopicValidator;
use rocketmq_namesrv::NamesrvConfig;
use rocketmq_observability::{TelemetryHandle, TelemetryRuntimeGuard};
use rocketmq_runtime::RuntimeContext;
use rocketmq_store::MessageStoreConfig;
use rocketmq_transport::api::{ServerConfig, TlsConfig, TlsMode, TlsServerConfig};

/// How long `create_topic` waits for the new topic's route to reach the name server.
const ROUTE_WAIT: Duration = Duration::from_secs(30);

const LOOPBACK: &str = "127.0.0.1";

/// Where and how to run the embedded broker.
#[derive(Debug, Clone)]
pub struct EmbeddedBrokerConfig {
    /// Data directory (name server KV store, broker store). Created if missing.
    pub data_dir: PathBuf,
    /// Name server port; 0 picks a free one.
    pub namesrv_port: u16,
    /// Broker port; 0 picks a free one. The broker also listens on this port minus 2.
    pub broker_port: u16,
    /// Authentication: `(access key, secret key)` of the one user the broker accepts;
    /// `None` serves without authentication. The user is created on the first start of a
    /// data directory (its users live in `DATA_DIR/auth`).
    pub auth: Option<(String, String)>,
    /// TLS: the broker serves only TLS, the name server both TLS and plain TCP (the broker
    /// registers with it in plain TCP, on loopback). `None` serves plain TCP.
    pub tls: Option<EmbeddedTls>,
}

/// The files of an embedded broker's TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddedTls {
    /// PEM certificate chain; must name 127.0.0.1 (clients check the address they dial).
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
    /// PEM certificate the embedded admin client trusts (the chain's root).
    pub ca: PathBuf,
}

fn tls_config(t: &EmbeddedTls, mode: TlsMode) -> TlsConfig {
    TlsConfig {
        enable: true,
        // No /etc/rocketmq/tls.properties: everything is given here.
        config_file: String::new(),
        server: TlsServerConfig {
            mode,
            cert_path: Some(t.cert.to_string_lossy().into_owned()),
            key_path: Some(t.key.to_string_lossy().into_owned()),
            ..TlsServerConfig::default()
        },
        ..TlsConfig::default()
    }
}

/// Why the embedded broker could not start or serve a request.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// A directory or port could not be set up.
    #[error("cannot prepare the embedded broker: {0}")]
    Setup(String),
    /// The name server did not start.
    #[error("the embedded name server did not start on {addr}: {reason}")]
    NameServer {
        /// Its address.
        addr: String,
        /// Why.
        reason: String,
    },
    /// The broker did not start.
    #[error("the embedded broker did not start on {addr} (data in {data_dir}): {reason}")]
    Broker {
        /// Its address.
        addr: String,
        /// Its store.
        data_dir: PathBuf,
        /// Why.
        reason: String,
    },
    /// An admin request (topic creation) failed.
    #[error("embedded broker: {0}")]
    Admin(String),
}

/// A running embedded name server and broker. Shut it down with
/// [`shutdown`](Self::shutdown); dropping it stops the name server but leaves the broker's
/// tasks to the runtime's end.
pub struct EmbeddedBroker {
    namesrv_addr: String,
    broker_addr: String,
    data_dir: PathBuf,
    runtime: RuntimeContext,
    broker: Option<rocketmq_broker::BrokerBootstrap<rocketmq_broker::Running>>,
    namesrv_stop: Option<tokio::sync::oneshot::Sender<()>>,
    namesrv_task: Option<tokio::task::JoinHandle<()>>,
    admin: Option<DefaultMQProducer>,
    auth: Option<(String, String)>,
    tls: Option<EmbeddedTls>,
}

/// How full the file system holding `dir` is, as the broker's store counts it: the
/// percentage of its blocks not available (reserved blocks count as used).
fn disk_used_percent(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: statvfs(3) fills `st` when it returns 0; `path` is a valid C string.
    let st = unsafe {
        if libc::statvfs(path.as_ptr(), st.as_mut_ptr()) != 0 {
            return None;
        }
        st.assume_init()
    };
    let total = u64::from(st.f_blocks);
    (total > 0).then(|| 100 - u64::from(st.f_bavail) * 100 / total)
}

/// A free loopback port (free when asked; bind it soon).
///
/// # Errors
/// When no port can be bound.
pub fn free_port() -> Result<u16, BrokerError> {
    let l = TcpListener::bind((LOOPBACK, 0)).map_err(|e| BrokerError::Setup(format!("no free loopback port: {e}")))?;
    Ok(l.local_addr().map_err(|e| BrokerError::Setup(e.to_string()))?.port())
}

/// A free port whose neighbour two below is free too (the broker's fast listener).
///
/// # Errors
/// When no such pair is found in 100 tries.
pub fn free_broker_port() -> Result<u16, BrokerError> {
    for _ in 0..100 {
        let normal = TcpListener::bind((LOOPBACK, 0)).map_err(|e| BrokerError::Setup(e.to_string()))?;
        let port = normal.local_addr().map_err(|e| BrokerError::Setup(e.to_string()))?.port();
        if port > 2 && TcpListener::bind((LOOPBACK, port - 2)).is_ok() {
            return Ok(port);
        }
    }
    Err(BrokerError::Setup("no free pair of loopback ports for the broker".into()))
}

fn dir(path: &Path) -> Result<String, BrokerError> {
    std::fs::create_dir_all(path).map_err(|e| BrokerError::Setup(format!("cannot create {}: {e}", path.display())))?;
    Ok(path.to_string_lossy().into_owned())
}

impl EmbeddedBroker {
    /// Starts the name server, then the broker registered with it, both on loopback.
    /// Must be called within a multi-threaded tokio runtime.
    ///
    /// # Errors
    /// When a directory or port cannot be had, or either server does not start.
    pub async fn start(cfg: &EmbeddedBrokerConfig) -> Result<Self, BrokerError> {
        let namesrv_port = if cfg.namesrv_port == 0 { free_port()? } else { cfg.namesrv_port };
        let broker_port = if cfg.broker_port == 0 { free_broker_port()? } else { cfg.broker_port };
        let namesrv_addr = format!("{LOOPBACK}:{namesrv_port}");
        let broker_addr = format!("{LOOPBACK}:{broker_port}");
        let ha_port = free_port()?;
        let namesrv_dir = dir(&cfg.data_dir.join("namesrv"))?;
        let store_dir = dir(&cfg.data_dir.join("broker"))?;
        let runtime = RuntimeContext::from_current("sluice-embedded-broker");

        let nc = NamesrvConfig {
            rocketmq_home: cfg.data_dir.to_string_lossy().into_owned(),
            kv_config_path: format!("{namesrv_dir}/kvConfig.json"),
            config_store_path: format!("{namesrv_dir}/namesrv.properties"),
            ..NamesrvConfig::default()
        };
        if let Some(t) = &cfg.tls {
            for (what, f) in [("certificate", &t.cert), ("key", &t.key), ("CA certificate", &t.ca)] {
                if !f.is_file() {
                    return Err(BrokerError::Setup(format!("TLS {what} {} is not a readable file", f.display())));
                }
            }
        }
        let server = ServerConfig {
            listen_port: u32::from(namesrv_port),
            bind_address: LOOPBACK.into(),
            // Without TLS configured, plain TCP only (the transport's default would try TLS
            // permissively and warn that it has no certificate).
            tls_config: cfg.tls.as_ref().map_or_else(
                || TlsConfig { server: TlsServerConfig { mode: TlsMode::Disabled, ..TlsServerConfig::default() }, ..TlsConfig::default() },
                |t| tls_config(t, TlsMode::Permissive),
            ),
            ..ServerConfig::default()
        };
        let namesrv = rocketmq_namesrv::bootstrap::Builder::new(runtime.service_context("namesrv"), TelemetryHandle::noop())
            .set_name_server_config(nc)
            .set_server_config(server)
            .build();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let addr = namesrv_addr.clone();
        let namesrv_task = tokio::spawn(async move {
            if let Err(e) = namesrv.boot_with_shutdown(async move {
                let _ = stop_rx.await;
            })
            .await
            {
                tracing::error!(addr = %addr, error = ?e, "embedded name server stopped with an error");
            }
        });
        wait_listening(&namesrv_addr).await.map_err(|reason| BrokerError::NameServer { addr: namesrv_addr.clone(), reason })?;

        let mut bc = BrokerConfig {
            broker_ip1: LOOPBACK.into(),
            broker_ip2: Some(LOOPBACK.into()),
            listen_port: u32::from(broker_port),
            store_path_root_dir: store_dir.clone().into(),
            namesrv_addr: Some(namesrv_addr.clone().into()),
            auto_create_topic_enable: true,
            enable_property_filter: true,
            ..BrokerConfig::default()
        };
        bc.broker_server_config.bind_address = LOOPBACK.to_owned();
        bc.broker_server_config.listen_port = u32::from(broker_port);
        if let Some(t) = &cfg.tls {
            bc.broker_server_config.tls_config = tls_config(t, TlsMode::Enforcing);
        }
        if let Some((ak, sk)) = &cfg.auth {
            if ak.is_empty() || sk.is_empty() || ak.contains(':') {
                return Err(BrokerError::Setup("the access key and secret key must not be empty, and the access key must not contain `:`".into()));
            }
            // ACL 2.0 with the default provider: every request but the broker's own
            // maintenance ones is authenticated; one super user, created if absent.
            bc.authentication_enabled = true;
            bc.auth_config_path = cfg.data_dir.join("auth").to_string_lossy().into_owned().into();
            bc.init_authentication_user = format!("{ak}:{sk}").into();
        }
        let sc = MessageStoreConfig {
            store_path_root_dir: store_dir.into(),
            commit_log_micro_batch_max_wait_micros: 0,
            mapped_file_size_commit_log: 64 << 20,
            mapped_file_size_consume_queue: 600_000,
            max_hash_slot_num: 100_000,
            max_index_num: 400_000,
            ha_listen_address: IpAddr::V4(Ipv4Addr::LOCALHOST),
            // The default HA port (10912) would collide between two brokers on one host.
            ha_listen_port: usize::from(ha_port),
            ..MessageStoreConfig::default()
        };
        // rocketmq-rust 1.0.0 reports most start-up failures as "Service lifecycle operation
        // failed" without the cause; name the usual culprits: ports, and a disk that is
        // too full (its store refuses to start when 1 − available/total is over 90%; seen
        // here at 90% with 25 GB still free on a 252 GB disk).
        let broker_err = |reason: String| BrokerError::Broker {
            addr: broker_addr.clone(),
            data_dir: cfg.data_dir.clone(),
            reason: format!(
                "{reason} (the broker needs 127.0.0.1 ports {broker_port}, {} and {ha_port} free, a writable data directory \
                 and a disk under 90% full{})",
                broker_port - 2,
                disk_used_percent(&cfg.data_dir).map_or_else(String::new, |p| format!("; the disk holding it is {p}% full"))
            ),
        };
        let validated = ValidatedBrokerConfig::try_from_parts(bc, sc).map_err(|e| broker_err(format!("{e:?}")))?;
        let broker = rocketmq_broker::Builder::new(runtime.service_context("broker"), TelemetryRuntimeGuard::noop())
            .with_validated_config(validated)
            .build()
            .initialize()
            .await
            .map_err(|e| broker_err(format!("{e:?}")))?
            .start()
            .await
            .map_err(|e| broker_err(format!("{e:?}")))?;
        tracing::info!(namesrv = %namesrv_addr, broker = %broker_addr, data_dir = %cfg.data_dir.display(), "embedded RocketMQ started");
        Ok(Self {
            namesrv_addr,
            broker_addr,
            data_dir: cfg.data_dir.clone(),
            runtime,
            broker: Some(broker),
            namesrv_stop: Some(stop_tx),
            namesrv_task: Some(namesrv_task),
            admin: None,
            auth: cfg.auth.clone(),
            tls: cfg.tls.clone(),
        })
    }

    /// The name server address, `127.0.0.1:PORT`.
    pub fn namesrv_addr(&self) -> &str {
        &self.namesrv_addr
    }

    /// The broker address, `127.0.0.1:PORT`.
    pub fn broker_addr(&self) -> &str {
        &self.broker_addr
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// A client runtime of this process, for producers and consumers.
    ///
    /// # Errors
    /// When the client runtime cannot be created.
    pub fn client_runtime(&self, name: &'static str) -> Result<Arc<ClientRuntime>, BrokerError> {
        ClientRuntime::try_new(
            self.runtime.service_context(name),
            ClientRuntimeConfig::default(),
            rocketmq_client_rust::TelemetryHandle::noop(),
        )
        .map_err(|e| BrokerError::Admin(format!("cannot create a client runtime: {e}")))
    }

    /// Creates (or updates) a topic with `queues` read and write queues and waits until
    /// its route is published.
    ///
    /// # Errors
    /// When the broker refuses or the route does not appear within 10 s.
    pub async fn create_topic(&mut self, topic: &str, queues: u32) -> Result<(), BrokerError> {
        let admin = match &mut self.admin {
            Some(admin) => admin,
            None => {
                let mut b = DefaultMQProducer::builder(self.client_runtime("admin")?)
                    .producer_group("SLUICE_EMBEDDED_ADMIN")
                    .name_server_addr(self.namesrv_addr.clone())
                    .send_msg_timeout(5_000);
                if let Some(t) = &self.tls {
                    let client = rocketmq_client_rust::ClientConfig::builder()
                        .namesrv_addr(self.namesrv_addr.clone())
                        .client_ip(LOOPBACK.to_owned())
                        .enable_tls(true)
                        .tls_client_trust_cert_path(t.ca.to_string_lossy().into_owned())
                        .build()
                        .map_err(|e| BrokerError::Admin(format!("TLS client settings refused: {e}")))?;
                    b = b.client_config(client);
                }
                if let Some((ak, sk)) = &self.auth {
                    let creds = rocketmq_client_rust::SessionCredentials::with_keys(ak.clone(), sk.clone());
                    b = b.rpc_hook(Arc::new(rocketmq_client_rust::AclClientRPCHook::new(creds)));
                }
                let mut p = b.build();
                p.start().await.map_err(|e| BrokerError::Admin(format!("cannot start the admin client: {e}")))?;
                self.admin.insert(p)
            }
        };
        let queues_i32 = i32::try_from(queues).map_err(|_| BrokerError::Admin(format!("{queues} queues is too many")))?;
        admin
            .create_topic(TopicValidator::AUTO_CREATE_TOPIC_KEY_TOPIC, topic, queues_i32, HashMap::new())
            .await
            .map_err(|e| BrokerError::Admin(format!("cannot create topic {topic}: {e}")))?;
        // The broker registers the new route with the name server at once, but on a
        // loaded 2-core machine that took over 10 s once (CI, many brokers at a time).
        let deadline = std::time::Instant::now() + ROUTE_WAIT;
        while std::time::Instant::now() < deadline {
            if let Ok(q) = admin.fetch_publish_message_queues(topic).await
                && q.len() >= queues as usize
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(BrokerError::Admin(format!("topic {topic} was created but its route did not appear within {} s", ROUTE_WAIT.as_secs())))
    }

    /// Stops the broker, then the name server.
    pub async fn shutdown(mut self) {
        if let Some(mut admin) = self.admin.take() {
            admin.shutdown().await;
        }
        if let Some(b) = self.broker.take() {
            b.shutdown().await;
        }
        if let Some(tx) = self.namesrv_stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.namesrv_task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
        }
    }
}

async fn wait_listening(addr: &str) -> Result<(), String> {
    let mut last = String::new();
    for _ in 0..100 {
        match tokio::net::TcpStream::connect(addr).await {
            Ok(_) => return Ok(()),
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!("not listening after 5 s ({last})"))
}

/// Whether this process sees no network interface but loopback (a loopback-only network
/// namespace, as `unshare -rn` makes). Tests and benchmarks that start a name server check
/// this first, because the 1.0.0 name server connects to the machine's first non-loopback
/// address otherwise.
pub fn loopback_only_network() -> bool {
    // /proc/net/dev lists the interfaces of the reader's network namespace (/sys/class/net
    // shows those of whoever mounted sysfs).
    match std::fs::read_to_string("/proc/net/dev") {
        Ok(text) => text.lines().skip(2).filter_map(|l| l.split(':').next()).all(|name| name.trim() == "lo"),
        Err(_) => false,
    }
}
