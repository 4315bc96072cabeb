//! [`Config`]: the variables typed, validated and defaulted, for one request or message.
//! Each setting is read when a route first needs it (a variable is a host call) and kept
//! for the rest of the request, so nothing is read twice and nothing is read in vain.

use super::{ConfigError, Variables, defaults, optional, or_default, required};
use crate::credentials::cipher::{CacheCipher, TokenCipher};
use crate::http::api_token::ApiTokens;
use crate::log::Level;
use crate::secret::{ClientSecret, EncryptionKey, RestServiceToken};
use std::cell::OnceCell;

/// The user-data REST service: `rest_service_url` and `rest_service_token`.
pub struct RestSettings {
    /// Without a trailing `/`.
    pub base: String,
    pub token: Option<RestServiceToken>,
}

/// Google's OAuth client: the `google_*` variables, the endpoints as URLs.
pub struct OAuthSettings {
    pub client_id: String,
    pub client_secret: ClientSecret,
    pub redirect: url::Url,
    pub auth: url::Url,
    pub token: url::Url,
    /// RFC 7009 revocation, at the token origin.
    pub revoke: url::Url,
    pub scopes: Vec<String>,
}

/// The configuration of one request or message, over the runtime's variables.
pub struct Config<'a> {
    vars: &'a dyn Variables,
    api_tokens: OnceCell<ApiTokens>,
    encryption_key: OnceCell<EncryptionKey>,
    cipher: OnceCell<TokenCipher>,
    cache_cipher: OnceCell<CacheCipher>,
    oauth: OnceCell<OAuthSettings>,
    rest: OnceCell<RestSettings>,
    redis_address: OnceCell<String>,
    events_channel: OnceCell<String>,
    auth_channel: OnceCell<String>,
    google_api_origin: OnceCell<String>,
    public_base_url: OnceCell<String>,
    post_auth_redirect_url: OnceCell<Option<String>>,
    rate_limit: OnceCell<u64>,
}

/// The cell's value, made by `make` the first time it succeeds.
fn cached<T, E>(cell: &OnceCell<T>, make: impl FnOnce() -> Result<T, E>) -> Result<&T, E> {
    if let Some(v) = cell.get() {
        return Ok(v);
    }
    let v = make()?;
    Ok(cell.get_or_init(|| v))
}

fn origin(vars: &dyn Variables, name: &'static str, default: &str) -> Result<String, ConfigError> {
    Ok(or_default(vars, name, default)?
        .trim_end_matches('/')
        .to_owned())
}

fn url(name: &'static str, text: &str) -> Result<url::Url, ConfigError> {
    url::Url::parse(text).map_err(|_| ConfigError::Invalid {
        name,
        reason: "not a valid URL",
    })
}

impl<'a> Config<'a> {
    pub fn new(vars: &'a dyn Variables) -> Self {
        Config {
            vars,
            api_tokens: OnceCell::new(),
            encryption_key: OnceCell::new(),
            cipher: OnceCell::new(),
            cache_cipher: OnceCell::new(),
            oauth: OnceCell::new(),
            rest: OnceCell::new(),
            redis_address: OnceCell::new(),
            events_channel: OnceCell::new(),
            auth_channel: OnceCell::new(),
            google_api_origin: OnceCell::new(),
            public_base_url: OnceCell::new(),
            post_auth_redirect_url: OnceCell::new(),
            rate_limit: OnceCell::new(),
        }
    }

