//! Page tokens of the list methods that are computed afresh on every request
//! (`calendarList.list`, `events.instances`): the token carries the offset and the query
//! of the first request, which later pages may repeat but not change.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::calendar::{ApiError, single};

/// What a page token encodes (opaque to clients).
#[derive(Debug, Serialize, Deserialize)]
struct PageToken {
    o: usize,
    q: Vec<(String, String)>,
}

/// A page request: where it starts and the query it continues.
#[derive(Debug)]
pub struct PageRequest {
    pub offset: usize,
    pub size: usize,
    query: Vec<(String, String)>,
}

impl PageRequest {
    /// Reads `maxResults` (at least 1; larger than `max` is cut to `max`, as Google never
    /// pages by more) and `pageToken`.
    pub fn of(params: &[(String, String)], default: usize, max: usize) -> Result<Self, ApiError> {
        let size = match single(params, "maxResults")? {
            None => default,
            Some(v) => match v.parse::<usize>() {
                Ok(n) if n >= 1 => n.min(max),
                _ => {
                    return Err(ApiError::new(
                        400,
                        "invalid",
                        format!("Invalid value '{v}'. Values must be within the range: [1, {max}]"),
                    ));
                }
            },
        };
        let mut query: Vec<(String, String)> = params
            .iter()
            .filter(|(k, _)| k != "pageToken" && k != "maxResults")
            .cloned()
            .collect();
        query.sort();
        let Some(token) = single(params, "pageToken")? else {
            return Ok(PageRequest {
                offset: 0,
                size,
                query,
            });
        };
        let invalid = || ApiError::new(400, "invalid", "Invalid page token value.");
        let decoded: PageToken = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(invalid)?;
        if !query.iter().all(|pair| decoded.q.contains(pair)) {
            return Err(invalid());
        }
        Ok(PageRequest {
            offset: decoded.o,
            size,
            query: decoded.q,
        })
    }

    /// This page of `items` and the token of the next one, if any.
    pub fn slice<T: Clone>(&self, items: &[T]) -> (Vec<T>, Option<String>) {
        let end = (self.offset + self.size).min(items.len());
        let page = items[self.offset.min(end)..end].to_vec();
        let next = (end < items.len()).then(|| {
            let token = PageToken {
                o: end,
                q: self.query.clone(),
            };
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(serde_json::to_vec(&token).unwrap_or_default())
        });
        (page, next)
    }
}
