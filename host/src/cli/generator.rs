//! The sample-order generator of `sluice dev`: e-commerce order events, keyed by order
//! id, several events per order in their natural order (created → paid → shipped, some
//! refunded), with customer e-mails and card numbers for the masking plugin to find.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::daemon::Daemon;
use crate::message::{Message, MessageParts};
use crate::sink::rocketmq::Producer;

/// A running generator.
pub struct Generator {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Generator {
    /// Stops it.
    pub async fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
    }
}

const EVENTS: [&str; 4] = ["created", "paid", "shipped", "refunded"];
const REGIONS: [&str; 3] = ["eu", "us", "apac"];

/// Event `i` of the sample stream: order `i / 3`, events in order per order.
pub fn sample_event(i: u64) -> MessageParts {
    let order = i / 3;
    let step = (i % 3) as usize;
    // Every seventh order is refunded instead of shipped.
    let event = if step == 2 && order.is_multiple_of(7) { EVENTS[3] } else { EVENTS[step] };
    let region = REGIONS[(order % 3) as usize];
    let amount = 5 + (order * 37) % 500;
    let body = format!(
        r#"{{"order_id":"o-{order}","event":"{event}","amount":{amount}.{:02},"region":"{region}","customer":{{"email":"buyer{}@example.com","card":"4111 1111 1111 1111"}}}}"#,
        order % 100,
        order % 1000
    );
    MessageParts {
        keys: vec![format!("o-{order}")],
        tags: Some(event.to_owned()),
        properties: vec![("region".into(), region.into()), ("amount".into(), amount.to_string())],
        body: body.into_bytes().into(),
        ..Default::default()
    }
}

/// Starts producing `rate` events per second into the first pipeline's source topic.
///
/// # Errors
/// When there is no pipeline or the producer does not start.
pub async fn spawn(daemon: &Daemon, rate: u32) -> anyhow::Result<Generator> {
    let topic = daemon.config().pipelines.first().map(|p| p.source.topic.clone()).ok_or_else(|| anyhow::anyhow!("no pipeline"))?;
    let producer = Producer::start("generator", daemon.connection()).await?;
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    eprintln!("generating {rate} order events/s into topic {topic}");
    let task = tokio::spawn(async move {
        let per_tick = (rate / 10).max(1);
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        let mut i = 0u64;
        while !stop2.load(Ordering::Relaxed) {
            tick.tick().await;
            let parts: Vec<MessageParts> = (0..per_tick).map(|k| sample_event(i + u64::from(k))).collect();
            let msgs: Vec<Message> = MessageParts::build_batch(&parts);
            match producer.send(&topic, &msgs, 0, 128, &[]).await {
                Ok(()) => i += u64::from(per_tick),
                Err(e) => tracing::warn!("generator: {e}"),
            }
        }
        producer.shutdown().await;
    });
    Ok(Generator { stop, task })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_have_their_events_in_order() {
        let e: Vec<MessageParts> = (0..6).map(sample_event).collect();
        assert_eq!(e[0].keys, ["o-0"]);
        assert_eq!(e.iter().map(|m| m.tags.clone().unwrap()).collect::<Vec<_>>(), ["created", "paid", "refunded", "created", "paid", "shipped"]);
        let v: serde_json::Value = serde_json::from_slice(&e[4].body).unwrap();
        assert_eq!(v["order_id"], "o-1");
        assert_eq!(v["event"], "paid");
    }
}
