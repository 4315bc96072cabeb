//! What a Calendar API call came to when it did not succeed: what Google said, in our
//! words, not its raw statuses.

use crate::credentials::CredentialError;

/// A failed Calendar API call. `message` is Google's error message (at most 300
/// characters), never a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GoogleError {
    /// Google rejected a freshly refreshed token (401 after the refresh).
    #[error("Google rejected a freshly refreshed token; authorize again")]
    Unauthorized,
    /// 404: no such event or calendar.
    #[error("no such event or calendar")]
    NotFound,
    /// 410: the event is deleted, or a sync token expired.
    #[error("no such event or calendar")]
    Gone,
    /// 412: the event changed since the ETag a conditional write named.
    #[error("the event changed since it was read")]
    Stale,
    /// 409: an event with this id exists already.
    #[error("Google answered 409: {message}")]
    Conflict { message: String },
    /// 403 other than a rate limit: the grant does not allow it.
    #[error("Google refused: {message}")]
    Forbidden { message: String },
    /// 403 `insufficientPermissions`: the grant lacks a scope the call needs.
    #[error("Google refused: {message}")]
    ScopeMissing { message: String },
    /// 400: Google found the request invalid.
    #[error("Google rejected the request: {message}")]
    Invalid { message: String },
    /// 429 or a rate-limit 403, still so after the retries.
    #[error("Google's rate limit for this user or project was reached; retry later")]
    RateLimited { retry_after: Option<u64> },
    /// 5xx or a dropped connection, still so after the retries.
    #[error("Google Calendar did not answer successfully after retries")]
    Unavailable,
    /// A try ran out of time (not retried: it took the whole deadline).
    #[error("Google Calendar did not answer in time")]
    Timeout,
    #[error("google_api_origin is not in allowed_outbound_hosts")]
    NotAllowed,
    #[error("google_api_origin does not make a valid URL")]
    BadOrigin,
    /// Any other answer Google had no reason to give.
    #[error("Google answered {status}: {message}")]
    Rejected { status: u16, message: String },
    /// No access token to call with.
    #[error(transparent)]
    Credentials(#[from] CredentialError),
}

impl GoogleError {
    /// A stable snake_case name of what happened, for logs and dead letters.
    pub fn kind(&self) -> &'static str {
        match self {
            GoogleError::Unauthorized => "google_unauthorized",
            GoogleError::NotFound => "google_not_found",
            GoogleError::Gone => "google_gone",
            GoogleError::Stale => "google_precondition_failed",
            GoogleError::Conflict { .. } => "google_conflict",
            GoogleError::Forbidden { .. } => "google_forbidden",
            GoogleError::ScopeMissing { .. } => "google_scope_missing",
            GoogleError::Invalid { .. } => "google_invalid_request",
            GoogleError::RateLimited { .. } => "google_rate_limited",
            GoogleError::Unavailable => "google_unavailable",
            GoogleError::Timeout => "google_timeout",
            GoogleError::NotAllowed => "google_not_allowed",
            GoogleError::BadOrigin => "google_bad_origin",
            GoogleError::Rejected { .. } => "google_rejected",
            GoogleError::Credentials(e) => e.kind(),
        }
    }

    /// Whether trying again later may succeed: Google was busy, down or slow.
    pub fn is_transient(&self) -> bool {
        match self {
            GoogleError::RateLimited { .. } | GoogleError::Unavailable | GoogleError::Timeout => {
                true
            }
            GoogleError::Credentials(e) => e.is_transient(),
            _ => false,
        }
    }

    /// Whether another try within this call is worth it: transient, except a timeout,
    /// which already took longer than the whole retry budget.
    pub(super) fn retry_now(&self) -> bool {
        matches!(
            self,
            GoogleError::RateLimited { .. } | GoogleError::Unavailable
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_stable_and_only_busy_or_down_google_is_transient() {
        let m = String::new;
        let cases = [
            (GoogleError::Unauthorized, "google_unauthorized", false),
            (GoogleError::NotFound, "google_not_found", false),
            (GoogleError::Gone, "google_gone", false),
            (GoogleError::Stale, "google_precondition_failed", false),
            (
                GoogleError::Conflict { message: m() },
                "google_conflict",
                false,
            ),
            (
                GoogleError::Forbidden { message: m() },
                "google_forbidden",
                false,
            ),
            (
                GoogleError::ScopeMissing { message: m() },
                "google_scope_missing",
                false,
            ),
            (
                GoogleError::Invalid { message: m() },
                "google_invalid_request",
                false,
            ),
            (
                GoogleError::RateLimited { retry_after: None },
                "google_rate_limited",
                true,
            ),
            (GoogleError::Unavailable, "google_unavailable", true),
            (GoogleError::Timeout, "google_timeout", true),
            (GoogleError::NotAllowed, "google_not_allowed", false),
            (GoogleError::BadOrigin, "google_bad_origin", false),
            (
                GoogleError::Rejected {
                    status: 422,
                    message: m(),
                },
                "google_rejected",
                false,
            ),
            (
                GoogleError::Credentials(CredentialError::NotConnected),
                "not_connected",
                false,
            ),
            (
                GoogleError::Credentials(CredentialError::RefreshBusy),
                "refresh_busy",
                true,
            ),
        ];
        for (e, kind, transient) in cases {
            assert_eq!(e.kind(), kind);
            assert_eq!(e.is_transient(), transient, "{e:?}");
            // Retried within the call: transient, but never a timeout.
            assert_eq!(
                e.retry_now(),
                transient && kind != "google_timeout" && kind != "refresh_busy",
                "{e:?}"
            );
        }
    }
}
