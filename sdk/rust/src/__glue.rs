//! The glue between the generated exports and the author's trait implementation: the
//! instance state, `init`, and the batch loop over the frame layout. The same loop runs
//! natively in [`crate::testing`].

use std::any::Any;
use std::cell::RefCell;

use sluice_frames::{BatchView, OutcomeWriter};

use crate::__filter::sluice::plugin::types::{BatchContext, ConfigError as WitConfigError, PluginError};
use crate::{BatchInfo, Config, ConfigError, Error, Filter, Message, Output, Transform, Transformed};

thread_local! {
    /// The plugin value `init` built. A component instance is single-threaded.
    static STATE: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
}

fn wit_config_error(e: ConfigError) -> WitConfigError {
    WitConfigError { key: e.key, message: e.message }
}

fn store<T: 'static>(v: T) {
    STATE.with(|s| *s.borrow_mut() = Some(Box::new(v)));
}

fn with_state<T: 'static, R>(f: impl FnOnce(&T) -> R) -> Result<R, PluginError> {
    STATE.with(|s| match s.borrow().as_ref().and_then(|b| b.downcast_ref::<T>()) {
        Some(t) => Ok(f(t)),
        None => Err(PluginError::Reject("plugin called before a successful init".into())),
    })
}

fn wit_error(e: Error) -> PluginError {
    match e {
        Error::Retry(r) => PluginError::Retry(r),
        Error::Reject(r) => PluginError::Reject(r),
    }
}

/// `init` of a filter.
pub fn init_filter<T: Filter>(config: Vec<(String, String)>) -> Result<(), WitConfigError> {
    store(T::init(&Config::new(config)).map_err(wit_config_error)?);
    Ok(())
}

/// `init` of a transform.
pub fn init_transform<T: Transform>(config: Vec<(String, String)>) -> Result<(), WitConfigError> {
    store(T::init(&Config::new(config)).map_err(wit_config_error)?);
    Ok(())
}

fn info(c: &BatchContext) -> BatchInfo<'_> {
    BatchInfo { topic: &c.topic, queue_id: c.queue_id, pipeline: &c.pipeline, stage: &c.stage }
}

/// The `filter` export.
pub fn filter_export<T: Filter>(context: &BatchContext, frames: &[u8]) -> Result<Vec<u8>, PluginError> {
    with_state::<T, _>(|p| filter_batch(p, &info(context), frames))?.map_err(wit_error)
}

/// The `transform` export.
pub fn transform_export<T: Transform>(context: &BatchContext, frames: &[u8]) -> Result<Vec<u8>, PluginError> {
    with_state::<T, _>(|p| transform_batch(p, &info(context), frames))?.map_err(wit_error)
}

fn malformed(e: sluice_frames::FrameError) -> Error {
    Error::reject(format!("malformed batch from the host: {e}"))
}

fn answer_error(w: &mut OutcomeWriter, e: Error) {
    match e {
        Error::Retry(r) => w.retry(&r),
        Error::Reject(r) => w.reject(&r),
    }
}

/// Runs a filter over one frame-layout batch and returns the outcome buffer.
pub(crate) fn filter_batch<T: Filter>(plugin: &T, info: &BatchInfo<'_>, frames: &[u8]) -> Result<Vec<u8>, Error> {
    let mut w = OutcomeWriter::new(Vec::with_capacity(8 + frames.len() / 64));
    for m in BatchView::new(frames).messages() {
        let m = m.map_err(malformed)?;
        match plugin.filter(&Message::new(m, info)) {
            Ok(true) => w.unchanged(),
            Ok(false) => w.drop_input(),
            Err(e) => answer_error(&mut w, e),
        }
    }
    Ok(w.finish())
}

fn write_output(w: &mut OutcomeWriter, o: &Output<'_>) {
    w.output_from(
        o.keys.as_ref(),
        o.tags.as_deref(),
        o.properties.as_ref().map(|p| p.iter().map(|(k, v)| (k.as_ref(), v.as_ref()))),
        o.body.as_deref(),
        o.destination.as_deref(),
    );
}

/// Runs a transform over one frame-layout batch and returns the outcome buffer.
pub(crate) fn transform_batch<T: Transform>(plugin: &T, info: &BatchInfo<'_>, frames: &[u8]) -> Result<Vec<u8>, Error> {
    let mut w = OutcomeWriter::new(Vec::with_capacity(8 + frames.len() / 64));
    for m in BatchView::new(frames).messages() {
        let m = m.map_err(malformed)?;
        match plugin.transform(&Message::new(m, info)) {
            Ok(Transformed::Unchanged) => w.unchanged(),
            Ok(Transformed::Drop) => w.drop_input(),
            Ok(Transformed::One(o)) => {
                w.replaced();
                write_output(&mut w, &o);
            }
            Ok(Transformed::Many(outs)) => {
                w.replaced();
                for o in &outs {
                    write_output(&mut w, o);
                }
            }
            Err(e) => answer_error(&mut w, e),
        }
    }
    Ok(w.finish())
}
