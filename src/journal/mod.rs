//! The journal: what a run did, durably, one JSON object per line.
//!
//! A run appends a `run` header, then per occurrence a `sending` entry before its
//! request and a `sent`, `failed` or `skipped` entry after; an `end` entry closes it.
//! An append can wait until its line is on disk: a writer thread writes whatever is
//! queued, calls `fsync` once, then tells every waiter (group commit), so a burst of
//! fifty injects costs one `fsync`, not fifty. The file is locked
//! exclusively while a run holds it. [`Replay`] reads a journal back for `--resume`
//! and reports; a torn last line (a crash mid-write) is tolerated and reported.
//!
//! [`Entry`] is the line as it is on disk, times as text; the run's in-memory events
//! ([`Event`]) become lines here and are read back here, and nowhere else.
//!
//! The entry types and their conversions are `entry`; the file and its writer thread,
//! `writer`.

use std::path::{Path, PathBuf};

mod entry;
mod plan;
mod writer;

pub use crate::event::PlanRow;
pub use entry::{ContingencyRow, Entry, ExpectationRow, ObjectiveRow, RunHeader, Summary};
pub use plan::{Rendered, Rows as PlanRows};
pub use writer::{Journal, LINGER, OpenError};

use crate::event::Event;
use crate::fold::Fold;

