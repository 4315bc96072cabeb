//! Service-to-service bearer tokens (`api_tokens`).

use crate::config::{Config, ConfigError};
use crate::http::problem::{Code, Problem};
use crate::secret::ApiToken;
use subtle::ConstantTimeEq;

/// The accepted API tokens, parsed once from the comma-separated variable.
#[derive(Debug)]
pub struct ApiTokens(Vec<ApiToken>);

impl ApiTokens {
    /// From the variable's value: tokens separated by commas.
    pub fn parse(list: &str) -> Result<Self, ConfigError> {
        let tokens: Vec<ApiToken> = list
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| ApiToken::new(t.to_owned()))
            .collect();
        if tokens.is_empty() {
            return Err(ConfigError::Missing("api_tokens"));
        }
        Ok(ApiTokens(tokens))
    }

    /// Checks an `Authorization` header. Every configured token is compared in constant
    /// time, so timing tells nothing about which one (or how much of one) matched.
    pub fn authorize(&self, authorization: Option<&str>) -> Result<(), Problem> {
        let presented = authorization
            .and_then(|h| h.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim().as_bytes());
        let Some(presented) = presented else {
            return Err(unauthorized());
        };
        let mut ok = subtle::Choice::from(0u8);
        for token in &self.0 {
            ok |= token.secret().as_bytes().ct_eq(presented);
        }
        if bool::from(ok) {
            Ok(())
        } else {
            Err(unauthorized())
        }
    }
}

/// Checks a request's `Authorization` header against the `api_tokens` variable.
pub fn authorize<B>(cfg: &Config<'_>, req: &http::Request<B>) -> Result<(), Problem> {
    let tokens = cfg.api_tokens()?;
    tokens.authorize(super::request::header_str(
        req.headers(),
        http::header::AUTHORIZATION,
    ))
}

fn unauthorized() -> Problem {
    Problem::new(
        Code::Unauthorized,
        "a valid `Authorization: Bearer <api token>` header is required",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> ApiTokens {
        ApiTokens::parse(" alpha , beta,,").unwrap()
    }

    #[test]
    fn accepts_each_configured_token() {
        assert!(tokens().authorize(Some("Bearer alpha")).is_ok());
        assert!(tokens().authorize(Some("bearer beta")).is_ok());
    }

    #[test]
    fn rejects_missing_wrong_or_malformed() {
        for h in [
            None,
            Some(""),
            Some("Bearer"),
            Some("Bearer gamma"),
            Some("Basic alpha"),
            Some("Bearer alph"),
            Some("Bearer alphaa"),
        ] {
            let e = tokens().authorize(h).unwrap_err();
            assert_eq!(e.code, Code::Unauthorized, "{h:?}");
            assert!(!e.detail.contains("alpha"));
        }
    }

    #[test]
    fn an_empty_list_is_a_missing_variable() {
        assert_eq!(
            ApiTokens::parse(" , ").unwrap_err(),
            ConfigError::Missing("api_tokens")
        );
    }

    #[test]
    fn requests_are_checked_against_the_variable() {
        let vars: std::collections::HashMap<String, String> =
            [("api_tokens".to_string(), "alpha".to_string())].into();
        let req = |h: Option<&str>| {
            let mut b = http::Request::builder();
            if let Some(h) = h {
                b = b.header("authorization", h);
            }
            b.body(()).unwrap()
        };
        let cfg = Config::new(&vars);
        assert!(authorize(&cfg, &req(Some("Bearer alpha"))).is_ok());
        assert_eq!(
            authorize(&cfg, &req(None)).unwrap_err().code,
            Code::Unauthorized
        );
        let empty = std::collections::HashMap::new();
        assert_eq!(
            authorize(&Config::new(&empty), &req(Some("Bearer alpha")))
                .unwrap_err()
                .code,
            Code::ConfigMissing
        );
    }

    #[test]
    fn debug_hides_tokens() {
        assert!(!format!("{:?}", tokens()).contains("alpha"));
    }
}
