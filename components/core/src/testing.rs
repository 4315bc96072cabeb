//! Unit-test helpers shared by every module: a scripted outbound HTTP, a tiny executor,
//! an in-memory store and one that fails on command, an outbound call that never answers.

use crate::outbound::{HttpRequest, HttpResponse, Outbound, TransportError};
use crate::store::Store;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::time::Duration;

/// The variables of an OAuth client at a test origin.
pub fn oauth_vars() -> std::collections::HashMap<String, String> {
    [
        ("google_client_id", "cid"),
        ("google_client_secret", "csecret"),
        ("google_redirect_uri", "https://app.example/auth/callback"),
        ("google_oauth_origin", "https://accounts.example"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// The OAuth client of [`oauth_vars`].
pub fn oauth() -> crate::google::oauth::OAuth {
    let vars = oauth_vars();
    crate::google::oauth::OAuth::new(crate::config::Config::new(&vars).oauth().unwrap())
}

/// A cipher under a fixed key of `byte`s.
pub fn cipher(byte: u8) -> crate::credentials::cipher::TokenCipher {
    crate::credentials::cipher::TokenCipher::new(&crate::secret::EncryptionKey::new([byte; 32]))
}

/// The cache's cipher under the same key as [`cipher`].
pub fn cache_cipher(byte: u8) -> crate::credentials::cipher::CacheCipher {
    crate::credentials::cipher::CacheCipher::new(&crate::secret::EncryptionKey::new([byte; 32]))
}

/// Answers from a script and records requests; sleeps are instant.
#[derive(Default)]
pub struct Scripted {
    pub answers: RefCell<VecDeque<Result<(u16, String), TransportError>>>,
    pub seen: RefCell<Vec<HttpRequest>>,
    pub slept: RefCell<Vec<Duration>>,
}

impl Scripted {
    pub fn answer(self, status: u16, body: &str) -> Self {
        self.answers
            .borrow_mut()
            .push_back(Ok((status, body.into())));
        self
    }
    pub fn fail(self, e: TransportError) -> Self {
        self.answers.borrow_mut().push_back(Err(e));
        self
    }
    /// A first try that times out, then a success that must not be asked for.
    pub fn timing_out() -> Self {
        Scripted::default()
            .fail(TransportError::Timeout)
            .answer(200, "{}")
    }
    /// Asserts that exactly one request went out and nothing waited for a retry.
    pub fn assert_tried_once(&self) {
        assert_eq!(self.seen.borrow().len(), 1);
        assert!(self.slept.borrow().is_empty());
    }
}

impl Outbound for Scripted {
    async fn send(&self, req: HttpRequest) -> Result<HttpResponse, TransportError> {
        self.seen.borrow_mut().push(req);
        let (status, body) = self
            .answers
            .borrow_mut()
            .pop_front()
            .unwrap_or(Ok((599, String::new())))?;
        let mut r = http::Response::new(body.into_bytes());
        *r.status_mut() = http::StatusCode::from_u16(status).unwrap();
        Ok(r)
    }
    async fn sleep(&self, d: Duration) {
        self.slept.borrow_mut().push(d);
    }
}

pub fn block<F: std::future::Future>(f: F) -> F::Output {
    futures_lite_block_on(f)
}

/// A minimal executor for futures that never wait on I/O (everything here is scripted).
fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
    use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};
    fn noop(_: *const ()) {}
    fn clone(p: *const ()) -> RawWaker {
        RawWaker::new(p, &VTABLE)
    }
    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, noop, noop, noop);
    // SAFETY: the vtable's functions do nothing with the pointer.
    let waker = unsafe { Waker::from_raw(RawWaker::new(std::ptr::null(), &VTABLE)) };
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// An in-memory [`Store`] for unit tests (no TTLs: tests that need expiry use Redis).
#[derive(Default)]
pub struct MemoryStore {
    pub map: std::cell::RefCell<std::collections::HashMap<String, Vec<u8>>>,
    pub published: std::cell::RefCell<Vec<(String, Vec<u8>)>>,
    pub stream: std::cell::RefCell<Vec<(String, Vec<u8>)>>,
    pub lists: std::cell::RefCell<std::collections::HashMap<String, Vec<Vec<u8>>>>,
}

impl Store for MemoryStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, crate::store::StoreError> {
        Ok(self.map.borrow().get(key).cloned())
    }
    fn set_ex(&self, key: &str, value: &[u8], _: u64) -> Result<(), crate::store::StoreError> {
        self.map.borrow_mut().insert(key.into(), value.to_vec());
        Ok(())
    }
    fn set_nx_px(&self, key: &str, value: &[u8], _: u64) -> Result<bool, crate::store::StoreError> {
        let mut m = self.map.borrow_mut();
        if m.contains_key(key) {
            return Ok(false);
        }
        m.insert(key.into(), value.to_vec());
        Ok(true)
    }
    fn get_del(&self, key: &str) -> Result<Option<Vec<u8>>, crate::store::StoreError> {
        Ok(self.map.borrow_mut().remove(key))
    }
    fn del(&self, key: &str) -> Result<(), crate::store::StoreError> {
        self.map.borrow_mut().remove(key);
        Ok(())
    }
    fn del_if_eq(&self, key: &str, value: &[u8]) -> Result<(), crate::store::StoreError> {
        let mut m = self.map.borrow_mut();
        if m.get(key).map(Vec::as_slice) == Some(value) {
            m.remove(key);
        }
        Ok(())
    }
    fn publish(&self, channel: &str, payload: &[u8]) -> Result<(), crate::store::StoreError> {
        self.published
            .borrow_mut()
            .push((channel.into(), payload.to_vec()));
        Ok(())
    }
    fn xadd_capped(
        &self,
        stream: &str,
        _: u64,
        _: &str,
        value: &[u8],
    ) -> Result<(), crate::store::StoreError> {
        self.stream
            .borrow_mut()
            .push((stream.into(), value.to_vec()));
        Ok(())
    }
    fn lpush_capped(
        &self,
        key: &str,
        value: &[u8],
        _: u64,
    ) -> Result<(), crate::store::StoreError> {
        self.lists
            .borrow_mut()
            .entry(key.into())
            .or_default()
            .insert(0, value.to_vec());
        Ok(())
    }
    fn lrange(&self, key: &str, n: u64) -> Result<(Vec<Vec<u8>>, u64), crate::store::StoreError> {
        let l = self.lists.borrow();
        let all = l.get(key).cloned().unwrap_or_default();
        let len = all.len() as u64;
        Ok((all.into_iter().take(n as usize).collect(), len))
    }
    fn oldest(&self, key: &str) -> Result<Option<Vec<u8>>, crate::store::StoreError> {
        Ok(self.lists.borrow().get(key).and_then(|l| l.last().cloned()))
    }
    fn remove_oldest_eq(&self, key: &str, value: &[u8]) -> Result<bool, crate::store::StoreError> {
        let mut lists = self.lists.borrow_mut();
        let Some(l) = lists.get_mut(key) else {
            return Ok(false);
        };
        match l.iter().rposition(|v| v == value) {
            Some(i) => {
                l.remove(i);
                Ok(true)
            }
            None => Ok(false),
        }
    }
    fn rotate_oldest_if_eq(
        &self,
        key: &str,
        value: &[u8],
    ) -> Result<bool, crate::store::StoreError> {
        let mut lists = self.lists.borrow_mut();
        let Some(l) = lists.get_mut(key) else {
            return Ok(false);
        };
        if l.last().map(Vec::as_slice) != Some(value) {
            return Ok(false);
        }
        l.rotate_right(1);
        Ok(true)
    }
    fn incr_ex(&self, key: &str, _: u64) -> Result<i64, crate::store::StoreError> {
        let mut m = self.map.borrow_mut();
        let n = m
            .get(key)
            .and_then(|v| String::from_utf8(v.clone()).ok())
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(0)
            + 1;
        m.insert(key.into(), n.to_string().into_bytes());
        Ok(n)
    }
}

