//! What the work of a route or a message runs on: its configuration, outbound HTTP and
//! Redis. Spin provides them in a component (`spin`), `testing` in unit tests.

use crate::config::{Config, Variables};
use crate::outbound::Outbound;
use crate::store::{Store, StoreError, Stream};

/// The runtime pieces every operation needs, borrowed for one request or message.
pub struct Services<'a, O: Outbound> {
    pub cfg: &'a Config<'a>,
    pub http: &'a O,
    pub store: &'a dyn Store,
}

/// A runtime the HTTP edge and the updates handler run on: Spin in a component.
pub trait Runtime: 'static {
    type Http: Outbound;
    type Redis: Store + Stream;
    /// Where [`Config`] reads from, once per request or message.
    fn vars(&self) -> &dyn Variables;
    fn http(&self) -> &Self::Http;
    /// A connection to `address` (the configured `redis_address`).
    fn connect(&self, address: &str) -> Result<Self::Redis, StoreError>;

    /// Redis for a request under `cfg`: its `redis_address`, which a runtime may read only
    /// when a command first needs it (Spin's does: a request that only uses the key-value
    /// store never reads the variable).
    fn connect_configured(&self, cfg: &Config<'_>) -> Result<Self::Redis, StoreError> {
        self.connect(cfg.redis_address().map_err(StoreError::Address)?)
    }
}
