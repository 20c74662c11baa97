//! The `file` sink: JSON Lines appended to a file (its directory created if missing),
//! flushed to the operating system before a batch is acknowledged. A file whose last
//! line was cut short (a machine that lost power mid-write) gets a newline first, so the
//! torn record stays alone on its line; its message was not acknowledged and comes again.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::{Sink, SinkError, json_lines};
use crate::message::Batch;

/// Appends records to one file.
pub struct FileSink {
    name: String,
    path: PathBuf,
    file: Mutex<File>,
}

impl FileSink {
    /// Opens (creates, with its directory) `path` for appending.
    ///
    /// # Errors
    /// When the file cannot be opened.
    pub fn open(name: &str, path: &Path) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("sink `{name}`: cannot create {}: {e}", dir.display()))?;
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| anyhow::anyhow!("sink `{name}`: cannot open {} for appending: {e}", path.display()))?;
        if ends_torn(path) {
            file.write_all(b"\n").map_err(|e| anyhow::anyhow!("sink `{name}`: cannot append to {}: {e}", path.display()))?;
        }
        Ok(Self { name: name.to_owned(), path: path.to_owned(), file: Mutex::new(file) })
    }
}

/// Whether the file is not empty and does not end with a newline.
fn ends_torn(path: &Path) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = File::open(path) else { return false };
    let mut last = [0u8; 1];
    f.seek(SeekFrom::End(-1)).is_ok() && f.read_exact(&mut last).is_ok() && last[0] != b'\n'
}

#[async_trait::async_trait]
impl Sink for FileSink {
    async fn send(&self, batch: &Batch<'_>) -> Result<(), SinkError> {
        let lines = json_lines(batch);
        // One write_all of whole lines under the lock: batches of different queues never
        // interleave within a line.
        let mut f = self.file.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f.write_all(&lines).and_then(|()| f.flush()).map_err(|source| SinkError::Io {
            sink: self.name.clone(),
            target: self.path.display().to_string(),
            source,
        })
    }

    async fn close(&self) {
        let f = self.file.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let _ = f.sync_data();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_last_line_is_closed_before_appending() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        std::fs::write(&path, "{\"a\":1}\n{\"b\":").unwrap();
        drop(FileSink::open("f", &path).unwrap());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"a\":1}\n{\"b\":\n");
        // A whole file is left as it is.
        drop(FileSink::open("f", &path).unwrap());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"a\":1}\n{\"b\":\n");
        let empty = dir.path().join("empty.jsonl");
        drop(FileSink::open("f", &empty).unwrap());
        assert_eq!(std::fs::read(&empty).unwrap(), b"");
    }
}
