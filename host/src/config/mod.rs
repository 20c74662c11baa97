//! The daemon's configuration: one TOML file (reference in the README, examples under
//! `examples/`).
//!
//! Loading happens in three steps, and every problem found is reported with its key
//! path, not just the first: the file is parsed as TOML (a syntax error stops there, with
//! its line), then each section and each pipeline, stage and sink is deserialised on its
//! own (unknown keys and wrong types, path and all), then [`Config::validate`] checks what
//! types cannot (references between names, ranges, environment variables, plugin files).
//! `sluice check` prints the list; `sluice run` refuses to start on any of it.
//!
//! ```
//! let cfg = sluice::config::Config::from_toml(r#"
//!     [rocketmq]
//!     name_server = "127.0.0.1:9876"
//!
//!     [[pipeline]]
//!     name = "orders"
//!     source = { topic = "orders", group = "sluice-orders" }
//!     sinks.out = { type = "stdout" }
//! "#, std::path::Path::new(".")).unwrap();
//! assert_eq!(cfg.pipelines[0].source.mode, sluice::config::ConsumeMode::Ordered);
//! ```

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytesize::ByteSize;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::plugin::PluginLimits;

/// One thing wrong with a configuration, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Key path, e.g. `pipeline[0].stage[1].limits.memory` (`pipeline[orders]` once the
    /// pipeline's name is known).
    pub path: String,
    /// What is wrong and what to do about it.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() { f.write_str(&self.message) } else { write!(f, "{}: {}", self.path, self.message) }
    }
}

/// Every problem found in a configuration file.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{} has {} problem{}:\n{}", file, problems.len(), if problems.len() == 1 { "" } else { "s" },
    problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
pub struct ConfigError {
    /// The file (or `<inline>`).
    pub file: String,
    /// The problems, in file order.
    pub problems: Vec<Problem>,
}

/// The whole file.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Config {
    /// The RocketMQ connection.
    pub rocketmq: RocketMqConfig,
    /// The plugin engine.
    pub engine: crate::plugin::EngineConfig,
    /// The admin HTTP listener.
    pub admin: AdminConfig,
    /// Logging.
    pub log: LogConfig,
    /// Where dead letters go unless a pipeline says otherwise.
    pub dead_letter: DeadLetterConfig,
    /// Reloading on plugin changes.
    pub reload: ReloadConfig,
    /// Graceful shutdown.
    pub shutdown: ShutdownConfig,
    /// The pipelines.
    pub pipelines: Vec<PipelineConfig>,
    /// Directory relative paths are resolved against (the config file's).
    #[serde(skip)]
    pub base_dir: PathBuf,
}

/// `[rocketmq]`: where the cluster is and how to talk to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RocketMqConfig {
    /// Name server addresses separated by `;` (`host:port;host:port`), or `embedded` to
    /// run the rocketmq-rust name server and broker inside Sluice (see `[rocketmq.embedded]`).
    #[serde(default = "default_name_server")]
    pub name_server: String,
    /// Name of the environment variable holding the ACL access key (with `secret_key_env`).
    #[serde(default)]
    pub access_key_env: Option<String>,
    /// Name of the environment variable holding the ACL secret key.
    #[serde(default)]
    pub secret_key_env: Option<String>,
    /// Talk TLS to the name servers and brokers.
    #[serde(default)]
    pub tls: bool,
    /// CA certificate file to trust for TLS (PEM).
    #[serde(default)]
    pub tls_trust_cert: Option<PathBuf>,
    /// The address this client reports to brokers (default: the client library's choice;
    /// `127.0.0.1` with the embedded broker).
    #[serde(default)]
    pub client_ip: Option<String>,
    /// Timeout of one send to a broker.
    #[serde(default = "default_send_timeout", with = "humantime_serde")]
    pub send_timeout: Duration,
    /// The embedded broker, used when `name_server = "embedded"`.
    #[serde(default)]
    pub embedded: EmbeddedConfig,
}

fn default_name_server() -> String {
    "127.0.0.1:9876".into()
}
fn default_send_timeout() -> Duration {
    Duration::from_secs(5)
}

impl Default for RocketMqConfig {
    fn default() -> Self {
        Self {
            name_server: default_name_server(),
            access_key_env: None,
            secret_key_env: None,
            tls: false,
            tls_trust_cert: None,
            client_ip: None,
            send_timeout: default_send_timeout(),
            embedded: EmbeddedConfig::default(),
        }
    }
}

impl RocketMqConfig {
    /// Whether the embedded broker is used.
    pub fn is_embedded(&self) -> bool {
        self.name_server.trim() == "embedded"
    }
}

