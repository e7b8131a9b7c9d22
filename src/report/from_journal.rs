//! The fold from a journal: its lines read into one row per occurrence in the order
//! they went, the run's actions, the expected actions and contingencies as judged, the
//! notes and ratings, the objectives; then the outcome and the summary.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::clock::{Clock, lateness_text};
use super::judged::Judged;
use super::story::{self, Context};
use super::{Action, Note, Report, Row};
use crate::action::Action as Act;
use crate::adaptive::Standing;
use crate::event::Event;
use crate::fold::{Fold, Slot, Status};
use crate::journal::{PlanRow, Record, Replay, parse_time, time_text};

/// The note an event records, with its instant.
fn note_of(e: &Event, clock: &Clock) -> Option<(DateTime<Utc>, Note)> {
    let n = crate::board::NoteView::of(e)?;
    Some((
        n.at,
        Note {
            at: time_text(n.at),
            local: clock.local(n.at),
            offset: clock.t_plus(n.at),
            by: n.by,
            source: n.source.into(),
            text: n.text,
            key: n.key,
            expectation: n.expectation,
            objectives: n.objectives,
            tag: n.tag.map(crate::action::NoteTag::name),
            rating: n.rating.map(crate::action::Rating::letter),
        },
    ))
}

/// The run's action a journal line records: a start or restart, a director's or a
/// controller's control. A run's `end` line shows only when no director ended it.
fn action_of(record: &Record, clock: &Clock, ended_by_hand: bool) -> Option<Action> {
    let at_of = |t: DateTime<Utc>| (time_text(t), clock.local(t), clock.t_plus(t));
    match record {
        Record::Run(h) => {
            // A run resumed after a stop "restarts"; "resume" is a hold's release.
            let what = if h.resumes.is_some() {
                "restart"
            } else {
                "start"
            };
            let mode = if h.dry_run { "a dry run" } else { "live" };
            let started = parse_time(&h.started_at);
            let (at, local, t_plus) =
                started.map_or_else(|| (h.started_at.clone(), h.started_at.clone(), None), at_of);
            Some(Action {
                at,
                local,
                t_plus,
                what: what.into(),
                key: None,
                by: None,
                detail: format!(
                    "{mode}, T0 {}, {} occurrences (run id {})",
                    parse_time(&h.t0)
                        .or_else(|| chrono::DateTime::parse_from_rfc3339(&h.t0)
                            .ok()
                            .map(|t| t.to_utc()))
                        .map_or_else(|| h.t0.clone(), |t| clock.local_full(t)),
                    h.occurrences,
                    short(&h.run_id)
                ),
            })
        }
        Record::End { at, reason } => {
            if ended_by_hand && reason != "interrupted" {
                return None;
            }
            let (at, local, t_plus) = at.map_or(("-".into(), "-".into(), None), at_of);
            Some(Action {
                at,
                local,
                t_plus,
                what: "stop".into(),
                key: None,
                by: None,
                detail: match reason.as_str() {
                    "completed" => "the run stopped: everything was done".into(),
                    "interrupted" => "the run was interrupted (Ctrl-C or a signal)".into(),
                    other => format!("the run stopped: {other}"),
                },
            })
        }
        Record::Event(Event::Control {
            at,
            action,
            moved_ms,
            source,
            by,
        }) => {
            let mut detail = action.key().unwrap_or_default().to_string();
            if let Some(ms) = moved_ms.filter(|ms| *ms != 0) {
                let sep = if detail.is_empty() { "" } else { " " };
                let words = match action {
                    Act::Resume => format!("after {}", crate::human::duration_ms(ms)),
                    _ => crate::human::moved_ms(ms),
                };
                detail = format!("{detail}{sep}{words}");
            }
            if let Some(n) = action.note() {
                let sep = if detail.is_empty() { "" } else { ": " };
                detail = format!("{detail}{sep}{n}");
            }
            let detail = format!(
                "{detail} (from the {}{})",
                source.name(),
                by.as_deref().map_or(String::new(), |b| format!(", by {b}"))
            )
            .trim()
            .to_string();
            let (at, local, t_plus) = at_of(*at);
            Some(Action {
                at,
                local,
                t_plus,
                what: action.name().into(),
                key: action.key().map(String::from),
                by: by.clone(),
                detail,
            })
        }
        Record::Event(e) => improvised_action(e, &at_of),
    }
}

