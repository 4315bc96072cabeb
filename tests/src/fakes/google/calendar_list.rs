//! `calendarList.list`: the calendars on each account's list.
//!
//! Every account has its primary calendar (id = the account, owner, `primary`, selected),
//! then the entries tests add with [`super::FakeGoogle::add_calendar`] in insertion order,
//! then the calendars that exist only because something was written to them (owner,
//! summary = id). Like Google, `primary`, `selected`, `hidden` and `deleted` appear only
//! when true. Simplifications: no `syncToken` (400), no `calendarList.get/insert/patch`.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::calendar::{ApiError, CALENDAR_TIME_ZONE, parse_bool, single};
use super::paging::PageRequest;

/// Default and largest `maxResults`, as Google.
pub const CALENDAR_LIST_DEFAULT_PAGE: usize = 100;
pub const CALENDAR_LIST_MAX_PAGE: usize = 250;
/// Google's default colour (`colorId` 14).
pub const DEFAULT_BACKGROUND: &str = "#9fe1e7";

/// The access role of the account on a calendar, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AccessRole {
    FreeBusyReader,
    Reader,
    Writer,
    Owner,
}

impl AccessRole {
    pub fn as_str(self) -> &'static str {
        match self {
            AccessRole::FreeBusyReader => "freeBusyReader",
            AccessRole::Reader => "reader",
            AccessRole::Writer => "writer",
            AccessRole::Owner => "owner",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "freeBusyReader" => AccessRole::FreeBusyReader,
            "reader" => AccessRole::Reader,
            // Between reader and writer at Google; the fake ranks it as writer.
            "writer" | "writerWithoutPrivateAccess" => AccessRole::Writer,
            "owner" => AccessRole::Owner,
            _ => return None,
        })
    }
}

/// A calendar on an account's list. Build with [`CalendarListEntry::new`] and the
/// builder methods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarListEntry {
    pub id: String,
    pub summary: String,
    pub description: Option<String>,
    pub time_zone: String,
    pub access_role: AccessRole,
    pub background_color: String,
    pub selected: bool,
    pub hidden: bool,
    pub deleted: bool,
    /// `Some(account)`: another account's calendar shared with this one; free/busy is
    /// read from the owner's copy. `None`: the account's own calendar.
    pub owner: Option<String>,
}

impl CalendarListEntry {
    /// An owned, selected, visible calendar in UTC.
    pub fn new(id: &str, summary: &str) -> Self {
        CalendarListEntry {
            id: id.to_owned(),
            summary: summary.to_owned(),
            description: None,
            time_zone: CALENDAR_TIME_ZONE.to_owned(),
            access_role: AccessRole::Owner,
            background_color: DEFAULT_BACKGROUND.to_owned(),
            selected: true,
            hidden: false,
            deleted: false,
            owner: None,
        }
    }

    pub fn role(mut self, role: AccessRole) -> Self {
        self.access_role = role;
        self
    }

    pub fn description(mut self, description: &str) -> Self {
        self.description = Some(description.to_owned());
        self
    }

    pub fn time_zone(mut self, time_zone: &str) -> Self {
        self.time_zone = time_zone.to_owned();
        self
    }

    pub fn background_color(mut self, color: &str) -> Self {
        self.background_color = color.to_owned();
        self
    }

    pub fn selected(mut self, selected: bool) -> Self {
        self.selected = selected;
        self
    }

    pub fn hidden(mut self, hidden: bool) -> Self {
        self.hidden = hidden;
        self
    }

    /// Another account's calendar shared with this one (its free/busy comes from there).
    pub fn owned_by(mut self, owner: &str) -> Self {
        self.owner = Some(owner.to_owned());
        self
    }

    fn render(&self, primary: bool, etag: u64) -> Value {
        let mut out = json!({
            "kind": "calendar#calendarListEntry",
            "etag": format!("\"{etag}\""),
            "id": self.id,
            "summary": self.summary,
            "timeZone": self.time_zone,
            "colorId": "14",
            "backgroundColor": self.background_color,
            "foregroundColor": "#000000",
            "accessRole": self.access_role.as_str(),
            "defaultReminders": if self.access_role >= AccessRole::Writer {
                json!([{"method": "popup", "minutes": 30}])
            } else {
                json!([])
            },
            "conferenceProperties": {"allowedConferenceSolutionTypes": ["hangoutsMeet"]},
        });
        if let Some(description) = &self.description {
            out["description"] = json!(description);
        }
        for (name, set) in [
            ("primary", primary),
            ("selected", self.selected),
            ("hidden", self.hidden),
            ("deleted", self.deleted),
        ] {
            if set {
                out[name] = json!(true);
            }
        }
        out
    }
}

