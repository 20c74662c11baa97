//! Sources: where a pipeline's messages come from. One kind today, [`rocketmq`]: a
//! consumer group subscription, ordered or concurrent, handing the pipeline per-queue
//! batches and committing offsets only for batches the pipeline finished.

pub mod rocketmq;

pub use rocketmq::{RocketMqSource, SourceError, SqlFilter, tag_expression, to_parts};
