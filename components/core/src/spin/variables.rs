//! Spin's `fermyon:spin/variables`.

use crate::config::{ConfigError, Variables};

/// Spin's `fermyon:spin/variables`: values resolved from the manifest and the provider.
pub struct SpinVariables;

impl Variables for SpinVariables {
    fn get(&self, name: &str) -> Result<Option<String>, ConfigError> {
        use spin_sdk::variables::Error;
        match spin_sdk::variables::get(name) {
            Ok(v) => Ok(Some(v)),
            Err(Error::Undefined(_)) | Err(Error::InvalidName(_)) => Ok(None),
            Err(Error::Provider(_)) | Err(Error::Other(_)) => {
                Err(ConfigError::Provider(name.to_owned()))
            }
        }
    }
}
