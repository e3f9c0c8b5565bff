//! Timestamps as stored in documents: RFC 3339 in UTC when written, and read leniently because
//! documents written by the original TfPilot sometimes carry epoch milliseconds.

use std::fmt;

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time, always UTC. Domain code never reads the clock: callers pass `now` in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub DateTime<Utc>);

impl Timestamp {
    pub fn from_unix_seconds(seconds: i64) -> Option<Self> {
        Utc.timestamp_opt(seconds, 0).single().map(Timestamp)
    }

    pub fn from_unix_millis(millis: i64) -> Option<Self> {
        Utc.timestamp_millis_opt(millis).single().map(Timestamp)
    }

    pub fn parse(text: &str) -> Option<Self> {
        DateTime::parse_from_rfc3339(text.trim())
            .ok()
            .map(|t| Timestamp(t.with_timezone(&Utc)))
    }

    pub fn to_unix_seconds(self) -> i64 {
        self.0.timestamp()
    }

    /// This instant as documents keep it: what is written and read back is this, exactly.
    pub fn whole_seconds(self) -> Timestamp {
        Timestamp::from_unix_seconds(self.to_unix_seconds()).unwrap_or(self)
    }

    pub fn to_rfc3339(self) -> String {
        self.0.to_rfc3339_opts(SecondsFormat::Secs, true)
    }

    /// A lexicographically sortable compact form, used in object keys.
    pub fn to_key_fragment(self) -> String {
        self.0.format("%Y%m%dT%H%M%S%.3fZ").to_string()
    }

    pub fn seconds_since(self, earlier: Timestamp) -> i64 {
        (self.0 - earlier.0).num_seconds()
    }

    pub fn minus_seconds(self, seconds: i64) -> Timestamp {
        Timestamp(self.0 - chrono::Duration::seconds(seconds))
    }

    pub fn plus_seconds(self, seconds: i64) -> Timestamp {
        Timestamp(self.0 + chrono::Duration::seconds(seconds))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_rfc3339())
    }
}

/// Documents keep whole seconds: what is read is cut to what will be written back, so a rewrite
/// never changes a timestamp (a legacy `updatedAt: 16` in milliseconds, or a `.123` fraction,
/// would otherwise read as one instant and write as another).
impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Millis(i64),
        }
        let read = match Raw::deserialize(deserializer)? {
            Raw::Text(text) => Timestamp::parse(&text).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "`{text}` is not an RFC 3339 timestamp (expected e.g. 2026-01-31T12:00:00Z)"
                ))
            }),
            Raw::Millis(millis) => Timestamp::from_unix_millis(millis).ok_or_else(|| {
                serde::de::Error::custom(format!("{millis} is out of range for a timestamp"))
            }),
        }?;
        Ok(read.whole_seconds())
    }
}

/// "12 s", "5 min", "3 h", "2 days": how long `seconds` is, for people.
pub fn describe_age(seconds: i64) -> String {
    let seconds = seconds.max(0);
    match seconds {
        0..60 => format!("{seconds} s"),
        60..3600 => format!("{} min", seconds / 60),
        3600..86400 => format!("{} h", seconds / 3600),
        _ => format!("{} days", seconds / 86400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_are_cut_to_the_second_they_are_written_with() {
        let read: Timestamp = serde_json::from_str("16").unwrap();
        assert_eq!(read.to_rfc3339(), "1970-01-01T00:00:00Z");
        let again: Timestamp = serde_json::from_value(serde_json::to_value(read).unwrap()).unwrap();
        assert_eq!(again, read);
        let fraction: Timestamp = serde_json::from_str("\"2026-03-01T08:00:00.987Z\"").unwrap();
        assert_eq!(fraction, Timestamp::parse("2026-03-01T08:00:00Z").unwrap());
        let now = Timestamp::parse("2026-03-01T08:00:00.987Z").unwrap();
        assert_eq!(now.whole_seconds(), fraction);
        assert_eq!(
            now.whole_seconds().to_key_fragment(),
            "20260301T080000.000Z",
            "an instant used in a key is the one a read gives back"
        );
    }

    #[test]
    fn reads_rfc3339_with_offset_and_epoch_millis() {
        let a: Timestamp = serde_json::from_str("\"2026-03-01T10:00:00+02:00\"").unwrap();
        let b: Timestamp = serde_json::from_str("1772352000000").unwrap();
        assert_eq!(a.to_rfc3339(), "2026-03-01T08:00:00Z");
        assert_eq!(b.to_rfc3339(), "2026-03-01T08:00:00Z");
    }

    #[test]
    fn rejects_garbage_with_a_reason() {
        let err = serde_json::from_str::<Timestamp>("\"yesterday\"").unwrap_err();
        assert!(err.to_string().contains("RFC 3339"), "{err}");
    }

    #[test]
    fn key_fragment_sorts_chronologically() {
        let a = Timestamp::parse("2026-03-01T08:00:00.5Z").unwrap();
        let b = Timestamp::parse("2026-03-01T08:00:01Z").unwrap();
        assert!(a.to_key_fragment() < b.to_key_fragment());
    }
}