/// The white cell's improvising a journal line records: an apply, an amendment, an ad
/// hoc inject.
fn improvised_action(
    e: &Event,
    at_of: &dyn Fn(DateTime<Utc>) -> (String, String, Option<String>),
) -> Option<Action> {
    match e {
        Event::Applied {
            at,
            file,
            changes,
            source,
            by,
            undoes,
            ..
        } => {
            let (at, local, t_plus) = at_of(*at);
            let mut words: Vec<String> =
                ["added", "moved", "moved and changed", "changed", "removed"]
                    .into_iter()
                    .filter_map(|effect| {
                        let keys: Vec<&str> = changes
                            .iter()
                            .filter(|c| c.effect == effect)
                            .map(|c| c.key.as_str())
                            .collect();
                        (!keys.is_empty()).then(|| format!("{effect} {}", keys.join(", ")))
                    })
                    .collect();
            let left: Vec<String> = changes
                .iter()
                .filter(|c| !c.applied())
                .map(|c| format!("{} ({})", c.key, c.detail))
                .collect();
            if !left.is_empty() {
                words.push(format!("left as it went: {}", left.join(", ")));
            }
            let (what, file) = match undoes {
                Some(made) => (
                    "undo",
                    format!(
                        "the apply made at {} taken back, {file} as before it",
                        crate::journal::parse_time(made).map_or(made.clone(), |t| at_of(t).1)
                    ),
                ),
                None => ("apply", file.clone()),
            };
            Some(Action {
                at,
                local,
                t_plus,
                what: what.into(),
                key: None,
                by: by.clone(),
                detail: format!(
                    "{file}: {} (from the {}{})",
                    words.join("; "),
                    source.name(),
                    by.as_deref().map_or(String::new(), |b| format!(", by {b}"))
                ),
            })
        }
        Event::Amended {
            at,
            key,
            fields,
            source,
            by,
            ..
        } => {
            let (at, local, t_plus) = at_of(*at);
            Some(Action {
                at,
                local,
                t_plus,
                what: "amend".into(),
                key: Some(key.clone()),
                by: by.clone(),
                detail: format!(
                    "{key}: {} (from the {}{})",
                    fields.join(", "),
                    source.name(),
                    by.as_deref().map_or(String::new(), |b| format!(", by {b}"))
                ),
            })
        }
        Event::AdHoc {
            at,
            id,
            rows,
            source,
            by,
            ..
        } => {
            let (at, local, t_plus) = at_of(*at);
            let subject = rows
                .first()
                .and_then(|r| r.subject.clone())
                .map_or(String::new(), |s| format!(" \"{s}\""));
            let many = match rows.len() {
                1 => String::new(),
                n => format!(", {n} occurrences"),
            };
            Some(Action {
                at,
                local,
                t_plus,
                what: "send".into(),
                key: Some(id.clone()),
                by: by.clone(),
                detail: format!(
                    "ad hoc inject {id}{subject}{many} (from the {}{})",
                    source.name(),
                    by.as_deref().map_or(String::new(), |b| format!(", by {b}"))
                ),
            })
        }
        _ => None,
    }
}

/// The scenario's name for an id, beside the id.
fn named(name: Option<&str>, id: &str) -> String {
    match name {
        Some(n) if !id.is_empty() => format!("{n} ({id})"),
        _ => id.to_string(),
    }
}

/// The inject an occurrence key is of: `ID` of `ID#N@TEAM`.
fn inject_of(key: &str) -> &str {
    key.split(['#', '@']).next().unwrap_or(key)
}

