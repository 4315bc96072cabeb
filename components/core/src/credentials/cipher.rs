//! Tokens at rest: AES-256-GCM, stored as `v1:` + base64(nonce ‖ ciphertext). A fresh
//! random nonce per encryption; the user id is bound in as associated data, so a
//! ciphertext copied onto another user's record does not decrypt.

use crate::config::ConfigError;
use crate::secret::{EncryptionKey, Sealed};
use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

const PREFIX: &str = "v1:";
const NONCE_LEN: usize = 12;

pub struct TokenCipher(Aes256Gcm);

impl std::fmt::Debug for TokenCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenCipher([redacted])")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("not a v1 ciphertext")]
    Format,
    #[error("ciphertext does not authenticate with this key and user")]
    Tampered,
}

impl TokenCipher {
    /// The cipher under `token_encryption_key`.
    pub fn new(key: &EncryptionKey) -> Self {
        TokenCipher(Aes256Gcm::new(&(*key.secret()).into()))
    }

    /// From `token_encryption_key` as configured: 32 bytes in standard base64.
    pub fn from_base64_key(key: &str) -> Result<Self, ConfigError> {
        EncryptionKey::from_base64(key).map(|k| Self::new(&k))
    }

    pub fn encrypt(&self, plaintext: &impl Sealed, user_id: &str) -> Result<String, CryptoError> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ct = self
            .0
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext.reveal().as_bytes(),
                    aad: user_id.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Format)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(format!("{PREFIX}{}", STANDARD.encode(out)))
    }

    pub fn decrypt<T: Sealed>(&self, stored: &str, user_id: &str) -> Result<T, CryptoError> {
        let b64 = stored.strip_prefix(PREFIX).ok_or(CryptoError::Format)?;
        let raw = STANDARD.decode(b64).map_err(|_| CryptoError::Format)?;
        if raw.len() < NONCE_LEN + 16 {
            return Err(CryptoError::Format);
        }
        let (nonce, ct) = raw.split_at(NONCE_LEN);
        let plain = self
            .0
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: user_id.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Tampered)?;
        String::from_utf8(plain)
            .map(T::from_revealed)
            .map_err(|_| CryptoError::Format)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::AccessToken;

    fn cipher() -> TokenCipher {
        TokenCipher::from_base64_key(&STANDARD.encode([7u8; 32])).unwrap()
    }

    #[test]
    fn round_trips_with_a_fresh_nonce_each_time() {
        let c = cipher();
        let t = AccessToken::new("ya29.secret-token".into());
        let a = c.encrypt(&t, "u1").unwrap();
        let b = c.encrypt(&t, "u1").unwrap();
        assert!(a.starts_with("v1:"));
        assert_ne!(a, b, "nonces must differ");
        assert!(!a.contains("secret-token"));
        let back = |enc: &str| c.decrypt::<AccessToken>(enc, "u1").unwrap().into_secret();
        assert_eq!(back(&a), *t.secret());
        assert_eq!(back(&b), *t.secret());
    }

    #[test]
    fn tampering_other_users_and_other_keys_fail() {
        let c = cipher();
        let enc = c.encrypt(&AccessToken::new("tok".into()), "u1").unwrap();
        let mut raw = STANDARD.decode(&enc[3..]).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        let tampered = format!("v1:{}", STANDARD.encode(&raw));
        assert_eq!(
            c.decrypt::<AccessToken>(&tampered, "u1").err(),
            Some(CryptoError::Tampered)
        );
        assert_eq!(
            c.decrypt::<AccessToken>(&enc, "u2").err(),
            Some(CryptoError::Tampered)
        );
        let other = TokenCipher::from_base64_key(&STANDARD.encode([8u8; 32])).unwrap();
        assert_eq!(
            other.decrypt::<AccessToken>(&enc, "u1").err(),
            Some(CryptoError::Tampered)
        );
        for bad in ["", "v2:abc", "v1:!!!", "v1:AAAA", "tok"] {
            assert_eq!(
                c.decrypt::<AccessToken>(bad, "u1").err(),
                Some(CryptoError::Format),
                "{bad}"
            );
        }
    }

    #[test]
    fn bad_keys_are_a_clear_config_error() {
        for bad in [
            "",
            "not base64!",
            &STANDARD.encode([1u8; 16]),
            &STANDARD.encode([1u8; 33]),
        ] {
            let e = TokenCipher::from_base64_key(bad).unwrap_err();
            assert!(e.to_string().contains("token_encryption_key"), "{e}");
            assert!(!e.to_string().contains(bad) || bad.is_empty());
        }
    }

    #[test]
    fn debug_is_redacted() {
        assert_eq!(format!("{:?}", cipher()), "TokenCipher([redacted])");
    }
}