/// `[rocketmq.embedded]`: the in-process broker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbeddedConfig {
    /// Data directory of the name server and broker store.
    #[serde(default = "default_embedded_dir")]
    pub data_dir: PathBuf,
    /// Name server port (0 = any free port).
    #[serde(default)]
    pub namesrv_port: u16,
    /// Broker port (0 = any free port); the broker also listens on this port minus 2.
    #[serde(default)]
    pub broker_port: u16,
    /// Topics to create at start, with their number of queues.
    #[serde(default)]
    pub topics: BTreeMap<String, u32>,
    /// PEM certificate (naming 127.0.0.1) for serving TLS; with `tls_key`, and
    /// `[rocketmq] tls = true` plus `tls_trust_cert` (its root) for the clients.
    #[serde(default)]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `tls_cert`.
    #[serde(default)]
    pub tls_key: Option<PathBuf>,
}

fn default_embedded_dir() -> PathBuf {
    PathBuf::from(".sluice/broker")
}

impl Default for EmbeddedConfig {
    fn default() -> Self {
        Self { data_dir: default_embedded_dir(), namesrv_port: 0, broker_port: 0, topics: BTreeMap::new(), tls_cert: None, tls_key: None }
    }
}

/// `[admin]`: the admin HTTP listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// Address to listen on; loopback by default. `enabled = false` turns it off.
    #[serde(default = "default_admin_listen")]
    pub listen: String,
    /// Whether to serve it at all.
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn default_admin_listen() -> String {
    "127.0.0.1:9464".into()
}
fn yes() -> bool {
    true
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self { listen: default_admin_listen(), enabled: true }
    }
}

/// `[log]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// Filter in `RUST_LOG` syntax (`info`, `sluice=debug,warn`); the command line's
    /// `--log` wins when given.
    #[serde(default = "default_log_level")]
    pub level: String,
    /// `text` or `json`.
    #[serde(default = "default_log_format")]
    pub format: String,
}

fn default_log_level() -> String {
    "info".into()
}
fn default_log_format() -> String {
    "text".into()
}

impl Default for LogConfig {
    fn default() -> Self {
        Self { level: default_log_level(), format: default_log_format() }
    }
}

/// `[dead_letter]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadLetterConfig {
    /// RocketMQ topic that receives dead letters.
    #[serde(default = "default_dlq_topic")]
    pub topic: String,
}

fn default_dlq_topic() -> String {
    "SLUICE_DLQ".into()
}

impl Default for DeadLetterConfig {
    fn default() -> Self {
        Self { topic: default_dlq_topic() }
    }
}

/// `[reload]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReloadConfig {
    /// Reload when a plugin file changes (checked every `poll_interval`).
    #[serde(default = "yes")]
    pub watch_plugins: bool,
    /// How often plugin files are checked.
    #[serde(default = "default_poll", with = "humantime_serde")]
    pub poll_interval: Duration,
}

fn default_poll() -> Duration {
    Duration::from_secs(2)
}

impl Default for ReloadConfig {
    fn default() -> Self {
        Self { watch_plugins: true, poll_interval: default_poll() }
    }
}

/// `[shutdown]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShutdownConfig {
    /// How long in-flight batches may take to finish on SIGTERM/SIGINT before the
    /// consumers are stopped anyway (what was not finished is not committed and comes
    /// back on the next start).
    #[serde(default = "default_drain", with = "humantime_serde")]
    pub drain_timeout: Duration,
}

fn default_drain() -> Duration {
    Duration::from_secs(30)
}

impl Default for ShutdownConfig {
    fn default() -> Self {
        Self { drain_timeout: default_drain() }
    }
}

/// `[[pipeline]]`: a source, a chain of stages, sinks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// Unique name, used in logs, metrics and dead letters.
    pub name: String,
    /// What to consume.
    pub source: SourceConfig,
    /// The stages, in order.
    #[serde(default, rename = "stage")]
    pub stages: Vec<StageConfig>,
    /// Named sinks.
    #[serde(default)]
    pub sinks: BTreeMap<String, SinkConfig>,
    /// Sinks that receive messages without a destination (default: every sink).
    #[serde(default)]
    pub default_sinks: Option<Vec<String>>,
    /// Destination names a plugin may use, mapped to sinks. A destination that names a
    /// sink goes to that sink without a route.
    #[serde(default)]
    pub routes: BTreeMap<String, Vec<String>>,
    /// Dead-letter topic of this pipeline (default `[dead_letter] topic`).
    #[serde(default)]
    pub dead_letter_topic: Option<String>,
}

