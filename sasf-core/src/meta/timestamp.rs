//! Timestamp members (`started_at` and the times inside reserved values): RFC 3339
//! exactly, in the one form the spec allows (`docs/FORMAT.md` §8.0):
//! `YYYY-MM-DDTHH:MM:SS[.F]Z`, upper-case `T` and `Z`, UTC only, 1 to 9 fraction
//! digits, a real calendar date, seconds 00 to 59.
//!
//! Parsed by hand: the `time` crate's RFC 3339 parser accepts a lower-case `t`, any
//! offset and a leap second, and so would let two readers disagree on one anchor.
//! Leap seconds are refused: the anchor counts SI seconds from sample 0 on a timeline
//! without them (like POSIX time), where `23:59:60` has no place.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// Parses a strict RFC 3339 UTC timestamp; on failure says what is wrong.
pub fn parse_utc(s: &str) -> Result<OffsetDateTime, String> {
    let b = s.as_bytes();
    let bad = |what: &str| {
        Err(format!(
            "{s:?} is not YYYY-MM-DDTHH:MM:SS[.fraction]Z: {what}"
        ))
    };
    if b.len() < 20 {
        return bad("too short");
    }
    let num = |at: usize, n: usize| -> Option<u32> {
        b.get(at..at + n)?.iter().try_fold(0u32, |v, &c| {
            c.is_ascii_digit().then(|| v * 10 + (c - b'0') as u32)
        })
    };
    let sep = |at: usize, c: u8| b.get(at) == Some(&c);
    let (Some(year), Some(month), Some(day)) = (num(0, 4), num(5, 2), num(8, 2)) else {
        return bad("the date must be digits");
    };
    if !sep(4, b'-') || !sep(7, b'-') {
        return bad("the date is separated by '-'");
    }
    if !sep(10, b'T') {
        return bad("date and time are separated by an upper-case 'T'");
    }
    let (Some(hour), Some(minute), Some(second)) = (num(11, 2), num(14, 2), num(17, 2)) else {
        return bad("the time must be digits");
    };
    if !sep(13, b':') || !sep(16, b':') {
        return bad("the time is separated by ':'");
    }
    let mut at = 19;
    let mut nanos = 0u32;
    if sep(at, b'.') {
        let digits = b[at + 1..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if digits == 0 || digits > 9 {
            return bad("a fraction has 1 to 9 digits");
        }
        nanos = num(at + 1, digits).expect("digits") * 10u32.pow(9 - digits as u32);
        at += 1 + digits;
    }
    if &b[at..] != b"Z" {
        return bad("the time ends with an upper-case 'Z' (UTC; no offsets)");
    }
    if hour > 23 || minute > 59 {
        return bad("hour or minute out of range");
    }
    if second > 59 {
        return bad("seconds are 00 to 59 (leap seconds are not represented)");
    }
    let date = Month::try_from(month as u8)
        .ok()
        .and_then(|m| Date::from_calendar_date(year as i32, m, day as u8).ok());
    let Some(date) = date else {
        return bad("no such calendar date");
    };
    let time =
        Time::from_hms_nano(hour as u8, minute as u8, second as u8, nanos).expect("checked above");
    Ok(PrimitiveDateTime::new(date, time).assume_utc())
}

/// Formats `t` (in any offset) as the strict UTC form: the fraction only when there is
/// one, without trailing zeros. `None` if the year is outside 0000 to 9999.
pub fn format_utc(t: OffsetDateTime) -> Option<String> {
    let t = t.to_offset(UtcOffset::UTC);
    if !(0..=9999).contains(&t.year()) {
        return None;
    }
    let mut s = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    if t.nanosecond() != 0 {
        let f = format!("{:09}", t.nanosecond());
        s.push('.');
        s.push_str(f.trim_end_matches('0'));
    }
    s.push('Z');
    Some(s)
}

/// A start anchor or other timestamp member: a UTC instant, kept together with the exact
/// text the document gave, so that reading a record and writing it back gives the same
/// bytes (`2026-11-23T10:15:00Z` and `2026-11-23T10:15:00.000Z` are one instant but two
/// texts). Made only from a valid text ([`Timestamp::parse`], or `str::parse`) or from
/// an instant ([`Timestamp::from_utc`], which writes the canonical text).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Timestamp {
    text: String,
    utc: OffsetDateTime,
}

/// Why a text is not a [`Timestamp`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampError(String);

impl std::fmt::Display for TimestampError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TimestampError {}

impl Timestamp {
    /// Reads the strict form (see [`parse_utc`]).
    pub fn parse(s: &str) -> Result<Timestamp, TimestampError> {
        let utc = parse_utc(s).map_err(TimestampError)?;
        Ok(Timestamp {
            text: s.to_string(),
            utc,
        })
    }

