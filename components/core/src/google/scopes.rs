//! The OAuth scopes the routes need (all under `https://www.googleapis.com/auth/`).

/// Events: list, create, read, change, delete, watch. (The events routes keep Google's
/// `insufficient_permissions` reading; this is named for the default.)
#[cfg_attr(not(test), allow(dead_code))]
pub const EVENTS: &str = "https://www.googleapis.com/auth/calendar.events";
/// `GET /calendars/{user_id}` (`calendarList.list`).
pub const CALENDAR_LIST: &str = "https://www.googleapis.com/auth/calendar.calendarlist.readonly";
/// `GET /freebusy/{user_id}` and `POST /availability` (`freebusy.query`).
pub const FREEBUSY: &str = "https://www.googleapis.com/auth/calendar.freebusy";

/// The default `google_scopes` (SPEC section 8, `config::defaults::GOOGLE_SCOPES`): every
/// scope a route needs.
pub const DEFAULT: &str = "https://www.googleapis.com/auth/calendar.events https://www.googleapis.com/auth/calendar.calendarlist.readonly https://www.googleapis.com/auth/calendar.freebusy";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_asks_for_every_scope_a_route_needs() {
        assert_eq!(DEFAULT, [EVENTS, CALENDAR_LIST, FREEBUSY].join(" "));
    }
}
