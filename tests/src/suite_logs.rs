//! What the suite-wide redaction check reads: with `GCAL_TEST_LOG_DIR` set (`scripts/test`
//! sets it and empties the directory first), every host's [`LogBook`](crate::logs::LogBook)
//! also appends what it captures to its own files under `logs/`, and every secret the test
//! tooling knows (the secret variables a host is started with, the codes, tokens and PKCE
//! verifiers the fake Google issues or sees, the REST service token the fake requires) is
//! recorded in `secrets/`. `tests/tests/redaction.rs` then looks for every secret in every
//! log. Without the variable nothing is written.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

/// The environment variable naming the suite directory.
pub const DIR_VAR: &str = "GCAL_TEST_LOG_DIR";

/// The kinds of secret the check knows, as recorded.
pub const ACCESS_TOKEN: &str = "access token";
pub const REFRESH_TOKEN: &str = "refresh token";
pub const AUTHORIZATION_CODE: &str = "authorization code";
pub const CLIENT_SECRET: &str = "client secret";
pub const PKCE_VERIFIER: &str = "PKCE verifier";
pub const API_TOKEN: &str = "API token";
pub const ENCRYPTION_KEY: &str = "token encryption key";
pub const REST_TOKEN: &str = "REST service token";

/// Every kind the whole suite must have recorded at least once (the REST token is used
/// by few tests and is checked when present).
pub const REQUIRED_KINDS: [&str; 7] = [
    ACCESS_TOKEN,
    REFRESH_TOKEN,
    AUTHORIZATION_CODE,
    CLIENT_SECRET,
    PKCE_VERIFIER,
    API_TOKEN,
    ENCRYPTION_KEY,
];

/// The suite directory, when this run collects logs.
pub fn dir() -> Option<PathBuf> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        std::env::var_os(DIR_VAR)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    })
    .clone()
}

/// This process's name for file names: the test binary without its hash, and the pid.
fn process_tag() -> String {
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "process".into());
    // `oauth-0123456789abcdef` -> `oauth`
    let name = match exe.rsplit_once('-') {
        Some((name, hash)) if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            name.to_owned()
        }
        _ => exe,
    };
    format!("{name}.{}", std::process::id())
}

/// Records a secret so the redaction check looks for it.
pub fn record_secret(kind: &str, value: &str) {
    let Some(dir) = dir() else {
        return;
    };
    if value.is_empty() {
        return;
    }
    /// What this process recorded already, and its secrets file.
    type Recorded = (HashSet<(String, String)>, Option<File>);
    static SEEN: OnceLock<Mutex<Recorded>> = OnceLock::new();
    let seen = SEEN.get_or_init(Default::default);
    let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
    if !seen.0.insert((kind.to_owned(), value.to_owned())) {
        return;
    }
    if seen.1.is_none() {
        let secrets = dir.join("secrets");
        let _ = std::fs::create_dir_all(&secrets);
        seen.1 = OpenOptions::new()
            .create(true)
            .append(true)
            .open(secrets.join(format!("{}.jsonl", process_tag())))
            .ok();
    }
    let line = serde_json::json!({"kind": kind, "value": value}).to_string();
    let written = seen
        .1
        .as_mut()
        .is_some_and(|f| writeln!(f, "{line}").is_ok());
    // A secret that cannot be recorded would make the check pass for the wrong reason.
    assert!(written, "could not record a secret under {}", dir.display());
}

/// A file for one host's capture of one component, when this run collects logs.
pub(crate) fn log_file(host: u64, component: &str) -> Option<File> {
    let dir = dir()?.join("logs");
    let _ = std::fs::create_dir_all(&dir);
    let safe: String = component
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(format!("{}.host{host}.{safe}.log", process_tag())));
    // Logs that cannot be collected would make the check pass for the wrong reason.
    Some(file.unwrap_or_else(|e| panic!("cannot write test logs under {}: {e}", dir.display())))
}

/// A new number for each [`LogBook`](crate::logs::LogBook) of this process.
pub(crate) fn next_host() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Records the values of the app's secret variables a host starts with: the client
/// secret, each API token, the encryption key (as given, base64, and its raw bytes when
/// they are text), the REST service token.
pub fn record_secret_variables(
    decls: &std::collections::BTreeMap<String, crate::manifest::VariableDecl>,
    values: &std::collections::HashMap<String, String>,
) {
    if dir().is_none() {
        return;
    }
    for (name, decl) in decls {
        let Some(value) = values.get(name).filter(|v| decl.secret && !v.is_empty()) else {
            continue;
        };
        match name.as_str() {
            "api_tokens" => value
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .for_each(|t| record_secret(API_TOKEN, t)),
            "token_encryption_key" => {
                use base64::Engine as _;
                record_secret(ENCRYPTION_KEY, value);
                if let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(value.trim())
                    && let Ok(text) = String::from_utf8(raw)
                    && text.chars().all(|c| c.is_ascii_graphic())
                {
                    record_secret(ENCRYPTION_KEY, &text);
                }
            }
            "google_client_secret" => record_secret(CLIENT_SECRET, value),
            "rest_service_token" => record_secret(REST_TOKEN, value),
            _ => record_secret(&format!("secret variable `{name}`"), value),
        }
    }
}
