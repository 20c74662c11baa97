//! Write Sluice plugins in Rust: one trait, one function, one macro.
//!
//! A Sluice plugin is a WebAssembly component that Sluice calls with batches of RocketMQ
//! messages. This crate hides the WIT bindings, the batch loop and the bulk frame layout
//! (the contract's fast path): you write what happens to *one* message, and test it
//! natively with [`testing`].
//!
//! # A filter
//!
//! ```
//! use sluice_sdk::{Config, ConfigError, Error, Filter, Message};
//!
//! /// Keeps messages whose `region` property is the configured one.
//! struct RegionFilter {
//!     region: String,
//! }
//!
//! impl Filter for RegionFilter {
//!     fn init(config: &Config) -> Result<Self, ConfigError> {
//!         config.only(&["region"])?;
//!         Ok(Self { region: config.require("region")?.to_owned() })
//!     }
//!
//!     fn filter(&self, msg: &Message<'_>) -> Result<bool, Error> {
//!         Ok(msg.property("region") == Some(self.region.as_str()))
//!     }
//! }
//!
//! sluice_sdk::export_filter!(RegionFilter);
//!
//! // Unit-test it natively, through the same batch loop the component runs:
//! use sluice_sdk::testing::{TestMessage, TestOutcome, run_filter};
//! let out = run_filter::<RegionFilter>(
//!     &[("region", "eu")],
//!     &[TestMessage::new("a").property("region", "eu"), TestMessage::new("b")],
//! ).unwrap();
//! assert_eq!(out, [TestOutcome::Unchanged, TestOutcome::Drop]);
//! ```
//!
//! # A transform
//!
//! A transform answers each message with [`Transformed`]: `Unchanged` (nothing crosses
//! back to the host: the cheapest answer), `Drop`, one [`Output`] or many. An `Output`
//! inherits every field it does not set from its input.
//!
//! ```
//! use sluice_sdk::{Config, ConfigError, Error, Message, Output, Transform, Transformed};
//!
//! struct Upper;
//!
//! impl Transform for Upper {
//!     fn init(config: &Config) -> Result<Self, ConfigError> {
//!         config.only(&[])?;
//!         Ok(Upper)
//!     }
//!
//!     fn transform<'a>(&'a self, msg: &Message<'a>) -> Result<Transformed<'a>, Error> {
//!         let text = msg.body_str().ok_or_else(|| Error::reject("body is not UTF-8"))?;
//!         Ok(Output::new().body(text.to_uppercase().into_bytes()).into())
//!     }
//! }
//!
//! sluice_sdk::export_transform!(Upper);
//! ```
//!
//! Build with `cargo build --release --target wasm32-wasip2` (crate type `cdylib`) and try
//! it with `sluice plugin test target/wasm32-wasip2/release/NAME.wasm --input msgs.jsonl`.
//!
//! A plugin may panic: the host sees a trap, discards the instance and applies the
//! stage's failure policy. Return [`Error::retry`] or [`Error::reject`] for failures
//! you expect.

#![warn(missing_docs)]

use std::borrow::Cow;
use std::fmt;

pub use sluice_frames as frames;

// Lets the generated bindings name this crate by its public path from inside it too.
extern crate self as sluice_sdk;

#[doc(hidden)]
pub mod __glue;
pub mod testing;
#[doc(hidden)]
pub use wit_bindgen::rt as __rt;

/// The generated bindings of the `filter-frames` world.
#[doc(hidden)]
#[allow(missing_docs, clippy::all)]
pub mod __filter {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "sluice:plugin/filter-frames@0.1.0",
        pub_export_macro: true,
        export_macro_name: "__export_filter_world",
        default_bindings_module: "::sluice_sdk::__filter",
        runtime_path: "::sluice_sdk::__rt",
    });
}

/// The generated bindings of the `transform-frames` world (sharing the host import).
#[doc(hidden)]
#[allow(missing_docs, clippy::all)]
pub mod __transform {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "sluice:plugin/transform-frames@0.1.0",
        pub_export_macro: true,
        export_macro_name: "__export_transform_world",
        default_bindings_module: "::sluice_sdk::__transform",
        runtime_path: "::sluice_sdk::__rt",
        with: {
            "sluice:plugin/host@0.1.0": crate::__filter::sluice::plugin::host,
            "sluice:plugin/types@0.1.0": crate::__filter::sluice::plugin::types,
        },
    });
}

