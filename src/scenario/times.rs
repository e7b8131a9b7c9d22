//! Offsets, durations and start times as a scenario writes them.

use std::time::Duration;

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone};
use chrono_tz::Tz;

use super::Problem;
use crate::yaml::{Node, Value};

/// An offset from T0: `0s`, `90s`, `5m`, `1h30m`, `01:30:00`, `+5m`. A clock offset of
/// two parts (`5:00`) is refused as ambiguous: people mean minutes and seconds as often
/// as hours and minutes, and YAML readers differ (300 in YAML 1.1, text in 1.2).
pub fn parse_offset(node: &Node) -> Result<Duration, Problem> {
    match &node.value {
        Value::Str(s) if is_two_part_clock(s) => {
            let t = s.trim();
            let (a, b) = t.split_once(':').unwrap_or((t, ""));
            Err((
                format!(
                    "`{t}` is ambiguous: {a} hours and {b} minutes, or {a} minutes and {b} seconds?"
                ),
                Some(format!(
                    "write `{}` or `{}`, or the full clock `{}` (HH:MM:SS)",
                    unit_form(a, b, "h", "m"),
                    unit_form(a, b, "m", "s"),
                    format_args!("00:{:0>2}:{:0>2}", a.trim_start_matches('+'), b)
                )),
            ))
        }
        Value::Str(s) => parse_offset_str(s),
        Value::Int(i) => Err((
            format!("`{i}` has no unit"),
            Some(format!("write `{i}s` for seconds, or `{i}m` for minutes")),
        )),
        _ => Err((
            format!("expected a duration such as `5m`, found {}", node.kind()),
            None,
        )),
    }
}

/// `5:00`, `0:05`, `+1:30`: a clock offset of two parts.
fn is_two_part_clock(s: &str) -> bool {
    let t = s.trim().trim_start_matches('+');
    let parts: Vec<&str> = t.split(':').collect();
    parts.len() == 2
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// `5h` of `5:00` read as hours and minutes (`1h30m` of `1:30`), or `5m` as minutes and
/// seconds.
fn unit_form(a: &str, b: &str, big: &str, small: &str) -> String {
    let a = a.trim_start_matches('+').trim_start_matches('0');
    let b = b.trim_start_matches('0');
    match (a.is_empty(), b.is_empty()) {
        (true, true) => format!("0{small}"),
        (false, true) => format!("{a}{big}"),
        (true, false) => format!("{b}{small}"),
        (false, false) => format!("{a}{big}{b}{small}"),
    }
}

/// The longest offset or duration a scenario may write: a year (and a day). Longer is a
/// typo, and would take instants out of any calendar's range.
pub const MAX_OFFSET: Duration = Duration::from_secs(366 * 24 * 3600);

/// [`parse_offset`] for text; at most [`MAX_OFFSET`].
pub fn parse_offset_str(text: &str) -> Result<Duration, Problem> {
    let d = parse_any_offset(text)?;
    if d > MAX_OFFSET {
        return Err((
            format!("`{}` is more than a year", text.trim()),
            Some("a scenario's times span at most 366 days; split a longer exercise".into()),
        ));
    }
    Ok(d)
}

fn parse_any_offset(text: &str) -> Result<Duration, Problem> {
    let s = text.trim();
    if s.starts_with('-') {
        return Err((
            format!("`{s}` is negative"),
            Some("an offset counts from T0 forwards".into()),
        ));
    }
    // `T+01:30:00`, as the plan writes an offset, is one too.
    let s = s
        .strip_prefix("T+")
        .or_else(|| s.strip_prefix("t+"))
        .or_else(|| s.strip_prefix('+'))
        .unwrap_or(s)
        .trim();
    if s.contains(':') {
        return parse_clock(s).ok_or_else(|| {
            (
                format!("`{s}` is not a clock offset"),
                Some("write HH:MM:SS or HH:MM, for example `01:30:00`".into()),
            )
        });
    }
    if let Some(slip) = crate::human::unit_slip(s) {
        return Err((format!("`{s}`: {slip}"), None));
    }
    humantime::parse_duration(s).map_err(|e| {
        (
            format!("`{s}` is not a duration ({e})"),
            Some("write a number and a unit, for example `90s`, `5m`, `1h30m`".into()),
        )
    })
}

/// `H:MM`, `HH:MM:SS` or `HH:MM:SS.fff`.
fn parse_clock(s: &str) -> Option<Duration> {
    let parts: Vec<&str> = s.split(':').collect();
    if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.is_empty()) {
        return None;
    }
    let digits = |p: &str| {
        p.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| p.parse::<u64>().ok())
            .flatten()
    };
    let hours = digits(parts[0])?;
    let minutes = digits(parts[1])?;
    if minutes >= 60 || parts[1].len() != 2 || hours > 10_000 {
        return None;
    }
    let mut total = Duration::from_secs(hours * 3600 + minutes * 60);
    if let Some(sec) = parts.get(2) {
        let (whole, frac) = sec.split_once('.').unwrap_or((sec, ""));
        let secs = digits(whole)?;
        if secs >= 60 || whole.len() != 2 {
            return None;
        }
        total += Duration::from_secs(secs);
        if !frac.is_empty() {
            if frac.len() > 9 {
                return None;
            }
            let nanos = digits(frac)? * 10u64.pow(9 - frac.len() as u32);
            total += Duration::from_nanos(nanos);
        }
    }
    Some(total)
}

