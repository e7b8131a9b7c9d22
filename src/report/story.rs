//! How each occurrence went, in words; the restarts and their downtime; the run's
//! outcome and the summary paragraph.

use chrono::{DateTime, Utc};

use super::clock::{Clock, lateness_text};
use super::judged::who;
use super::{Expected, Outcome, Report, Restart, Row};
use crate::action::{Action, Source, of_inject};
use crate::adaptive::Verdict;
use crate::event::Event;
use crate::human;
use crate::journal::Record;

/// An action someone took by hand on an occurrence (or on its inject).
pub(super) struct HandAct {
    pub at: DateTime<Utc>,
    pub action: Action,
    pub by: Option<String>,
    pub source: Source,
}

/// Every fire, retry, skip and unskip the journal records, in time order.
pub(super) fn hand_acts(records: &[Record]) -> Vec<HandAct> {
    records
        .iter()
        .filter_map(|r| match r {
            Record::Event(Event::Control {
                at,
                action:
                    action @ (Action::Fire(_) | Action::Retry(_) | Action::Skip(_) | Action::Unskip(_)),
                by,
                source,
                ..
            }) => Some(HandAct {
                at: *at,
                action: action.clone(),
                by: by.clone(),
                source: *source,
            }),
            _ => None,
        })
        .collect()
}

/// The stops of the process and the resumes after them: a stop is the last line the
/// journal holds before a run that resumes another.
pub(super) fn restarts(records: &[Record]) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let mut last: Option<DateTime<Utc>> = None;
    let mut out = Vec::new();
    for r in records {
        match r {
            Record::Run(h) => {
                let started = crate::journal::parse_time(&h.started_at);
                if h.resumes.is_some()
                    && let (Some(stopped), Some(resumed)) = (last, started)
                {
                    out.push((stopped, resumed));
                }
                last = started.or(last);
            }
            Record::Event(e) => last = e.at().or(last),
            Record::End { at, .. } => last = at.or(last),
        }
    }
    out
}

/// The restarts as the report shows them, each with the occurrences due while down.
pub(super) fn restart_rows(
    spans: &[(DateTime<Utc>, DateTime<Utc>)],
    rows: &[Row],
    clock: &Clock,
) -> Vec<Restart> {
    spans
        .iter()
        .map(|(stopped, resumed)| Restart {
            stopped_at: clock.local(*stopped),
            resumed_at: clock.local(*resumed),
            stopped_utc: Some(*stopped),
            resumed_utc: Some(*resumed),
            downtime: human::duration(*resumed - *stopped),
            downtime_ms: (*resumed - *stopped).num_milliseconds(),
            late: rows
                .iter()
                .filter(|r| r.planned_at.is_some_and(|p| *stopped <= p && p <= *resumed))
                .filter(|r| r.sent_at.is_none_or(|w| w > *stopped))
                .map(|r| r.key.clone())
                .collect(),
        })
        .collect()
}

/// What a row needs to be told: the hands on it, the holds, the restarts, and the
/// contingency it is of (its condition, what it came to).
pub(super) struct Context<'a> {
    pub clock: &'a Clock,
    pub acts: &'a [HandAct],
    pub restarts: &'a [(DateTime<Utc>, DateTime<Utc>)],
    /// Its inject's condition and what it came to, for a contingency.
    pub contingency: Option<(String, String)>,
    /// Who wrote it during the run, for an ad hoc inject's occurrence.
    pub adhoc: Option<(crate::action::Source, Option<String>)>,
    /// Who amended it before it went, and the fields (the last amendment's).
    pub amended: Option<(crate::action::Source, Option<String>, Vec<String>)>,
    /// Who applied a changed scenario that added, moved or changed it, and how
    /// (`moved by an apply`).
    pub applied: Option<(crate::action::Source, Option<String>, String)>,
}

/// What the white cell's improvising made of an occurrence: written ad hoc, amended,
/// changed by an apply.
fn marks(cx: &Context<'_>) -> Vec<String> {
    let mut parts = Vec::new();
    if let Some((source, by)) = &cx.adhoc {
        parts.push(format!("ad hoc, by {}", who(source.name(), by.as_deref())));
    }
    if let Some((source, by, fields)) = &cx.amended {
        parts.push(format!(
            "amended by {}: {}",
            who(source.name(), by.as_deref()),
            fields.join(", ")
        ));
    }
    if let Some((source, by, effect)) = &cx.applied {
        parts.push(format!("{effect} ({})", who(source.name(), by.as_deref())));
    }
    parts
}