/// A filter plugin: keeps or drops each message.
pub trait Filter: Sized + 'static {
    /// Builds the plugin from the stage configuration, once per instance. Refuse a bad
    /// configuration with a [`ConfigError`]: the host will not start the stage.
    ///
    /// # Errors
    /// A configuration the plugin cannot work with.
    fn init(config: &Config) -> Result<Self, ConfigError>;

    /// `true` keeps the message, `false` drops it.
    ///
    /// # Errors
    /// [`Error::retry`] or [`Error::reject`]: the stage's failure policy applies.
    fn filter(&self, msg: &Message<'_>) -> Result<bool, Error>;
}

/// A transform plugin: each message becomes zero, one or many.
pub trait Transform: Sized + 'static {
    /// As [`Filter::init`].
    ///
    /// # Errors
    /// A configuration the plugin cannot work with.
    fn init(config: &Config) -> Result<Self, ConfigError>;

    /// What becomes of one message. Outputs may borrow from the message and from the
    /// plugin itself (its configuration), so that nothing is copied that need not be.
    ///
    /// # Errors
    /// [`Error::retry`] or [`Error::reject`]: the stage's failure policy applies.
    fn transform<'a>(&'a self, msg: &Message<'a>) -> Result<Transformed<'a>, Error>;
}

/// Exports a [`Filter`] implementation as the component's plugin.
#[macro_export]
macro_rules! export_filter {
    ($ty:ty) => {
        #[doc(hidden)]
        pub struct __SluiceFilterExport;
        impl $crate::__filter::exports::sluice::plugin::frames_filter::Guest for __SluiceFilterExport {
            fn init(
                config: ::std::vec::Vec<(::std::string::String, ::std::string::String)>,
            ) -> ::std::result::Result<(), $crate::__filter::sluice::plugin::types::ConfigError> {
                $crate::__glue::init_filter::<$ty>(config)
            }
            fn filter(
                context: $crate::__filter::sluice::plugin::types::BatchContext,
                frames: ::std::vec::Vec<u8>,
            ) -> ::std::result::Result<::std::vec::Vec<u8>, $crate::__filter::sluice::plugin::types::PluginError> {
                $crate::__glue::filter_export::<$ty>(&context, &frames)
            }
        }
        // The component exports exist only in the wasm build: natively (unit tests) their
        // `ns:pkg/iface@version#func` symbol names cannot be linked.
        #[cfg(target_arch = "wasm32")]
        $crate::__filter::__export_filter_world!(__SluiceFilterExport with_types_in $crate::__filter);
    };
}

/// Exports a [`Transform`] implementation as the component's plugin.
#[macro_export]
macro_rules! export_transform {
    ($ty:ty) => {
        #[doc(hidden)]
        pub struct __SluiceTransformExport;
        impl $crate::__transform::exports::sluice::plugin::frames_transform::Guest for __SluiceTransformExport {
            fn init(
                config: ::std::vec::Vec<(::std::string::String, ::std::string::String)>,
            ) -> ::std::result::Result<(), $crate::__filter::sluice::plugin::types::ConfigError> {
                $crate::__glue::init_transform::<$ty>(config)
            }
            fn transform(
                context: $crate::__filter::sluice::plugin::types::BatchContext,
                frames: ::std::vec::Vec<u8>,
            ) -> ::std::result::Result<::std::vec::Vec<u8>, $crate::__filter::sluice::plugin::types::PluginError> {
                $crate::__glue::transform_export::<$ty>(&context, &frames)
            }
        }
        #[cfg(target_arch = "wasm32")]
        $crate::__transform::__export_transform_world!(__SluiceTransformExport with_types_in $crate::__transform);
    };
}

// -----------------------------------------------------------------------------------------
// Configuration

/// The stage configuration: the string pairs of the stage's `config` table.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pairs: Vec<(String, String)>,
}

impl Config {
    /// A configuration of these pairs.
    pub fn new(pairs: Vec<(String, String)>) -> Self {
        Self { pairs }
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// The value of `key`.
    ///
    /// # Errors
    /// When the key is missing.
    pub fn require(&self, key: &str) -> Result<&str, ConfigError> {
        self.get(key).ok_or_else(|| ConfigError::key(key, format!("missing required key `{key}`")))
    }

    /// The value of `key` parsed as `T`, or `default` when it is not set.
    ///
    /// # Errors
    /// When the value does not parse.
    pub fn parse_or<T: std::str::FromStr>(&self, key: &str, default: T) -> Result<T, ConfigError>
    where
        T::Err: fmt::Display,
    {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|e| ConfigError::key(key, format!("invalid value {v:?} for `{key}`: {e}"))),
        }
    }

    /// Refuses keys other than `allowed`, so that a typo in the host configuration is an
    /// error rather than a silently ignored setting.
    ///
    /// # Errors
    /// Naming the first unknown key and the allowed ones.
    pub fn only(&self, allowed: &[&str]) -> Result<(), ConfigError> {
        match self.pairs.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
            None => Ok(()),
            Some((k, _)) => Err(ConfigError::key(
                k,
                if allowed.is_empty() {
                    format!("unknown key `{k}`: this plugin takes no configuration")
                } else {
                    format!("unknown key `{k}`; expected one of: {}", allowed.join(", "))
                },
            )),
        }
    }

    /// All pairs, in order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }
}

