//! The redaction check over the logs of the whole test suite (SPEC section 7, issue 8): no
//! access token, refresh token, authorization code, client secret, PKCE verifier, API
//! token, encryption key or REST service token appears in anything a component or the
//! host printed, in any test, as is or URL-encoded, JSON-escaped or inside base64.
//!
//! It reads what the other test binaries left in `GCAL_TEST_LOG_DIR` (see
//! `gcal_tests::suite_logs`), so it runs after them: `scripts/test` runs it last, by name.
//! It fails when nothing was collected, so it cannot pass by looking at nothing.

use aho_corasick::AhoCorasick;
use base64::Engine as _;
use gcal_tests::suite_logs::{self, REQUIRED_KINDS};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Shorter search strings would match by chance.
const MIN_LEN: usize = 8;
/// A value with fewer different characters is not a generated secret.
const MIN_DISTINCT: usize = 6;

/// RFC 3986 unreserved characters stay as they are; everything else is encoded.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// One string to search for: which secret kind it betrays, and in what form.
#[derive(Debug, Clone)]
struct Needle {
    kind: String,
    form: &'static str,
    text: String,
}

/// The forms in which a secret could leak into a log line.
fn forms(value: &str) -> Vec<(&'static str, String)> {
    let mut out = vec![
        ("as is", value.to_owned()),
        (
            "percent-encoded",
            utf8_percent_encode(value, NON_ALPHANUMERIC).to_string(),
        ),
        (
            "percent-encoded",
            utf8_percent_encode(value, PATH_SEGMENT).to_string(),
        ),
        (
            "form-encoded",
            url::form_urlencoded::byte_serialize(value.as_bytes()).collect(),
        ),
    ];
    if let Ok(json) = serde_json::to_string(value) {
        out.push(("JSON-escaped", json[1..json.len() - 1].to_owned()));
    }
    let engines = [
        ("base64", &base64::engine::general_purpose::STANDARD_NO_PAD),
        (
            "base64url",
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ),
    ];
    // Inside a longer base64 text (an HTTP Basic header, an encoded blob) the secret
    // starts at one of three offsets modulo 3; for each, the characters that depend on
    // the secret's bytes alone are the same whatever surrounds it.
    for (name, engine) in engines {
        for offset in 0..3usize {
            let mut bytes = vec![0u8; offset];
            bytes.extend_from_slice(value.as_bytes());
            let encoded = engine.encode(&bytes);
            let start = match offset {
                0 => 0,
                1 => 2,
                _ => 3,
            };
            let end = bytes.len() * 8 / 6;
            if end > start {
                out.push((name, encoded[start..end].to_owned()));
            }
        }
    }
    out
}

/// Every needle of every secret, without duplicates; and how many secrets were too short
/// or too plain to search for: values some tests make up by hand, such as a PKCE
/// verifier of 43 `x`, which also turn up in unrelated test input (a user id of 129 `x`)
/// and are no one's secret.
fn needles(secrets: &BTreeSet<(String, String)>) -> (Vec<Needle>, usize) {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    let mut too_short = 0;
    for (kind, value) in secrets {
        let distinct: BTreeSet<char> = value.chars().collect();
        if value.len() < MIN_LEN || distinct.len() < MIN_DISTINCT {
            too_short += 1;
            continue;
        }
        for (form, text) in forms(value) {
            if text.len() >= MIN_LEN && seen.insert((kind.clone(), text.clone())) {
                out.push(Needle {
                    kind: kind.clone(),
                    form,
                    text,
                });
            }
        }
    }
    (out, too_short)
}

/// A secret found in a log: where, and which kind in which form (never the secret).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Finding {
    file: String,
    line: usize,
    kind: String,
    form: &'static str,
}

fn scan(name: &str, text: &[u8], needles: &[Needle], matcher: &AhoCorasick) -> Vec<Finding> {
    let mut found = BTreeSet::new();
    for m in matcher.find_overlapping_iter(text) {
        let n = &needles[m.pattern().as_usize()];
        let line = 1 + text[..m.start()].iter().filter(|&&b| b == b'\n').count();
        found.insert(Finding {
            file: name.to_owned(),
            line,
            kind: n.kind.clone(),
            form: n.form,
        });
    }
    found.into_iter().collect()
}

fn matcher(needles: &[Needle]) -> AhoCorasick {
    AhoCorasick::new(needles.iter().map(|n| n.text.as_bytes())).expect("an automaton")
}

fn suite_dir() -> PathBuf {
    suite_logs::dir().unwrap_or_else(|| {
        gcal_tests::build::workspace_root()
            .join("target")
            .join("test-logs")
    })
}

fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == ext))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

