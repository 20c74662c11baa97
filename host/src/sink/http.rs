//! The `http` sink: each batch is POSTed as a JSON array of records
//! ([`Record`](super::Record)), at most `batch_size` per request. A 2xx answer
//! acknowledges it; anything else fails the batch, which the pipeline sends again with
//! backoff. The `Idempotency-Key` header is derived from the message ids of the request's
//! records, so a resent request carries the same key, and each record has its
//! `message_id`.

use std::collections::BTreeMap;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::{Record, Sink, SinkError};
use crate::message::Batch;

/// POSTs batches to one URL.
pub struct HttpSink {
    name: String,
    url: String,
    batch_size: usize,
    client: reqwest::Client,
}

impl HttpSink {
    /// A sink posting to `url`.
    ///
    /// # Errors
    /// When a header is invalid or the HTTP client cannot be built.
    pub fn new(name: &str, url: &str, batch_size: usize, timeout: Duration, headers: &BTreeMap<String, String>) -> anyhow::Result<Self> {
        let mut map = reqwest::header::HeaderMap::new();
        for (k, v) in headers {
            let key = reqwest::header::HeaderName::from_bytes(k.as_bytes())
                .map_err(|e| anyhow::anyhow!("sink `{name}`: header name `{k}`: {e}"))?;
            let value = reqwest::header::HeaderValue::from_str(v).map_err(|e| anyhow::anyhow!("sink `{name}`: header `{k}`: {e}"))?;
            map.insert(key, value);
        }
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .default_headers(map)
            .build()
            .map_err(|e| anyhow::anyhow!("sink `{name}`: cannot build an HTTP client: {e}"))?;
        Ok(Self { name: name.to_owned(), url: url.to_owned(), batch_size: batch_size.max(1), client })
    }

    async fn post(&self, batch: &Batch<'_>) -> Result<(), SinkError> {
        let records: Vec<Record<'_>> = batch.messages.iter().map(|m| Record::new(batch, m)).collect();
        let body = serde_json::to_vec(&records).unwrap_or_default();
        let mut key = Sha256::new();
        for m in batch.messages {
            key.update(m.message_id().as_bytes());
            key.update(m.queue_offset().to_le_bytes());
            key.update(m.frame());
        }
        let fail = |reason: String| SinkError::Http { sink: self.name.clone(), url: self.url.clone(), reason };
        let resp = self
            .client
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Idempotency-Key", hex::encode(key.finalize()))
            .body(body)
            .send()
            .await
            .map_err(|e| fail(e.to_string()))?;
        if resp.status().is_success() {
            Ok(())
        } else {
            let status = resp.status();
            let text = resp.text().await.unwrap_or_default();
            Err(fail(format!("answered {status}: {}", text.chars().take(200).collect::<String>())))
        }
    }
}

#[async_trait::async_trait]
impl Sink for HttpSink {
    async fn send(&self, batch: &Batch<'_>) -> Result<(), SinkError> {
        for chunk in batch.messages.chunks(self.batch_size) {
            self.post(&Batch { messages: chunk, ..*batch }).await?;
        }
        Ok(())
    }
}