/// `[pipeline.source]`: a RocketMQ subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Topic to consume.
    pub topic: String,
    /// Consumer group (clustering mode: the group's members share the queues).
    pub group: String,
    /// Tag expression, e.g. `paid || refunded` (default: all).
    #[serde(default)]
    pub tags: Option<String>,
    /// SQL92 expression on properties, e.g. `region = 'eu' AND amount > 100`. Exclusive
    /// with `tags`.
    #[serde(default)]
    pub sql: Option<String>,
    /// Where `sql` is evaluated: `sluice` (default: the whole topic is consumed and
    /// Sluice evaluates the expression with RocketMQ's own SQL92 engine; non-matching
    /// messages count as filtered) or `broker` (the broker filters; needs
    /// `enablePropertyFilter = true`). The rocketmq-rust 1.0.0 broker's SQL92 filter
    /// matches nothing in our tests, hence the default.
    #[serde(default)]
    pub sql_filter: SqlFilterAt,
    /// `ordered` (each queue strictly in order, queues locked at the broker) or
    /// `concurrent`.
    #[serde(default)]
    pub mode: ConsumeMode,
    /// Most messages of one queue handed to the stage chain at once.
    #[serde(default = "default_batch")]
    pub batch_size: u32,
    /// Where a new group starts: `first` or `last`.
    #[serde(default)]
    pub start_from: StartFrom,
    /// Most messages buffered per queue before pulling pauses (backpressure).
    #[serde(default = "default_buffered")]
    pub max_buffered_messages: u32,
    /// Most bytes buffered per queue before pulling pauses.
    #[serde(default = "default_buffered_bytes")]
    pub max_buffered_bytes: ByteSize,
    /// Queues processed at the same time (consumer threads).
    #[serde(default = "default_parallelism")]
    pub parallelism: u32,
}

fn default_batch() -> u32 {
    32
}
fn default_buffered() -> u32 {
    1000
}
fn default_buffered_bytes() -> ByteSize {
    ByteSize::mib(16)
}
fn default_parallelism() -> u32 {
    8
}

/// How a source consumes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConsumeMode {
    /// One queue's messages strictly in order; queues locked at the broker.
    #[default]
    Ordered,
    /// Batches of one queue may overlap; no order.
    Concurrent,
}

/// Where a source's SQL92 expression is evaluated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SqlFilterAt {
    /// In Sluice, on every consumed message.
    #[default]
    Sluice,
    /// At the broker.
    Broker,
}

/// Where a new consumer group starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StartFrom {
    /// The oldest message kept.
    #[default]
    First,
    /// Only new messages.
    Last,
}

/// `[[pipeline.stage]]`: one plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageConfig {
    /// Name (default: the plugin file's stem).
    #[serde(default)]
    pub name: Option<String>,
    /// The component file.
    pub plugin: PathBuf,
    /// Expected sha256 of the file (lowercase hex).
    #[serde(default)]
    pub sha256: Option<String>,
    /// Configuration handed to the plugin's `init`, as string pairs.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// Memory, deadline and pool bounds.
    #[serde(default)]
    pub limits: PluginLimits,
    /// What the plugin may reach beyond its sandbox (nothing by default).
    #[serde(default)]
    pub grants: crate::plugin::Grants,
    /// What happens to a message once retries are exhausted (or at once, for a
    /// permanent failure).
    #[serde(default)]
    pub on_failure: FailurePolicy,
    /// Retries of a failing message.
    #[serde(default)]
    pub retry: RetryConfig,
    /// The circuit breaker of this stage.
    #[serde(default)]
    pub circuit_breaker: BreakerConfig,
}

impl StageConfig {
    /// What the plugin runtime needs to load this stage's plugin.
    pub fn plugin_spec(&self, pipeline: &str, cfg: &Config) -> crate::plugin::PluginSpec {
        let mut spec = crate::plugin::PluginSpec::new(cfg.resolve(&self.plugin));
        spec.stage = self.name();
        spec.pipeline = pipeline.to_owned();
        spec.config = self.config.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        spec.limits = self.limits.clone();
        spec.grants = self.grants.clone();
        spec.grants.read_dirs =
            spec.grants.read_dirs.iter().map(|d| std::fs::canonicalize(cfg.resolve(d)).unwrap_or_else(|_| cfg.resolve(d))).collect();
        spec.sha256 = self.sha256.clone();
        spec
    }

    /// The stage's name.
    pub fn name(&self) -> String {
        self.name.clone().unwrap_or_else(|| {
            self.plugin.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "stage".into())
        })
    }
}

/// What to do with a message a stage cannot handle.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailurePolicy {
    /// Send the original message, with the failure's context, to the dead-letter topic.
    #[default]
    DeadLetter,
    /// Drop it (counted and logged).
    Skip,
    /// Stop the pipeline; the message is not committed and comes back on restart.
    Stop,
}

/// Retry with exponential backoff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    /// Tries in all, the first included (1 = no retry).
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// Wait before the first retry; doubled each time.
    #[serde(default = "default_backoff", with = "humantime_serde")]
    pub initial_backoff: Duration,
    /// Longest wait between tries.
    #[serde(default = "default_max_backoff", with = "humantime_serde")]
    pub max_backoff: Duration,
}

fn default_attempts() -> u32 {
    3
}
fn default_backoff() -> Duration {
    Duration::from_millis(100)
}
fn default_max_backoff() -> Duration {
    Duration::from_secs(5)
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self { max_attempts: default_attempts(), initial_backoff: default_backoff(), max_backoff: default_max_backoff() }
    }
}

