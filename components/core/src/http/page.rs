//! The pages a person sees at the end of the OAuth flow (`GET /auth/callback` from a
//! browser): what happened and what to do next. Self-contained HTML: no script, no
//! external asset, one `<style>` element that [`content_security_policy`] allows by its
//! hash, so the policy needs no `unsafe-inline`. Nothing secret is ever put on a page
//! (no code, state or token): only the user id, the problem code and the request id,
//! each HTML-escaped.

use super::problem::Code;
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// The `content-type` of every page.
pub const CONTENT_TYPE: &str = "text/html; charset=utf-8";

/// The whole style sheet, the exact content of the page's `<style>` element.
const STYLE: &str = "\
:root{color-scheme:light dark;font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}\
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;background:#f1f3f4;color:#202124}\
main{max-width:34rem;margin:1.5rem;padding:2rem 2.25rem;background:#fff;border-radius:12px;box-shadow:0 1px 3px rgba(0,0,0,.2)}\
h1{font-size:1.4rem;margin:.5rem 0 1rem}\
p{line-height:1.5;margin:.6rem 0}\
.mark{font-size:2.5rem;margin:0;line-height:1}\
.ok .mark{color:#188038}\
.error .mark{color:#c5221f}\
.next{font-weight:600}\
.ref{margin-top:1.5rem;font-size:.85rem;color:#5f6368}\
@media (prefers-color-scheme:dark){body{background:#202124;color:#e8eaed}main{background:#303134}.ref{color:#9aa0a6}}";

/// The `Content-Security-Policy` of every page: nothing may load or run, the one style
/// element aside (allowed by its SHA-256).
pub fn content_security_policy() -> String {
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(STYLE));
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
}

/// The success page: "Google Calendar connected for <user>".
pub fn connected(user_id: &str) -> String {
    let user = escape(user_id);
    render(
        "ok",
        "&#10003;",
        "Google Calendar connected",
        &format!("Google Calendar connected for {user}"),
        "The app can now read and add events in this Google Calendar.",
        "You can close this window and go back to the app.",
        None,
    )
}

/// The page for a failed callback, chosen by the problem's code.
pub fn failure(code: Code, request_id: &str) -> String {
    match code {
        Code::AuthorizationDenied => authorization_denied(request_id),
        Code::InvalidState => invalid_state(request_id),
        Code::NoRefreshToken => no_refresh_token(request_id),
        other => generic_failure(other, request_id),
    }
}

/// Consent was not given (Cancel on Google's page, or any `error` from Google).
pub fn authorization_denied(request_id: &str) -> String {
    failed(
        Code::AuthorizationDenied,
        "Google Calendar was not connected",
        "Access was not granted on Google's consent page (for example, Cancel was \
         clicked), so nothing was connected and nothing was stored.",
        "To connect the calendar, start again from the app and click Allow.",
        request_id,
    )
}

/// An unknown, expired or already used sign-in link (`invalid_state`).
pub fn invalid_state(request_id: &str) -> String {
    failed(
        Code::InvalidState,
        "This sign-in link has expired",
        "A sign-in link works once and for 10 minutes. This one has expired or was \
         already used, so the calendar was not connected.",
        "Start again from the app to get a new link.",
        request_id,
    )
}

/// Google granted access but sent no refresh token, and none is stored.
pub fn no_refresh_token(request_id: &str) -> String {
    failed(
        Code::NoRefreshToken,
        "Google did not grant lasting access",
        "Google sent no refresh token, so the calendar would stop working within the \
         hour. Nothing was stored.",
        "Remove this app's access in your Google Account (Security, third-party \
         connections), then start again from the app.",
        request_id,
    )
}

/// Every other failure: a dependency down or erring, a bad request, our configuration.
pub fn generic_failure(code: Code, request_id: &str) -> String {
    let what = format!(
        "The connection could not be finished ({}). Nothing is wrong with your account.",
        escape(code.title())
    );
    let next = if code.status() >= 500 {
        "This is usually temporary: wait a minute, then start again from the app."
    } else {
        "Start again from the app."
    };
    failed(
        code,
        "Google Calendar could not be connected",
        &what,
        next,
        request_id,
    )
}

fn failed(code: Code, heading: &str, what: &str, next: &str, request_id: &str) -> String {
    render(
        "error",
        "&#10007;",
        heading,
        heading,
        what,
        next,
        Some((code, request_id)),
    )
}

/// `heading`, `what` and `next` are HTML (our own words, or escaped by the caller).
fn render(
    class: &str,
    mark: &str,
    title: &str,
    heading: &str,
    what: &str,
    next: &str,
    reference: Option<(Code, &str)>,
) -> String {
    let reference = reference.map_or(String::new(), |(code, rid)| {
        format!(
            "<p class=\"ref\">Error code: <code>{}</code> &middot; Reference: <code>{}</code></p>\n",
            escape(code.as_str()),
            escape(rid)
        )
    });
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"robots\" content=\"noindex\">\n<title>{title}</title>\n\
         <style>{STYLE}</style>\n</head>\n<body>\n<main class=\"{class}\">\n\
         <p class=\"mark\" aria-hidden=\"true\">{mark}</p>\n<h1>{heading}</h1>\n\
         <p>{what}</p>\n<p class=\"next\">{next}</p>\n{reference}</main>\n</body>\n</html>\n"
    )
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Whether a request with this `Accept` header wants a page rather than JSON: `text/html`
/// weighs more than `application/json` (RFC 9110 q-values; the most specific range
/// decides each type's weight). No header, `*/*` alone, or a tie: JSON.
pub fn prefers_html(accept: Option<&str>) -> bool {
    let Some(accept) = accept else {
        return false;
    };
    let html = weight(accept, "text", "html");
    html > 0.0 && html > weight(accept, "application", "json")
}

