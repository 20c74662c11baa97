//! The `stdout` sink: JSON Lines on standard output.

use std::io::Write;

use super::{Sink, SinkError, json_lines};
use crate::message::Batch;

/// Writes records to standard output.
pub struct StdoutSink;

#[async_trait::async_trait]
impl Sink for StdoutSink {
    async fn send(&self, batch: &Batch<'_>) -> Result<(), SinkError> {
        let lines = json_lines(batch);
        let mut out = std::io::stdout().lock();
        out.write_all(&lines).and_then(|()| out.flush()).map_err(|source| SinkError::Io {
            sink: "stdout".into(),
            target: "standard output".into(),
            source,
        })
    }
}
