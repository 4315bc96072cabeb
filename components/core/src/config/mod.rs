//! The service's configuration: Spin application variables read through [`Variables`],
//! typed once per request or message in [`Config`], with the SPEC's rule that a missing
//! required variable is a 500 problem naming it, never a panic.

mod settings;

pub use settings::{Config, OAuthSettings};

use crate::http::problem::{Code, Problem};

/// Defaults the code falls back on, each in one place; `spin.toml` declares the same ones,
/// and a test keeps the two equal. A variable whose `spin.toml` default is `""` is
/// optional and has no constant here.
pub mod defaults {
    /// Every scope a route needs (SPEC section 8).
    pub const GOOGLE_SCOPES: &str = crate::google::scopes::DEFAULT;
    pub const GOOGLE_OAUTH_ORIGIN: &str = "https://accounts.google.com";
    pub const GOOGLE_TOKEN_ORIGIN: &str = "https://oauth2.googleapis.com";
    pub const GOOGLE_API_ORIGIN: &str = "https://www.googleapis.com";
    pub const REST_SERVICE_URL: &str = "http://127.0.0.1:8000";
    pub const REDIS_ADDRESS: &str = "redis://127.0.0.1:6379";
    pub const EVENTS_CHANNEL: &str = "gcal.events";
    pub const AUTH_CHANNEL: &str = "gcal.auth";
    pub const RATE_LIMIT_PER_MINUTE: &str = "120";
    pub const LOG_LEVEL: &str = "info";

    /// Every default with its variable's name.
    pub const ALL: &[(&str, &str)] = &[
        ("google_scopes", GOOGLE_SCOPES),
        ("google_oauth_origin", GOOGLE_OAUTH_ORIGIN),
        ("google_token_origin", GOOGLE_TOKEN_ORIGIN),
        ("google_api_origin", GOOGLE_API_ORIGIN),
        ("rest_service_url", REST_SERVICE_URL),
        ("redis_address", REDIS_ADDRESS),
        ("events_channel", EVENTS_CHANNEL),
        ("auth_channel", AUTH_CHANNEL),
        ("rate_limit_per_minute", RATE_LIMIT_PER_MINUTE),
        ("log_level", LOG_LEVEL),
    ];
}

/// Where variable values come from: Spin's `variables` interface in a component, a map in
/// unit tests.
pub trait Variables {
    /// `Ok(None)` when the variable is not set (or not declared for this component).
    fn get(&self, name: &str) -> Result<Option<String>, ConfigError>;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("required variable `{0}` is not set")]
    Missing(&'static str),
    #[error("variable `{name}` is invalid: {reason}")]
    Invalid {
        name: &'static str,
        reason: &'static str,
    },
    /// The provider failed; its message is not kept because it may quote the value.
    #[error("variable `{0}` could not be read from the variables provider")]
    Provider(String),
}

impl From<ConfigError> for Problem {
    fn from(e: ConfigError) -> Self {
        let code = match e {
            ConfigError::Missing(_) => Code::ConfigMissing,
            ConfigError::Invalid { .. } | ConfigError::Provider(_) => Code::ConfigInvalid,
        };
        Problem::new(code, e.to_string())
    }
}

/// A set, non-empty value; empty counts as missing because runtime-config providers
/// often hand out "" for an unset secret.
fn required(vars: &dyn Variables, name: &'static str) -> Result<String, ConfigError> {
    optional(vars, name)?.ok_or(ConfigError::Missing(name))
}

/// `None` when unset or empty.
fn optional(vars: &dyn Variables, name: &'static str) -> Result<Option<String>, ConfigError> {
    Ok(vars.get(name)?.filter(|v| !v.trim().is_empty()))
}

/// The value, or `default` when unset or empty.
fn or_default(
    vars: &dyn Variables,
    name: &'static str,
    default: &str,
) -> Result<String, ConfigError> {
    Ok(optional(vars, name)?.unwrap_or_else(|| default.to_owned()))
}

/// A map of variables, for unit tests and host-side tools.
impl Variables for std::collections::HashMap<String, String> {
    fn get(&self, name: &str) -> Result<Option<String>, ConfigError> {
        Ok(std::collections::HashMap::get(self, name).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn required_names_the_missing_variable() {
        let v = vars(&[("empty", " ")]);
        for name in ["absent", "empty"] {
            let name: &'static str = if name == "absent" { "absent" } else { "empty" };
            let p: Problem = required(&v, name).unwrap_err().into();
            assert_eq!(p.code, Code::ConfigMissing);
            assert_eq!(p.status(), 500);
            assert!(p.detail.contains(name), "{}", p.detail);
        }
    }

    #[test]
    fn defaults_apply_to_unset_and_empty() {
        let v = vars(&[("set", "x"), ("empty", "")]);
        assert_eq!(or_default(&v, "set", "d").unwrap(), "x");
        assert_eq!(or_default(&v, "empty", "d").unwrap(), "d");
        assert_eq!(or_default(&v, "absent", "d").unwrap(), "d");
    }

    /// `name = { default = "value", ... }` lines of the `[variables]` table.
    fn spin_toml_defaults() -> HashMap<String, Option<String>> {
        let text = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../spin.toml"));
        let table = text.split("\n[variables]\n").nth(1).unwrap();
        let table = table.split("\n[").next().unwrap();
        table
            .lines()
            .filter(|l| !l.trim_start().starts_with('#') && l.contains('='))
            .map(|l| {
                let (name, decl) = l.split_once('=').unwrap();
                let default = decl
                    .split_once("default = \"")
                    .map(|(_, rest)| rest.split('"').next().unwrap().to_owned());
                (name.trim().to_owned(), default)
            })
            .collect()
    }

    #[test]
    fn every_default_is_the_one_spin_toml_declares() {
        let declared = spin_toml_defaults();
        assert!(declared.len() >= 19, "{declared:?}");
        for (name, value) in defaults::ALL {
            assert_eq!(declared[*name].as_deref(), Some(*value), "{name}");
        }
        // Every other declared default is "" (an optional variable), and the code knows
        // every variable spin.toml declares with a value.
        for (name, default) in &declared {
            if let Some(d) = default
                && !defaults::ALL.iter().any(|(n, _)| n == name)
            {
                assert_eq!(d, "", "{name} has a default the code does not know");
            }
        }
    }
}