#[test]
fn no_secret_appears_in_any_log_of_the_whole_suite() {
    let dir = suite_dir();
    let hint = format!(
        "run the other suites first with {}={} (scripts/test does both)",
        suite_logs::DIR_VAR,
        dir.display()
    );

    let mut secrets = BTreeSet::new();
    for file in files(&dir.join("secrets"), "jsonl") {
        let text = std::fs::read_to_string(&file).expect("a secrets file");
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let v: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("a bad line in {}: {e}", file.display()));
            let kind = v["kind"].as_str().expect("kind").to_owned();
            let value = v["value"].as_str().expect("value").to_owned();
            secrets.insert((kind, value));
        }
    }
    assert!(!secrets.is_empty(), "no secrets were recorded: {hint}");
    let kinds: BTreeSet<&str> = secrets.iter().map(|(k, _)| k.as_str()).collect();
    let missing: Vec<&str> = REQUIRED_KINDS
        .iter()
        .copied()
        .filter(|k| !kinds.contains(k))
        .collect();
    assert!(
        missing.is_empty(),
        "no {missing:?} was recorded, so the check would not look for one: {hint}"
    );

    let logs = files(&dir.join("logs"), "log");
    assert!(!logs.is_empty(), "no logs were captured: {hint}");
    let (needles, too_short) = needles(&secrets);
    let matcher = matcher(&needles);
    let mut findings = Vec::new();
    let mut bytes = 0usize;
    let mut binaries = BTreeSet::new();
    for file in &logs {
        let text = std::fs::read(file).expect("a log file");
        bytes += text.len();
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        binaries.insert(name.split('.').next().unwrap_or("").to_owned());
        findings.extend(scan(&name, &text, &needles, &matcher));
    }
    assert!(bytes > 0, "the captured logs are empty: {hint}");
    let mut per_kind: BTreeMap<&str, usize> = BTreeMap::new();
    for (k, _) in &secrets {
        *per_kind.entry(k.as_str()).or_default() += 1;
    }
    eprintln!(
        "redaction: {} secrets ({per_kind:?}; {too_short} too short or plain to search for) as {} \
         search strings, in {} log files ({bytes} bytes) from {} test binaries {binaries:?}",
        secrets.len(),
        needles.len(),
        logs.len(),
        binaries.len(),
    );
    let report: Vec<String> = findings
        .iter()
        .map(|f| {
            // `<binary>.<pid>.host<N>.<component>.log`
            let component = f.file.rsplit('.').nth(1).unwrap_or("?");
            format!(
                "  a {} ({}) in {} (component `{component}`), line {}",
                f.kind, f.form, f.file, f.line
            )
        })
        .collect();
    assert!(
        findings.is_empty(),
        "secrets in the captured logs under {} (the values are not shown):\n{}",
        dir.join("logs").display(),
        report.join("\n")
    );
}

/// The check itself: a secret planted in each form is found, and reported without its
/// value; text without it is clean.
#[test]
fn the_check_finds_a_planted_secret_in_every_form() {
    let secret = "1//0aB+c/dE~f.g_h-iJ kL%mN\"oP".to_owned();
    let secrets = BTreeSet::from([(suite_logs::REFRESH_TOKEN.to_owned(), secret.clone())]);
    let (needles, _) = needles(&secrets);
    let m = matcher(&needles);
    let b64 = base64::engine::general_purpose::STANDARD;
    let b64url = base64::engine::general_purpose::URL_SAFE;
    let planted = [
        ("as is", format!("{{\"msg\":\"x\",\"token\":\"{secret}\"}}")),
        (
            "percent-encoded",
            format!(
                "GET /x?t={}",
                utf8_percent_encode(&secret, NON_ALPHANUMERIC)
            ),
        ),
        (
            "form-encoded",
            format!(
                "body=refresh_token={}",
                url::form_urlencoded::byte_serialize(secret.as_bytes()).collect::<String>()
            ),
        ),
        (
            "JSON-escaped",
            format!("{{\"t\":{}}}", serde_json::to_string(&secret).unwrap()),
        ),
        (
            "base64",
            format!(
                "authorization: Basic {}",
                b64.encode(format!("client:{secret}"))
            ),
        ),
        (
            "base64",
            format!("x {}", b64.encode(format!("ab{secret}yz"))),
        ),
        (
            "base64url",
            format!("x {}", b64url.encode(format!("a{secret}"))),
        ),
    ];
    for (form, text) in &planted {
        let found = scan("t.1.host0.events.log", text.as_bytes(), &needles, &m);
        assert!(
            // Where no `+` or `/` is involved, base64 and base64url look the same.
            found.iter().any(|f| f.form == *form
                || f.form == "as is"
                || (f.form.starts_with("base64") && form.starts_with("base64"))),
            "a secret planted {form} was not found in {text:?}: {found:?}"
        );
        assert!(found.iter().all(|f| f.kind == suite_logs::REFRESH_TOKEN));
        let shown = format!("{found:?}");
        assert!(!shown.contains(&secret), "a finding shows the secret");
    }
    let clean = "{\"msg\":\"request\",\"path\":\"/events/u1\",\"status\":200}";
    assert!(scan("t", clean.as_bytes(), &needles, &m).is_empty());
}
