//! Tokens at rest: AES-256-GCM, stored as `v1:` + base64(nonce ‖ ciphertext). A fresh
//! random nonce per encryption; the user id is bound in as associated data, so a
//! ciphertext copied onto another user's record does not decrypt.
//!
//! The access-token cache (the key-value store, read on every request) uses the same
//! format with XChaCha20-Poly1305 and the prefix `c1:`, under a key of its own derived
//! from `token_encryption_key` (HChaCha20 of a fixed label): in wasm, which has no AES
//! instructions, AES-GCM's software rounds were a quarter of a cached `GET`'s work.

use crate::config::ConfigError;
use crate::secret::{EncryptionKey, Sealed};
use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::XChaCha20Poly1305;

/// An AEAD and its stored format: `prefix` + base64(nonce ‖ ciphertext), with the user
/// id as associated data. [`TokenCipher`] and [`CacheCipher`] are its two instances.
pub struct Cipher<A> {
    aead: A,
    prefix: &'static str,
    /// What `Debug` prints, before `([redacted])`.
    name: &'static str,
}

/// The cipher of tokens at rest (the REST service's records): AES-256-GCM, `v1:`.
pub type TokenCipher = Cipher<Aes256Gcm>;

/// The cipher of the access-token cache: XChaCha20-Poly1305, `c1:`.
pub type CacheCipher = Cipher<XChaCha20Poly1305>;

impl<A> std::fmt::Debug for Cipher<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}([redacted])", self.name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("not a ciphertext of this format")]
    Format,
    #[error("ciphertext does not authenticate with this key and user")]
    Tampered,
}

impl<A: Aead + AeadCore> Cipher<A> {
    pub fn encrypt(&self, plaintext: &impl Sealed, user_id: &str) -> Result<String, CryptoError> {
        let nonce = A::generate_nonce(&mut OsRng);
        let ct = self
            .aead
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
        Ok(format!("{}{}", self.prefix, STANDARD.encode(out)))
    }

    pub fn decrypt<T: Sealed>(&self, stored: &str, user_id: &str) -> Result<T, CryptoError> {
        use aes_gcm::aead::generic_array::typenum::Unsigned as _;
        let b64 = stored
            .strip_prefix(self.prefix)
            .ok_or(CryptoError::Format)?;
        let raw = STANDARD.decode(b64).map_err(|_| CryptoError::Format)?;
        let nonce_len = A::NonceSize::USIZE;
        if raw.len() < nonce_len + 16 {
            return Err(CryptoError::Format);
        }
        let (nonce, ct) = raw.split_at(nonce_len);
        let plain = self
            .aead
            .decrypt(
                nonce.into(),
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

impl TokenCipher {
    /// The cipher under `token_encryption_key`.
    pub fn new(key: &EncryptionKey) -> Self {
        Cipher {
            aead: Aes256Gcm::new(&(*key.secret()).into()),
            prefix: "v1:",
            name: "TokenCipher",
        }
    }

    /// From `token_encryption_key` as configured: 32 bytes in standard base64.
    pub fn from_base64_key(key: &str) -> Result<Self, ConfigError> {
        EncryptionKey::from_base64(key).map(|k| Self::new(&k))
    }
}

/// What the cache's key is derived with (HChaCha20's 16-byte input).
const CACHE_KEY_LABEL: &[u8; 16] = b"gcal:token-cache";

impl CacheCipher {
    /// The cache's cipher, under a key derived from `token_encryption_key`: a PRF
    /// output, so it says nothing about the key of the tokens at rest.
    pub fn new(key: &EncryptionKey) -> Self {
        let derived = chacha20::hchacha::<chacha20::cipher::consts::U10>(
            key.secret().into(),
            CACHE_KEY_LABEL.into(),
        );
        Cipher {
            aead: XChaCha20Poly1305::new(&derived),
            prefix: "c1:",
            name: "CacheCipher",
        }
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
        let key = EncryptionKey::new([7u8; 32]);
        assert_eq!(
            format!("{:?}", CacheCipher::new(&key)),
            "CacheCipher([redacted])"
        );
    }

    /// The cache's cipher: its own format and its own (derived) key, so neither cipher
    /// opens the other's ciphertexts, and a ciphertext made with the configured key
    /// itself does not open either.
    #[test]
    fn the_cache_cipher_round_trips_and_keeps_to_itself() {
        let key = EncryptionKey::new([7u8; 32]);
        let c = CacheCipher::new(&key);
        let t = AccessToken::new("ya29.secret-token".into());
        let a = c.encrypt(&t, "u1").unwrap();
        let b = c.encrypt(&t, "u1").unwrap();
        assert!(a.starts_with("c1:") && !a.contains("secret-token"), "{a}");
        assert_ne!(a, b, "nonces must differ");
        let back = c.decrypt::<AccessToken>(&a, "u1").unwrap();
        assert_eq!(back.secret(), t.secret());
        assert_eq!(
            c.decrypt::<AccessToken>(&a, "u2").err(),
            Some(CryptoError::Tampered)
        );
        let other = CacheCipher::new(&EncryptionKey::new([8u8; 32]));
        assert_eq!(
            other.decrypt::<AccessToken>(&a, "u1").err(),
            Some(CryptoError::Tampered)
        );
        // The two formats do not mix.
        let at_rest = cipher().encrypt(&t, "u1").unwrap();
        assert_eq!(
            c.decrypt::<AccessToken>(&at_rest, "u1").err(),
            Some(CryptoError::Format)
        );
        assert_eq!(
            cipher().decrypt::<AccessToken>(&a, "u1").err(),
            Some(CryptoError::Format)
        );
        // Sealed under the configured key directly (no derivation): refused.
        let raw = Cipher {
            aead: XChaCha20Poly1305::new(&(*key.secret()).into()),
            prefix: "c1:",
            name: "CacheCipher",
        }
        .encrypt(&t, "u1")
        .unwrap();
        assert_eq!(
            c.decrypt::<AccessToken>(&raw, "u1").err(),
            Some(CryptoError::Tampered)
        );
    }
}
