//! Reading Spin application variables, with the SPEC's rule that a missing required
//! variable is a 500 problem naming it, never a panic.

use crate::http::problem::{Code, Problem};
use crate::secret::Secret;

/// Defaults the code falls back on; `spin.toml` declares the same ones, and a test keeps
/// the two equal.
pub mod defaults {
    pub const REDIS_ADDRESS: &str = "redis://127.0.0.1:6379";
    pub const EVENTS_CHANNEL: &str = "gcal.events";
    pub const AUTH_CHANNEL: &str = "gcal.auth";
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
pub fn required(vars: &dyn Variables, name: &'static str) -> Result<String, ConfigError> {
    optional(vars, name)?.ok_or(ConfigError::Missing(name))
}

/// Like [`required`], for secrets: the value never exists as a bare `String` outside here.
pub fn required_secret(vars: &dyn Variables, name: &'static str) -> Result<Secret, ConfigError> {
    required(vars, name).map(Secret::new)
}

/// `None` when unset or empty.
pub fn optional(vars: &dyn Variables, name: &'static str) -> Result<Option<String>, ConfigError> {
    Ok(vars.get(name)?.filter(|v| !v.trim().is_empty()))
}

/// The value, or `default` when unset or empty.
pub fn or_default(
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
}