/// A [`MemoryStore`] whose next XADD, PUBLISH, SET EX or LPUSH calls fail, as when Redis
/// goes away in the middle of a request.
#[derive(Default)]
pub struct Flaky {
    pub inner: MemoryStore,
    pub xadd: std::cell::Cell<u32>,
    pub publish: std::cell::Cell<u32>,
    pub set_ex: std::cell::Cell<u32>,
    pub lpush: std::cell::Cell<u32>,
    /// When set, that many more list changes other than LPUSH (the LREM and the rotation
    /// of a replay) succeed; every one after them fails (Redis gone for good).
    pub list_changes_left: std::cell::Cell<Option<u32>>,
}

impl Flaky {
    fn list_change(&self) -> Result<(), crate::store::StoreError> {
        match self.list_changes_left.get() {
            None => Ok(()),
            Some(0) => Err(crate::store::StoreError::Failed { op: "LREM" }),
            Some(n) => {
                self.list_changes_left.set(Some(n - 1));
                Ok(())
            }
        }
    }
}

fn take(c: &std::cell::Cell<u32>) -> Result<(), crate::store::StoreError> {
    if c.get() > 0 {
        c.set(c.get() - 1);
        return Err(crate::store::StoreError::Failed { op: "SET" });
    }
    Ok(())
}