/// A refused configuration: which key, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The key at fault, if any.
    pub key: Option<String>,
    /// What is wrong and what would be accepted.
    pub message: String,
}

impl ConfigError {
    /// An error about the configuration as a whole.
    pub fn new(message: impl fmt::Display) -> Self {
        Self { key: None, message: message.to_string() }
    }

    /// An error about one key.
    pub fn key(key: &str, message: impl fmt::Display) -> Self {
        Self { key: Some(key.to_owned()), message: message.to_string() }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.key {
            Some(k) => write!(f, "{k}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

// -----------------------------------------------------------------------------------------
// Errors

/// An expected failure of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// Transient: the host retries the message with backoff, then dead-letters it.
    Retry(String),
    /// Permanent: the host dead-letters (or skips) the message without retrying.
    Reject(String),
}

impl Error {
    /// A transient failure.
    pub fn retry(reason: impl fmt::Display) -> Self {
        Self::Retry(reason.to_string())
    }

    /// A permanent failure.
    pub fn reject(reason: impl fmt::Display) -> Self {
        Self::Reject(reason.to_string())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Retry(r) => write!(f, "retry: {r}"),
            Self::Reject(r) => write!(f, "reject: {r}"),
        }
    }
}

// -----------------------------------------------------------------------------------------
// Messages

/// What every message of a batch shares.
#[derive(Debug, Clone, Copy)]
pub struct BatchInfo<'a> {
    /// The RocketMQ topic.
    pub topic: &'a str,
    /// The queue id.
    pub queue_id: u32,
    /// The pipeline's name.
    pub pipeline: &'a str,
    /// The stage's name.
    pub stage: &'a str,
}

/// One message, read in place from the batch the host sent.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    view: frames::MessageView<'a>,
    batch: &'a BatchInfo<'a>,
}

// The host writes only valid frames; a malformed one means a host bug, and panicking
// (a trap, reported by the host with this message) is the honest answer.
fn host_bug<T>(r: Result<T, frames::FrameError>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("sluice-sdk: malformed batch from the host: {e}"),
    }
}

impl<'a> Message<'a> {
    pub(crate) fn new(view: frames::MessageView<'a>, batch: &'a BatchInfo<'a>) -> Self {
        Self { view, batch }
    }

    /// The topic the message came from.
    pub fn topic(&self) -> &'a str {
        self.batch.topic
    }

    /// The queue id within the topic.
    pub fn queue_id(&self) -> u32 {
        self.batch.queue_id
    }

    /// The batch context (topic, queue, pipeline, stage).
    pub fn batch(&self) -> &'a BatchInfo<'a> {
        self.batch
    }

    /// The position of the message in its queue.
    pub fn queue_offset(&self) -> i64 {
        self.view.queue_offset()
    }

    /// The RocketMQ message id.
    pub fn message_id(&self) -> &'a str {
        host_bug(self.view.message_id())
    }

    /// The keys, in order.
    pub fn keys(&self) -> impl Iterator<Item = &'a str> + 'a {
        self.view.keys().map(host_bug)
    }

    /// The first key, if any.
    pub fn key(&self) -> Option<&'a str> {
        self.keys().next()
    }

    /// The tag, if any.
    pub fn tag(&self) -> Option<&'a str> {
        host_bug(self.view.tags())
    }

    /// The user properties, in order.
    pub fn properties(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.view.properties().map(host_bug)
    }

    /// The value of the property `key`.
    pub fn property(&self, key: &str) -> Option<&'a str> {
        host_bug(self.view.property(key))
    }

    /// The body bytes (possibly empty, not necessarily UTF-8).
    pub fn body(&self) -> &'a [u8] {
        self.view.body()
    }

    /// The body as text, if it is UTF-8.
    pub fn body_str(&self) -> Option<&'a str> {
        std::str::from_utf8(self.view.body()).ok()
    }

    /// When the producer created the message (ms since the Unix epoch).
    pub fn born_timestamp_ms(&self) -> i64 {
        self.view.born_timestamp_ms()
    }

    /// How many times this stage already retried the message.
    pub fn reconsume_count(&self) -> u32 {
        self.view.reconsume_count()
    }

    /// An output that starts from this message's properties, so that
    /// [`Output::property`] adds to or overrides them rather than replacing the list.
    pub fn derive(&self) -> Output<'a> {
        Output { properties: Some(self.properties().map(|(k, v)| (Cow::Borrowed(k), Cow::Borrowed(v))).collect()), ..Output::new() }
    }
}

