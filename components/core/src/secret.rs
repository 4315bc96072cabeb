//! Secrets as values that cannot be printed by accident.

use crate::config::ConfigError;

/// A secret string (token, key, code, verifier). `Debug` and `Display` print `[redacted]`;
/// the value is reached only through [`Secret::expose`], so every use is greppable.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// `token_encryption_key`: 32 random bytes, decoded from base64 only here. The tokens'
/// cipher and the channel tokens' MAC key are derived from it.
pub struct EncryptionKey([u8; 32]);

impl EncryptionKey {
    /// From 32 bytes in standard base64 (`openssl rand -base64 32`).
    pub fn from_base64(key: &Secret) -> Result<Self, ConfigError> {
        use base64::Engine as _;
        let invalid = ConfigError::Invalid {
            name: "token_encryption_key",
            reason: "must be 32 bytes encoded in base64 (openssl rand -base64 32)",
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(key.expose().trim())
            .map_err(|_| invalid.clone())?;
        Ok(EncryptionKey(bytes.try_into().map_err(|_| invalid)?))
    }

    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EncryptionKey([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_the_value() {
        let s = Secret::new("hunter2");
        assert_eq!(
            format!("{s:?} {s} {:?}", vec![s.clone()]),
            "[redacted] [redacted] [[redacted]]"
        );
        assert_eq!(s.expose(), "hunter2");
    }
}
