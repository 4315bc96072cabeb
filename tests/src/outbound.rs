//! `allowed_outbound_hosts` as Spin interprets it: `scheme://host[:port]`, where scheme,
//! host (or a `*.` subdomain wildcard) and port may be `*`, and a missing port means the
//! scheme's default.

use anyhow::{Result, bail};

#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    scheme: String,
    host: String,
    port: Option<String>,
}

/// The resolved allow-list of one component.
#[derive(Debug, Clone, Default)]
pub struct AllowedHosts(Vec<Pattern>);

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        "redis" => Some(6379),
        _ => None,
    }
}

impl AllowedHosts {
    pub fn parse(entries: &[String]) -> Result<Self> {
        let mut out = Vec::new();
        for e in entries {
            let Some((scheme, rest)) = e.split_once("://") else {
                bail!("allowed_outbound_hosts entry `{e}` has no scheme");
            };
            // Spin accepts a bare trailing slash but no other path.
            let rest = rest.strip_suffix('/').unwrap_or(rest);
            if rest.contains('/') {
                bail!("allowed_outbound_hosts entry `{e}` must not have a path");
            }
            // Strip userinfo (redis://:password@host) from the pattern.
            let rest = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
            let (host, port) = match rest.rsplit_once(':') {
                Some((h, p)) if !h.ends_with(']') || rest.starts_with('[') => {
                    (h.to_owned(), Some(p.to_owned()))
                }
                _ => (rest.to_owned(), None),
            };
            if host.is_empty() {
                bail!("allowed_outbound_hosts entry `{e}` has no host");
            }
            out.push(Pattern {
                scheme: scheme.to_ascii_lowercase(),
                host: host.to_ascii_lowercase(),
                port,
            });
        }
        Ok(AllowedHosts(out))
    }

    /// Whether a request to `scheme://host:port` may go out.
    pub fn allows(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        let scheme = scheme.to_ascii_lowercase();
        let host = host.to_ascii_lowercase();
        let Some(port) = port.or_else(|| default_port(&scheme)) else {
            return false;
        };
        self.0.iter().any(|p| {
            let scheme_ok = p.scheme == "*" || p.scheme == scheme;
            let host_ok = p.host == "*"
                || p.host == host
                || p.host
                    .strip_prefix("*.")
                    .is_some_and(|suffix| host.ends_with(&format!(".{suffix}")));
            let port_ok = match &p.port {
                Some(s) if s == "*" => true,
                Some(s) => s.parse::<u16>().is_ok_and(|n| n == port),
                None => default_port(&p.scheme).is_some_and(|d| d == port),
            };
            scheme_ok && host_ok && port_ok
        })
    }

    /// Checks a URL string (`redis://...`, `http://...`).
    pub fn allows_url(&self, url: &str) -> bool {
        match url::Url::parse(url) {
            Ok(u) => match u.host_str() {
                Some(h) => self.allows(u.scheme(), h.trim_matches(['[', ']']), u.port()),
                None => false,
            },
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(entries: &[&str]) -> AllowedHosts {
        AllowedHosts::parse(&entries.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn exact_entries_match_scheme_host_and_port() {
        let a = allowed(&[
            "https://www.googleapis.com",
            "http://127.0.0.1:8000",
            "redis://127.0.0.1:6379",
        ]);
        assert!(a.allows_url("https://www.googleapis.com/calendar/v3"));
        assert!(a.allows_url("https://www.googleapis.com:443/x"));
        assert!(!a.allows_url("http://www.googleapis.com/x"));
        assert!(!a.allows_url("https://evil.com/x"));
        assert!(a.allows_url("http://127.0.0.1:8000/users/1"));
        assert!(!a.allows_url("http://127.0.0.1:8001/users/1"));
        assert!(a.allows_url("redis://127.0.0.1:6379"));
        assert!(!a.allows_url("redis://127.0.0.1:6380"));
    }

    #[test]
    fn wildcards() {
        let a = allowed(&["https://*.example.com", "*://any.test:*"]);
        assert!(a.allows_url("https://api.example.com/"));
        assert!(!a.allows_url("https://example.com.evil/"));
        assert!(a.allows_url("http://any.test:1234/"));
        assert!(a.allows_url("redis://any.test:7000"));
    }

    #[test]
    fn paths_are_refused_in_patterns() {
        assert!(AllowedHosts::parse(&["https://x.com/api".to_string()]).is_err());
        assert!(AllowedHosts::parse(&["x.com".to_string()]).is_err());
    }

    #[test]
    fn nothing_is_allowed_by_default() {
        assert!(!AllowedHosts::default().allows_url("http://127.0.0.1/"));
    }
}
