//! Headless Chromium for the status page test, driven over the DevTools protocol on a
//! pipe (`--remote-debugging-pipe`: JSON messages ended by NUL on file descriptors 3 and
//! 4), so no WebSocket client or WebDriver is needed: open a page, evaluate JavaScript in
//! it, read the result.
//!
//! The browser is Debian's `chromium` (`cargo xtask test` installs it); `SLUICE_CHROMIUM`
//! names another binary.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The browser binary, or a panic that says how to get one.
fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("SLUICE_CHROMIUM") {
        return p.into();
    }
    for p in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] {
        if std::path::Path::new(p).exists() {
            return p.into();
        }
    }
    panic!(
        "the status page test needs Chromium: `cargo xtask test` installs Debian's `chromium` package \
         (apt-get install chromium), or set SLUICE_CHROMIUM to a Chromium binary"
    );
}

/// A headless Chromium, killed on drop.
pub struct Browser {
    child: Child,
    to: std::io::PipeWriter,
    from: Receiver<Value>,
    next_id: u64,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts the browser with a fresh profile and nothing that reaches the network by
    /// itself.
    pub fn launch() -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let (cmd_r, cmd_w) = std::io::pipe().unwrap();
        let (out_r, out_w) = std::io::pipe().unwrap();
        let (cmd_fd, out_fd) = (OwnedFd::from(cmd_r), OwnedFd::from(out_w));
        let (a, b) = (cmd_fd.as_raw_fd(), out_fd.as_raw_fd());
        let mut cmd = Command::new(chromium());
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--remote-debugging-pipe",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("about:blank")
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        // SAFETY: only async-signal-safe calls (fcntl, dup2) between fork and exec. The two
        // ends are first moved above 10 so that placing them on 3 and 4 cannot overwrite
        // one with the other; dup2's copies do not close on exec.
        unsafe {
            cmd.pre_exec(move || {
                let a2 = libc::fcntl(a, libc::F_DUPFD, 10);
                let b2 = libc::fcntl(b, libc::F_DUPFD, 10);
                if a2 < 0 || b2 < 0 || libc::dup2(a2, 3) < 0 || libc::dup2(b2, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {}: {e}", chromium().display()));
        drop((cmd_fd, out_fd));
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut out = out_r;
            let mut buf = Vec::new();
            let mut chunk = [0u8; 65536];
            while let Ok(n) = out.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
                while let Some(end) = buf.iter().position(|b| *b == 0) {
                    let msg: Vec<u8> = buf.drain(..=end).collect();
                    if let Ok(v) = serde_json::from_slice::<Value>(&msg[..end]) {
                        if tx.send(v).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        Browser { child, to: cmd_w, from: rx, next_id: 0, _profile: profile }
    }

    /// Sends a protocol command (to a page's session if given) and waits for its result.
    fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if let Some(s) = session {
            msg["sessionId"] = s.into();
        }
        let mut bytes = serde_json::to_vec(&msg).unwrap();
        bytes.push(0);
        self.to.write_all(&bytes).unwrap_or_else(|e| panic!("Chromium is gone ({method}): {e}"));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match self.from.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(v) if v["id"] == id => {
                    assert!(v.get("error").is_none(), "{method} failed: {}", v["error"]);
                    return v["result"].clone();
                }
                Ok(_) => {} // an event or another command's answer
                Err(RecvTimeoutError::Timeout) => panic!("Chromium did not answer {method} within 30 s"),
                Err(RecvTimeoutError::Disconnected) => panic!("Chromium exited while answering {method}"),
            }
        }
    }

    /// Opens `url` in a new tab.
    pub fn open(&mut self, url: &str) -> Page {
        let target = self.call(None, "Target.createTarget", json!({ "url": url }))["targetId"].as_str().unwrap().to_owned();
        let session =
            self.call(None, "Target.attachToTarget", json!({ "targetId": target, "flatten": true }))["sessionId"].as_str().unwrap().to_owned();
        Page { session }
    }

    /// Evaluates `expression` in `page` (promises awaited) and returns its JSON value.
    pub fn eval(&mut self, page: &Page, expression: &str) -> Value {
        let r = self.call(
            Some(&page.session),
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
        );
        assert!(r.get("exceptionDetails").is_none(), "the page threw: {}", r["exceptionDetails"]);
        r["result"]["value"].clone()
    }

    /// Evaluates `expression` every 200 ms until `done` accepts its value.
    pub fn wait_for(&mut self, page: &Page, what: &str, expression: &str, timeout: Duration, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let v = self.eval(page, expression);
            if done(&v) {
                return v;
            }
            assert!(Instant::now() < deadline, "the page never showed {what} within {timeout:?}; last seen: {v:#}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Browser {
    /// Asks the browser to close, then kills its whole process group (renderers included).
    fn drop(&mut self) {
        let _ = self.to.write_all(b"{\"id\":0,\"method\":\"Browser.close\"}\0");
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(50));
        }
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SAFETY: kill(2) on the process group the browser leads.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
        }
        let _ = self.child.wait();
    }
}

/// A tab, by its protocol session.
pub struct Page {
    session: String,
}