/// An instant as the journal writes it: RFC 3339 in UTC, to the microsecond
/// (`2026-11-28T20:00:00.000000Z`). The same text as chrono's `to_rfc3339_opts`, written
/// digit by digit: a run writes two or three per send.
pub fn time_text(t: chrono::DateTime<chrono::Utc>) -> String {
    use chrono::{Datelike, Timelike};
    let nanos = t.nanosecond();
    let year = t.year();
    // Leap seconds and years outside four digits: chrono's own way.
    if nanos >= 1_000_000_000 || !(0..=9999).contains(&year) {
        return t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    }
    let mut text = *b"0000-00-00T00:00:00.000000Z";
    let mut put = |at: usize, width: usize, mut n: u32| {
        for i in (at..at + width).rev() {
            text[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    };
    put(0, 4, year as u32);
    put(5, 2, t.month());
    put(8, 2, t.day());
    put(11, 2, t.hour());
    put(14, 2, t.minute());
    put(17, 2, t.second());
    put(20, 6, nanos / 1000);
    text.iter().map(|&b| b as char).collect()
}

/// Read an instant back from the journal: [`time_text`]'s shape at once, any other
/// RFC 3339 text through chrono.
pub fn parse_time(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let b = text.as_bytes();
    let shaped = b.len() == 27
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'.'
        && b[26] == b'Z';
    let number = |from: usize, to: usize| {
        b[from..to].iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let fast = shaped
        .then(|| {
            let date = chrono::NaiveDate::from_ymd_opt(
                number(0, 4)? as i32,
                number(5, 7)?,
                number(8, 10)?,
            )?;
            let time = chrono::NaiveTime::from_hms_micro_opt(
                number(11, 13)?,
                number(14, 16)?,
                number(17, 19)?,
                number(20, 26)?,
            )?;
            Some(date.and_time(time).and_utc())
        })
        .flatten();
    fast.or_else(|| {
        chrono::DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| t.to_utc())
    })
}

/// One line of a journal read back: a run's header, an event, or a run's end.
#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    Run(Box<RunHeader>),
    Event(Event),
    End {
        at: Option<chrono::DateTime<chrono::Utc>>,
        /// `completed` or `interrupted`.
        reason: String,
    },
}

/// A journal read back.
#[derive(Debug, Default)]
pub struct Replay {
    /// Every run header, oldest first.
    pub runs: Vec<RunHeader>,
    /// Every line of all runs in file order (headers and ends included).
    pub records: Vec<Record>,
    /// Whether the last run wrote its `end` with reason `completed`.
    pub last_completed: bool,
    /// Whether the last run wrote an `end` at all.
    pub last_ended: bool,
    /// Whether the last run was ended by a director before everything was sent (its
    /// `end` says `ended`).
    pub last_ended_by_director: bool,
    /// Problems: unreadable lines (with their 1-based line numbers).
    pub problems: Vec<String>,
}

impl Replay {
    pub fn parse(text: &str) -> Replay {
        let mut r = Replay::default();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let entry = match serde_json::from_str::<Entry>(line) {
                Ok(entry) => entry,
                Err(e) => {
                    let torn = i + 1 == lines.len() && !text.ends_with('\n');
                    r.problems.push(if torn {
                        format!(
                            "line {}: torn last line (a crash while writing), ignored",
                            i + 1
                        )
                    } else {
                        format!("line {}: not a journal entry ({e}), ignored", i + 1)
                    });
                    continue;
                }
            };
            let record = match entry {
                Entry::Run(h) => {
                    r.runs.push(h.clone());
                    r.last_ended = false;
                    r.last_completed = false;
                    r.last_ended_by_director = false;
                    Record::Run(Box::new(h))
                }
                Entry::End { at, reason, .. } => {
                    r.last_ended = true;
                    r.last_completed = reason == "completed";
                    r.last_ended_by_director = reason == "ended";
                    Record::End {
                        at: parse_time(&at),
                        reason,
                    }
                }
                Entry::Started { keys, at } => {
                    let Some(at) = parse_time(&at) else {
                        r.problems.push(format!(
                            "line {}: `at` `{at}` is not a time, ignored",
                            i + 1
                        ));
                        continue;
                    };
                    for key in keys {
                        r.records.push(Record::Event(Event::Started { key, at }));
                    }
                    continue;
                }
                other => match other.event() {
                    Some(Ok(event)) => Record::Event(event),
                    Some(Err(e)) => {
                        r.problems.push(format!("line {}: {e}, ignored", i + 1));
                        continue;
                    }
                    None => continue,
                },
            };
            r.records.push(record);
        }
        r
    }

    /// Each occurrence that went (its first `sending`), with its row as the journal had
    /// it then: a header's plan, an apply's, an ad hoc inject's, an amendment's. A later
    /// apply or resume with a changed scenario does not change what went.
    pub fn rows_as_went(&self) -> std::collections::HashMap<&str, &PlanRow> {
        let mut now: std::collections::HashMap<&str, &PlanRow> = Default::default();
        let mut went: std::collections::HashMap<&str, &PlanRow> = Default::default();
        for r in &self.records {
            match r {
                Record::Run(h) => {
                    for p in h.plan.iter().flatten() {
                        now.insert(&p.key, p);
                    }
                }
                Record::Event(Event::Applied { rows, .. } | Event::AdHoc { rows, .. }) => {
                    for p in rows {
                        now.insert(&p.key, p);
                    }
                }
                Record::Event(Event::Amended { key, after, .. }) => {
                    now.insert(key, after);
                }
                Record::Event(Event::Sending { key, .. }) => {
                    if let Some(row) = now.get(key.as_str()) {
                        went.entry(key.as_str()).or_insert(*row);
                    }
                }
                _ => {}
            }
        }
        went
    }

    /// Every event of every run, in file order.
    pub fn events(&self) -> impl Iterator<Item = &Event> {
        self.records.iter().filter_map(|r| match r {
            Record::Event(e) => Some(e),
            _ => None,
        })
    }

    /// Where every key that has any event stands. A request journaled as `sending`
    /// with no `started` line, by a run on this same boot of the machine, never started
    /// (the process stopped, the page cache stayed): it is pending, not uncertain.
    pub fn fold(&self) -> Fold {
        self.fold_into(Fold::new())
    }

    /// [`Replay::fold`] into `fold` (seeded with keys, say).
    pub fn fold_into(&self, fold: Fold) -> Fold {
        self.fold_on(fold, boot_id().as_deref())
    }

    /// [`Replay::fold_into`] as if on the boot `now` (`None`: unknown, nothing proven).
    pub fn fold_on(&self, mut fold: Fold, now: Option<&str>) -> Fold {
        let mut boot: Option<&str> = None;
        let mut same_boot = Vec::new();
        for record in &self.records {
            match record {
                Record::Run(h) => boot = h.boot_id.as_deref(),
                Record::Event(e) => {
                    let changed = fold.apply(e);
                    if let (Event::Sending { .. }, Some(i)) = (e, changed) {
                        same_boot.resize(fold.len(), false);
                        same_boot[i] = now.is_some() && boot == now;
                    }
                }
                Record::End { .. } => {}
            }
        }
        same_boot.resize(fold.len(), false);
        fold.unstarted(|i| same_boot[i]);
        fold
    }
}

/// This machine's boot id (Linux), which changes at every boot.
pub fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// Where an old journal goes when `--fresh` starts anew: beside it, stamped.
pub fn archive_path(path: &Path, stamp: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.strip_suffix(".jsonl").unwrap_or(&name);
    path.with_file_name(format!("{stem}.{stamp}.jsonl"))
}

/// The scenario's expected actions, contingencies and objectives, as a run's header
/// (and an apply's line) lists them.
pub fn declared(s: &crate::scenario::Scenario) -> crate::event::Declared {
    let (expectations, contingencies) = branch_rows(s);
    crate::event::Declared {
        expectations,
        contingencies,
        objectives: objective_rows(s),
    }
}