impl RetryConfig {
    /// The wait before try number `attempt + 1` (`attempt` counts from 1).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(20));
        self.initial_backoff.saturating_mul(factor).min(self.max_backoff)
    }
}

/// A stage's circuit breaker: after `consecutive_failures` crashes of the plugin (trap,
/// deadline, memory) in a row, the stage stops calling it for `cooldown`; the queues
/// that need it wait (nothing is dead-lettered meanwhile), then one call tests it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerConfig {
    /// Crashes in a row that open the breaker (0 = never).
    #[serde(default = "default_breaker_failures")]
    pub consecutive_failures: u32,
    /// How long it stays open.
    #[serde(default = "default_cooldown", with = "humantime_serde")]
    pub cooldown: Duration,
}

fn default_breaker_failures() -> u32 {
    10
}
fn default_cooldown() -> Duration {
    Duration::from_secs(10)
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self { consecutive_failures: default_breaker_failures(), cooldown: default_cooldown() }
    }
}

/// `[pipeline.sinks.NAME]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum SinkConfig {
    /// A RocketMQ topic.
    Rocketmq {
        /// Topic.
        topic: String,
        /// Most messages per batch send.
        #[serde(default = "default_sink_batch")]
        batch_size: u32,
    },
    /// A JSON Lines file (appended to).
    File {
        /// Path.
        path: PathBuf,
    },
    /// JSON Lines on standard output.
    Stdout {},
    /// POST of JSON batches.
    Http {
        /// URL (`http://` or `https://`).
        url: String,
        /// Most messages per request.
        #[serde(default = "default_http_batch")]
        batch_size: u32,
        /// Timeout of one request.
        #[serde(default = "default_http_timeout", with = "humantime_serde")]
        timeout: Duration,
        /// Extra headers.
        #[serde(default)]
        headers: BTreeMap<String, String>,
    },
}

fn default_sink_batch() -> u32 {
    128
}
fn default_http_batch() -> u32 {
    100
}
fn default_http_timeout() -> Duration {
    Duration::from_secs(10)
}

impl SinkConfig {
    /// `rocketmq`, `file`, `stdout` or `http`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Rocketmq { .. } => "rocketmq",
            Self::File { .. } => "file",
            Self::Stdout {} => "stdout",
            Self::Http { .. } => "http",
        }
    }
}

const SECTIONS: &[&str] = &["rocketmq", "engine", "admin", "log", "dead_letter", "reload", "shutdown", "pipeline"];

fn section<T: DeserializeOwned + Default>(table: &toml::Table, key: &str, problems: &mut Vec<Problem>) -> T {
    match table.get(key) {
        None => T::default(),
        Some(v) => deserialize(v.clone(), key, problems).unwrap_or_default(),
    }
}

fn deserialize<T: DeserializeOwned>(value: toml::Value, path: &str, problems: &mut Vec<Problem>) -> Option<T> {
    match serde_path_to_error::deserialize::<_, T>(value) {
        Ok(v) => Some(v),
        Err(e) => {
            let inner = e.path().to_string();
            let path = if inner == "." || inner.is_empty() { path.to_owned() } else { format!("{path}.{inner}") };
            // toml appends "in `a.b`" lines; the path is already given.
            let message = e.into_inner().to_string();
            let message = message.lines().next().unwrap_or_default().to_owned();
            problems.push(Problem { path, message });
            None
        }
    }
}

