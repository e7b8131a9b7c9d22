//! People's words and units: durations as people write them (`2h`, `1h 58m`, `11.7 s`,
//! `3m 20s`), moves in words (`2m earlier`), never raw milliseconds. Pure text, for
//! every place a person reads: replies to live actions, previews, logs.

/// A duration in milliseconds as a person writes it, without its sign: `11.7 s` under a
/// minute (tenths only when not whole), else days, hours, minutes and seconds with the
/// zero parts left out (`2h`, `1h 58m`, `3m 20s`, `1d 2h`).
pub fn duration_ms(ms: i64) -> String {
    let ms = ms.unsigned_abs();
    if ms < 60_000 {
        let tenths = (ms + 50) / 100;
        return if tenths.is_multiple_of(10) {
            format!("{} s", tenths / 10)
        } else {
            format!("{}.{} s", tenths / 10, tenths % 10)
        };
    }
    let secs = (ms + 500) / 1000;
    let parts = [
        (secs / 86_400, "d"),
        (secs / 3600 % 24, "h"),
        (secs / 60 % 60, "m"),
        (secs % 60, "s"),
    ];
    parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// [`duration_ms`] of a time delta.
pub fn duration(d: chrono::TimeDelta) -> String {
    duration_ms(d.num_milliseconds())
}

/// A move in words: `2m earlier`, `5m later`, `not at all`.
pub fn moved_ms(ms: i64) -> String {
    match ms {
        0 => "not at all".into(),
        ms if ms < 0 => format!("{} earlier", duration_ms(ms)),
        ms => format!("{} later", duration_ms(ms)),
    }
}

/// A shift as `ctl shift` takes it back: `-2m`, `+1h 30m` (no space inside a part).
pub fn signed_ms(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "+" };
    format!("{sign}{}", duration_ms(ms).replace(' ', ""))
}

/// `T+01:30:00`, with milliseconds when not whole seconds.
pub fn show_offset(d: std::time::Duration) -> String {
    let secs = d.as_secs();
    let mut s = format!(
        "T+{:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    let ms = d.subsec_millis();
    if ms != 0 {
        s.push_str(&format!(".{ms:03}"));
    }
    s
}

/// The units a duration of an exercise may be written in: humantime's spellings of
/// milliseconds to days, and weeks. Months and years are humantime's too (`5M` is five
/// months): never meant in an exercise's times, and a capital M is a slip for minutes.
const DURATION_UNITS: &[&str] = &[
    "ms", "msec", "s", "sec", "secs", "second", "seconds", "m", "min", "mins", "minute", "minutes",
    "h", "hr", "hrs", "hour", "hours", "d", "day", "days", "w", "week", "weeks",
];

/// The unit of `text` (a duration such as `5m`, `1h 30m`) that an exercise's times do not
/// take, with the way to say it (`5m is 5 minutes`); `None` when every unit is one.
pub fn unit_slip(text: &str) -> Option<String> {
    // A word (`soon`) is not a duration at all: that is said elsewhere.
    if !text.trim().starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let unit = text
        .split(|c: char| !c.is_ascii_alphabetic())
        .find(|u| !u.is_empty() && !DURATION_UNITS.contains(u))?;
    let n: String = text
        .trim()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let n = if n.is_empty() { "5".to_string() } else { n };
    Some(format!(
        "`{unit}` is not a unit of an exercise's times; write seconds, minutes, hours or days ({n}s, {n}m, {n}h, {n}d): {n}m is {n} minutes"
    ))
}

/// `1 occurrence`, `14 occurrences`.
pub fn count(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(duration_ms(11_730), "11.7 s");
        assert_eq!(duration_ms(2_000), "2 s");
        assert_eq!(duration_ms(-7_200_000), "2h");
        assert_eq!(duration_ms(7_080_000), "1h 58m");
        assert_eq!(duration_ms(200_000), "3m 20s");
        assert_eq!(duration_ms(93_600_000), "1d 2h");
        assert_eq!(duration_ms(0), "0 s");
        assert_eq!(moved_ms(-120_000), "2m earlier");
        assert_eq!(moved_ms(300_000), "5m later");
        assert_eq!(signed_ms(-119_000), "-1m59s");
        assert_eq!(count(1, "occurrence", "occurrences"), "1 occurrence");
        assert_eq!(count(14, "occurrence", "occurrences"), "14 occurrences");
    }
}