/// The row of occurrence `key`: its slot in the fold, with what its row of the plan
/// says of it, its times in the scenario's clocks.
fn row(
    key: &str,
    slot: &Slot,
    plan: Option<&PlanRow>,
    clock: &Clock,
    objectives: &[crate::journal::ObjectiveRow],
) -> Row {
    // One never due (not triggered) has no instant.
    let planned_at = slot
        .planned
        .or_else(|| plan.and_then(|p| parse_time(&p.planned_at)))
        .filter(|_| slot.status != Status::NotTriggered);
    // Nothing went for one skipped, not triggered, or never started.
    let went = match slot.status {
        Status::Sent | Status::Failed | Status::Uncertain => slot.at,
        _ => None,
    };
    let inject = inject_of(key).to_string();
    let due = slot.status != Status::NotTriggered;
    // Its planned scenario time: the plan's, else reckoned from its instant.
    let offset_ms = plan
        .filter(|_| due)
        .and_then(|p| p.t_plus_ms)
        .and_then(|ms| i64::try_from(ms).ok())
        .or_else(|| {
            planned_at
                .filter(|_| due)
                .and_then(|p| clock.scenario_ms(p))
                .map(round_to_second)
        });
    Row {
        key: key.to_string(),
        offset: offset_ms.map(Clock::t_plus_ms),
        offset_ms,
        sent_t_plus: went.and_then(|w| clock.t_plus(w)),
        channel: plan.map(|p| p.channel.clone()).unwrap_or_default(),
        persona: plan.map_or_else(String::new, |p| {
            named(p.persona_name.as_deref(), &p.persona)
        }),
        to: plan.map_or_else(String::new, |p| named(p.to_name.as_deref(), &p.to)),
        subject: plan.and_then(|p| p.subject.clone()).unwrap_or_default(),
        owner: plan.and_then(|p| p.owner.clone()),
        objectives: objectives
            .iter()
            .filter(|o| o.injects.contains(&inject))
            .map(|o| o.id.clone())
            .collect(),
        inject,
        planned_local: planned_at.filter(|_| due).map(|p| clock.local(p)),
        planned_at,
        sent_at: went,
        sent_local: went.map(|w| clock.local(w)),
        lateness_ms: slot.lateness_ms.filter(|_| went.is_some()),
        lateness: slot
            .lateness_ms
            .filter(|_| went.is_some())
            .map(lateness_text),
        status: slot.word(),
        late: slot.late,
        how: String::new(),
        by: None,
        fired_by_hand: false,
        attempts: slot.attempts,
        http_status: slot.http_status,
        message_id: slot.message_id.as_deref().map(String::from),
        error: slot.error.as_deref().map(String::from),
        body: None,
    }
}

/// The people who acted (controls, notes, ratings), in the order they first did.
fn people(records: &[Record]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in records {
        let by = match r {
            Record::Event(Event::Control { by, .. } | Event::Note { by, .. }) => by,
            _ => continue,
        };
        if let Some(b) = by
            && !out.contains(b)
        {
            out.push(b.clone());
        }
    }
    out
}

/// The wall-clock span of the run: its first start to its last line.
fn span_of(records: &[Record]) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let times = records.iter().filter_map(|r| match r {
        Record::Run(h) => parse_time(&h.started_at),
        Record::Event(e) => e.at(),
        Record::End { at, .. } => *at,
    });
    let (mut lo, mut hi): (Option<DateTime<Utc>>, Option<DateTime<Utc>>) = (None, None);
    for t in times {
        lo = Some(lo.map_or(t, |l| l.min(t)));
        hi = Some(hi.map_or(t, |h| h.max(t)));
    }
    lo.zip(hi)
}

/// The order of the rows: when each went, else when it was due; never-due (not
/// triggered) last; the plan's order among equals.
fn in_time_order(rows: &mut [Row]) {
    rows.sort_by_key(|r| {
        let when = match r.status {
            "not triggered" => None,
            _ => r.sent_at.or(r.planned_at),
        };
        (when.is_none(), when)
    });
}

/// What the changed scenarios applied did: their rows over the plan's (seeded in
/// `fold`), and who added, moved or changed which occurrence, and how.
fn applied_rows<'a>(
    records: &'a [Record],
    (fold, removed): (&mut Fold, &std::collections::HashSet<&str>),
    planned: &mut HashMap<&'a str, &'a PlanRow>,
) -> HashMap<&'a str, (crate::action::Source, Option<String>, String)> {
    let mut applied = HashMap::new();
    for r in records {
        let Record::Event(Event::Applied {
            changes,
            rows,
            source,
            by,
            undoes,
            ..
        }) = r
        else {
            continue;
        };
        let how = if undoes.is_some() {
            "by an undo of an apply"
        } else {
            "by an apply"
        };
        for c in changes
            .iter()
            .filter(|c| c.applied() && c.effect != "removed")
        {
            applied.insert(
                c.key.as_str(),
                (*source, by.clone(), format!("{} {how}", c.effect)),
            );
        }
        // One a later apply removed before it went is not a row.
        for p in rows.iter().filter(|p| !removed.contains(p.key.as_str())) {
            fold.seed(p.key.clone());
            planned.insert(p.key.as_str(), p);
        }
    }
    applied
}

/// The occurrences the applies of the journal removed last (and no later apply added
/// again), before they went.
fn removed_keys(records: &[Record]) -> std::collections::HashSet<&str> {
    let mut removed = std::collections::HashSet::new();
    for r in records {
        if let Record::Event(Event::Applied { changes, .. }) = r {
            for c in changes.iter().filter(|c| c.applied()) {
                if c.effect == "removed" {
                    removed.insert(c.key.as_str());
                } else {
                    removed.remove(c.key.as_str());
                }
            }
        }
    }
    removed
}