impl Config {
    /// Reads and checks a configuration file (without touching plugin files: see
    /// [`Config::check_plugin_files`]).
    ///
    /// # Errors
    /// Every problem found, each with its key path.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.display().to_string(),
            problems: vec![Problem {
                path: String::new(),
                message: if e.kind() == std::io::ErrorKind::InvalidData {
                    "the file is not UTF-8 text (TOML files must be UTF-8): check its encoding".into()
                } else {
                    format!("cannot read the file: {e}")
                },
            }],
        })?;
        let base = path.parent().map(Path::to_owned).unwrap_or_default();
        Self::from_toml(&text, &base).map_err(|mut e| {
            e.file = path.display().to_string();
            e
        })
    }

    /// Parses and checks configuration text; relative paths are taken from `base_dir`.
    ///
    /// # Errors
    /// Every problem found, each with its key path.
    pub fn from_toml(text: &str, base_dir: &Path) -> Result<Self, ConfigError> {
        let fail = |problems| ConfigError { file: "<inline>".into(), problems };
        let table: toml::Table = toml::from_str(text).map_err(|e| {
            let at = e.span().map(|s| line_col(text, s.start)).map(|(l, c)| format!("line {l}, column {c}")).unwrap_or_default();
            fail(vec![Problem { path: at, message: format!("not valid TOML: {}", e.message()) }])
        })?;
        let mut problems = Vec::new();
        for key in table.keys() {
            if !SECTIONS.contains(&key.as_str()) {
                problems.push(Problem {
                    path: key.clone(),
                    message: format!("unknown section; expected one of {}", SECTIONS.join(", ")),
                });
            }
        }
        let mut cfg = Config {
            rocketmq: section(&table, "rocketmq", &mut problems),
            engine: section(&table, "engine", &mut problems),
            admin: section(&table, "admin", &mut problems),
            log: section(&table, "log", &mut problems),
            dead_letter: section(&table, "dead_letter", &mut problems),
            reload: section(&table, "reload", &mut problems),
            shutdown: section(&table, "shutdown", &mut problems),
            pipelines: Vec::new(),
            base_dir: base_dir.to_owned(),
        };
        match table.get("pipeline") {
            None => problems.push(Problem {
                path: "pipeline".into(),
                message: "no pipeline: add at least one [[pipeline]] with a source and sinks".into(),
            }),
            Some(toml::Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    let path = pipeline_path(i, item.get("name").and_then(toml::Value::as_str));
                    if let Some(p) = pipeline(item, &path, &mut problems) {
                        cfg.pipelines.push(p);
                    }
                }
            }
            Some(_) => problems.push(Problem {
                path: "pipeline".into(),
                message: "must be an array of tables: write [[pipeline]], not [pipeline]".into(),
            }),
        }
        problems.extend(cfg.validate());
        if problems.is_empty() { Ok(cfg) } else { Err(fail(problems)) }
    }

    /// Checks what types cannot; returns every problem.
    pub fn validate(&self) -> Vec<Problem> {
        let mut p = Vec::new();
        let mut push = |path: String, message: String| p.push(Problem { path, message });
        let mq = &self.rocketmq;
        if !mq.is_embedded() {
            if mq.name_server.trim().is_empty() {
                push("rocketmq.name_server".into(), "is empty: give `host:port[;host:port…]` or `embedded`".into());
            }
            for addr in mq.name_server.split(';').map(str::trim).filter(|a| !a.is_empty()) {
                let ok = addr.rsplit_once(':').is_some_and(|(h, port)| !h.is_empty() && port.parse::<u16>().is_ok());
                if !ok {
                    push("rocketmq.name_server".into(), format!("`{addr}` is not `host:port` (or use `embedded`)"));
                }
            }
            if !mq.embedded.topics.is_empty() {
                push("rocketmq.embedded.topics".into(), "only used with name_server = \"embedded\"".into());
            }
        }
        for (topic, &queues) in &mq.embedded.topics {
            if !(1..=1024).contains(&queues) {
                push(format!("rocketmq.embedded.topics.{topic}"), format!("{queues} queues: give 1 to 1024"));
            }
        }
        let e = &mq.embedded;
        match (&e.tls_cert, &e.tls_key) {
            (Some(_), None) => push("rocketmq.embedded.tls_key".into(), "missing: set it with tls_cert".into()),
            (None, Some(_)) => push("rocketmq.embedded.tls_cert".into(), "missing: set it with tls_key".into()),
            (Some(_), Some(_)) if !(mq.tls && mq.tls_trust_cert.is_some()) => push(
                "rocketmq.tls".into(),
                "the embedded broker serves TLS (embedded.tls_cert): set tls = true and tls_trust_cert to the certificate's root".into(),
            ),
            _ => {}
        }
        match (&mq.access_key_env, &mq.secret_key_env) {
            (Some(_), None) => push("rocketmq.secret_key_env".into(), "missing: set it with access_key_env".into()),
            (None, Some(_)) => push("rocketmq.access_key_env".into(), "missing: set it with secret_key_env".into()),
            _ => {}
        }
        for (key, var) in [("access_key_env", &mq.access_key_env), ("secret_key_env", &mq.secret_key_env)] {
            if let Some(var) = var
                && std::env::var_os(var).is_none_or(|v| v.is_empty())
            {
                push(format!("rocketmq.{key}"), format!("the environment variable `{var}` is not set"));
            }
        }
        if let Some(ca) = &mq.tls_trust_cert
            && !self.resolve(ca).is_file()
        {
            push("rocketmq.tls_trust_cert".into(), format!("no file at {}", self.resolve(ca).display()));
        }
        if self.admin.enabled && self.admin.listen.parse::<SocketAddr>().is_err() {
            push("admin.listen".into(), format!("`{}` is not an address like 127.0.0.1:9464", self.admin.listen));
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            push("log.format".into(), format!("`{}`: use `text` or `json`", self.log.format));
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log.level) {
            push("log.level".into(), format!("`{}` is not a log filter: {e}", self.log.level));
        }
        if self.dead_letter.topic.trim().is_empty() {
            push("dead_letter.topic".into(), "is empty".into());
        }
        if self.reload.poll_interval < Duration::from_millis(100) {
            push("reload.poll_interval".into(), "below 100ms: give e.g. \"2s\"".into());
        }
        let mut names = HashSet::new();
        let mut groups = HashSet::new();
        for (i, pl) in self.pipelines.iter().enumerate() {
            let at = pipeline_path(i, Some(&pl.name));
            if pl.name.trim().is_empty() {
                push(format!("{at}.name"), "is empty".into());
            } else if !names.insert(pl.name.clone()) {
                push(format!("{at}.name"), format!("`{}` is used by another pipeline; names must be unique", pl.name));
            }
            pl.validate(&at, self, &mut groups, &mut push);
        }
        p
    }

    /// Every RocketMQ topic the pipelines read or write: sources, RocketMQ sinks and
    /// dead-letter topics.
    pub fn topics(&self) -> std::collections::BTreeSet<String> {
        let mut topics = std::collections::BTreeSet::new();
        for p in &self.pipelines {
            topics.insert(p.source.topic.clone());
            topics.insert(p.dead_letter_topic(self).to_owned());
            for s in p.sinks.values() {
                if let SinkConfig::Rocketmq { topic, .. } = s {
                    topics.insert(topic.clone());
                }
            }
        }
        topics
    }

    /// A path from the file, made absolute against the config file's directory.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() { path.to_owned() } else { self.base_dir.join(path) }
    }

    /// Plugin files that do not exist, as problems (loading them checks the rest).
    pub fn check_plugin_files(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        for (i, pl) in self.pipelines.iter().enumerate() {
            for (j, st) in pl.stages.iter().enumerate() {
                let file = self.resolve(&st.plugin);
                if !file.is_file() {
                    out.push(Problem {
                        path: format!("{}.stage[{j}].plugin", pipeline_path(i, Some(&pl.name))),
                        message: format!("no plugin file at {} (build it, or fix the path)", file.display()),
                    });
                }
            }
        }
        out
    }
}

