//! OAuth 2.0 with Google through the `oauth2` crate: the authorization URL (PKCE S256,
//! offline access, consent), the single-use state record in Redis, the code exchange,
//! refresh and revocation, all over the runtime's outbound HTTP.

#[cfg(doc)]
use crate::config::Config;
use crate::config::OAuthSettings;
use crate::outbound::{HttpRequest, HttpResponse, Outbound, TransportError, backoff};
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{
    AccessToken, AuthType, AuthUrl, AuthorizationCode, ClientId, CsrfToken, EndpointNotSet,
    EndpointSet, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError,
    Scope, TokenResponse, TokenUrl,
};
use std::time::Duration;

/// How long an authorization may take from URL to callback (SPEC: 10 minutes).
pub const STATE_TTL_SECS: u64 = 600;

type GoogleClient =
    BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// The configured OAuth client.
pub struct OAuth {
    client: GoogleClient,
    /// RFC 7009 revocation endpoint, called directly (see [`OAuth::revoke`]).
    revoke_url: url::Url,
    scopes: Vec<String>,
}
/// Tokens as Google returned them.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access: AccessToken,
    pub refresh: Option<RefreshToken>,
    pub expires_at: DateTime<Utc>,
    pub scopes: Vec<String>,
}
/// Failures at Google's OAuth endpoints, mapped once to problems by the caller's context.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    /// The grant (code or refresh token) is invalid, expired, revoked or does not match.
    #[error("the grant was rejected")]
    InvalidGrant,
    #[error("Google's token endpoint is unavailable ({0})")]
    Unavailable(String),
    #[error("Google's token endpoint rejected the request ({0})")]
    Rejected(String),
}
impl OAuthError {
    /// A stable snake_case name of what happened, for logs and dead letters.
    pub fn kind(&self) -> &'static str {
        match self {
            OAuthError::InvalidGrant => "invalid_grant",
            OAuthError::Unavailable(_) => "oauth_unavailable",
            OAuthError::Rejected(_) => "oauth_rejected",
        }
    }

    /// Whether trying again later may succeed (only when Google did not answer).
    pub fn is_transient(&self) -> bool {
        matches!(self, OAuthError::Unavailable(_))
    }
}
/// What `GET /auth/url` hands out; the verifier stays with us (in the state record).
pub struct AuthorizationRequest {
    pub url: String,
    pub state: String,
    pub verifier: PkceCodeVerifier,
}
impl OAuth {
    /// The client for the configured settings ([`Config::oauth`]).
    pub fn new(settings: &OAuthSettings) -> OAuth {
        let client = BasicClient::new(ClientId::new(settings.client_id.clone()))
            .set_client_secret(settings.client_secret.clone())
            .set_auth_type(AuthType::RequestBody)
            .set_auth_uri(AuthUrl::from_url(settings.auth.clone()))
            .set_token_uri(TokenUrl::from_url(settings.token.clone()))
            .set_redirect_uri(RedirectUrl::from_url(settings.redirect.clone()));
        OAuth {
            client,
            revoke_url: settings.revoke.clone(),
            scopes: settings.scopes.clone(),
        }
    }

    /// A fresh authorization URL: a random 128-bit `state`, PKCE S256, offline access and
    /// forced consent (so Google always returns a refresh token).
    pub fn authorization_request(&self, login_hint: Option<&str>) -> AuthorizationRequest {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut req = self
            .client
            .authorize_url(CsrfToken::new_random)
            .add_scopes(self.scopes.iter().cloned().map(Scope::new))
            .set_pkce_challenge(challenge)
            .add_extra_param("access_type", "offline")
            .add_extra_param("include_granted_scopes", "true")
            .add_extra_param("prompt", "consent");
        if let Some(hint) = login_hint {
            req = req.add_extra_param("login_hint", hint.to_owned());
        }
        let (url, state) = req.url();
        AuthorizationRequest {
            url: url.to_string(),
            state: state.secret().clone(),
            verifier,
        }
    }

    /// Exchanges a code with its PKCE verifier. Not retried: a code is single use.
    pub async fn exchange_code<O: Outbound>(
        &self,
        http: &O,
        code: AuthorizationCode,
        verifier: PkceCodeVerifier,
    ) -> Result<Tokens, OAuthError> {
        let client = |req| send(http, req, 1);
        let resp = self
            .client
            .exchange_code(code)
            .set_pkce_verifier(verifier)
            .request_async(&client)
            .await
            .map_err(token_error)?;
        Ok(self.tokens(&resp))
    }