#[derive(Debug, Clone)]
struct Stored {
    entry: CalendarListEntry,
    etag: u64,
}

/// Calendar lists of every account.
#[derive(Debug, Default)]
pub struct CalendarList {
    entries: BTreeMap<String, Vec<Stored>>,
    version: u64,
}

impl CalendarList {
    /// Adds or replaces an entry on an account's list.
    pub fn add(&mut self, account: &str, entry: CalendarListEntry) {
        self.version += 1;
        let etag = self.version;
        let list = self.entries.entry(account.to_owned()).or_default();
        match list.iter_mut().find(|s| s.entry.id == entry.id) {
            Some(stored) => *stored = Stored { entry, etag },
            None => list.push(Stored { entry, etag }),
        }
    }

    /// Marks an entry deleted (listed only with `showDeleted=true`); false if unknown.
    pub fn remove(&mut self, account: &str, calendar_id: &str) -> bool {
        self.version += 1;
        let etag = self.version;
        match self
            .entries
            .get_mut(account)
            .and_then(|l| l.iter_mut().find(|s| s.entry.id == calendar_id))
        {
            Some(stored) => {
                stored.entry.deleted = true;
                stored.etag = etag;
                true
            }
            None => false,
        }
    }

    /// The entry an account has for a calendar (`primary` resolved), if added by a test.
    pub fn entry(&self, account: &str, calendar_id: &str) -> Option<&CalendarListEntry> {
        let id = if calendar_id == "primary" {
            account
        } else {
            calendar_id
        };
        self.entries
            .get(account)?
            .iter()
            .map(|s| &s.entry)
            .find(|e| e.id == id && !e.deleted)
    }

    /// The account's role on a calendar: its list entry's, else owner (own calendars).
    pub fn role(&self, account: &str, calendar_id: &str) -> AccessRole {
        self.entry(account, calendar_id)
            .map_or(AccessRole::Owner, |e| e.access_role)
    }

    /// `calendarList.list`. `store_ids` are the account's calendars in the event store.
    pub fn list(
        &self,
        account: &str,
        store_ids: &[String],
        params: &[(String, String)],
    ) -> Result<Value, ApiError> {
        let min_role = match single(params, "minAccessRole")? {
            None => AccessRole::FreeBusyReader,
            Some(v) => AccessRole::parse(&v)
                .ok_or_else(|| ApiError::new(400, "invalid", format!("Invalid value '{v}'.")))?,
        };
        let show_hidden = parse_bool(params, "showHidden")?.unwrap_or(false);
        let show_deleted = parse_bool(params, "showDeleted")?.unwrap_or(false);
        if single(params, "syncToken")?.is_some() {
            return Err(ApiError::new(
                400,
                "invalid",
                "The fake Google does not support syncToken on calendarList.list.",
            ));
        }
        let page = PageRequest::of(params, CALENDAR_LIST_DEFAULT_PAGE, CALENDAR_LIST_MAX_PAGE)?;

        let added: &[Stored] = self.entries.get(account).map_or(&[], Vec::as_slice);
        let mut all: Vec<(bool, Stored)> = Vec::new();
        let primary = added
            .iter()
            .find(|s| s.entry.id == account)
            .cloned()
            .unwrap_or_else(|| Stored {
                entry: CalendarListEntry::new(account, account),
                etag: 0,
            });
        all.push((true, primary));
        all.extend(
            added
                .iter()
                .filter(|s| s.entry.id != account)
                .map(|s| (false, s.clone())),
        );
        for id in store_ids {
            if id != account && !added.iter().any(|s| &s.entry.id == id) {
                all.push((
                    false,
                    Stored {
                        entry: CalendarListEntry::new(id, id),
                        etag: 0,
                    },
                ));
            }
        }
        let items: Vec<Value> = all
            .iter()
            .filter(|(_, s)| s.entry.access_role >= min_role)
            .filter(|(_, s)| show_hidden || !s.entry.hidden)
            .filter(|(_, s)| show_deleted || !s.entry.deleted)
            .map(|(primary, s)| s.entry.render(*primary, s.etag))
            .collect();
        let (items, next) = page.slice(&items);
        let mut response = json!({
            "kind": "calendar#calendarList",
            "etag": format!("\"p{}\"", self.version),
            "items": items,
        });
        match next {
            Some(token) => response["nextPageToken"] = json!(token),
            None => response["nextSyncToken"] = json!(format!("CL{}", self.version)),
        }
        Ok(response)
    }
}