impl PipelineConfig {
    fn validate(&self, at: &str, cfg: &Config, groups: &mut HashSet<String>, push: &mut impl FnMut(String, String)) {
        let s = &self.source;
        if s.topic.trim().is_empty() {
            push(format!("{at}.source.topic"), "is empty".into());
        }
        if s.group.trim().is_empty() {
            push(format!("{at}.source.group"), "is empty".into());
        } else if !groups.insert(s.group.clone()) {
            push(format!("{at}.source.group"), format!("`{}` is used by another pipeline of this file", s.group));
        }
        if s.tags.is_some() && s.sql.is_some() {
            push(format!("{at}.source"), "give `tags` or `sql`, not both".into());
        }
        if let Some(sql) = &s.sql
            && let Err(e) = crate::source::SqlFilter::compile(sql)
        {
            push(format!("{at}.source.sql"), e);
        }
        if !(1..=1024).contains(&s.batch_size) {
            push(format!("{at}.source.batch_size"), format!("{}: give 1 to 1024", s.batch_size));
        }
        if s.max_buffered_messages < s.batch_size {
            push(format!("{at}.source.max_buffered_messages"), "smaller than batch_size".into());
        }
        if !(1..=256).contains(&s.parallelism) {
            push(format!("{at}.source.parallelism"), format!("{}: give 1 to 256", s.parallelism));
        }
        let mut stage_names = HashSet::new();
        for (j, st) in self.stages.iter().enumerate() {
            let sp = format!("{at}.stage[{j}]");
            if !stage_names.insert(st.name()) {
                push(format!("{sp}.name"), format!("`{}` is used by another stage of this pipeline", st.name()));
            }
            if let Some(sha) = &st.sha256
                && (sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()))
            {
                push(format!("{sp}.sha256"), "not 64 hex digits".into());
            }
            if st.retry.max_attempts == 0 {
                push(format!("{sp}.retry.max_attempts"), "0: give at least 1 (the first try)".into());
            }
            if st.retry.initial_backoff > st.retry.max_backoff {
                push(format!("{sp}.retry.initial_backoff"), "longer than max_backoff".into());
            }
            if st.limits.deadline.is_zero() {
                push(format!("{sp}.limits.deadline"), "is zero: give a positive duration, e.g. \"1s\"".into());
            }
            if st.limits.memory.as_u64() < 1 << 20 {
                push(format!("{sp}.limits.memory"), "below 1 MiB: no plugin starts in that".into());
            }
        }
        if self.sinks.is_empty() {
            push(format!("{at}.sinks"), "no sink: add e.g. [pipeline.sinks.out] type = \"stdout\"".into());
        }
        for (name, sink) in &self.sinks {
            let sp = format!("{at}.sinks.{name}");
            match sink {
                SinkConfig::Rocketmq { topic, batch_size } => {
                    if topic.trim().is_empty() {
                        push(format!("{sp}.topic"), "is empty".into());
                    }
                    if topic == &self.source.topic {
                        push(format!("{sp}.topic"), "is the source topic: that would loop forever".into());
                    }
                    if !(1..=1024).contains(batch_size) {
                        push(format!("{sp}.batch_size"), format!("{batch_size}: give 1 to 1024"));
                    }
                }
                SinkConfig::File { path } => {
                    if path.as_os_str().is_empty() || cfg.resolve(path).is_dir() {
                        push(format!("{sp}.path"), format!("`{}` is not a file path", path.display()));
                    }
                }
                SinkConfig::Stdout {} => {}
                SinkConfig::Http { url, batch_size, .. } => {
                    match reqwest::Url::parse(url) {
                        Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                        Ok(_) => push(format!("{sp}.url"), format!("`{url}`: only http:// and https:// URLs")),
                        Err(e) => push(format!("{sp}.url"), format!("`{url}` is not a URL: {e}")),
                    }
                    if !(1..=10_000).contains(batch_size) {
                        push(format!("{sp}.batch_size"), format!("{batch_size}: give 1 to 10000"));
                    }
                }
            }
        }
        let known = |n: &String| self.sinks.contains_key(n);
        if let Some(defaults) = &self.default_sinks {
            for n in defaults.iter().filter(|n| !known(n)) {
                push(format!("{at}.default_sinks"), format!("no sink named `{n}` in this pipeline"));
            }
        }
        for (dest, sinks) in &self.routes {
            if sinks.is_empty() {
                push(format!("{at}.routes.{dest}"), "routes to no sink".into());
            }
            for n in sinks.iter().filter(|n| !known(n)) {
                push(format!("{at}.routes.{dest}"), format!("no sink named `{n}` in this pipeline"));
            }
        }
        if let Some(t) = &self.dead_letter_topic
            && t.trim().is_empty()
        {
            push(format!("{at}.dead_letter_topic"), "is empty".into());
        }
    }

    /// The dead-letter topic of this pipeline.
    pub fn dead_letter_topic<'a>(&'a self, cfg: &'a Config) -> &'a str {
        self.dead_letter_topic.as_deref().unwrap_or(&cfg.dead_letter.topic)
    }
}