    /// A new access token for a refresh token (retried on 5xx and connection errors).
    pub async fn refresh<O: Outbound>(
        &self,
        http: &O,
        refresh: &RefreshToken,
    ) -> Result<Tokens, OAuthError> {
        let client = |req| send(http, req, 3);
        let resp = self
            .client
            .exchange_refresh_token(refresh)
            .request_async(&client)
            .await
            .map_err(token_error)?;
        Ok(self.tokens(&resp))
    }

    /// Revokes a token at Google (RFC 7009: a form POST of `token` to `/revoke`); the
    /// caller treats failure as best effort. Sent by hand: the `oauth2` crate refuses a
    /// revocation URL that is not https, so with `google_token_origin` pointing at an
    /// emulator or a local proxy nothing was ever revoked.
    pub async fn revoke<O: Outbound>(
        &self,
        http: &O,
        token: &RefreshToken,
    ) -> Result<(), OAuthError> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("token", token.secret())
            .finish();
        let req = http::Request::builder()
            .method("POST")
            .uri(self.revoke_url.as_str())
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(body.into_bytes())
            .map_err(|_| OAuthError::Rejected("the revocation URL is unusable".into()))?;
        match send(http, req, 2).await {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(OAuthError::Rejected(format!(
                "revocation refused with status {}",
                r.status().as_u16()
            ))),
            Err(e) => Err(OAuthError::Unavailable(e.to_string())),
        }
    }

    fn tokens(&self, resp: &oauth2::basic::BasicTokenResponse) -> Tokens {
        let lifetime = resp.expires_in().unwrap_or(Duration::from_secs(3600));
        let scopes = resp
            .scopes()
            .map(|s| s.iter().map(|s| s.to_string()).collect())
            .unwrap_or_else(|| self.scopes.clone());
        Tokens {
            access: resp.access_token().clone(),
            refresh: resp.refresh_token().cloned(),
            expires_at: Utc::now()
                + ChronoDuration::from_std(lifetime).unwrap_or(ChronoDuration::hours(1)),
            scopes,
        }
    }
}
/// Why a token request got no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum TokenHttpError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("status {0}")]
    Server(u16),
}
async fn send<O: Outbound>(
    http: &O,
    req: HttpRequest,
    tries: u32,
) -> Result<HttpResponse, TokenHttpError> {
    let mut last = TokenHttpError::Transport(TransportError::Connect);
    for attempt in 1..=tries {
        if attempt > 1 {
            http.sleep(backoff(attempt - 1, Duration::from_millis(100)))
                .await;
        }
        match http.send(req.clone()).await {
            Ok(r) if r.status().is_server_error() => {
                last = TokenHttpError::Server(r.status().as_u16())
            }
            Ok(r) => return Ok(r),
            // Refused stays refused; a timed-out try already spent the whole deadline.
            Err(e @ (TransportError::Denied | TransportError::Timeout)) => return Err(e.into()),
            Err(e) => last = e.into(),
        }
    }
    Err(last)
}
fn token_error(
    e: RequestTokenError<TokenHttpError, oauth2::StandardErrorResponse<BasicErrorResponseType>>,
) -> OAuthError {
    match e {
        RequestTokenError::ServerResponse(r) => match r.error() {
            BasicErrorResponseType::InvalidGrant => OAuthError::InvalidGrant,
            other => OAuthError::Rejected(other.to_string()),
        },
        RequestTokenError::Request(h) => OAuthError::Unavailable(h.to_string()),
        RequestTokenError::Parse(..) => OAuthError::Rejected("unreadable token response".into()),
        RequestTokenError::Other(_) => OAuthError::Rejected("unexpected token response".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn the_url_carries_every_parameter_and_a_matching_challenge() {
        let oauth = crate::testing::oauth();
        let req = oauth.authorization_request(Some("ann@example.com"));
        let url = url::Url::parse(&req.url).unwrap();
        assert_eq!(
            url.origin().ascii_serialization(),
            "https://accounts.example"
        );
        assert_eq!(url.path(), "/o/oauth2/v2/auth");
        let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["client_id"], "cid");
        assert_eq!(q["redirect_uri"], "https://app.example/auth/callback");
        assert_eq!(q["scope"], crate::config::defaults::GOOGLE_SCOPES);
        assert_eq!(q["access_type"], "offline");
        assert_eq!(q["include_granted_scopes"], "true");
        assert_eq!(q["prompt"], "consent");
        assert_eq!(q["login_hint"], "ann@example.com");
        assert_eq!(q["state"], req.state);
        assert_eq!(q["code_challenge_method"], "S256");
        use sha2_check::expected_challenge;
        assert_eq!(
            q["code_challenge"],
            expected_challenge(req.verifier.secret())
        );
        // At least 128 bits of randomness: 16 bytes, base64url.
        assert!(req.state.len() >= 22, "{}", req.state);
        assert!(!req.url.contains("csecret"));
        assert!(!req.url.contains(req.verifier.secret()));
        let other = oauth.authorization_request(None);
        assert_ne!(other.state, req.state);
        assert!(!other.url.contains("login_hint"));
    }

    mod sha2_check {
        /// PKCE S256 recomputed through the `oauth2` crate's own verifier type.
        pub fn expected_challenge(verifier: &str) -> String {
            let v = oauth2::PkceCodeVerifier::new(verifier.to_owned());
            oauth2::PkceCodeChallenge::from_code_verifier_sha256(&v)
                .as_str()
                .to_owned()
        }
    }

    #[test]
    fn revocation_posts_the_token_as_a_form_even_to_a_plain_http_origin() {
        use crate::testing::{Scripted, block};
        let mut v = crate::testing::oauth_vars();
        v.insert(
            "google_token_origin".into(),
            "http://127.0.0.1:4444/".into(),
        );
        let oauth = OAuth::new(crate::config::Config::new(&v).oauth().unwrap());
        let token = RefreshToken::new("1//0refresh+token/=".into());

        let http = Scripted::default().answer(200, "{}");
        block(oauth.revoke(&http, &token)).unwrap();
        let seen = http.seen.borrow();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].method(), "POST");
        assert_eq!(seen[0].uri(), "http://127.0.0.1:4444/revoke");
        assert_eq!(
            seen[0].headers()["content-type"],
            "application/x-www-form-urlencoded"
        );
        let form: Vec<(String, String)> = url::form_urlencoded::parse(seen[0].body())
            .into_owned()
            .collect();
        assert_eq!(form, [("token".to_owned(), token.secret().clone())]);
        // Neither the token nor the client secret travels in the URL.
        assert!(!seen[0].uri().to_string().contains("refresh"));
        assert!(!String::from_utf8_lossy(seen[0].body()).contains("csecret"));

        // Google's 400 for an unknown or already revoked token: refused, not retried.
        let http = Scripted::default().answer(400, r#"{"error":"invalid_token"}"#);
        assert!(matches!(
            block(oauth.revoke(&http, &token)),
            Err(OAuthError::Rejected(_))
        ));
        assert_eq!(http.seen.borrow().len(), 1);
        // 5xx: retried once, then unavailable.
        let http = Scripted::default()
            .answer(503, "")
            .answer(503, "")
            .answer(200, "{}");
        assert!(matches!(
            block(oauth.revoke(&http, &token)),
            Err(OAuthError::Unavailable(_))
        ));
        assert_eq!(http.seen.borrow().len(), 2);
    }

    #[test]
    fn missing_client_settings_are_named() {
        let mut v = crate::testing::oauth_vars();
        v.remove("google_client_secret");
        let p = crate::http::problem::Problem::from(
            crate::config::Config::new(&v).oauth().err().unwrap(),
        );
        assert_eq!(p.code, crate::http::problem::Code::ConfigMissing);
        assert!(p.detail.contains("google_client_secret"));
    }

    #[test]
    fn kinds_are_stable_and_only_an_unavailable_endpoint_is_transient() {
        let cases = [
            (OAuthError::InvalidGrant, "invalid_grant", false),
            (
                OAuthError::Unavailable("x".into()),
                "oauth_unavailable",
                true,
            ),
            (OAuthError::Rejected("x".into()), "oauth_rejected", false),
        ];
        for (e, kind, transient) in cases {
            assert_eq!(e.kind(), kind);
            assert_eq!(e.is_transient(), transient, "{e:?}");
        }
    }
}
