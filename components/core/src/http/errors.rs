//! Every boundary's error turned into its problem: the one place a failure of Redis,
//! Google, OAuth or the REST service gets a code, a status and a detail.

use crate::credentials::CredentialError;
use crate::delivery::{ChannelError, DeliveryError, SyncError};
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
            RestError::UserNotFound => Code::UserNotFound,
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
            GoogleError::Stale => Code::EventChanged,
            GoogleError::Forbidden { .. } | GoogleError::ScopeMissing { .. } => {
                Code::InsufficientPermissions
            }
            GoogleError::Invalid { .. } => Code::InvalidRequest,
            GoogleError::BadOrigin => Code::ConfigInvalid,
            GoogleError::Conflict { .. } | GoogleError::Rejected { .. } => Code::UpstreamError,
        };
        Problem::new(code, e.to_string())
    }
}

/// Google's reading of a failure, except a 403 `insufficientPermissions`: the grant lacks
/// `scope` (403 `insufficient_scope` naming it), and a re-consent through `/auth/url` adds
/// it.
pub fn needing(scope: &'static str) -> impl Fn(GoogleError) -> Problem {
    move |e| match e {
        GoogleError::ScopeMissing { .. } => Problem::new(
            Code::InsufficientScope,
            format!("the user's grant lacks the scope {scope}; send them through /auth/url again"),
        )
        .with("scope", serde_json::json!(scope)),
        other => other.into(),
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

impl From<ChannelError> for Problem {
    fn from(e: ChannelError) -> Self {
        let code = match e {
            ChannelError::Config(c) => return c.into(),
            ChannelError::Store(s) => return s.into(),
            ChannelError::Google(g) => return g.into(),
            ChannelError::Sync(s) => return s.into(),
            ChannelError::Unknown => Code::NotFound,
            ChannelError::MissingToken | ChannelError::MissingChannelId => Code::InvalidRequest,
            ChannelError::Key | ChannelError::BadRecord => Code::Internal,
        };
        Problem::new(code, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigError;
    use crate::outbound::TransportError;

    /// Each error as the answer it becomes: code, status, detail and `Retry-After`.
    fn answer(p: Problem) -> (Code, u16, String, Option<u32>) {
        (p.code, p.status(), p.detail.clone(), p.retry_after)
    }

    #[test]
    fn store_errors_are_redis_unavailable_unless_the_address_is_misconfigured() {
        let p = Problem::from(StoreError::Failed { op: "GET" });
        assert_eq!((p.code, p.status()), (Code::RedisUnavailable, 503));
        assert_eq!(p.detail, "redis GET: request failed");
        for e in [
            StoreError::InvalidAddress { op: "connect" },
            StoreError::TooManyConnections { op: "GET" },
            StoreError::TypeError { op: "GET" },
            StoreError::UnexpectedReply { op: "EVAL" },
        ] {
            assert_eq!(Problem::from(e).code, Code::RedisUnavailable);
        }
        let p = Problem::from(StoreError::UnexpectedReply { op: "EVAL" });
        assert_eq!(p.detail, "redis EVAL: unexpected reply");
        let p = Problem::from(StoreError::Address(ConfigError::Invalid {
            name: "redis_address",
            reason: "x",
        }));
        assert_eq!((p.code, p.status()), (Code::ConfigInvalid, 500));
    }

    #[test]
    fn google_errors_become_their_problems() {
        let msg = || "m".to_owned();
        let cases = [
            (
                GoogleError::Unauthorized,
                Code::ReauthorizationRequired,
                401,
                None,
            ),
            (GoogleError::NotFound, Code::EventNotFound, 404, None),
            (GoogleError::Gone, Code::EventNotFound, 404, None),
            (GoogleError::Stale, Code::EventChanged, 409, None),
            (
                GoogleError::Conflict { message: msg() },
                Code::UpstreamError,
                502,
                None,
            ),
            (
                GoogleError::Forbidden { message: msg() },
                Code::InsufficientPermissions,
                403,
                None,
            ),
            (
                GoogleError::Invalid { message: msg() },
                Code::InvalidRequest,
                400,
                None,
            ),
            (
                GoogleError::RateLimited {
                    retry_after: Some(30),
                },
                Code::UpstreamRateLimited,
                429,
                Some(30),
            ),
            (
                GoogleError::RateLimited { retry_after: None },
                Code::UpstreamRateLimited,
                429,
                Some(5),
            ),
            (
                GoogleError::RateLimited {
                    retry_after: Some(0),
                },
                Code::UpstreamRateLimited,
                429,
                Some(1),
            ),
            (
                GoogleError::Unavailable,
                Code::UpstreamUnavailable,
                503,
                Some(5),
            ),
            (
                GoogleError::Timeout,
                Code::UpstreamUnavailable,
                503,
                Some(5),
            ),
            (
                GoogleError::NotAllowed,
                Code::UpstreamUnavailable,
                503,
                None,
            ),
            (GoogleError::BadOrigin, Code::ConfigInvalid, 500, None),
            (
                GoogleError::Rejected {
                    status: 422,
                    message: msg(),
                },
                Code::UpstreamError,
                502,
                None,
            ),
            (
                GoogleError::Credentials(CredentialError::NotConnected),
                Code::NotAuthorized,
                401,
                None,
            ),
        ];
        for (e, code, status, retry_after) in cases {
            let text = e.to_string();
            let (c, s, detail, r) = answer(e.into());
            assert_eq!((c, s, r), (code, status, retry_after), "{text}");
            assert_eq!(detail, text);
        }
        // Google's own words are kept where they help.
        assert_eq!(
            Problem::from(GoogleError::Rejected {
                status: 422,
                message: "bad".into()
            })
            .detail,
            "Google answered 422: bad"
        );
        assert_eq!(
            Problem::from(GoogleError::Invalid {
                message: "bad".into()
            })
            .detail,
            "Google rejected the request: bad"
        );
    }

    #[test]
    fn credential_errors_become_their_problems() {
        let cases = [
            (CredentialError::NotConnected, Code::NotAuthorized, 401),
            (CredentialError::Revoked, Code::ReauthorizationRequired, 401),
            (CredentialError::Undecryptable, Code::ConfigInvalid, 500),
            (CredentialError::Encryption, Code::Internal, 500),
            (CredentialError::NoRefreshToken, Code::NoRefreshToken, 400),
            (CredentialError::RefreshBusy, Code::UpstreamUnavailable, 503),
            (
                CredentialError::Config(ConfigError::Missing("x")),
                Code::ConfigMissing,
                500,
            ),
            (
                CredentialError::Store(StoreError::Failed { op: "GET" }),
                Code::RedisUnavailable,
                503,
            ),
            (
                CredentialError::Rest(RestError::ServerError(500)),
                Code::RestUnavailable,
                503,
            ),
            (
                CredentialError::OAuth(OAuthError::InvalidGrant),
                Code::ReauthorizationRequired,
                401,
            ),
        ];
        for (e, code, status) in cases {
            let p = Problem::from(e);
            assert_eq!((p.code, p.status()), (code, status), "{p}");
        }
    }

    #[test]
    fn rest_and_oauth_errors_become_their_problems() {
        let cases = [
            (
                RestError::ServerError(503),
                Code::RestUnavailable,
                "the user-data service is unavailable (status 503)",
            ),
            (
                RestError::Transport(TransportError::Timeout),
                Code::RestUnavailable,
                "the user-data service is unavailable (timed out)",
            ),
            (
                RestError::Transport(TransportError::Connect),
                Code::RestUnavailable,
                "the user-data service is unavailable (connection failed)",
            ),
            (
                RestError::Transport(TransportError::Denied),
                Code::RestUnavailable,
                "the user-data service is unavailable (destination not allowed by allowed_outbound_hosts)",
            ),
            (
                RestError::BadUrl,
                Code::RestUnavailable,
                "the user-data service is unavailable (rest_service_url is not a valid URL)",
            ),
            (
                RestError::Unexpected(400),
                Code::RestError,
                "the user-data service answered 400 unexpectedly",
            ),
            (
                RestError::BadBody,
                Code::RestError,
                "the user-data service sent a body we cannot read",
            ),
            (
                RestError::UserNotFound,
                Code::UserNotFound,
                "the user-data service does not know this user",
            ),
        ];
        for (e, code, detail) in cases {
            let p = Problem::from(e);
            assert_eq!((p.code, p.detail.as_str()), (code, detail));
        }
        let cases = [
            (OAuthError::InvalidGrant, Code::ReauthorizationRequired, 401),
            (
                OAuthError::Unavailable("x".into()),
                Code::UpstreamUnavailable,
                503,
            ),
            (OAuthError::Rejected("x".into()), Code::UpstreamError, 502),
        ];
        for (e, code, status) in cases {
            let p = Problem::from(e);
            assert_eq!((p.code, p.status()), (code, status), "{p}");
        }
    }

    #[test]
    fn delivery_errors_become_their_problems() {
        let cases: [(Problem, Code); 7] = [
            (SyncError::Busy.into(), Code::UpstreamUnavailable),
            (SyncError::BadTarget.into(), Code::InvalidRequest),
            (
                SyncError::Google(GoogleError::Gone).into(),
                Code::EventNotFound,
            ),
            (ChannelError::Unknown.into(), Code::NotFound),
            (ChannelError::Key.into(), Code::Internal),
            (
                DeliveryError::Rest(RestError::BadBody).into(),
                Code::RestError,
            ),
            (
                DeliveryError::Store(StoreError::Failed { op: "LPUSH" }).into(),
                Code::RedisUnavailable,
            ),
        ];
        for (p, code) in cases {
            assert_eq!(p.code, code, "{p}");
        }
        assert_eq!(
            Problem::from(ChannelError::Unknown).detail,
            "unknown channel"
        );
    }
}