/// A signed duration in whole seconds: `-2h`, `30m`.
pub(super) fn parse_signed_duration(node: &Node) -> Result<i64, Problem> {
    let Some(s) = node.as_str() else {
        return Err((
            format!("expected a duration such as `-2h`, found {}", node.kind()),
            None,
        ));
    };
    let s = s.trim();
    let (sign, rest) = match s.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, s.strip_prefix('+').unwrap_or(s)),
    };
    let d = parse_offset_str(rest)?;
    Ok(sign * d.as_secs() as i64)
}

/// A start time: RFC 3339 with an offset, or a local date-time in `tz`.
pub fn parse_start(text: &str, tz: Option<Tz>) -> Result<DateTime<FixedOffset>, Problem> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t);
    }
    let naive = [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok());
    match (naive, tz) {
        (Some(n), Some(tz)) => match tz.from_local_datetime(&n) {
            chrono::LocalResult::Single(t) => Ok(t.fixed_offset()),
            chrono::LocalResult::Ambiguous(a, b) => Err((
                format!("`{text}` happens twice in {tz} (the clocks go back)"),
                Some(format!(
                    "write it with an offset: `{}` or `{}`",
                    a.to_rfc3339(),
                    b.to_rfc3339()
                )),
            )),
            chrono::LocalResult::None => Err((
                format!("`{text}` does not exist in {tz} (the clocks go forward)"),
                None,
            )),
        },
        (Some(_), None) => Err((
            format!("`{text}` has no UTC offset"),
            Some(
                "add an offset (`2026-03-28T09:00:00+01:00`), or set `timezone:` to an IANA name"
                    .into(),
            ),
        )),
        (None, _) => Err((
            format!("`{text}` is not a date-time"),
            Some("write RFC 3339, for example `2026-03-28T09:00:00+01:00`".into()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offset(s: &str) -> Result<Duration, Problem> {
        parse_offset_str(s)
    }

    #[test]
    fn offsets_in_every_documented_spelling() {
        assert_eq!(offset("0s").unwrap(), Duration::ZERO);
        assert_eq!(offset("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(offset("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(offset("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(offset("01:30:00").unwrap(), Duration::from_secs(5400));
        assert_eq!(offset("0:05").unwrap(), Duration::from_secs(300));
        assert_eq!(offset("+5m").unwrap(), Duration::from_secs(300));
        assert_eq!(offset("00:00:01.250").unwrap(), Duration::from_millis(1250));
        assert!(offset("-5m").is_err());
        assert!(offset("5 parsecs").is_err());
        assert!(offset("1:75").is_err());
        assert!(offset("::").is_err());
    }

    #[test]
    fn start_times() {
        assert!(parse_start("2026-03-28T09:00:00+01:00", None).is_ok());
        let london: Tz = "Europe/London".parse().unwrap();
        let t = parse_start("2026-07-01 09:00", Some(london)).unwrap();
        assert_eq!(t.to_rfc3339(), "2026-07-01T09:00:00+01:00");
        assert!(
            parse_start("2026-07-01 09:00", None)
                .unwrap_err()
                .1
                .is_some()
        );
        assert!(
            parse_start("2026-03-29 01:30", Some(london)).is_err(),
            "in the DST gap"
        );
        assert!(
            parse_start("2026-10-25 01:30", Some(london)).is_err(),
            "ambiguous"
        );
    }
}