impl Store for Flaky {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, crate::store::StoreError> {
        self.inner.get(key)
    }
    fn set_ex(&self, key: &str, value: &[u8], ttl: u64) -> Result<(), crate::store::StoreError> {
        take(&self.set_ex)?;
        self.inner.set_ex(key, value, ttl)
    }
    fn set_nx_px(
        &self,
        key: &str,
        value: &[u8],
        ttl: u64,
    ) -> Result<bool, crate::store::StoreError> {
        self.inner.set_nx_px(key, value, ttl)
    }
    fn get_del(&self, key: &str) -> Result<Option<Vec<u8>>, crate::store::StoreError> {
        self.inner.get_del(key)
    }
    fn del(&self, key: &str) -> Result<(), crate::store::StoreError> {
        self.inner.del(key)
    }
    fn del_if_eq(&self, key: &str, value: &[u8]) -> Result<(), crate::store::StoreError> {
        self.inner.del_if_eq(key, value)
    }
    fn publish(&self, channel: &str, payload: &[u8]) -> Result<(), crate::store::StoreError> {
        take(&self.publish)?;
        self.inner.publish(channel, payload)
    }
    fn xadd_capped(
        &self,
        s: &str,
        max: u64,
        f: &str,
        v: &[u8],
    ) -> Result<(), crate::store::StoreError> {
        take(&self.xadd)?;
        self.inner.xadd_capped(s, max, f, v)
    }
    fn incr_ex(&self, key: &str, ttl: u64) -> Result<i64, crate::store::StoreError> {
        self.inner.incr_ex(key, ttl)
    }
    fn lpush_capped(
        &self,
        key: &str,
        value: &[u8],
        max: u64,
    ) -> Result<(), crate::store::StoreError> {
        take(&self.lpush)?;
        self.inner.lpush_capped(key, value, max)
    }
    fn lrange(&self, key: &str, n: u64) -> Result<(Vec<Vec<u8>>, u64), crate::store::StoreError> {
        self.inner.lrange(key, n)
    }
    fn oldest(&self, key: &str) -> Result<Option<Vec<u8>>, crate::store::StoreError> {
        self.inner.oldest(key)
    }
    fn remove_oldest_eq(&self, key: &str, value: &[u8]) -> Result<bool, crate::store::StoreError> {
        self.list_change()?;
        self.inner.remove_oldest_eq(key, value)
    }
    fn rotate_oldest_if_eq(
        &self,
        key: &str,
        value: &[u8],
    ) -> Result<bool, crate::store::StoreError> {
        self.list_change()?;
        self.inner.rotate_oldest_if_eq(key, value)
    }
}

/// An outbound call that never answers (the request times out, the instance is gone).
pub struct Hangs;

impl Outbound for Hangs {
    async fn send(&self, _: HttpRequest) -> Result<HttpResponse, TransportError> {
        std::future::pending().await
    }
    async fn sleep(&self, _: Duration) {}
}

/// A runtime for unit tests of the HTTP edge: variables from a map, scripted outbound
/// HTTP, an in-memory store (a fresh one per connection).
#[derive(Default)]
pub struct TestRuntime {
    pub vars: std::collections::HashMap<String, String>,
    pub http: Scripted,
}

impl crate::services::Runtime for TestRuntime {
    type Http = Scripted;
    type Redis = MemoryStore;
    fn vars(&self) -> &dyn crate::config::Variables {
        &self.vars
    }
    fn http(&self) -> &Scripted {
        &self.http
    }
    fn connect(&self, _: &str) -> Result<MemoryStore, crate::store::StoreError> {
        Ok(MemoryStore::default())
    }
}

impl crate::store::Stream for MemoryStore {
    fn ensure_group(&self, _: &str, _: &str) -> Result<(), crate::store::StoreError> {
        Ok(())
    }
    fn read_new(
        &self,
        _: &str,
        _: &str,
        _: &str,
        _: u64,
    ) -> Result<Vec<(String, Vec<u8>)>, crate::store::StoreError> {
        Ok(Vec::new())
    }
    fn claim_stale(
        &self,
        _: &str,
        _: &str,
        _: &str,
        _: u64,
        _: u64,
    ) -> Result<Vec<(String, Vec<u8>)>, crate::store::StoreError> {
        Ok(Vec::new())
    }
    fn ack(&self, _: &str, _: &str, _: &str) -> Result<(), crate::store::StoreError> {
        Ok(())
    }
}

/// A `calendar.event.created` CloudEvent of user `u1`.
pub fn created_event() -> crate::delivery::CloudEvent {
    let user = crate::model::user_id::UserId::parse("u1").unwrap();
    crate::delivery::CloudEvent::new(
        crate::delivery::EventType::EventCreated,
        &user,
        serde_json::json!({}),
    )
}

/// Variables with a `token_encryption_key` (32 bytes of 7).
pub fn key_vars() -> std::collections::HashMap<String, String> {
    use base64::Engine as _;
    [(
        "token_encryption_key".to_string(),
        base64::engine::general_purpose::STANDARD.encode([7u8; 32]),
    )]
    .into()
}

/// [`key_vars`] with the REST service at `http://rest`.
pub fn rest_vars() -> std::collections::HashMap<String, String> {
    let mut vars = key_vars();
    vars.insert("rest_service_url".into(), "http://rest".into());
    vars
}
