//! The HTTP edge: the entry point, the route table and what a route asks first, request
//! ids, CORS, responses, the HTML pages for a person's browser, redirects, and problems: the only place an error becomes an
//! answer.

pub mod api_token;
pub mod cors;
pub mod errors;
pub mod guard;
pub mod page;
pub mod problem;
pub mod rate_limit;
pub mod redirect;
pub mod request;
pub mod request_id;
pub mod response;
pub mod router;
pub mod serve;
