//! What the work of a route or a message runs on: the runtime's variables, outbound HTTP
//! and Redis. Spin provides them in a component (`spin`), `testing` in unit tests.

use crate::config::Variables;
use crate::outbound::Outbound;
use crate::store::{Store, StoreError, Stream};

/// The runtime pieces every operation needs, borrowed for one request or message.
pub struct Services<'a, O: Outbound> {
    pub vars: &'a dyn Variables,
    pub http: &'a O,
    pub store: &'a dyn Store,
}

/// A runtime the HTTP edge and the updates handler run on: Spin in a component.
pub trait Runtime: 'static {
    type Http: Outbound;
    type Redis: Store + Stream;
    fn vars(&self) -> &dyn Variables;
    fn http(&self) -> &Self::Http;
    /// A connection to `redis_address`.
    fn connect(&self) -> Result<Self::Redis, StoreError>;
}
