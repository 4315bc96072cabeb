//! One type per secret, as the `oauth2` crate does it (and its own types where it has
//! them: [`AccessToken`], [`RefreshToken`], [`AuthorizationCode`], [`PkceCodeVerifier`],
//! [`ClientSecret`]). `Debug` prints `Name([redacted])`, there is no `Display`, and the
//! value is reached only through `secret()`, so every use is greppable. Distinct types
//! mean two secrets cannot be passed in each other's place.

use crate::config::ConfigError;
pub use oauth2::{AccessToken, AuthorizationCode, ClientSecret, PkceCodeVerifier, RefreshToken};

/// A secret type of ours: `new`, `secret`, and a redacted `Debug`.
macro_rules! secret_type {
    ($(#[$attr:meta])* $name:ident($type:ty)) => {
        $(#[$attr])*
        pub struct $name($type);

        impl $name {
            pub fn new(value: $type) -> Self {
                $name(value)
            }

            pub fn secret(&self) -> &$type {
                &self.0
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }
    };
}

secret_type!(
    /// One of the accepted `api_tokens`: what a client presents as its bearer token.
    ApiToken(String)
);

secret_type!(
    /// `rest_service_token`: our bearer token at the user-data REST service.
    #[derive(Clone)]
    RestServiceToken(String)
);

secret_type!(
    /// `token_encryption_key`, decoded: the tokens' cipher and the channel tokens' MAC key
    /// are derived from it.
    EncryptionKey([u8; 32])
);

secret_type!(
    /// The key of the channel tokens' HMAC, derived from the [`EncryptionKey`].
    ChannelMacKey([u8; 32])
);

secret_type!(
    /// The token of a push channel: Google echoes it in `X-Goog-Channel-Token`.
    ChannelToken(String)
);

impl EncryptionKey {
    /// From 32 bytes in standard base64 (`openssl rand -base64 32`): the one place the
    /// configured key is decoded.
    pub fn from_base64(text: &str) -> Result<Self, ConfigError> {
        use base64::Engine as _;
        let invalid = ConfigError::Invalid {
            name: "token_encryption_key",
            reason: "must be 32 bytes encoded in base64 (openssl rand -base64 32)",
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| invalid.clone())?;
        Ok(EncryptionKey(bytes.try_into().map_err(|_| invalid)?))
    }
}

/// A secret text that is stored encrypted (`credentials::cipher`).
pub trait Sealed: Sized {
    fn reveal(&self) -> &str;
    fn from_revealed(text: String) -> Self;
}

macro_rules! sealed {
    ($($name:ident),*) => {
        $(impl Sealed for $name {
            fn reveal(&self) -> &str {
                self.secret()
            }
            fn from_revealed(text: String) -> Self {
                $name::new(text)
            }
        })*
    };
}

sealed!(AccessToken, RefreshToken, PkceCodeVerifier);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_names_the_type_and_never_prints_the_value() {
        let printed = [
            format!("{:?}", AccessToken::new("hunter2".into())),
            format!("{:?}", RefreshToken::new("hunter2".into())),
            format!("{:?}", AuthorizationCode::new("hunter2".into())),
            format!("{:?}", PkceCodeVerifier::new("hunter2".into())),
            format!("{:?}", ClientSecret::new("hunter2".into())),
            format!("{:?}", ApiToken::new("hunter2".into())),
            format!("{:?}", RestServiceToken::new("hunter2".into())),
            format!("{:?}", EncryptionKey::new([7; 32])),
            format!("{:?}", ChannelMacKey::new([7; 32])),
            format!("{:?}", ChannelToken::new("hunter2".into())),
            format!("{:?}", Some(vec![ApiToken::new("hunter2".into())])),
        ];
        assert_eq!(
            printed,
            [
                "AccessToken([redacted])",
                "RefreshToken([redacted])",
                "AuthorizationCode([redacted])",
                "PkceCodeVerifier([redacted])",
                "ClientSecret([redacted])",
                "ApiToken([redacted])",
                "RestServiceToken([redacted])",
                "EncryptionKey([redacted])",
                "ChannelMacKey([redacted])",
                "ChannelToken([redacted])",
                "Some([ApiToken([redacted])])",
            ]
        );
    }

    #[test]
    fn the_key_is_32_bytes_of_base64() {
        use base64::Engine as _;
        let good = base64::engine::general_purpose::STANDARD.encode([1u8; 32]);
        assert_eq!(
            EncryptionKey::from_base64(&good).unwrap().secret(),
            &[1u8; 32]
        );
        for bad in ["", "not base64!", "AQID"] {
            let e = EncryptionKey::from_base64(bad).unwrap_err();
            assert!(e.to_string().contains("token_encryption_key"), "{e}");
        }
    }

    #[test]
    fn sealed_texts_round_trip() {
        let t = RefreshToken::from_revealed("r1".into());
        assert_eq!(t.reveal(), "r1");
    }
}