/// The scenario's objectives and what exercises each, for the run header.
pub fn objective_rows(s: &crate::scenario::Scenario) -> Vec<ObjectiveRow> {
    s.objectives
        .iter()
        .map(|o| ObjectiveRow {
            id: o.id.clone(),
            text: o.text.clone(),
            capability: o.capability.clone(),
            injects: s
                .injects
                .iter()
                .filter(|i| i.objectives.iter().any(|r| r.name == o.id))
                .map(|i| i.id.clone())
                .collect(),
            expectations: s
                .expectations
                .iter()
                .filter(|e| e.objectives.iter().any(|r| r.name == o.id))
                .map(|e| e.id.clone())
                .collect(),
        })
        .collect()
}

/// The scenario's expected actions and contingencies, for the run header.
pub fn branch_rows(s: &crate::scenario::Scenario) -> (Vec<ExpectationRow>, Vec<ContingencyRow>) {
    let expectations = s
        .expectations
        .iter()
        .map(|e| ExpectationRow {
            id: e.id.clone(),
            action: e.action.clone(),
            team: e.team.as_ref().map(|(t, _)| t.clone()),
            deadline: crate::plan::deadline_text(s, e),
            inject: e.owner.and_then(|i| s.injects.get(i)).map(|i| i.id.clone()),
        })
        .collect();
    // A contingency waiting on an expected action judged per team: a row per team.
    let contingencies = s
        .contingency_rows()
        .into_iter()
        .map(|(inject, _, condition)| ContingencyRow {
            inject,
            condition: condition.text(),
            on: condition
                .refs()
                .into_iter()
                .filter(|(kind, _)| *kind != "sent")
                .map(|(_, r)| r.name.clone())
                .collect(),
        })
        .collect();
    (expectations, contingencies)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_text_is_chronos_text_and_reads_back() {
        use chrono::{DateTime, SecondsFormat, TimeZone, Timelike, Utc};
        // Instants spread over years 0 to 9999 (a fixed sequence), plus the edges.
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut instants = vec![
            Utc.with_ymd_and_hms(0, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(2024, 2, 29, 12, 0, 0).unwrap(),
            DateTime::from_timestamp(0, 999_999_999).unwrap(),
        ];
        for _ in 0..20_000 {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let secs = (seed >> 11) as i64 % 315_537_897_600 - 62_167_219_200;
            let nanos = (seed % 1_000_000_000) as u32;
            instants.push(DateTime::from_timestamp(secs, nanos).unwrap());
        }
        for t in instants {
            let text = time_text(t);
            assert_eq!(text, t.to_rfc3339_opts(SecondsFormat::Micros, true));
            let micros = t.timestamp_subsec_micros() * 1000;
            let truncated = t.with_nanosecond(micros).unwrap();
            assert_eq!(parse_time(&text), Some(truncated), "{text}");
        }
        // Outside four-digit years, chrono's text; other RFC 3339 shapes, chrono's reading.
        let far = Utc.with_ymd_and_hms(12345, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(
            time_text(far),
            far.to_rfc3339_opts(SecondsFormat::Micros, true)
        );
        assert_eq!(
            parse_time("2026-11-28T21:00:00+01:00"),
            Some(Utc.with_ymd_and_hms(2026, 11, 28, 20, 0, 0).unwrap())
        );
        assert_eq!(parse_time("2026-02-30T00:00:00.000000Z"), None);
        assert_eq!(parse_time("2026-11-28T2x:00:00.000000Z"), None);
        assert_eq!(parse_time(""), None);
    }

    #[test]
    fn a_torn_last_line_is_reported_and_the_rest_used() {
        let text = "{\"type\":\"sending\",\"key\":\"a\",\"planned_at\":\"2026-03-28T09:00:00Z\",\"at\":\"2026-03-28T08:59:59Z\"}\n{\"type\":\"sent\",\"key\":\"a\",\"sta";
        let r = Replay::parse(text);
        assert_eq!(r.records.len(), 1);
        assert_eq!(r.problems.len(), 1);
        assert!(r.problems[0].contains("torn"));
        assert_eq!(
            r.fold().get("a").unwrap().status,
            crate::fold::Status::Uncertain
        );
    }

    #[test]
    fn archive_names() {
        assert_eq!(
            archive_path(Path::new("/x/q.journal.jsonl"), "20260101T000000Z"),
            PathBuf::from("/x/q.journal.20260101T000000Z.jsonl")
        );
    }
}
