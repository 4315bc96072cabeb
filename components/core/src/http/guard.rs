//! What a route asks before its handler runs: nothing (`public`), the API token
//! (`token`), or the user-scoped frame (`user`): the API token, the `user_id` of the path,
//! Redis and the per-user rate limit, whose headers go on whatever the route answers.

use super::api_token;
use super::rate_limit;
use super::request::Request;
use super::request_id::RequestId;
use super::response;
use super::router::Reply;
use crate::config::Config;
use crate::http::problem::Problem;
use crate::log;
use crate::model::user_id::UserId;
use crate::services::{Runtime, Services};
use crate::store::Store;
use std::future::Future;
use std::pin::Pin;

/// The request as a handler sees it.
pub struct Ctx<'a, R: Runtime> {
    pub rt: &'a R,
    /// The request's configuration, read as the route needs it.
    pub cfg: &'a Config<'a>,
    pub req: &'a Request,
    pub rid: &'a RequestId,
    pub(super) params: &'a [(&'static str, String)],
}

impl<R: Runtime> Clone for Ctx<'_, R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<R: Runtime> Copy for Ctx<'_, R> {}

impl<'a, R: Runtime> Ctx<'a, R> {
    pub fn new(rt: &'a R, cfg: &'a Config<'a>, req: &'a Request, rid: &'a RequestId) -> Self {
        Ctx {
            rt,
            cfg,
            req,
            rid,
            params: &[],
        }
    }

    /// A path parameter of the route, raw (still percent-encoded); "" when absent.
    pub fn param(&self, name: &str) -> &'a str {
        self.params
            .iter()
            .find(|(n, _)| *n == name)
            .map_or("", |(_, v)| v.as_str())
    }

    pub fn query(&self) -> &'a str {
        self.req.uri().query().unwrap_or("")
    }

    pub fn body(&self) -> &'a [u8] {
        self.req.body()
    }

    /// A header as text; `None` when absent or not text.
    pub fn header(&self, name: &str) -> Option<&'a str> {
        super::request::header_str(self.req.headers(), name)
    }

    /// A Redis connection, to `redis_address`.
    pub fn connect(&self) -> Result<R::Redis, Problem> {
        Ok(self.rt.connect_configured(self.cfg)?)
    }

    /// The services over `store` (the caller's Redis connection).
    pub fn services<'s>(&'s self, store: &'s dyn Store) -> Services<'s, R::Http> {
        Services {
            cfg: self.cfg,
            http: self.rt.http(),
            store,
        }
    }
}

/// A request inside the user-scoped frame.
pub struct UserCtx<'a, R: Runtime> {
    pub cx: Ctx<'a, R>,
    pub svc: &'a Services<'a, R::Http>,
    pub user: &'a UserId,
}

type BoxReply<'a> = Pin<Box<dyn Future<Output = Reply> + 'a>>;

/// A handler trait over a context type, implemented by every `async fn` taking it.
macro_rules! handler_trait {
    ($(#[$doc:meta])* $name:ident($ctx:ident)) => {
        $(#[$doc])*
        pub trait $name<R: Runtime> {
            fn call<'a>(&'a self, cx: $ctx<'a, R>) -> BoxReply<'a>;
        }

        impl<R: Runtime, F> $name<R> for F
        where
            F: for<'a> AsyncFn($ctx<'a, R>) -> Reply,
        {
            fn call<'a>(&'a self, cx: $ctx<'a, R>) -> BoxReply<'a> {
                Box::pin(self(cx))
            }
        }
    };
}

handler_trait!(
    /// A route's handler, on the request.
    Handler(Ctx)
);
handler_trait!(
    /// A user-scoped route's handler, inside the frame.
    UserHandler(UserCtx)
);

/// A handler with what it asks first.
pub enum Endpoint<R: Runtime> {
    Public(Box<dyn Handler<R>>),
    Token(Box<dyn Handler<R>>),
    User(Box<dyn UserHandler<R>>),
}

/// No check: the browser's callback, Google's push, health.
pub fn public<R: Runtime>(h: impl Handler<R> + 'static) -> Endpoint<R> {
    Endpoint::Public(Box::new(h))
}

/// The API token first.
pub fn token<R: Runtime>(h: impl Handler<R> + 'static) -> Endpoint<R> {
    Endpoint::Token(Box::new(h))
}

/// The user-scoped frame around the handler; the user is the route's `user_id`.
pub fn user<R: Runtime>(h: impl UserHandler<R> + 'static) -> Endpoint<R> {
    Endpoint::User(Box::new(h))
}

impl<R: Runtime> Endpoint<R> {
    /// What the endpoint asks first, alone: the API token for `token` and `user`.
    pub(super) fn check(&self, cx: &Ctx<'_, R>) -> Result<(), Problem> {
        match self {
            Endpoint::Public(_) => Ok(()),
            Endpoint::Token(_) | Endpoint::User(_) => api_token::authorize(cx.cfg, cx.req),
        }
    }

    pub(super) async fn call(&self, cx: Ctx<'_, R>) -> Reply {
        match self {
            Endpoint::Public(h) => h.call(cx).await,
            Endpoint::Token(h) => {
                api_token::authorize(cx.cfg, cx.req)?;
                h.call(cx).await
            }
            Endpoint::User(h) => user_scoped(cx, h.as_ref()).await,
        }
    }
}

/// The frame of every user-scoped API route.
async fn user_scoped<R: Runtime>(cx: Ctx<'_, R>, h: &dyn UserHandler<R>) -> Reply {
    api_token::authorize(cx.cfg, cx.req)?;
    let user = UserId::from_path_segment(cx.param("user_id"))?;
    log::set_user(user.as_str());
    let redis = cx.connect()?;
    let budget = match rate_limit::check(cx.cfg, &redis, &user) {
        Ok(b) => b,
        Err((p, b)) => {
            let mut r = response::problem(&p, cx.rid);
            rate_limit::headers(&mut r, b);
            return Ok(r);
        }
    };
    let svc = cx.services(&redis);
    let answer = h
        .call(UserCtx {
            cx,
            svc: &svc,
            user: &user,
        })
        .await;
    let mut resp = response::finish(answer, cx.rid);
    rate_limit::headers(&mut resp, budget);
    Ok(resp)
}