/// The q-value `accept` gives `kind/sub`: that of the most specific matching range, 0 if
/// none matches.
fn weight(accept: &str, kind: &str, sub: &str) -> f32 {
    let mut best: Option<(u8, f32)> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let Some((k, s)) = media.split_once('/') else {
            continue;
        };
        let specificity = match (k.trim(), s.trim()) {
            (k, s) if k == kind && s == sub => 3,
            (k, "*") if k == kind => 2,
            ("*", "*") => 1,
            _ => continue,
        };
        let mut q = 1.0;
        for param in parts {
            if let Some((name, value)) = param.split_once('=')
                && name.trim().eq_ignore_ascii_case("q")
            {
                q = match value.trim().parse::<f32>() {
                    Ok(v) if (0.0..=1.0).contains(&v) => v,
                    // A malformed weight: the range counts for nothing.
                    _ => 0.0,
                };
            }
        }
        if best.is_none_or(|(sp, _)| specificity > sp) {
            best = Some((specificity, q));
        }
    }
    best.map_or(0.0, |(_, q)| q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup_quotes_and_ampersands() {
        assert_eq!(
            escape("<script>alert(1)</script>"),
            "&lt;script&gt;alert(1)&lt;/script&gt;"
        );
        assert_eq!(escape(r#"a"b'c"#), "a&quot;b&#39;c");
        assert_eq!(escape("&amp; &"), "&amp;amp; &amp;");
        assert_eq!(escape("demo@example.com"), "demo@example.com");
        assert_eq!(escape(""), "");
    }

    #[test]
    fn the_success_page_names_the_user_escaped() {
        let page = connected("demo");
        assert!(
            page.contains("Google Calendar connected for demo"),
            "{page}"
        );
        let hostile = connected("<script>alert('x')</script>&\"");
        assert!(!hostile.contains("<script>"), "{hostile}");
        assert!(
            hostile.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"),
            "{hostile}"
        );
    }

    #[test]
    fn each_failure_says_what_happened_and_what_to_do() {
        let cases = [
            (Code::AuthorizationDenied, "was not connected"),
            (Code::InvalidState, "expired"),
            (Code::NoRefreshToken, "no refresh token"),
            (Code::UpstreamUnavailable, "Google unavailable"),
            (Code::RestUnavailable, "User-data service unavailable"),
            (Code::UpstreamError, "Google error"),
            (Code::InvalidRequest, "Invalid request"),
        ];
        for (code, says) in cases {
            let page = failure(code, "req-1");
            assert!(page.contains(says), "{code:?}: {page}");
            assert!(
                page.to_lowercase().contains("start again from the app"),
                "{code:?}: {page}"
            );
            assert!(page.contains(code.as_str()), "{code:?}: {page}");
            assert!(page.contains("req-1"), "{code:?}: {page}");
            assert!(!page.contains("connected for"), "{code:?}: {page}");
        }
        assert!(failure(Code::UpstreamUnavailable, "r").contains("usually temporary"));
        assert!(!failure(Code::InvalidRequest, "r").contains("usually temporary"));
        assert!(failure(Code::InvalidState, "<b>").contains("&lt;b&gt;"));
    }

    #[test]
    fn pages_carry_no_script_or_external_asset_and_the_policy_allows_their_style() {
        let csp = content_security_policy();
        assert!(csp.starts_with("default-src 'none'; "), "{csp}");
        assert!(!csp.contains("unsafe"), "{csp}");
        for page in [connected("demo"), failure(Code::InvalidState, "r")] {
            assert!(!page.to_lowercase().contains("<script"), "{page}");
            assert!(!page.contains("http://") && !page.contains("https://"));
            assert!(!page.contains(" style="), "inline style attributes: {page}");
            // The policy's hash is that of the page's one style element.
            let start = page.find("<style>").unwrap() + "<style>".len();
            let end = page.find("</style>").unwrap();
            let digest = Sha256::digest(&page[start..end]);
            let hash = base64::engine::general_purpose::STANDARD.encode(digest);
            assert!(csp.contains(&format!("'sha256-{hash}'")), "{csp}");
            assert_eq!(page.matches("<style>").count(), 1);
        }
    }

    #[test]
    fn browsers_get_pages_api_clients_json() {
        let chrome =
            "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";
        let firefox = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
        assert!(prefers_html(Some(chrome)));
        assert!(prefers_html(Some(firefox)));
        assert!(prefers_html(Some("text/html")));
        assert!(prefers_html(Some("TEXT/HTML; charset=utf-8")));
        assert!(prefers_html(Some("text/*")));
        assert!(prefers_html(Some("application/json;q=0.5, text/html")));
        assert!(prefers_html(Some("text/html;q=0.9, */*;q=0.1")));
        // JSON: no header, anything, JSON first or equal, HTML refused.
        assert!(!prefers_html(None));
        assert!(!prefers_html(Some("")));
        assert!(!prefers_html(Some("*/*")));
        assert!(!prefers_html(Some("application/json")));
        assert!(!prefers_html(Some("application/json, text/html")));
        assert!(!prefers_html(Some("text/html;q=0.5, application/json")));
        assert!(!prefers_html(Some("text/html;q=0, */*")));
        assert!(!prefers_html(Some("text/html;q=abc")));
        assert!(!prefers_html(Some("text/*;q=0.3, application/*")));
        // The most specific range decides: text/html;q=0 beats text/*.
        assert!(!prefers_html(Some("text/*, text/html;q=0")));
        assert!(!prefers_html(Some("garbage")));
    }
}
