//! `scripts/run` without Spin: the app in the test host, with a private Redis and, when no
//! Google client is configured, the fake Google and REST services (emulator mode).

use anyhow::{Context, Result};
use base64::Engine as _;
use gcal_tests::fakes::google::CalendarListEntry;
use gcal_tests::fakes::{FakeGoogle, FakeRest, StartPage};
use gcal_tests::host::{Host, HostConfig};
use gcal_tests::redis_server::RedisServer;
use std::net::SocketAddr;

fn env(name: &str) -> Option<String> {
    std::env::var(format!("SPIN_VARIABLE_{}", name.to_uppercase()))
        .ok()
        .filter(|v| !v.is_empty())
}

#[tokio::main]
async fn main() -> Result<()> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let origin = format!("http://127.0.0.1:{port}");
    gcal_tests::build::components()?;

    let mut cfg = HostConfig::new(gcal_tests::build::manifest_path());
    cfg.use_env = true;
    cfg.echo_logs = true;
    cfg.listen = SocketAddr::from(([127, 0, 0, 1], port));

    // Redis: the configured one, else a private server for this run; the key-value store
    // `default` is the same Redis (what the runtime config says under Spin).
    let _redis = match env("redis_address") {
        Some(url) => {
            cfg = cfg.key_value_store("default", url);
            None
        }
        None => {
            let r = RedisServer::start()?;
            cfg = cfg
                .variable("redis_address", r.url())
                .key_value_store("default", r.url());
            Some(r)
        }
    };

    // Without a Google client: the fakes stand in for Google and the REST service.
    let emulated = env("google_client_id").is_none();
    let mut fakes = None;
    if emulated {
        let google = FakeGoogle::start().await?;
        let rest = FakeRest::start().await?;
        let redirect = format!("{origin}/auth/callback");
        google.register_client("emulator-client", "emulator-secret", &redirect);
        rest.add_user("demo", Some("demo@example.com"), Some("Europe/Berlin"));
        // Something for the calendar list and free/busy to show.
        google.add_calendar(
            "demo@example.com",
            CalendarListEntry::new("team@example.com", "Team").time_zone("Europe/Berlin"),
        );
        google
            .insert_event_direct(
                "demo@example.com",
                "primary",
                serde_json::json!({"id": "demostandup1", "summary": "Standup",
                    "start": {"dateTime": "2026-07-06T09:00:00+02:00", "timeZone": "Europe/Berlin"},
                    "end": {"dateTime": "2026-07-06T09:30:00+02:00", "timeZone": "Europe/Berlin"},
                    "recurrence": ["RRULE:FREQ=DAILY;COUNT=5"]}),
            )
            .context("seeding the demo calendar")?;
        // An invitation `demo` can answer with POST /events/demo/demoinvite1/rsvp.
        google
            .insert_invitation(
                "demo@example.com",
                "primary",
                "ann@example.com",
                serde_json::json!({"id": "demoinvite1", "summary": "Planning with Ann",
                    "start": {"dateTime": "2026-07-08T14:00:00+02:00"},
                    "end": {"dateTime": "2026-07-08T15:00:00+02:00"},
                    "attendees": [{"email": "ann@example.com", "responseStatus": "accepted"},
                                  {"email": "demo@example.com"}]}),
            )
            .context("seeding the demo invitation")?;
        cfg = cfg
            .variable("google_client_id", "emulator-client")
            .variable("google_client_secret", "emulator-secret")
            .variable("google_redirect_uri", redirect)
            .variable("google_oauth_origin", google.origin())
            .variable("google_token_origin", google.origin())
            .variable("google_api_origin", google.origin())
            .variable("rest_service_url", rest.origin());
        // Push channels (`POST /events/demo/watch`): the fake Google calls back here.
        if env("public_base_url").is_none() {
            cfg = cfg.variable("public_base_url", origin.clone());
        }
        fakes = Some((google, std::sync::Arc::new(rest)));
    }
    if env("api_tokens").is_none() {
        cfg = cfg.variable("api_tokens", "dev-token");
    }
    if env("token_encryption_key").is_none() {
        let key: [u8; 32] = rand::random();
        cfg = cfg.variable(
            "token_encryption_key",
            base64::engine::general_purpose::STANDARD.encode(key),
        );
    }

    let _host = Host::start(cfg).await.context("starting the app")?;
    let token = env("api_tokens")
        .and_then(|t| t.split(',').next().map(|t| t.trim().to_owned()))
        .unwrap_or_else(|| "dev-token".into());
    eprintln!();
    // Held until the end of main: dropping it stops the page.
    let mut start_page = None;
    if let Some((google, rest)) = &fakes {
        let start = StartPage::start(&origin, &token, "demo")
            .await
            .context("starting the start page")?;
        eprintln!(
            "gcal is running at {origin} in emulator mode (fake Google and REST service, user `demo`)."
        );
        eprintln!("Open this URL in your browser: {}", start.url());
        eprintln!(
            "  Click \"Connect Google Calendar\", then Allow (or Cancel) on the fake consent page;"
        );
        eprintln!("  you land on this service's page saying what happened.");
        eprintln!("Then try the API:");
        eprintln!("  T='Authorization: Bearer {token}'");
        eprintln!("  curl -H \"$T\" {origin}/auth/status/demo");
        eprintln!(
            "  curl -H \"$T\" -H 'content-type: application/json' -d '{{\"summary\":\"Hello\",\"start\":{{\"dateTime\":\"2026-07-10T09:00:00\"}},\"end\":{{\"dateTime\":\"2026-07-10T10:00:00\"}}}}' {origin}/events/demo"
        );
        eprintln!("  curl -H \"$T\" {origin}/events/demo");
        eprintln!("  curl -H \"$T\" {origin}/calendars/demo");
        eprintln!(
            "  curl -H \"$T\" '{origin}/freebusy/demo?time_min=2026-07-06&time_max=2026-07-11&calendar_ids=primary,team@example.com'"
        );
        eprintln!(
            "  curl -H \"$T\" -H 'content-type: application/json' -d '{{\"participants\":[{{\"user_id\":\"demo\"}}],\"time_min\":\"2026-07-06\",\"time_max\":\"2026-07-07\",\"duration_minutes\":30,\"working_hours\":{{\"start\":\"09:00\",\"end\":\"12:00\",\"days\":[\"mon\"]}}}}' {origin}/availability"
        );
        eprintln!(
            "A meeting with a Meet link and an invitation to Ann (the answer's `conference.uri`):"
        );
        eprintln!(
            "  curl -H \"$T\" -H 'content-type: application/json' -d '{{\"summary\":\"Kickoff\",\"start\":{{\"dateTime\":\"2026-07-10T11:00:00\"}},\"end\":{{\"dateTime\":\"2026-07-10T11:30:00\"}},\"attendees\":[{{\"email\":\"ann@example.com\",\"display_name\":\"Ann\"}}],\"conference\":{{\"type\":\"google_meet\"}}}}' '{origin}/events/demo?send_updates=all'"
        );
        eprintln!("Accept Ann's invitation, then see the answer in its attendees:");
        eprintln!(
            "  curl -H \"$T\" -H 'content-type: application/json' -d '{{\"response\":\"accepted\",\"comment\":\"See you there\"}}' {origin}/events/demo/demoinvite1/rsvp"
        );
        eprintln!("  curl -H \"$T\" {origin}/events/demo/demoinvite1");
        eprintln!("The five occurrences of the daily standup:");
        eprintln!("  curl -H \"$T\" {origin}/events/demo/demostandup1/instances");
        eprintln!("Notifications the fake REST service receives are printed below.");
        eprintln!(
            "(fake Google at {}, fake REST at {})",
            google.origin(),
            rest.origin()
        );
        start_page = Some(start);
        let rest = rest.clone();
        tokio::spawn(async move {
            let mut seen = 0;
            loop {
                let all = rest.notifications();
                for n in all.iter().skip(seen) {
                    eprintln!("notification: {} {} {}", n["type"], n["subject"], n["data"]);
                }
                seen = all.len();
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        });
    } else {
        eprintln!("gcal is running at {origin}, talking to Google.");
        eprintln!("  curl {origin}/health");
    }
    eprintln!("Ctrl-C stops everything this started.");
    // Ctrl-C or a TERM: return, so the Redis server and the fakes we started are dropped.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    eprintln!("stopping");
    drop(start_page);
    Ok(())
}