/// How `row` went, in words, and who acted on it by hand.
pub(super) fn how(row: &mut Row, cx: &Context<'_>) {
    let mine: Vec<&HandAct> = cx
        .acts
        .iter()
        .filter(|a| {
            a.action
                .key()
                .is_some_and(|k| k == row.key || of_inject(&row.key, k))
        })
        .collect();
    if let Some((_, by)) = &cx.adhoc {
        row.by.clone_from(by);
    }
    let mut parts = marks(cx);
    if let Some((condition, came)) = &cx.contingency {
        parts.push(format!("contingency (when {condition}): {came}"));
    }
    let sent_or_failed = matches!(row.status, "sent" | "possible duplicate" | "failed");
    let went = row.sent_at;
    // Fired by hand: a fire before it went.
    if sent_or_failed
        && let Some(fire) = mine.iter().rev().find(|a| {
            matches!(a.action, Action::Fire(_))
                && went.is_none_or(|w| a.at <= w + chrono::TimeDelta::seconds(1))
        })
    {
        row.fired_by_hand = true;
        row.by.clone_from(&fire.by);
        // How early, in scenario time: its planned T+ less the clock's when it went.
        let early = match (row.offset_ms, went.and_then(|w| cx.clock.scenario_ms(w))) {
            (Some(p), Some(w)) if p > w => format!(
                ", {} early{}",
                human::duration_ms(p - w),
                if cx.clock.speed == 1.0 {
                    ""
                } else {
                    " (exercise time)"
                }
            ),
            _ => String::new(),
        };
        parts.push(format!(
            "fired by hand by {}{early}",
            who(fire.source.name(), fire.by.as_deref())
        ));
    }
    if let Some(retry) = mine
        .iter()
        .rev()
        .find(|a| matches!(a.action, Action::Retry(_)))
        && sent_or_failed
    {
        row.by = row.by.clone().or(retry.by.clone());
        parts.push(format!(
            "retried by hand by {}",
            who(retry.source.name(), retry.by.as_deref())
        ));
    }
    if row.status == "skipped" {
        match mine
            .iter()
            .rev()
            .find(|a| matches!(a.action, Action::Skip(_)))
        {
            Some(skip) => {
                row.by.clone_from(&skip.by);
                parts.push(format!(
                    "skipped by {}",
                    who(skip.source.name(), skip.by.as_deref())
                ));
            }
            None => parts.push(format!(
                "skipped: {}",
                row.error.as_deref().unwrap_or("no reason journaled")
            )),
        }
    } else if let Some(unskip) = mine
        .iter()
        .rev()
        .find(|a| matches!(a.action, Action::Unskip(_)))
    {
        row.by = row.by.clone().or(unskip.by.clone());
        parts.push(format!(
            "unskipped by {}",
            who(unskip.source.name(), unskip.by.as_deref())
        ));
    }
    if let Some(w) = went.filter(|_| sent_or_failed) {
        // A hold it waited through: one that began before it went and ended before.
        let held: i64 = cx
            .clock
            .holds
            .iter()
            .filter_map(|(from, until)| {
                // Its planned instant is moved by the holds: one due while held is
                // planned within the hold's length after its release.
                let until = (*until)?;
                let due_while_held = row
                    .planned_at
                    .is_some_and(|p| p >= until && p < until + (until - *from));
                (until <= w && due_while_held).then(|| (until - *from).num_milliseconds())
            })
            .sum();
        if held > 0 && !row.fired_by_hand {
            parts.push(format!("after a hold of {}", human::duration_ms(held)));
        }
        if let Some((stopped, resumed)) = cx.restarts.iter().find(|(stopped, resumed)| {
            row.planned_at
                .is_some_and(|p| *stopped <= p && p <= *resumed && *resumed <= w)
        }) {
            parts.push(format!(
                "after a restart (down {})",
                human::duration(*resumed - *stopped)
            ));
        }
    }
    match row.status {
        "failed" => parts.push(format!(
            "failed: {}",
            row.error.as_deref().unwrap_or("no reason journaled")
        )),
        "uncertain" => {
            parts.push("may or may not have arrived (the run stopped during its send)".into())
        }
        "pending" => parts.push("never sent (the run stopped first)".into()),
        "possible duplicate" => {
            parts.push("sent again after an uncertain send: players may see it twice".into())
        }
        _ => {}
    }
    // Nothing else to say of a send: whether it kept its time.
    let only_condition = parts.len()
        == usize::from(cx.contingency.is_some())
            + usize::from(cx.adhoc.is_some())
            + usize::from(cx.amended.is_some())
            + usize::from(cx.applied.is_some());
    if row.status == "sent" && (parts.is_empty() || only_condition) {
        parts.push(if row.late {
            format!(
                "late by {}",
                row.lateness
                    .as_deref()
                    .unwrap_or("?")
                    .trim_start_matches('+')
            )
        } else {
            "on schedule".into()
        });
    }
    row.how = parts.join("; ");
}

