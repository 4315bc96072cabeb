//! Capture of what components print, per host, so tests can assert on logs (and on the
//! absence of secrets in them).

use std::collections::BTreeMap;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

/// Past this a component's capture stops growing; a line says so.
const CAP: usize = 32 * 1024 * 1024;

/// Everything the components of one host printed, by component id (`host` for the host's
/// own notes, such as refused outbound requests). When the suite collects logs
/// ([`suite_logs`](crate::suite_logs)), everything also goes to a file per component.
#[derive(Clone)]
pub struct LogBook {
    inner: Arc<Mutex<BTreeMap<String, Captured>>>,
    echo: bool,
    /// This book's number in the process, for its file names.
    number: u64,
}

#[derive(Default)]
struct Captured {
    bytes: Vec<u8>,
    file: Option<std::fs::File>,
}

impl Default for LogBook {
    fn default() -> Self {
        LogBook::new(false)
    }
}

impl LogBook {
    /// With `echo`, lines also go to this process's stderr (for `run` and debugging).
    pub fn new(echo: bool) -> Self {
        LogBook {
            inner: Arc::default(),
            echo,
            number: crate::suite_logs::next_host(),
        }
    }

    pub fn append(&self, component: &str, bytes: &[u8]) {
        use std::io::Write;
        if self.echo {
            let _ = io::stderr().write_all(bytes);
        }
        let mut map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let captured = map.entry(component.to_owned()).or_insert_with(|| Captured {
            bytes: Vec::new(),
            file: crate::suite_logs::log_file(self.number, component),
        });
        if captured.bytes.len() + bytes.len() <= CAP {
            captured.bytes.extend_from_slice(bytes);
        }
        // The whole output, past the cap too: the redaction check reads every byte.
        if let Some(f) = captured.file.as_mut()
            && let Err(e) = f.write_all(bytes)
        {
            panic!("cannot write the suite's test logs: {e}");
        }
    }

    /// A note from the host itself, one line.
    pub fn note(&self, line: &str) {
        self.append("host", format!("{line}\n").as_bytes());
    }

    /// All captured output of one component.
    pub fn of(&self, component: &str) -> String {
        let map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        map.get(component)
            .map(|c| String::from_utf8_lossy(&c.bytes).into_owned())
            .unwrap_or_default()
    }

    /// All captured output, every component.
    pub fn all(&self) -> String {
        let map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        map.values()
            .map(|c| String::from_utf8_lossy(&c.bytes).into_owned())
            .collect::<Vec<_>>()
            .join("")
    }

    pub(crate) fn sink(&self, component: &str) -> Sink {
        Sink {
            book: self.clone(),
            component: Arc::from(component),
        }
    }
}

/// A guest's stdout or stderr, writing into the [`LogBook`].
#[derive(Clone)]
pub(crate) struct Sink {
    book: LogBook,
    component: Arc<str>,
}

impl IsTerminal for Sink {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Sink {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl AsyncWrite for Sink {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.book.append(&self.component, buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