/// One `[[pipeline]]`, its stages and sinks deserialised one by one so that a problem in
/// one does not hide a problem in another.
fn pipeline(item: &toml::Value, path: &str, problems: &mut Vec<Problem>) -> Option<PipelineConfig> {
    let Some(table) = item.as_table() else {
        return deserialize(item.clone(), path, problems);
    };
    let mut ok = true;
    if let Some(toml::Value::Array(stages)) = table.get("stage") {
        for (j, st) in stages.iter().enumerate() {
            ok &= deserialize::<StageConfig>(st.clone(), &format!("{path}.stage[{j}]"), problems).is_some();
        }
    }
    if let Some(toml::Value::Table(sinks)) = table.get("sinks") {
        for (name, sink) in sinks {
            ok &= deserialize::<SinkConfig>(sink.clone(), &format!("{path}.sinks.{name}"), problems).is_some();
        }
    }
    if ok {
        return deserialize(item.clone(), path, problems);
    }
    let mut rest = table.clone();
    rest.remove("stage");
    rest.remove("sinks");
    let _ = deserialize::<PipelineConfig>(toml::Value::Table(rest), path, problems);
    None
}

fn pipeline_path(i: usize, name: Option<&str>) -> String {
    match name {
        Some(n) if !n.is_empty() => format!("pipeline[{n}]"),
        _ => format!("pipeline[{i}]"),
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
        [rocketmq]
        name_server = "embedded"
        embedded.topics = { orders = 8, clean = 8 }

        [[pipeline]]
        name = "orders"
        source = { topic = "orders", group = "g", tags = "paid || created", batch_size = 64 }
        default_sinks = ["clean"]
        routes = { fraud = ["audit"] }

        [[pipeline.stage]]
        plugin = "plugins/mask_pii.wasm"
        config = { fields = "card" }
        limits = { memory = "32 MiB", deadline = "250ms" }
        on_failure = "skip"
        retry = { max_attempts = 5, initial_backoff = "10ms" }

        [pipeline.sinks.clean]
        type = "rocketmq"
        topic = "clean"

        [pipeline.sinks.audit]
        type = "file"
        path = "audit.jsonl"
    "#;

    fn problems(text: &str) -> Vec<String> {
        match Config::from_toml(text, Path::new(".")) {
            Ok(_) => Vec::new(),
            Err(e) => e.problems.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn a_full_config_parses_with_defaults() {
        let base = std::env::temp_dir();
        let cfg = Config::from_toml(GOOD, &base).unwrap();
        let p = &cfg.pipelines[0];
        assert!(cfg.rocketmq.is_embedded());
        assert_eq!(p.stages[0].name(), "mask_pii");
        assert_eq!(p.stages[0].limits.deadline, Duration::from_millis(250));
        assert_eq!(p.stages[0].on_failure, FailurePolicy::Skip);
        assert_eq!(p.stages[0].retry.max_backoff, Duration::from_secs(5));
        assert_eq!(p.source.batch_size, 64);
        assert_eq!(p.dead_letter_topic(&cfg), "SLUICE_DLQ");
        assert_eq!(cfg.resolve(Path::new("a.wasm")), base.join("a.wasm"));
        assert_eq!(cfg.resolve(Path::new("/x/a.wasm")), Path::new("/x/a.wasm"));
        assert!(matches!(p.sinks["audit"], SinkConfig::File { .. }));
    }

    #[test]
    fn every_problem_is_reported_with_its_path() {
        let bad = GOOD
            .replace("memory = \"32 MiB\"", "memroy = \"32 MiB\"")
            .replace("type = \"file\"", "type = \"ftp\"")
            .replace("default_sinks = [\"clean\"]", "default_sinks = [\"nope\"]")
            .replace("[rocketmq]", "[rocketmq]\nbogus = 1");
        let got = problems(&bad);
        assert_eq!(got.len(), 3, "{got:#?}");
        assert!(got[0].starts_with("rocketmq.bogus: unknown field `bogus`, expected one of `name_server`"), "{got:#?}");
        assert!(got[1].starts_with("pipeline[orders].stage[0].limits.memroy: unknown field `memroy`"), "{got:#?}");
        assert_eq!(got[2], "pipeline[orders].sinks.audit.type: unknown variant `ftp`, expected one of `rocketmq`, `file`, `stdout`, `http`");
        // Semantic problems come once the types are right.
        let got = problems(&GOOD.replace("default_sinks = [\"clean\"]", "default_sinks = [\"nope\"]").replace("topic = \"clean\"", "topic = \"orders\""));
        assert_eq!(
            got,
            [
                "pipeline[orders].sinks.clean.topic: is the source topic: that would loop forever",
                "pipeline[orders].default_sinks: no sink named `nope` in this pipeline",
            ]
        );
    }

    #[test]
    fn semantic_checks() {
        let got = problems(
            r#"
            [rocketmq]
            name_server = "localhost"
            access_key_env = "SLUICE_TEST_SURELY_UNSET_VAR"
            [log]
            format = "xml"
            [[pipeline]]
            name = "a"
            source = { topic = "t", group = "g", tags = "x", sql = "a = 1", batch_size = 0 }
            [[pipeline.stage]]
            plugin = "p.wasm"
            sha256 = "abc"
            retry = { max_attempts = 0 }
            [[pipeline]]
            name = "a"
            source = { topic = "t", group = "g", sql = "a = = 1" }
            sinks.h = { type = "http", url = "ftp://x" }
            "#,
        );
        let expect = [
            "rocketmq.name_server: `localhost` is not `host:port` (or use `embedded`)",
            "rocketmq.secret_key_env: missing: set it with access_key_env",
            "rocketmq.access_key_env: the environment variable `SLUICE_TEST_SURELY_UNSET_VAR` is not set",
            "log.format: `xml`: use `text` or `json`",
            "pipeline[a].source: give `tags` or `sql`, not both",
            "pipeline[a].source.batch_size: 0: give 1 to 1024",
            "pipeline[a].stage[0].sha256: not 64 hex digits",
            "pipeline[a].stage[0].retry.max_attempts: 0: give at least 1 (the first try)",
            "pipeline[a].sinks: no sink: add e.g. [pipeline.sinks.out] type = \"stdout\"",
            "pipeline[a].name: `a` is used by another pipeline; names must be unique",
            "pipeline[a].source.group: `g` is used by another pipeline of this file",
            "pipeline[a].source.sql: not a valid SQL92 expression: SQL filter compilation failed: kind=UnexpectedToken, stage=Parse, position=Some(4), source=Some(Sql92)",
            "pipeline[a].sinks.h.url: `ftp://x`: only http:// and https:// URLs",
        ];
        assert_eq!(got, expect);
    }

    #[test]
    fn syntax_errors_and_missing_pipelines() {
        let got = problems("[rocketmq\nname_server = 1");
        assert_eq!(got.len(), 1);
        assert!(got[0].starts_with("line 1, column"), "{got:?}");
        assert_eq!(problems("[log]\nlevel = \"info\"")[0], "pipeline: no pipeline: add at least one [[pipeline]] with a source and sinks");
        assert!(problems("[pipeline]\nname = \"x\"")[0].contains("write [[pipeline]]"));
        assert!(problems("[pipelines]")[0].starts_with("pipelines: unknown section"));
    }

    #[test]
    fn backoff_doubles_up_to_the_bound() {
        let r = RetryConfig { max_attempts: 9, initial_backoff: Duration::from_millis(100), max_backoff: Duration::from_millis(700) };
        let waits: Vec<u128> = (1..=5).map(|a| r.backoff(a).as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 700, 700]);
    }
}
