//! What went wrong on the delivery path, by kind: the updates component logs these and
//! dead-letters by them; it never needs a problem code. The HTTP routes that reach this
//! code (watch, replay) answer them through `http/errors.rs`.

use crate::config::ConfigError;
use crate::google::GoogleError;
use crate::rest::client::RestError;
use crate::store::StoreError;

/// A sync of `calendar.changed` that did not finish.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    /// The message names no valid user or calendar.
    #[error("the change names no valid user or calendar")]
    BadTarget,
    /// Another sync of the calendar held its lock for the whole wait.
    #[error("another sync of this calendar did not finish in time")]
    Busy,
    #[error(transparent)]
    Google(#[from] GoogleError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Config(#[from] ConfigError),
}

impl SyncError {
    /// A stable snake_case name of what happened, for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            SyncError::BadTarget => "sync_bad_target",
            SyncError::Busy => "sync_busy",
            SyncError::Google(e) => e.kind(),
            SyncError::Store(e) => e.kind(),
            SyncError::Config(e) => config_kind(e),
        }
    }

    /// Whether this sync fails the same way every time, until the user authorizes again
    /// or the calendar changes: no or revoked credentials, an unknown calendar, one that
    /// refuses us, a request Google finds invalid, a bad message. Such a sync is dropped;
    /// every other failure (Google, REST or Redis down, a busy lock, a setting an
    /// operator can fix) is retried by a later reader.
    pub fn is_permanent(&self) -> bool {
        match self {
            SyncError::BadTarget => true,
            SyncError::Google(GoogleError::Credentials(c)) => c.needs_authorization(),
            SyncError::Google(g) => matches!(
                g,
                GoogleError::Unauthorized
                    | GoogleError::NotFound
                    | GoogleError::Gone
                    | GoogleError::Forbidden { .. }
                    | GoogleError::ScopeMissing { .. }
                    | GoogleError::Invalid { .. }
            ),
            SyncError::Busy | SyncError::Store(_) => false,
            SyncError::Config(_) => false,
        }
    }
}

/// Why an event could not be delivered (what a dead letter records) or replayed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    #[error(transparent)]
    Rest(#[from] RestError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A dead letter that is not one (left on the list by a replay).
    #[error("a dead letter could not be read; it was left on the list")]
    Unreadable,
}

impl DeliveryError {
    /// A stable snake_case name of what happened: stored with the dead letter.
    pub fn kind(&self) -> &'static str {
        match self {
            DeliveryError::Rest(e) => e.kind(),
            DeliveryError::Config(e) => config_kind(e),
            DeliveryError::Store(e) => e.kind(),
            DeliveryError::Unreadable => "dead_letter_unreadable",
        }
    }

    /// Whether a later try may succeed (a replay, say).
    pub fn is_transient(&self) -> bool {
        match self {
            DeliveryError::Rest(e) => e.is_transient(),
            DeliveryError::Store(e) => e.is_transient(),
            DeliveryError::Config(_) | DeliveryError::Unreadable => false,
        }
    }
}

/// A push channel that could not be opened, stopped, renewed or trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    /// No such channel, or its token or resource does not match (answered as unknown).
    #[error("unknown channel")]
    Unknown,
    /// A push without `X-Goog-Channel-Token`: not Google's (it always sends the token the
    /// channel was opened with).
    #[error("X-Goog-Channel-Token is required")]
    MissingToken,
    /// A push without a usable `X-Goog-Channel-ID` (1 to 64 characters): not Google's.
    #[error("X-Goog-Channel-ID is required: 1 to 64 characters")]
    MissingChannelId,
    /// The channel-token MAC could not be keyed.
    #[error("hmac key")]
    Key,
    /// A stored channel record names no valid user.
    #[error("a stored channel record is unreadable")]
    BadRecord,
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Google(#[from] GoogleError),
    /// The sync token could not be established before a watch.
    #[error(transparent)]
    Sync(#[from] SyncError),
}

impl ChannelError {
    /// A stable snake_case name of what happened, for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            ChannelError::Unknown => "channel_unknown",
            ChannelError::MissingToken => "channel_token_missing",
            ChannelError::MissingChannelId => "channel_id_missing",
            ChannelError::Key => "channel_key",
            ChannelError::BadRecord => "channel_bad_record",
            ChannelError::Config(e) => config_kind(e),
            ChannelError::Store(e) => e.kind(),
            ChannelError::Google(e) => e.kind(),
            ChannelError::Sync(e) => e.kind(),
        }
    }
}

fn config_kind(e: &ConfigError) -> &'static str {
    match e {
        ConfigError::Missing(_) => "config_missing",
        ConfigError::Invalid { .. } | ConfigError::Provider(_) => "config_invalid",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::CredentialError;
    use crate::outbound::TransportError;

    #[test]
    fn only_syncs_that_cannot_pass_are_dropped() {
        let retried = [
            SyncError::Store(StoreError::Failed { op: "GET" }),
            SyncError::Busy,
            SyncError::Config(ConfigError::Missing("x")),
            SyncError::Google(GoogleError::Unavailable),
            SyncError::Google(GoogleError::Timeout),
            SyncError::Google(GoogleError::RateLimited { retry_after: None }),
            SyncError::Google(GoogleError::Rejected {
                status: 422,
                message: String::new(),
            }),
            SyncError::Google(GoogleError::Credentials(CredentialError::Rest(
                RestError::ServerError(503),
            ))),
            SyncError::Google(GoogleError::Credentials(CredentialError::RefreshBusy)),
        ];
        for e in &retried {
            assert!(!e.is_permanent(), "{e:?}");
        }
        let dropped = [
            SyncError::BadTarget,
            SyncError::Google(GoogleError::Credentials(CredentialError::NotConnected)),
            SyncError::Google(GoogleError::Credentials(CredentialError::Revoked)),
            SyncError::Google(GoogleError::Unauthorized),
            SyncError::Google(GoogleError::NotFound),
            SyncError::Google(GoogleError::Gone),
            SyncError::Google(GoogleError::Forbidden {
                message: String::new(),
            }),
        ];
        for e in &dropped {
            assert!(e.is_permanent(), "{e:?}");
        }
    }

    #[test]
    fn delivery_kinds_name_what_failed() {
        let cases = [
            (
                DeliveryError::Rest(RestError::ServerError(503)),
                "rest_server_error",
                true,
            ),
            (
                DeliveryError::Rest(RestError::Transport(TransportError::Connect)),
                "rest_unreachable",
                true,
            ),
            (
                DeliveryError::Rest(RestError::Unexpected(422)),
                "rest_unexpected_status",
                false,
            ),
            (
                DeliveryError::Config(ConfigError::Missing("x")),
                "config_missing",
                false,
            ),
            (
                DeliveryError::Store(StoreError::Failed { op: "LPUSH" }),
                "redis_failed",
                true,
            ),
            (DeliveryError::Unreadable, "dead_letter_unreadable", false),
        ];
        for (e, kind, transient) in cases {
            assert_eq!(e.kind(), kind);
            assert_eq!(e.is_transient(), transient, "{e:?}");
        }
    }
}
