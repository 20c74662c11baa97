//! Native unit testing of plugins: builds a frame-layout batch from [`TestMessage`]s,
//! runs it through the very batch loop the component runs, and reads the answer back with
//! the host's checks.

use sluice_frames::{BatchEncoder, MessageFields, OutcomeReader, OutcomeView};

use crate::{BatchInfo, Config, ConfigError, Error, Filter, Transform};

const INFO: BatchInfo<'static> = BatchInfo { topic: "test", queue_id: 0, pipeline: "test", stage: "test" };

/// A message to feed a plugin in a test. Build with [`TestMessage::new`] and the setters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TestMessage {
    /// Keys.
    pub keys: Vec<String>,
    /// Tag.
    pub tag: Option<String>,
    /// Properties.
    pub properties: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
    /// Message id (default: `msg-<index>`).
    pub message_id: Option<String>,
}

impl TestMessage {
    /// A message with this body.
    pub fn new(body: impl Into<Vec<u8>>) -> Self {
        Self { body: body.into(), ..Self::default() }
    }

    /// Adds a key.
    pub fn key(mut self, k: &str) -> Self {
        self.keys.push(k.to_owned());
        self
    }

    /// Sets the tag.
    pub fn tag(mut self, t: &str) -> Self {
        self.tag = Some(t.to_owned());
        self
    }

    /// Adds a property.
    pub fn property(mut self, k: &str, v: &str) -> Self {
        self.properties.push((k.to_owned(), v.to_owned()));
        self
    }
}

/// An output as the host would read it (absent fields are inherited).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TestOutput {
    /// New keys.
    pub keys: Option<Vec<String>>,
    /// New tag.
    pub tag: Option<String>,
    /// New properties.
    pub properties: Option<Vec<(String, String)>>,
    /// New body.
    pub body: Option<Vec<u8>>,
    /// Destination.
    pub destination: Option<String>,
}

/// What the plugin answered for one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestOutcome {
    /// Kept (filter) or unchanged (transform).
    Unchanged,
    /// Dropped.
    Drop,
    /// Replaced by these outputs.
    Replaced(Vec<TestOutput>),
    /// Failed with [`Error::Retry`].
    Retry(String),
    /// Failed with [`Error::Reject`].
    Reject(String),
}

/// Why a test run failed as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestError {
    /// `init` refused the configuration.
    Init(ConfigError),
    /// The whole batch failed.
    Batch(Error),
    /// The plugin's answer breaks the contract (an SDK bug).
    Contract(String),
}

fn encode(msgs: &[TestMessage]) -> Vec<u8> {
    let mut enc = BatchEncoder::new(Vec::new());
    let ids: Vec<String> = (0..msgs.len()).map(|i| format!("msg-{i}")).collect();
    for (i, m) in msgs.iter().enumerate() {
        enc.push(&MessageFields {
            queue_offset: i as i64,
            born_timestamp_ms: 0,
            reconsume_count: 0,
            message_id: m.message_id.as_deref().unwrap_or(&ids[i]),
            keys: &m.keys,
            tags: m.tag.as_deref(),
            properties: &m.properties,
            body: &m.body,
        });
    }
    enc.finish()
}

fn decode(buf: &[u8], n: usize) -> Result<Vec<TestOutcome>, TestError> {
    let c = |e: sluice_frames::FrameError| TestError::Contract(e.to_string());
    let mut r = OutcomeReader::new(buf, n).map_err(c)?;
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(match r.next_outcome().map_err(c)? {
            OutcomeView::Unchanged => TestOutcome::Unchanged,
            OutcomeView::Drop => TestOutcome::Drop,
            OutcomeView::Retry(s) => TestOutcome::Retry(s.into()),
            OutcomeView::Reject(s) => TestOutcome::Reject(s.into()),
            OutcomeView::Replaced(outs) => TestOutcome::Replaced(
                outs.map(|o| {
                    let o = o.map_err(c)?;
                    Ok(TestOutput {
                        keys: o.keys.map(|k| k.iter().map(String::from).collect()),
                        tag: o.tags.map(String::from),
                        properties: o.properties.map(|p| p.iter().map(|(k, v)| (k.into(), v.into())).collect()),
                        body: o.body.map(<[u8]>::to_vec),
                        destination: o.destination.map(String::from),
                    })
                })
                .collect::<Result<_, TestError>>()?,
            ),
        });
    }
    r.finish().map_err(c)?;
    Ok(out)
}

fn config(pairs: &[(&str, &str)]) -> Config {
    Config::new(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect())
}

/// Initialises filter `T` with `config` and runs `msgs` through it as one batch.
///
/// # Errors
/// When `init` refuses the configuration or the batch fails as a whole.
pub fn run_filter<T: Filter>(config_pairs: &[(&str, &str)], msgs: &[TestMessage]) -> Result<Vec<TestOutcome>, TestError> {
    let p = T::init(&config(config_pairs)).map_err(TestError::Init)?;
    let out = crate::__glue::filter_batch(&p, &INFO, &encode(msgs)).map_err(TestError::Batch)?;
    decode(&out, msgs.len())
}

/// Initialises transform `T` with `config` and runs `msgs` through it as one batch.
///
/// # Errors
/// When `init` refuses the configuration or the batch fails as a whole.
pub fn run_transform<T: Transform>(
    config_pairs: &[(&str, &str)],
    msgs: &[TestMessage],
) -> Result<Vec<TestOutcome>, TestError> {
    let p = T::init(&config(config_pairs)).map_err(TestError::Init)?;
    let out = crate::__glue::transform_batch(&p, &INFO, &encode(msgs)).map_err(TestError::Batch)?;
    decode(&out, msgs.len())
}
