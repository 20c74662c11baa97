//! What a stage may let its plugin reach beyond the sandbox: read-only directories,
//! named environment variables, TCP connections to named addresses. Nothing is granted
//! by default: a plugin sees no file, no variable and no socket.
//!
//! ```toml
//! [pipeline.stage.grants]
//! read_dirs = ["/srv/geo"]        # read-only, at the same path inside the sandbox
//! env = ["GEO_REGION"]            # copied when the plugin loads; unset is an error
//! connect = ["127.0.0.1:6379"]    # IP:port; no name lookup
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

/// A stage's grants, as configured.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grants {
    /// Directories the plugin may read (not write), at the same path.
    #[serde(default)]
    pub read_dirs: Vec<PathBuf>,
    /// Environment variables the plugin sees, by name.
    #[serde(default)]
    pub env: Vec<String>,
    /// `IP:port` addresses the plugin may open TCP connections to.
    #[serde(default)]
    pub connect: Vec<String>,
}

/// Grants checked and resolved when a plugin loads.
#[derive(Debug, Clone, Default)]
pub struct Resolved {
    read_dirs: Vec<PathBuf>,
    env: Vec<(String, String)>,
    connect: Vec<SocketAddr>,
}

impl Grants {
    /// Whether nothing is granted.
    pub fn is_empty(&self) -> bool {
        self.read_dirs.is_empty() && self.env.is_empty() && self.connect.is_empty()
    }

    /// Checks every grant: directories exist, variables are set, addresses parse.
    ///
    /// # Errors
    /// The first grant that cannot be given, with what to do about it.
    pub fn resolve(&self) -> Result<Resolved, String> {
        for d in &self.read_dirs {
            if !d.is_dir() {
                return Err(format!("grants.read_dirs: {} is not a directory that can be read", d.display()));
            }
            if !d.is_absolute() {
                return Err(format!("grants.read_dirs: {} is not an absolute path", d.display()));
            }
        }
        let env = self
            .env
            .iter()
            .map(|k| match std::env::var(k) {
                Ok(v) => Ok((k.clone(), v)),
                Err(_) => Err(format!("grants.env: the environment variable {k} is not set (or not UTF-8); set it or remove the grant")),
            })
            .collect::<Result<_, _>>()?;
        let connect = self
            .connect
            .iter()
            .map(|a| {
                a.parse::<SocketAddr>()
                    .map_err(|e| format!("grants.connect: {a:?} is not an IP:port address ({e}); name lookup is not available to plugins"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Resolved { read_dirs: self.read_dirs.clone(), env, connect })
    }
}

impl Resolved {
    /// Adds the grants to a sandbox that otherwise has nothing.
    ///
    /// # Errors
    /// A granted directory that cannot be opened any more.
    pub fn apply(&self, b: &mut WasiCtxBuilder) -> Result<(), String> {
        for d in &self.read_dirs {
            let guest = d.to_string_lossy();
            b.preopened_dir(d, &guest, FsPerms::ReadOnly).map_err(|e| format!("grants.read_dirs: cannot open {}: {e:#}", d.display()))?;
        }
        for (k, v) in &self.env {
            b.env(k, v);
        }
        if !self.connect.is_empty() {
            let allowed = self.connect.clone();
            b.allow_tcp(true);
            b.socket_addr_check(move |addr, use_| {
                let ok = match use_ {
                    // `connect` first binds the socket implicitly, to the wildcard address.
                    SocketAddrUse::TcpBind => addr.ip().is_unspecified() && addr.port() == 0,
                    SocketAddrUse::TcpConnect => allowed.contains(&addr),
                    _ => false,
                };
                Box::pin(async move { ok })
            });
        }
        Ok(())
    }
}
