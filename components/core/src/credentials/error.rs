//! Why no access token could be had for a user.

use crate::config::ConfigError;
use crate::google::oauth::OAuthError;
use crate::rest::client::RestError;
use crate::store::StoreError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// The REST service holds no credentials for the user.
    #[error("this user has not connected a Google Calendar")]
    NotConnected,
    /// The stored credentials are marked invalid (the grant was revoked or expired).
    #[error("the user's Google authorization is no longer valid; authorize again")]
    Revoked,
    #[error("stored tokens do not decrypt with token_encryption_key (was the key changed?)")]
    Undecryptable,
    #[error("token encryption failed")]
    Encryption,
    #[error(
        "Google returned no refresh token and none is stored; revoke the app's access in the Google account and authorize again"
    )]
    NoRefreshToken,
    /// Another request's refresh held the user's lock for the whole wait.
    #[error("another token refresh for this user did not finish in time")]
    RefreshBusy,
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Rest(#[from] RestError),
    #[error(transparent)]
    OAuth(#[from] OAuthError),
}

impl CredentialError {
    /// A stable snake_case name of what happened, for logs and dead letters.
    pub fn kind(&self) -> &'static str {
        match self {
            CredentialError::NotConnected => "not_connected",
            CredentialError::Revoked => "authorization_revoked",
            CredentialError::Undecryptable => "tokens_undecryptable",
            CredentialError::Encryption => "token_encryption_failed",
            CredentialError::NoRefreshToken => "no_refresh_token",
            CredentialError::RefreshBusy => "refresh_busy",
            CredentialError::Config(_) => "config_error",
            CredentialError::Store(e) => e.kind(),
            CredentialError::Rest(e) => e.kind(),
            CredentialError::OAuth(e) => e.kind(),
        }
    }

    /// Whether trying again later may succeed; a user without (valid) credentials stays
    /// so until they authorize again.
    pub fn is_transient(&self) -> bool {
        match self {
            CredentialError::NotConnected
            | CredentialError::Revoked
            | CredentialError::NoRefreshToken => false,
            CredentialError::Undecryptable
            | CredentialError::Encryption
            | CredentialError::Config(_) => false,
            CredentialError::RefreshBusy => true,
            CredentialError::Store(e) => e.is_transient(),
            CredentialError::Rest(e) => e.is_transient(),
            CredentialError::OAuth(e) => e.is_transient(),
        }
    }

    /// Whether the user must authorize again before any call for them can succeed.
    pub fn needs_authorization(&self) -> bool {
        matches!(
            self,
            CredentialError::NotConnected | CredentialError::Revoked
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbound::TransportError;

    #[test]
    fn kinds_are_stable_and_a_missing_authorization_is_not_transient() {
        let cases = [
            (CredentialError::NotConnected, "not_connected", false, true),
            (
                CredentialError::Revoked,
                "authorization_revoked",
                false,
                true,
            ),
            (
                CredentialError::Undecryptable,
                "tokens_undecryptable",
                false,
                false,
            ),
            (
                CredentialError::Encryption,
                "token_encryption_failed",
                false,
                false,
            ),
            (
                CredentialError::NoRefreshToken,
                "no_refresh_token",
                false,
                false,
            ),
            (CredentialError::RefreshBusy, "refresh_busy", true, false),
            (
                CredentialError::Config(ConfigError::Missing("x")),
                "config_error",
                false,
                false,
            ),
            (
                CredentialError::Store(StoreError::Failed { op: "GET" }),
                "redis_failed",
                true,
                false,
            ),
            (
                CredentialError::Rest(RestError::Transport(TransportError::Connect)),
                "rest_unreachable",
                true,
                false,
            ),
            (
                CredentialError::Rest(RestError::Unexpected(400)),
                "rest_unexpected_status",
                false,
                false,
            ),
            (
                CredentialError::OAuth(OAuthError::Unavailable("x".into())),
                "oauth_unavailable",
                true,
                false,
            ),
            (
                CredentialError::OAuth(OAuthError::InvalidGrant),
                "invalid_grant",
                false,
                false,
            ),
        ];
        for (e, kind, transient, reauthorize) in cases {
            assert_eq!(e.kind(), kind);
            assert_eq!(e.is_transient(), transient, "{e:?}");
            assert_eq!(e.needs_authorization(), reauthorize, "{e:?}");
        }
    }
}
