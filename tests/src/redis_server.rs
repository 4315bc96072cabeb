//! A private `redis-server` per test on a free loopback port: by default nothing kept on
//! disk; [`RedisServer::start_persistent`] keeps an append-only file (fsync on every
//! write), as a production Redis must, so a kill and restart loses nothing.

use anyhow::{Context, Result, bail};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: std::path::PathBuf,
    persistent: bool,
}

impl RedisServer {
    /// Starts one and waits until it answers PING. Fails with a clear message when
    /// `redis-server` is not installed: tests never skip silently.
    pub fn start() -> Result<RedisServer> {
        Self::start_with(false)
    }

    /// Like [`start`](Self::start), with `appendonly yes` and `appendfsync always`: every
    /// acknowledged write survives [`kill`](Self::kill) and [`restart`](Self::restart).
    pub fn start_persistent() -> Result<RedisServer> {
        Self::start_with(true)
    }

    fn start_with(persistent: bool) -> Result<RedisServer> {
        let dir = std::env::temp_dir().join(format!("gcal-redis-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir)?;
        let mut last = None;
        for _ in 0..3 {
            let port = free_port()?;
            let mut s = RedisServer {
                child: None,
                port,
                dir: dir.clone(),
                persistent,
            };
            match s.spawn() {
                Ok(()) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| anyhow::anyhow!("redis-server did not start")))
    }

    fn spawn(&mut self) -> Result<()> {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(if self.persistent {
                ["--appendonly", "yes", "--appendfsync", "always"]
            } else {
                ["--appendonly", "no", "--appendfsync", "everysec"]
            })
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context(
                "could not run `redis-server`: install it (Debian: `apt-get install redis-server`); \
                 the tests need a real Redis and do not skip",
            )?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.ping() {
                return Ok(());
            }
            if let Some(c) = self.child.as_mut()
                && let Ok(Some(status)) = c.try_wait()
            {
                bail!(
                    "redis-server exited at start ({status}) on port {}",
                    self.port
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill();
        bail!(
            "redis-server on port {} did not answer PING within 10 s",
            self.port
        )
    }

    fn ping(&self) -> bool {
        redis::Client::open(self.url())
            .and_then(|c| c.get_connection_with_timeout(Duration::from_millis(200)))
            .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
            .is_ok()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// A synchronous client connection for assertions.
    pub fn client(&self) -> Result<redis::Connection> {
        Ok(redis::Client::open(self.url())?.get_connection_with_timeout(Duration::from_secs(2))?)
    }

    /// Kills the server with SIGKILL (to test Redis being down; nothing is flushed).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port (after [`kill`](Self::kill)).
    pub fn restart(&mut self) -> Result<()> {
        self.kill();
        self.spawn()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A port the OS says is free now.
pub fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}
