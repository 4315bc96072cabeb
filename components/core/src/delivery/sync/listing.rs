//! A calendar's sync state (`gcal:sync:{user}:{calendar}`) and the bounded listing a sync
//! reads: at most `MAX_SYNC_PAGES` pages per sync; a listing that has more stores its next
//! page token, and the next sync continues it instead of starting over.

use crate::delivery::SyncError;
use crate::google::calendar::Calendar;
use crate::outbound::Outbound;
use crate::store::Store;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Pages of one sync, at most.
pub(crate) const MAX_SYNC_PAGES: u32 = 20;

/// Sync state outlives quiet periods but not abandoned users.
pub(crate) const SYNC_TTL_SECS: u64 = 30 * 24 * 3600;

/// What is stored per calendar.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SyncState {
    /// The sync token of the last complete listing (none before the first one ends).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// When the last complete listing began.
    pub synced_at: DateTime<Utc>,
    /// A listing that stopped at the page bound, to continue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<Resume>,
}

/// Where a listing that stopped at the page bound continues.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Resume {
    pub page_token: String,
    pub kind: Kind,
    /// When the listing began: its `synced_at` once it ends.
    pub started: DateTime<Utc>,
}

/// What a listing is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Kind {
    /// From the stored sync token: every item is a change.
    Incremental,
    /// Everything, after the sync token expired (410): the items updated since the last
    /// sync are the changes.
    Full,
    /// Everything, the first time: it only establishes the token, announcing nothing.
    Baseline,
}

/// One listing to read (or continue).
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub kind: Kind,
    pub token: Option<String>,
    pub page_token: Option<String>,
    pub started: DateTime<Utc>,
    /// The `synced_at` of the last complete listing, if there was one.
    pub since: Option<DateTime<Utc>>,
}

impl Plan {
    /// What the stored state asks for: the listing in progress, else an incremental one
    /// from the token, else a baseline.
    pub fn of(state: Option<&SyncState>, now: DateTime<Utc>) -> Plan {
        let since = state.filter(|s| s.token.is_some()).map(|s| s.synced_at);
        let token = state.and_then(|s| s.token.clone());
        match state.and_then(|s| s.resume.clone()) {
            Some(r) if r.kind != Kind::Incremental || token.is_some() => Plan {
                kind: r.kind,
                token,
                page_token: Some(r.page_token),
                started: r.started,
                since: state
                    .map(|s| s.synced_at)
                    .filter(|_| r.kind != Kind::Baseline),
            },
            _ => Plan {
                kind: if token.is_some() {
                    Kind::Incremental
                } else {
                    Kind::Baseline
                },
                token,
                page_token: None,
                started: now,
                since,
            },
        }
    }

    /// After a 410 (the sync token, or the stored page token, expired): the same listing
    /// from its start without a token, announcing what changed since the last sync (none
    /// for a baseline). `None` when this listing already was that.
    pub fn fallback(&self, now: DateTime<Utc>) -> Option<Plan> {
        if self.kind != Kind::Incremental && self.page_token.is_none() {
            return None;
        }
        Some(Plan {
            kind: if self.kind == Kind::Baseline {
                Kind::Baseline
            } else {
                Kind::Full
            },
            token: None,
            page_token: None,
            started: now,
            since: self.since,
        })
    }

    /// The items of this listing that are changes to announce.
    pub fn changes(&self, items: Vec<Value>) -> Vec<Value> {
        match (self.kind, self.since) {
            (Kind::Incremental, _) => items,
            (Kind::Full, Some(since)) => items
                .into_iter()
                .filter(|e| {
                    e.get("updated")
                        .and_then(Value::as_str)
                        .and_then(|u| DateTime::parse_from_rfc3339(u).ok())
                        .is_some_and(|u| u >= since)
                })
                .collect(),
            (Kind::Full, None) | (Kind::Baseline, _) => Vec::new(),
        }
    }

    /// The state to store once `end` was read: the new token, or where to continue.
    pub fn next_state(&self, end: End, previous: Option<&SyncState>) -> Option<SyncState> {
        match end {
            End::Done(Some(token)) => Some(SyncState {
                token: Some(token),
                synced_at: self.started,
                resume: None,
            }),
            // A listing without a token to end with (Google gave none): keep what was.
            End::Done(None) => previous.map(|p| SyncState {
                resume: None,
                ..p.clone()
            }),
            End::More(page_token) => Some(SyncState {
                token: previous.and_then(|p| p.token.clone()),
                synced_at: previous.map_or(self.started, |p| p.synced_at),
                resume: Some(Resume {
                    page_token,
                    kind: self.kind,
                    started: self.started,
                }),
            }),
        }
    }
}

/// How a bounded listing ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum End {
    /// The last page, with its sync token.
    Done(Option<String>),
    /// The page bound, with the next page's token.
    More(String),
}

pub(crate) fn load(store: &dyn Store, key: &str) -> Result<Option<SyncState>, SyncError> {
    Ok(store
        .get(key)?
        .and_then(|raw| serde_json::from_slice(&raw).ok()))
}

pub(crate) fn save(store: &dyn Store, key: &str, state: &SyncState) -> Result<(), SyncError> {
    let json = serde_json::to_vec(state).unwrap_or_default();
    Ok(store.set_ex(key, &json, SYNC_TTL_SECS)?)
}

/// Up to `MAX_SYNC_PAGES` pages of the listing `plan` describes.
pub(crate) async fn list_pages<O: Outbound>(
    cal: &Calendar<'_, '_, O>,
    calendar: &str,
    plan: &Plan,
) -> Result<(Vec<Value>, End), SyncError> {
    let mut items = Vec::new();
    let mut page_token = plan.page_token.clone();
    for _ in 0..MAX_SYNC_PAGES {
        let mut q: Vec<(&str, String)> = vec![
            ("maxResults", "2500".into()),
            ("singleEvents", "false".into()),
        ];
        match &plan.token {
            Some(t) if plan.kind == Kind::Incremental => q.push(("syncToken", t.clone())),
            _ => q.push(("showDeleted", "false".into())),
        }
        if let Some(p) = &page_token {
            q.push(("pageToken", p.clone()));
        }
        let page = cal.list(calendar, &q).await?;
        if let Some(a) = page["items"].as_array() {
            items.extend(a.iter().cloned());
        }
        match page.get("nextPageToken").and_then(Value::as_str) {
            Some(p) => page_token = Some(p.to_owned()),
            None => {
                let token = page
                    .get("nextSyncToken")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                return Ok((items, End::Done(token)));
            }
        }
    }
    match page_token {
        Some(p) => Ok((items, End::More(p))),
        None => Ok((items, End::Done(None))),
    }
}