impl Report {
    /// How the run came out, from its last run's lines: a director's end (by whom,
    /// when), and whether anything was left.
    pub(super) fn outcome_of(
        &self,
        records: &[Record],
        (completed, ended): (bool, bool),
    ) -> Outcome {
        let clock = &self.clock;
        let since_last_run = records
            .iter()
            .rposition(|r| matches!(r, Record::Run(_)))
            .map_or(records, |i| &records[i..]);
        let end = since_last_run.iter().rev().find_map(|r| match r {
            Record::Event(Event::Control {
                at,
                action: Action::End,
                by,
                source,
                ..
            }) => Some((*at, who(source.name(), by.as_deref()), by.clone())),
            _ => None,
        });
        let t = &self.totals;
        let left = t.pending + t.uncertain;
        let mut unsent = Vec::new();
        if t.uncertain > 0 {
            unsent.push(format!("{} uncertain", t.uncertain));
        }
        if t.pending > 0 {
            unsent.push(format!("{} never sent", t.pending));
        }
        let unsent = if unsent.is_empty() {
            "everything was sent".to_string()
        } else {
            unsent.join(", ")
        };
        match end {
            Some((at, whom, by)) => {
                let ended = format!("ended by {whom} at {}", clock.local(at));
                let (word, text) = if left == 0 {
                    ("completed", format!("{ended}; completed"))
                } else {
                    ("ended", format!("{ended}: {unsent}"))
                };
                Outcome {
                    word,
                    ended_by: by,
                    ended_at: Some(clock.local(at)),
                    title: text.clone(),
                    text,
                }
            }
            None if completed => Outcome {
                word: "completed",
                title: "completed".into(),
                text: "completed".into(),
                ..Outcome::default()
            },
            None => {
                let last = records.iter().rev().find_map(|r| match r {
                    Record::Event(e) => e.at(),
                    Record::End { at, .. } => *at,
                    Record::Run(h) => crate::journal::parse_time(&h.started_at),
                });
                let why = if ended {
                    "interrupted".to_string()
                } else {
                    last.map_or("no end line".into(), |l| {
                        format!(
                            "its journal stops at {} with no end line: a crash, a kill, or still running",
                            clock.local(l)
                        )
                    })
                };
                Outcome {
                    word: "unfinished",
                    title: format!("unfinished: {unsent}"),
                    text: format!("unfinished ({why}): {unsent}"),
                    ..Outcome::default()
                }
            }
        }
    }

