//! Browser redirects after the OAuth callback.

use crate::config::ConfigError;
use crate::http::problem::Problem;
use crate::http::request_id::RequestId;
use crate::http::response::{self, Response};

/// A 303 to `base` with `params` appended to its query.
pub fn see_other(
    base: &str,
    params: &[(&str, &str)],
    rid: &RequestId,
) -> Result<Response, Problem> {
    let mut url = url::Url::parse(base).map_err(|_| {
        Problem::from(ConfigError::Invalid {
            name: "post_auth_redirect_url",
            reason: "not an absolute URL",
        })
    })?;
    url.query_pairs_mut().extend_pairs(params);
    let mut r = response::no_content(rid);
    *r.status_mut() = http::StatusCode::SEE_OTHER;
    let location = http::HeaderValue::from_str(url.as_str()).map_err(|_| {
        Problem::from(ConfigError::Invalid {
            name: "post_auth_redirect_url",
            reason: "not a valid header value",
        })
    })?;
    r.headers_mut().insert(http::header::LOCATION, location);
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_to_the_query() {
        let rid = RequestId::from_header(None);
        let r = see_other(
            "https://app.example/done?x=1",
            &[("status", "error"), ("code", "invalid_state")],
            &rid,
        )
        .unwrap();
        assert_eq!(r.status(), 303);
        assert_eq!(
            r.headers()["location"],
            "https://app.example/done?x=1&status=error&code=invalid_state"
        );
        assert!(see_other("not a url", &[], &rid).is_err());
    }
}