/// What a transform made of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transformed<'a> {
    /// Pass the input on unchanged (nothing is sent back to the host).
    Unchanged,
    /// Emit nothing.
    Drop,
    /// Emit one output in place of the input.
    One(Output<'a>),
    /// Emit these outputs, in order, in place of the input.
    Many(Vec<Output<'a>>),
}

impl<'a> From<Output<'a>> for Transformed<'a> {
    fn from(o: Output<'a>) -> Self {
        Self::One(o)
    }
}

impl<'a> From<Vec<Output<'a>>> for Transformed<'a> {
    fn from(v: Vec<Output<'a>>) -> Self {
        Self::Many(v)
    }
}

/// A message a transform emits. Fields it does not set are inherited from the input.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output<'a> {
    pub(crate) keys: Option<Vec<Cow<'a, str>>>,
    pub(crate) tags: Option<Cow<'a, str>>,
    pub(crate) properties: Option<Vec<(Cow<'a, str>, Cow<'a, str>)>>,
    pub(crate) body: Option<Cow<'a, [u8]>>,
    pub(crate) destination: Option<Cow<'a, str>>,
}

impl<'a> Output<'a> {
    /// An output that inherits everything from its input.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Cow<'a, [u8]>>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// Sets the keys.
    pub fn keys<I, S>(mut self, keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<Cow<'a, str>>,
    {
        self.keys = Some(keys.into_iter().map(Into::into).collect());
        self
    }

    /// Sets the tag; an empty tag removes the input's tag.
    pub fn tag(mut self, tag: impl Into<Cow<'a, str>>) -> Self {
        self.tags = Some(tag.into());
        self
    }

    /// Sets the complete property list.
    pub fn properties<I, K, V>(mut self, props: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<Cow<'a, str>>,
        V: Into<Cow<'a, str>>,
    {
        self.properties = Some(props.into_iter().map(|(k, v)| (k.into(), v.into())).collect());
        self
    }

    /// Sets one property, replacing one of the same name. On an output that inherits its
    /// properties ([`Output::new`]) this starts an empty list; use [`Message::derive`] to
    /// start from the input's properties.
    pub fn property(mut self, key: impl Into<Cow<'a, str>>, value: impl Into<Cow<'a, str>>) -> Self {
        let (key, value) = (key.into(), value.into());
        let props = self.properties.get_or_insert_with(Vec::new);
        match props.iter_mut().find(|(k, _)| *k == key) {
            Some(p) => p.1 = value,
            None => props.push((key, value)),
        }
        self
    }

    /// Routes the output to a sink or topic of the pipeline instead of its default sinks.
    pub fn destination(mut self, d: impl Into<Cow<'a, str>>) -> Self {
        self.destination = Some(d.into());
        self
    }
}

// -----------------------------------------------------------------------------------------
// Host imports

/// Log levels of [`log`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Finest detail.
    Trace,
    /// Debugging detail; the most a plugin should log per message.
    Debug,
    /// Normal operation.
    Info,
    /// Something an operator may want to look at.
    Warn,
    /// Something an operator must act on.
    Error,
}

/// Writes a line into the host's log, tagged with the plugin, pipeline and stage.
/// Natively (in unit tests) it goes to standard error.
pub fn log(level: Level, message: &str, fields: &[(&str, &str)]) {
    #[cfg(target_arch = "wasm32")]
    {
        use __filter::sluice::plugin::host::{self, LogLevel};
        let level = match level {
            Level::Trace => LogLevel::Trace,
            Level::Debug => LogLevel::Debug,
            Level::Info => LogLevel::Info,
            Level::Warn => LogLevel::Warn,
            Level::Error => LogLevel::Error,
        };
        let fields: Vec<(String, String)> = fields.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        host::log(level, message, &fields);
    }
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("[{level:?}] {message} {fields:?}");
}

/// Adds `delta` to the plugin counter `name` (the host metric
/// `sluice_plugin_counter_total{name=…}`). Natively it does nothing.
pub fn counter_add(name: &str, delta: u64) {
    #[cfg(target_arch = "wasm32")]
    __filter::sluice::plugin::host::counter_add(name, delta);
    #[cfg(not(target_arch = "wasm32"))]
    let _ = (name, delta);
}