    /// The summary paragraph, as sentences: duration, holds and shifts; the injects;
    /// the expected actions and the players' response times; the restarts; who acted.
    pub(super) fn summary_of(
        &self,
        span: Option<(DateTime<Utc>, DateTime<Utc>)>,
        shifted_ms: i64,
        people: &[String],
    ) -> Vec<String> {
        let clock = &self.clock;
        let mut out = Vec::new();
        let mut first = match span {
            Some((from, to)) => format!(
                "Ran {} from {} to {}",
                human::duration(to - from),
                clock.local_full(from),
                clock.local(to)
            ),
            None => "Never ran".into(),
        };
        let speed = self.speed.filter(|s| *s != 1.0);
        if let Some(s) = speed {
            first.push_str(&format!(" at {s}× speed"));
        }
        if self.dry_run {
            first.push_str(" (a dry run against the stand-in)");
        }
        let holds: Vec<i64> = clock
            .holds
            .iter()
            .filter_map(|(f, u)| u.map(|u| (u - *f).num_milliseconds()))
            .collect();
        if !holds.is_empty() {
            first.push_str(&format!(
                "; held {} in {}",
                human::duration_ms(holds.iter().sum()),
                human::count(holds.len(), "hold", "holds")
            ));
        }
        if shifted_ms != 0 {
            first.push_str(&format!("; shifted {}", human::moved_ms(shifted_ms)));
        }
        out.push(format!("{first}. Outcome: {}.", self.outcome.text));
        out.push(self.injects_sentence());
        if let Some(s) = expectations_sentence(&self.expectations) {
            out.push(s);
        }
        out.push(if self.restarts.is_empty() {
            "No restarts.".into()
        } else {
            let down: i64 = self.restarts.iter().map(|r| r.downtime_ms).sum();
            let late: usize = self.restarts.iter().map(|r| r.late.len()).sum();
            format!(
                "{}: down {} in all; {} due while down.",
                human::count(self.restarts.len(), "restart", "restarts"),
                human::duration_ms(down),
                human::count(late, "occurrence was", "occurrences were")
            )
        });
        if !people.is_empty() {
            out.push(format!("Who acted: {}.", people.join(", ")));
        }
        if let Some(s) = speed {
            out.push(format!(
                "T+ is the exercise's clock ({s}× the wall clock); lateness, holds, shifts and downtime are wall-clock time."
            ));
        }
        out
    }

    /// The injects' sentence: on time, late (the latest), fired by hand, skipped (by
    /// whom), failed, not triggered, uncertain, pending.
    fn injects_sentence(&self) -> String {
        let t = &self.totals;
        // A send fired by hand kept no schedule: it is counted as such, not on time.
        let by_hand = self
            .rows
            .iter()
            .filter(|r| r.fired_by_hand && !r.late && r.status == "sent")
            .count();
        let on_time = t.sent.saturating_sub(t.late + by_hand);
        let mut went = vec![format!("{on_time} on time")];
        if t.late > 0 {
            let worst = self
                .rows
                .iter()
                .filter(|r| r.late)
                .filter_map(|r| r.lateness_ms)
                .fold(f64::MIN, f64::max);
            went.push(format!(
                "{} late (the latest {})",
                t.late,
                lateness_text(worst)
            ));
        }
        if by_hand > 0 {
            went.push(format!("{by_hand} fired by hand ahead of time"));
        }
        let mut parts = vec![format!("{} sent ({})", t.sent, went.join(", "))];
        if t.skipped > 0 {
            let mut by: Vec<String> = self
                .rows
                .iter()
                .filter(|r| r.status == "skipped")
                .filter_map(|r| r.by.clone())
                .collect();
            by.dedup();
            let whom = if by.is_empty() {
                String::new()
            } else {
                format!(" (by {})", by.join(", "))
            };
            parts.push(format!("{} skipped{whom}", t.skipped));
        }
        for (n, word) in [
            (t.failed, "failed"),
            (t.not_triggered, "not triggered"),
            (t.uncertain, "uncertain"),
            (t.pending, "never sent"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {word}"));
            }
        }
        format!(
            "{}: {}.",
            human::count(t.occurrences, "occurrence", "occurrences"),
            parts.join(", ")
        )
    }
}

/// The expected actions' sentence: how many met, missed, void, open; the players'
/// response times (median and worst).
fn expectations_sentence(xs: &[Expected]) -> Option<String> {
    if xs.is_empty() {
        return None;
    }
    let n = |v: &[Verdict]| xs.iter().filter(|x| v.contains(&x.outcome)).count();
    let mut s = format!(
        "Expected actions: {} met, {} missed, {} expired (unjudged by their deadline), {} void",
        n(&[Verdict::Met]),
        n(&[Verdict::Missed]),
        n(&[Verdict::Expired]),
        n(&[Verdict::Void])
    );
    let open = n(&[Verdict::Open]);
    if open > 0 {
        s.push_str(&format!(", {open} never judged"));
    }
    let mut times: Vec<i64> = xs.iter().filter_map(|x| x.response_ms).collect();
    times.sort_unstable();
    if let (Some(median), Some(worst)) = (
        times.get(times.len().saturating_sub(1) / 2).copied(),
        times.last(),
    ) {
        s.push_str(&format!(
            "; players' response median {}, worst {}",
            human::duration_ms(median),
            human::duration_ms(*worst)
        ));
    }
    s.push('.');
    Some(s)
}
