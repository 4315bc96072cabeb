//! The event stream's consumer group over Spin's Redis.

use super::redis::{Redis, arg, unavailable};
use crate::store::StoreError;
use spin_sdk::redis::{RedisParameter, RedisResult};

/// Entries of an `XREADGROUP`/`XAUTOCLAIM` reply, as Spin flattens it: after the stream
/// name (XREADGROUP) or the cursor (XAUTOCLAIM), `id`, `field`, `value` triples. Our
/// entries have exactly one field; anything else is skipped.
fn entries(flat: Vec<RedisResult>, skip_first: bool) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut it = flat.into_iter().skip(usize::from(skip_first));
    while let Some(r) = it.next() {
        let RedisResult::Binary(id) = r else { continue };
        let Ok(id) = String::from_utf8(id) else {
            continue;
        };
        // Entry ids look like `1700000000000-0`; stream names and cursors do not matter.
        let is_id = id.split_once('-').is_some_and(|(a, b)| {
            !a.is_empty()
                && a.bytes().all(|c| c.is_ascii_digit())
                && b.bytes().all(|c| c.is_ascii_digit())
        });
        if !is_id {
            continue;
        }
        let field = it.next();
        let value = it.next();
        if let (Some(RedisResult::Binary(f)), Some(RedisResult::Binary(v))) = (field, value)
            && f == b"event"
        {
            out.push((id, v));
        }
    }
    out
}

impl crate::store::Stream for Redis {
    fn ensure_group(&self, stream: &str, group: &str) -> Result<(), StoreError> {
        match self.conn()?.execute(
            "XGROUP",
            &[
                arg("CREATE"),
                arg(stream),
                arg(group),
                arg("0"),
                arg("MKSTREAM"),
            ],
        ) {
            Ok(_) => Ok(()),
            Err(spin_sdk::redis::Error::Other(msg)) if msg.contains("BUSYGROUP") => Ok(()),
            Err(e) => Err(unavailable("XGROUP", &e)),
        }
    }

    fn read_new(
        &self,
        stream: &str,
        group: &str,
        consumer: &str,
        count: u64,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let count = i64::try_from(count).unwrap_or(100);
        let r = self.execute(
            "XREADGROUP",
            &[
                arg("GROUP"),
                arg(group),
                arg(consumer),
                arg("COUNT"),
                RedisParameter::Int64(count),
                arg("STREAMS"),
                arg(stream),
                arg(">"),
            ],
        )?;
        Ok(entries(r, false))
    }

    fn claim_stale(
        &self,
        stream: &str,
        group: &str,
        consumer: &str,
        min_idle_ms: u64,
        count: u64,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let idle = i64::try_from(min_idle_ms).unwrap_or(i64::MAX);
        let count = i64::try_from(count).unwrap_or(100);
        let r = self.execute(
            "XAUTOCLAIM",
            &[
                arg(stream),
                arg(group),
                arg(consumer),
                RedisParameter::Int64(idle),
                arg("0-0"),
                arg("COUNT"),
                RedisParameter::Int64(count),
            ],
        )?;
        // The first element is the scan cursor (it looks like an entry id).
        Ok(entries(r, true))
    }

    fn ack(&self, stream: &str, group: &str, id: &str) -> Result<(), StoreError> {
        self.execute("XACK", &[arg(stream), arg(group), arg(id)])
            .map(|_| ())
    }
}