    /// The instant `t` (in any offset) in the canonical text of [`format_utc`]; an
    /// error for a year outside 0000 to 9999.
    pub fn from_utc(t: OffsetDateTime) -> Result<Timestamp, TimestampError> {
        let text = format_utc(t)
            .ok_or_else(|| TimestampError(format!("{t} is outside the years 0000 to 9999")))?;
        Ok(Timestamp {
            text,
            utc: t.to_offset(UtcOffset::UTC),
        })
    }

    /// The instant, in UTC.
    pub fn utc(&self) -> OffsetDateTime {
        self.utc
    }

    /// The text, exactly as read (or as [`Timestamp::from_utc`] wrote it).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The instant `d` later (earlier for a negative `d`), in canonical text.
    pub fn checked_add(&self, d: time::Duration) -> Result<Timestamp, TimestampError> {
        let t = self
            .utc
            .checked_add(d)
            .ok_or_else(|| TimestampError(format!("{} + {d} is out of range", self.text)))?;
        Timestamp::from_utc(t)
    }
}

impl std::str::FromStr for Timestamp {
    type Err = TimestampError;
    fn from_str(s: &str) -> Result<Timestamp, TimestampError> {
        Timestamp::parse(s)
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl AsRef<str> for Timestamp {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_strict_form_is_accepted() {
        for (s, nanos) in [
            ("2026-11-23T10:15:00Z", 0),
            ("2026-11-23T10:15:06.5Z", 500_000_000),
            ("2026-11-23T10:15:06.000000001Z", 1),
            ("2024-02-29T23:59:59Z", 0),
            ("0000-01-01T00:00:00Z", 0),
            ("9999-12-31T23:59:59.999999999Z", 999_999_999),
        ] {
            let t = parse_utc(s).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(t.nanosecond(), nanos, "{s}");
            assert_eq!(t.offset(), UtcOffset::UTC);
            assert_eq!(
                format_utc(t).as_deref(),
                Some(s),
                "formatting gives it back"
            );
        }
    }

    #[test]
    fn every_other_form_is_refused() {
        for s in [
            "2026-11-23t10:15:00Z",      // lower-case t
            "2026-11-23 10:15:00Z",      // space
            "2026-11-23T10:15:00z",      // lower-case z
            "2026-11-23T10:15:00",       // no zone
            "2026-11-23T10:15:00+01:00", // an offset
            "2026-11-23T10:15:00+00:00", // UTC, but as an offset
            "2026-11-23T10:15:00-00:00",
            "2026-02-30T00:00:00Z", // no such day
            "2025-02-29T00:00:00Z", // not a leap year
            "2026-13-01T00:00:00Z",
            "2026-00-01T00:00:00Z",
            "2026-11-00T00:00:00Z",
            "2026-11-23T24:00:00Z",
            "2026-11-23T10:60:00Z",
            "2026-12-31T23:59:60Z", // leap second
            "2026-11-23T10:15:00.Z",
            "2026-11-23T10:15:00.1234567891Z", // 10 fraction digits
            "2026-11-23T10:15:00,5Z",
            "2026-11-23T10:15Z",
            "26-11-23T10:15:00Z",
            "+2026-11-23T10:15:00Z",
            "2026-11-23T10:15:00ZZ",
            "2026-11-23T10:15:00Z ",
            " 2026-11-23T10:15:00Z",
            "2026-1-23T10:15:00Z",
            "2026/11/23T10:15:00Z",
            "yesterday at noon",
            "",
            "２026-11-23T10:15:00Z", // a full-width digit
        ] {
            assert!(parse_utc(s).is_err(), "{s:?} was accepted");
        }
    }

    #[test]
    fn formatting_goes_to_utc() {
        let t = parse_utc("2026-11-23T10:15:00.25Z")
            .unwrap()
            .to_offset(UtcOffset::from_hms(1, 0, 0).unwrap());
        assert_eq!(format_utc(t).unwrap(), "2026-11-23T10:15:00.25Z");
    }

    #[test]
    fn a_timestamp_keeps_its_text_and_its_instant() {
        let t: Timestamp = "2026-11-23T10:15:00.500Z".parse().unwrap();
        assert_eq!(t.as_str(), "2026-11-23T10:15:00.500Z", "the text as given");
        assert_eq!(t.utc().nanosecond(), 500_000_000);
        let same = Timestamp::from_utc(t.utc()).unwrap();
        assert_eq!(same.as_str(), "2026-11-23T10:15:00.5Z", "canonical text");
        assert_ne!(t, same, "two texts of one instant are two timestamps");
        assert_eq!(t.utc(), same.utc());
        let later = t.checked_add(time::Duration::seconds(90)).unwrap();
        assert_eq!(later.as_str(), "2026-11-23T10:16:30.5Z");
        assert!(Timestamp::parse("2026-11-23T10:15:00+01:00").is_err());
        let far = OffsetDateTime::from_unix_timestamp(-62_167_219_201).unwrap(); // year -1
        assert!(Timestamp::from_utc(far).is_err());
    }
}
