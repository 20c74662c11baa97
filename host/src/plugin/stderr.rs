//! A guest's standard error, kept as a bounded tail in host memory.
//!
//! Plugins get no stdio capability: nothing they print reaches a terminal or a file. But a
//! Rust guest's panic message, or a Python traceback, is printed to stderr just before the
//! trap, and it is the most useful line an author can get. So stderr is captured into a
//! small per-instance buffer that keeps only the last [`TAIL_BYTES`], and attached to the
//! trap error; stdout is discarded. A guest that writes forever costs a bounded copy.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

/// How much of the end of a guest's stderr is kept.
pub const TAIL_BYTES: usize = 4096;

/// The last [`TAIL_BYTES`] a guest wrote to stderr. Clones share the buffer.
#[derive(Debug, Clone, Default)]
pub struct StderrTail(Arc<Mutex<VecDeque<u8>>>);

impl StderrTail {
    fn push(&self, bytes: &[u8]) {
        let Ok(mut buf) = self.0.lock() else { return };
        let bytes = &bytes[bytes.len().saturating_sub(TAIL_BYTES)..];
        let overflow = (buf.len() + bytes.len()).saturating_sub(TAIL_BYTES);
        let n = overflow.min(buf.len());
        buf.drain(..n);
        buf.extend(bytes);
    }

    /// Forgets what was captured.
    pub fn clear(&self) {
        if let Ok(mut buf) = self.0.lock() {
            buf.clear();
        }
    }

    /// Takes what was captured (lossy UTF-8, trimmed) and empties the buffer.
    pub fn take(&self) -> String {
        let Ok(mut buf) = self.0.lock() else { return String::new() };
        let bytes: Vec<u8> = buf.drain(..).collect();
        String::from_utf8_lossy(&bytes).trim().to_owned()
    }
}

impl IsTerminal for StderrTail {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for StderrTail {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[async_trait::async_trait]
impl OutputStream for StderrTail {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(64 * 1024)
    }
}

#[async_trait::async_trait]
impl Pollable for StderrTail {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for StderrTail {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_the_tail() {
        let t = StderrTail::default();
        t.push(b"hello ");
        t.push(&vec![b'x'; TAIL_BYTES]);
        t.push(b" panicked at src/lib.rs:1:1");
        let s = t.take();
        assert_eq!(s.len(), TAIL_BYTES);
        assert!(s.ends_with("panicked at src/lib.rs:1:1") && !s.contains("hello"));
        assert_eq!(t.take(), "");
    }
}