/// Who acted on an occurrence by hand, from where.
type Hand = (crate::action::Source, Option<String>);

/// The occurrences written or amended during the run: their rows as they went (an
/// amendment's over the plan's), who wrote each ad hoc one, who amended what.
struct Improvised<'a> {
    rows: Vec<(&'a str, &'a PlanRow)>,
    adhoc: HashMap<&'a str, Hand>,
    amended: HashMap<&'a str, (crate::action::Source, Option<String>, Vec<String>)>,
}

impl<'a> Improvised<'a> {
    fn of(records: &'a [Record]) -> Improvised<'a> {
        let mut out = Improvised {
            rows: Vec::new(),
            adhoc: HashMap::new(),
            amended: HashMap::new(),
        };
        for record in records {
            match record {
                Record::Event(Event::AdHoc {
                    rows, source, by, ..
                }) => {
                    for p in rows {
                        out.rows.push((&p.key, p));
                        out.adhoc.insert(&p.key, (*source, by.clone()));
                    }
                }
                Record::Event(Event::Amended {
                    key,
                    fields,
                    after,
                    source,
                    by,
                    ..
                }) => {
                    out.rows.push((key, after));
                    // Every field amended, by the last who amended it.
                    let mut all = out
                        .amended
                        .remove(key.as_str())
                        .map(|(_, _, f)| f)
                        .unwrap_or_default();
                    for f in fields {
                        if !all.contains(f) {
                            all.push(f.clone());
                        }
                    }
                    out.amended.insert(key, (*source, by.clone(), all));
                }
                _ => {}
            }
        }
        out
    }
}

impl Report {
    /// Fold a journal's text into a report.
    pub fn from_journal(text: &str) -> Report {
        let replay = Replay::parse(text);
        let last = replay.runs.last();
        let clock = Clock::of(last, &replay.records);
        // The newest plan lists every occurrence, started or not.
        let plan = replay.runs.iter().rev().find_map(|h| h.plan.as_ref());
        let mut fold = Fold::new();
        let mut planned: HashMap<&str, &PlanRow> = HashMap::new();
        let removed_at_last = removed_keys(&replay.records);
        for p in plan.into_iter().flatten() {
            if !removed_at_last.contains(p.key.as_str()) {
                fold.seed(p.key.clone());
            }
            planned.insert(&p.key, p);
        }
        let applied = applied_rows(&replay.records, (&mut fold, &removed_at_last), &mut planned);
        let improvised = Improvised::of(&replay.records);
        for (key, row) in &improvised.rows {
            if improvised.adhoc.contains_key(key) {
                fold.seed((*key).to_string());
            }
            planned.insert(key, row);
        }
        let (adhoc, amended) = (improvised.adhoc, improvised.amended);
        // What went, as it went: a later apply or a changed scenario does not change it.
        planned.extend(replay.rows_as_went());
        let mut judged = Judged::declared(&replay.records);
        let mut notes: Vec<Note> = Vec::new();
        for record in &replay.records {
            let Record::Event(e) = record else { continue };
            notes.extend(note_of(e, &clock).map(|(_, n)| n));
            judged.heard(e, &clock);
        }
        let ended_by_hand = replay.records.iter().any(|r| {
            matches!(
                r,
                Record::Event(Event::Control {
                    action: Act::End,
                    ..
                })
            )
        });
        let actions = replay
            .records
            .iter()
            .filter_map(|r| action_of(r, &clock, ended_by_hand))
            .collect();
        let runs_seen = replay
            .records
            .iter()
            .filter(|r| matches!(r, Record::Run(_)))
            .count();
        let spans = story::restarts(&replay.records);
        let acts = story::hand_acts(&replay.records);
        // The same fold a resume makes: a request never started is pending, not uncertain.
        let fold = replay.fold_into(fold);
        let (totals, lateness) = fold.totals();
        let objectives = super::judged::declared(&replay.records)
            .map(|d| d.objectives)
            .unwrap_or_default();
        let mut rows: Vec<Row> = fold
            .iter()
            .map(|(key, slot)| {
                let mut r = row(key, slot, planned.get(key).copied(), &clock, &objectives);
                let after = planned.get(key).and_then(|p| p.t_plus_ms);
                let contingency = contingency_of(&judged, &r, after, &clock);
                if let Some(ms) = contingency.as_ref().and_then(|(_, _, ms)| *ms) {
                    r.offset_ms = Some(round_to_second(ms));
                    r.offset = r.offset_ms.map(Clock::t_plus_ms);
                }
                let cx = Context {
                    clock: &clock,
                    acts: &acts,
                    restarts: &spans,
                    contingency: contingency.map(|(c, came, _)| (c, came)),
                    adhoc: adhoc.get(key).cloned(),
                    amended: amended.get(key).cloned(),
                    applied: applied.get(key).cloned(),
                };
                story::how(&mut r, &cx);
                if r.fired_by_hand {
                    // Its send was planned at the fire; its instant is the plan's, and
                    // how early it went is said in words, not as a lateness.
                    r.planned_at = planned
                        .get(key)
                        .and_then(|p| parse_time(&p.planned_at))
                        .or(r.planned_at);
                    r.planned_local = r.planned_at.map(|p| clock.local(p));
                    r.lateness = None;
                    r.lateness_ms = None;
                }
                r
            })
            .collect();
        in_time_order(&mut rows);
        let mut first_sent: HashMap<String, DateTime<Utc>> = HashMap::new();
        for r in &rows {
            if let Some(at) = r.sent_at.filter(|_| r.status == "sent") {
                first_sent
                    .entry(r.inject.clone())
                    .and_modify(|t| *t = (*t).min(at))
                    .or_insert(at);
            }
        }
        judged.finish(&clock, &first_sent);
        let restarts = story::restart_rows(&spans, &rows, &clock);
        let objective_reports =
            super::objectives::objectives(&objectives, &rows, &judged.expectations, &notes);
        let improvement_plan = super::objectives::improvement_plan(&objective_reports, &notes);
        let shifted: i64 = replay
            .records
            .iter()
            .filter_map(|r| match r {
                Record::Event(Event::Control {
                    action: Act::Shift(_),
                    moved_ms,
                    ..
                }) => *moved_ms,
                _ => None,
            })
            .sum();
        let mut report = Report {
            scenario: last.map(|h| h.scenario.clone()).unwrap_or_default(),
            name: replay.runs.iter().rev().find_map(|h| h.name.clone()),
            dry_run: last.is_some_and(|h| h.dry_run),
            t0: last.map(|h| h.t0.clone()),
            t0_local: clock.t0.map(|t| clock.local_full(t)),
            timezone: clock.zone(),
            speed: last.and_then(|h| h.speed),
            runs: runs_seen,
            finished: false,
            outcome: super::Outcome::default(),
            summary: Vec::new(),
            totals,
            lateness,
            actions,
            restarts,
            problems: replay.problems.clone(),
            rows,
            expectations: judged.expectations,
            contingencies: judged.contingencies,
            notes,
            objectives: objective_reports,
            improvement_plan,
            clock,
        };
        report.outcome =
            report.outcome_of(&replay.records, (replay.last_completed, replay.last_ended));
        report.finished = report.outcome.word == "completed";
        report.summary =
            report.summary_of(span_of(&replay.records), shifted, &people(&replay.records));
        report
    }
}

/// For a row of a contingency inject: its condition, what it came to, and its planned
/// scenario time once triggered (the condition's instant plus its offset).
fn contingency_of(
    judged: &Judged,
    r: &Row,
    after_ms: Option<u64>,
    clock: &Clock,
) -> Option<(String, String, Option<i64>)> {
    let c = judged
        .contingencies
        .iter()
        .find(|c| crate::action::of_part(&r.key, &c.inject))?;
    let came = match c.outcome {
        Standing::Triggered => format!("triggered at {}", c.t_plus.as_deref().unwrap_or("?")),
        Standing::NotTriggered => format!(
            "not triggered{}",
            c.because
                .as_deref()
                .map_or(String::new(), |b| format!(" ({b})"))
        ),
        Standing::Armed => "still armed when the run stopped".into(),
    };
    let t_plus = judged
        .triggered_at(&c.inject)
        .and_then(|at| Some(clock.scenario_ms(at)? + i64::try_from(after_ms?).ok()?));
    Some((c.condition.clone(), came, t_plus))
}

/// Scenario milliseconds reckoned from wall instants, to the second: their
/// milliseconds are the clock's noise, not the scenario's.
fn round_to_second(ms: i64) -> i64 {
    (ms + 500).div_euclid(1000) * 1000
}

fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}