    fn text<'c>(
        &self,
        cell: &'c OnceCell<String>,
        name: &'static str,
        default: &str,
    ) -> Result<&'c str, ConfigError> {
        cached(cell, || or_default(self.vars, name, default)).map(String::as_str)
    }

    /// `log_level` (`debug`, `info`, `warn`, `error`); unreadable counts as the default.
    pub fn log_level(&self) -> Level {
        or_default(self.vars, "log_level", defaults::LOG_LEVEL)
            .map_or(Level::Info, |l| Level::parse(&l))
    }

    /// `cors_allowed_origins`, read once at the edge; unreadable counts as unset.
    pub fn cors_allowed_origins(&self) -> Option<String> {
        optional(self.vars, "cors_allowed_origins").ok().flatten()
    }

    /// `api_tokens`: the accepted bearer tokens (at least one).
    pub fn api_tokens(&self) -> Result<&ApiTokens, ConfigError> {
        cached(&self.api_tokens, || {
            ApiTokens::parse(&required(self.vars, "api_tokens")?)
        })
    }

    /// `rate_limit_per_minute`: requests per user and minute; 0 disables the limit.
    pub fn rate_limit_per_minute(&self) -> Result<u64, ConfigError> {
        cached(&self.rate_limit, || {
            let raw = or_default(
                self.vars,
                "rate_limit_per_minute",
                defaults::RATE_LIMIT_PER_MINUTE,
            )?;
            raw.trim().parse().map_err(|_| ConfigError::Invalid {
                name: "rate_limit_per_minute",
                reason: "must be a whole number (0 disables the limit)",
            })
        })
        .copied()
    }

    /// `token_encryption_key`, decoded (here only): the tokens' ciphers and the channel
    /// tokens' MAC key are all derived from it.
    pub fn encryption_key(&self) -> Result<&EncryptionKey, ConfigError> {
        cached(&self.encryption_key, || {
            EncryptionKey::from_base64(&required(self.vars, "token_encryption_key")?)
        })
    }

    /// The cipher of tokens at rest, under [`Config::encryption_key`].
    pub fn cipher(&self) -> Result<&TokenCipher, ConfigError> {
        cached(&self.cipher, || self.encryption_key().map(TokenCipher::new))
    }

    /// The cipher of the access-token cache, under a key derived from
    /// [`Config::encryption_key`]. A request served from the cache builds only this one.
    pub fn cache_cipher(&self) -> Result<&CacheCipher, ConfigError> {
        cached(&self.cache_cipher, || {
            self.encryption_key().map(CacheCipher::new)
        })
    }

    /// `redis_address`.
    pub fn redis_address(&self) -> Result<&str, ConfigError> {
        self.text(
            &self.redis_address,
            "redis_address",
            defaults::REDIS_ADDRESS,
        )
    }

    /// `events_channel`: where `calendar.*` CloudEvents are published.
    pub fn events_channel(&self) -> Result<&str, ConfigError> {
        self.text(
            &self.events_channel,
            "events_channel",
            defaults::EVENTS_CHANNEL,
        )
    }

    /// `auth_channel`: where `calendar.auth.*` CloudEvents are published.
    pub fn auth_channel(&self) -> Result<&str, ConfigError> {
        self.text(&self.auth_channel, "auth_channel", defaults::AUTH_CHANNEL)
    }

    /// `google_api_origin`, without a trailing `/`.
    pub fn google_api_origin(&self) -> Result<&str, ConfigError> {
        cached(&self.google_api_origin, || {
            origin(self.vars, "google_api_origin", defaults::GOOGLE_API_ORIGIN)
        })
        .map(String::as_str)
    }

    /// `public_base_url`, without a trailing `/`: required to open push channels.
    pub fn public_base_url(&self) -> Result<&str, ConfigError> {
        cached(&self.public_base_url, || {
            let base = optional(self.vars, "public_base_url")?
                .ok_or(ConfigError::Missing("public_base_url"))?;
            Ok(base.trim_end_matches('/').to_owned())
        })
        .map(String::as_str)
    }

    /// `post_auth_redirect_url`: where the browser ends after the callback, if set.
    pub fn post_auth_redirect_url(&self) -> Result<Option<&str>, ConfigError> {
        cached(&self.post_auth_redirect_url, || {
            optional(self.vars, "post_auth_redirect_url")
        })
        .map(Option::as_deref)
    }

    /// `rest_service_url` and `rest_service_token`.
    pub fn rest(&self) -> Result<&RestSettings, ConfigError> {
        cached(&self.rest, || {
            Ok(RestSettings {
                base: origin(self.vars, "rest_service_url", defaults::REST_SERVICE_URL)?,
                token: optional(self.vars, "rest_service_token")?.map(RestServiceToken::new),
            })
        })
    }

    /// The OAuth client's settings: `google_client_id`, `google_client_secret`,
    /// `google_redirect_uri`, `google_oauth_origin`, `google_token_origin`, `google_scopes`.
    pub fn oauth(&self) -> Result<&OAuthSettings, ConfigError> {
        cached(&self.oauth, || {
            let vars = self.vars;
            let client_id = required(vars, "google_client_id")?;
            let client_secret = ClientSecret::new(required(vars, "google_client_secret")?);
            let redirect = required(vars, "google_redirect_uri")?;
            let auth = origin(vars, "google_oauth_origin", defaults::GOOGLE_OAUTH_ORIGIN)?;
            let token = origin(vars, "google_token_origin", defaults::GOOGLE_TOKEN_ORIGIN)?;
            let revoke = url("google_token_origin", &format!("{token}/revoke"))?;
            let scopes = or_default(vars, "google_scopes", defaults::GOOGLE_SCOPES)?;
            Ok(OAuthSettings {
                client_id,
                client_secret,
                auth: url("google_oauth_origin", &format!("{auth}/o/oauth2/v2/auth"))?,
                token: url("google_token_origin", &format!("{token}/token"))?,
                revoke,
                redirect: url("google_redirect_uri", &redirect)?,
                scopes: scopes.split_whitespace().map(str::to_owned).collect(),
            })
        })
    }
}
