//! Every boundary's error turned into its problem: the one place a failure of Redis,
//! Google, OAuth or the REST service gets a code, a status and a detail.

use crate::credentials::CredentialError;
use crate::delivery::{DeliveryError, SyncError};
use crate::google::GoogleError;
use crate::google::oauth::OAuthError;
use crate::http::problem::{Code, Problem};
use crate::rest::client::RestError;
use crate::store::StoreError;

fn with_retry_after(mut p: Problem, secs: u32) -> Problem {
    p.retry_after = Some(secs);
    p
}

impl From<StoreError> for Problem {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Address(c) => c.into(),
            e => Problem::new(Code::RedisUnavailable, e.to_string()),
        }
    }
}

impl From<RestError> for Problem {
    fn from(e: RestError) -> Self {
        let code = match e {
            RestError::ServerError(_) | RestError::Transport(_) | RestError::BadUrl => {
                Code::RestUnavailable
            }
            RestError::Unexpected(_) | RestError::BadBody => Code::RestError,
        };
        Problem::new(code, e.to_string())
    }
}

impl From<OAuthError> for Problem {
    fn from(e: OAuthError) -> Self {
        match e {
            OAuthError::InvalidGrant => Problem::new(
                Code::ReauthorizationRequired,
                "Google rejected the stored grant; the user must authorize again",
            ),
            OAuthError::Unavailable(_) => Problem::new(Code::UpstreamUnavailable, e.to_string()),
            OAuthError::Rejected(_) => Problem::new(Code::UpstreamError, e.to_string()),
        }
    }
}

impl From<CredentialError> for Problem {
    fn from(e: CredentialError) -> Self {
        let code = match e {
            CredentialError::Config(c) => return c.into(),
            CredentialError::Store(s) => return s.into(),
            CredentialError::Rest(r) => return r.into(),
            CredentialError::OAuth(o) => return o.into(),
            CredentialError::NotConnected => Code::NotAuthorized,
            CredentialError::Revoked => Code::ReauthorizationRequired,
            CredentialError::Undecryptable => Code::ConfigInvalid,
            CredentialError::Encryption => Code::Internal,
            CredentialError::NoRefreshToken => Code::NoRefreshToken,
            CredentialError::RefreshBusy => Code::UpstreamUnavailable,
        };
        Problem::new(code, e.to_string())
    }
}

impl From<GoogleError> for Problem {
    fn from(e: GoogleError) -> Self {
        let code = match &e {
            GoogleError::Credentials(c) => return c.clone().into(),
            GoogleError::RateLimited { retry_after } => {
                let secs = retry_after.unwrap_or(5).clamp(1, 3600) as u32;
                return with_retry_after(
                    Problem::new(Code::UpstreamRateLimited, e.to_string()),
                    secs,
                );
            }
            GoogleError::Unavailable | GoogleError::Timeout => {
                return with_retry_after(Problem::new(Code::UpstreamUnavailable, e.to_string()), 5);
            }
            GoogleError::NotAllowed => Code::UpstreamUnavailable,
            GoogleError::Unauthorized => Code::ReauthorizationRequired,
            GoogleError::NotFound | GoogleError::Gone => Code::EventNotFound,
            GoogleError::Forbidden { .. } => Code::InsufficientPermissions,
            GoogleError::Invalid { .. } => Code::InvalidRequest,
            GoogleError::BadOrigin => Code::ConfigInvalid,
            GoogleError::Conflict { .. } | GoogleError::Rejected { .. } => Code::UpstreamError,
        };
        Problem::new(code, e.to_string())
    }
}

impl From<SyncError> for Problem {
    fn from(e: SyncError) -> Self {
        let code = match e {
            SyncError::Google(g) => return g.into(),
            SyncError::Store(s) => return s.into(),
            SyncError::Config(c) => return c.into(),
            SyncError::BadTarget => Code::InvalidRequest,
            SyncError::Busy => Code::UpstreamUnavailable,
            SyncError::TooManyPages => Code::UpstreamError,
        };
        Problem::new(code, e.to_string())
    }
}

impl From<DeliveryError> for Problem {
    fn from(e: DeliveryError) -> Self {
        match e {
            DeliveryError::Rest(r) => r.into(),
            DeliveryError::Config(c) => c.into(),
            DeliveryError::Store(s) => s.into(),
            DeliveryError::Unreadable => Problem::new(Code::Internal, e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigError;

    #[test]
    fn store_errors_are_redis_unavailable_unless_the_address_is_misconfigured() {
        let p = Problem::from(StoreError::Failed { op: "GET" });
        assert_eq!((p.code, p.status()), (Code::RedisUnavailable, 503));
        assert_eq!(p.detail, "redis GET: request failed");
        let p = Problem::from(StoreError::UnexpectedReply { op: "EVAL" });
        assert_eq!(p.code, Code::RedisUnavailable);
        assert_eq!(p.detail, "redis EVAL: unexpected reply");
        let p = Problem::from(StoreError::Address(ConfigError::Invalid {
            name: "redis_address",
            reason: "x",
        }));
        assert_eq!((p.code, p.status()), (Code::ConfigInvalid, 500));
    }
}
