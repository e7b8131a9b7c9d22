//! The plan: a timeline shown as a table, CSV, or JSON with each exact request body.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::Value as J;

use crate::timeline::{Occurrence, Timeline, show_time};

pub use crate::human::show_offset;

/// One plan row's columns, shared by the text and CSV shapes.
struct Row {
    key: String,
    offset: String,
    fire_at: String,
    channel: String,
    persona: String,
    recipient: String,
    subject: String,
}

fn row(t: &Timeline, occ: &Occurrence) -> Row {
    let inject = t.inject(occ);
    let text = |name: &str| t.field_text(inject, name);
    let body = t.body(occ).ok();
    let wire = |name: &str| {
        body.as_ref()
            .map_or(String::new(), |b| crate::message::field_text(b, name))
    };
    let persona_id = wire("persona");
    // A list takes turns: the one of it this occurrence has.
    let persona_written = t.persona_text(occ);
    let persona = if persona_id.is_empty() || persona_id == persona_written {
        persona_written
    } else {
        format!("{persona_written} ({persona_id})")
    };
    // Who receives it, with the alias the scenario wrote beside the id.
    let recipient = match (&body, occ.team.as_deref()) {
        (Some(b), team) => match crate::message::recipient(b) {
            crate::message::Recipient::Team(id) => {
                let label = team.map_or_else(|| text("team_id"), |(label, _)| label.clone());
                if label == id || label.is_empty() {
                    format!("team {id}")
                } else {
                    format!("team {label} ({id})")
                }
            }
            other => other.to_string(),
        },
        (None, _) => String::new(),
    };
    let subject = body.as_ref().map_or(String::new(), crate::message::subject);
    Row {
        key: occ.key.clone(),
        offset: show_offset(occ.offset),
        fire_at: show_time(t.fire_at(occ), t.scenario.timezone),
        channel: match body.as_ref().map(crate::message::endpoint) {
            Some(crate::message::Endpoint::Gps) => "gps".into(),
            _ => wire("channel"),
        },
        persona,
        recipient,
        subject,
    }
}

/// The plan as a table: the planned occurrences, then each contingency with its
/// condition and its offset from the moment the condition holds, and each expected
/// action with its deadline. `resolved`: a timeline whose contingencies were resolved
/// (`plan --assume`): every occurrence is a row at its instant.
pub fn text(t: &Timeline, t0_known: bool) -> String {
    text_of(t, t0_known, false)
}

/// [`text`] of a timeline resolved by `plan --assume`, with where the branches ended.
pub fn text_resolved(
    t: &Timeline,
    t0_known: bool,
    sim: &crate::adaptive::Simulation,
    model: &crate::adaptive::Model,
) -> String {
    let mut out = text_of(t, t0_known, true);
    let views = crate::adaptive::Views::of(model, &sim.state, chrono::TimeDelta::zero());
    if !views.expectations.is_empty() {
        out.push_str("\nExpected actions (as assumed)\n");
        let cells: Vec<[String; 4]> = views
            .expectations
            .iter()
            .map(|e| {
                [
                    e.id.clone(),
                    e.outcome.unwrap_or_default().word().to_string(),
                    e.at.map_or(String::new(), |at| offset_of(t, at)),
                    clip(&e.action, 60),
                ]
            })
            .collect();
        out.push_str(&crate::table::text_table(
            ["ID", "OUTCOME", "WHEN", "ACTION"],
            &cells,
        ));
    }
    let not: Vec<[String; 2]> = views
        .contingencies
        .iter()
        .filter(|c| c.state != crate::adaptive::Standing::Triggered)
        .map(|c| [c.id.clone(), c.because.clone().unwrap_or_default()])
        .collect();
    if !not.is_empty() {
        out.push_str("\nNot triggered\n");
        out.push_str(&crate::table::text_table(["INJECT", "WHY"], &not));
    }
    out
}

/// An expectation's deadline in words: `20m after evacuation-order is sent`, or
/// `by T+01:50:00`.
pub fn deadline_text(s: &crate::scenario::Scenario, e: &crate::scenario::Expectation) -> String {
    match (e.deadline, e.owner) {
        (crate::scenario::Deadline::Within(d), Some(owner)) => format!(
            "{} after {} is sent",
            crate::human::duration_ms(d.as_millis() as i64),
            s.injects[owner].id
        ),
        (crate::scenario::Deadline::By(d) | crate::scenario::Deadline::Within(d), _) => {
            format!("by {}", show_offset(d))
        }
    }
}

/// `T+…` of a wall-clock instant (scenario time: times the speed).
fn offset_of(t: &Timeline, at: chrono::DateTime<chrono::Utc>) -> String {
    let run = (at - t.t0.to_utc()).to_std().unwrap_or_default();
    show_offset(Duration::from_secs_f64(run.as_secs_f64() * t.speed))
}

/// Every contingency occurrence at the instant `sim` fired it, with the planned ones:
/// the timeline `plan --assume` shows.
pub fn resolve(t: &Timeline, sim: &crate::adaptive::Simulation) -> Timeline {
    let occurrences = sim
        .fires
        .iter()
        .map(|(i, at)| {
            let mut o = t.occurrences[*i].clone();
            let run = (*at - t.t0.to_utc()).to_std().unwrap_or_default();
            o.offset = Duration::from_secs_f64(run.as_secs_f64() * t.speed);
            o
        })
        .collect();
    t.with_occurrences(occurrences)
}

fn text_of(t: &Timeline, t0_known: bool, resolved: bool) -> String {
    let mut out = String::new();
    let s = &t.scenario;
    let _ = writeln!(out, "{}", if s.name.is_empty() { &s.file } else { &s.name });
    let contingent = t.occurrences.iter().filter(|o| t.is_contingent(o)).count();
    let planned = t.occurrences.iter().filter(|o| !t.is_contingent(o));
    let duration = planned.clone().map(|o| o.offset).max().unwrap_or_default();
    let _ = writeln!(
        out,
        "T0 {}{}  speed {}{}  {} occurrences over {}{}",
        show_time(t.t0, s.timezone),
        if t0_known { "" } else { " (not fixed: now)" },
        t.speed,
        if s.draws() {
            format!("  seed {}", s.seed)
        } else {
            String::new()
        },
        planned.count(),
        show_offset(duration).trim_start_matches("T+"),
        if contingent > 0 {
            format!("  and {contingent} contingent")
        } else {
            String::new()
        }
    );
    let rows: Vec<Row> = t
        .occurrences
        .iter()
        .filter(|o| resolved || !t.is_contingent(o))
        .map(|o| row(t, o))
        .collect();
    let headers = [
        "KEY", "OFFSET", "FIRES AT", "CHANNEL", "PERSONA", "TO", "SUBJECT",
    ];
    let cols = |r: &Row| -> [String; 7] {
        [
            r.key.clone(),
            r.offset.clone(),
            r.fire_at.clone(),
            r.channel.clone(),
            r.persona.clone(),
            r.recipient.clone(),
            clip(&r.subject, 60),
        ]
    };
    let cells: Vec<[String; 7]> = rows.iter().map(cols).collect();
    out.push_str(&crate::table::text_table(headers, &cells));
    if resolved {
        return out;
    }
    let contingent: Vec<[String; 6]> = t
        .occurrences
        .iter()
        .filter(|o| t.is_contingent(o))
        .map(|o| {
            let r = row(t, o);
            let when = t.condition_text(o).unwrap_or_default();
            [
                r.key,
                when,
                match o.offset.as_millis() {
                    0 => "at once".to_string(),
                    ms => crate::human::duration_ms(ms as i64),
                },
                r.channel,
                r.recipient,
                clip(&r.subject, 50),
            ]
        })
        .collect();
    if !contingent.is_empty() {
        out.push_str(
            "\nContingencies (fire when their condition holds; `plan --assume` resolves them)\n",
        );
        out.push_str(&crate::table::text_table(
            ["KEY", "WHEN", "AFTER", "CHANNEL", "TO", "SUBJECT"],
            &contingent,
        ));
    }
    let s = &t.scenario;
    if !s.expectations.is_empty() {
        let cells: Vec<[String; 4]> = s
            .expectations
            .iter()
            .map(|e| {
                let deadline = deadline_text(s, e);
                [
                    e.id.clone(),
                    e.team.as_ref().map_or(String::new(), |(t, _)| t.clone()),
                    deadline,
                    clip(&e.action, 60),
                ]
            })
            .collect();
        out.push_str("\nExpected actions (judged live: `injector ctl met|missed ID`)\n");
        out.push_str(&crate::table::text_table(
            ["ID", "TEAM", "DEADLINE", "ACTION"],
            &cells,
        ));
    }
    out
}

fn clip(s: &str, n: usize) -> String {
    let one_line = s.replace('\n', " ");
    if one_line.chars().count() <= n {
        one_line
    } else {
        let mut c: String = one_line.chars().take(n - 1).collect();
        c.push('…');
        c
    }
}

/// The plan as CSV for a spreadsheet: a row per occurrence with its message text and
/// the expected action it carries (id, action, deadline).
pub fn csv(t: &Timeline) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record([
        "key",
        "offset",
        "fires_at",
        "channel",
        "persona",
        "to",
        "subject",
        "message",
        "expect",
        "expected_action",
        "deadline",
    ]);
    for occ in &t.occurrences {
        let r = row(t, occ);
        let message = t
            .body(occ)
            .map(|b| crate::message::field_text(&b, "body"))
            .unwrap_or_default();
        let expect = t.expectation_of(occ);
        let (offset, fire_at) = match t.condition_text(occ).filter(|_| t.is_contingent(occ)) {
            // Not a time of the exercise: its delay once the condition holds.
            Some(c) => (
                match occ.offset.as_millis() {
                    0 => format!("when {c}"),
                    ms => format!("{} after {c}", crate::human::duration_ms(ms as i64)),
                },
                String::new(),
            ),
            None => (r.offset, r.fire_at),
        };
        let _ = w.write_record([
            r.key,
            offset,
            fire_at,
            r.channel,
            r.persona,
            r.recipient,
            r.subject,
            message,
            expect.map_or(String::new(), |e| e.id.clone()),
            expect.map_or(String::new(), |e| e.action.clone()),
            expect.map_or(String::new(), |e| deadline_text(&t.scenario, e)),
        ]);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// The plan's header fields; `occurrences` follows them (see [`write_json`]).
#[derive(serde::Serialize)]
struct Head<'a> {
    scenario: &'a str,
    name: &'a str,
    t0: String,
    t0_fixed: bool,
    speed: f64,
    /// The seed of the scenario's draws (jitter, `one_of`, crowds), when it makes any.
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<u64>,
    duration: String,
    /// The expected actions, each with its deadline.
    expectations: Vec<ExpectationJson>,
    /// The contingency injects: the condition each waits on and its delay once it holds.
    contingencies: Vec<ContingencyJson>,
    /// The objectives, with their capability.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    objectives: Vec<ObjectiveJson>,
}

/// An objective in the JSON plan.
#[derive(serde::Serialize)]
struct ObjectiveJson {
    id: String,
    text: String,
    capability: Option<String>,
}

/// An expected action in the JSON plan.
#[derive(serde::Serialize)]
struct ExpectationJson {
    id: String,
    action: String,
    team: Option<String>,
    /// The inject whose send starts its deadline (`expect:`); none for `expectations:`.
    inject: Option<String>,
    /// `20m after evacuation-order is sent`, `by T+01:50:00`.
    deadline: String,
    /// `within` (counted from its inject's send) or `by` (an offset from T0).
    deadline_kind: &'static str,
    deadline_ms: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    objectives: Vec<String>,
}

/// A contingency inject in the JSON plan.
#[derive(serde::Serialize)]
struct ContingencyJson {
    inject: String,
    condition: String,
    /// How long after its condition holds it fires: `10m`.
    delay: String,
    delay_ms: u64,
}

/// The scenario's expected actions and contingencies, for the JSON plan's head.
fn branches_json(t: &Timeline) -> (Vec<ExpectationJson>, Vec<ContingencyJson>) {
    let s = &t.scenario;
    let expectations = s
        .expectations
        .iter()
        .map(|e| {
            let (kind, d) = match e.deadline {
                crate::scenario::Deadline::Within(d) => ("within", d),
                crate::scenario::Deadline::By(d) => ("by", d),
            };
            ExpectationJson {
                id: e.id.clone(),
                action: e.action.clone(),
                team: e.team.as_ref().map(|(t, _)| t.clone()),
                inject: e.owner.and_then(|i| s.injects.get(i)).map(|i| i.id.clone()),
                deadline: deadline_text(s, e),
                deadline_kind: kind,
                deadline_ms: d.as_millis() as u64,
                objectives: e.objectives.iter().map(|r| r.name.clone()).collect(),
            }
        })
        .collect();
    let contingencies = s
        .contingency_rows()
        .into_iter()
        .map(|(inject, c, condition)| ContingencyJson {
            inject,
            condition: condition.text(),
            delay: crate::human::duration_ms(c.after.as_millis() as i64),
            delay_ms: c.after.as_millis() as u64,
        })
        .collect();
    (expectations, contingencies)
}

/// One occurrence of the JSON plan, with its exact request body (`null` when it cannot
/// be built; `validate` says why).
#[derive(serde::Serialize)]
struct Element<'a> {
    key: &'a str,
    inject: &'a str,
    occurrence: Option<u64>,
    team: Option<&'a str>,
    /// Its offset from T0; `null` for a contingency, whose time is not known before its
    /// condition holds (see `delay`).
    offset: Option<String>,
    offset_ms: Option<u64>,
    /// A contingency's delay once its condition holds: `10m`.
    #[serde(skip_serializing_if = "Option::is_none")]
    delay: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    delay_ms: Option<u64>,
    /// `null` for a contingency: it fires when its condition holds.
    fires_at: Option<String>,
    /// The API path it goes to: `/messages`, `/messages/position`, `/messages/role` or
    /// `/messages/gps`.
    endpoint: &'static str,
    /// A contingency's condition; its delay counts from when it holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    condition: Option<String>,
    /// The objectives its inject exercises.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    objectives: Vec<&'a str>,
    /// The controller who watches it.
    #[serde(skip_serializing_if = "Option::is_none")]
    owner: Option<&'a str>,
    /// The exact request body; a contingency's without `ts`, which is its instant once
    /// its condition holds.
    body: Option<serde_json::Map<String, J>>,
}

/// Occurrences serialized together by one thread of [`write_json`].
const CHUNK: usize = 256;

/// The plan as JSON, pretty-printed to `out` with a final newline: the same bytes as
/// `serde_json::to_writer_pretty` of the whole document. The occurrences are built and
/// serialized in chunks by a thread per CPU (bodies are most of the work) and written in
/// order as they come, so 100,000 bodies never sit in memory at once.
pub fn write_json(
    t: &Timeline,
    t0_known: bool,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let s = &t.scenario;
    let (expectations, contingencies) = branches_json(t);
    let head = Head {
        scenario: &s.file,
        name: &s.name,
        t0: show_time(t.t0, s.timezone),
        t0_fixed: t0_known,
        speed: t.speed,
        seed: s.draws().then_some(s.seed),
        duration: show_offset(t.duration()),
        expectations,
        contingencies,
        objectives: s
            .objectives
            .iter()
            .map(|o| ObjectiveJson {
                id: o.id.clone(),
                text: o.text.clone(),
                capability: o.capability.clone(),
            })
            .collect(),
    };
    let head = serde_json::to_vec_pretty(&head).map_err(std::io::Error::from)?;
    // `{ ...fields\n}`: the fields stay, `occurrences` goes after the last one.
    out.write_all(&head[..head.len() - 2])?;
    if t.occurrences.is_empty() {
        return out.write_all(b",\n  \"occurrences\": []\n}\n");
    }
    out.write_all(b",\n  \"occurrences\": [\n")?;
    // Those due at an offset in timeline order, then the contingencies (their time is
    // known once their condition holds).
    let order: Vec<usize> = (0..t.occurrences.len())
        .filter(|i| !t.is_contingent(&t.occurrences[*i]))
        .chain((0..t.occurrences.len()).filter(|i| t.is_contingent(&t.occurrences[*i])))
        .collect();
    let order = &order;
    let chunks = t.occurrences.len().div_ceil(CHUNK);
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 4)
        .min(chunks);
    std::thread::scope(|scope| {
        // Thread `w` serializes chunks w, w + threads, ...; each hands them over in order
        // through its own short queue, so reading the queues in turn restores the order.
        let queues: Vec<_> = (0..threads)
            .map(|w| {
                let (tx, rx) = std::sync::mpsc::sync_channel::<std::io::Result<Vec<u8>>>(2);
                scope.spawn(move || {
                    for c in (w..chunks).step_by(threads) {
                        let done =
                            chunk_json(t, &order[c * CHUNK..((c + 1) * CHUNK).min(order.len())]);
                        // The writer stopped (a failed write): nothing more to do.
                        if tx.send(done).is_err() {
                            break;
                        }
                    }
                });
                rx
            })
            .collect();
        for c in 0..chunks {
            let bytes = queues[c % threads]
                .recv()
                .map_err(|_| std::io::Error::other("a plan thread stopped"))??;
            out.write_all(&bytes)?;
            out.write_all(if c + 1 == chunks { b"\n" } else { b",\n" })?;
        }
        Ok::<(), std::io::Error>(())
    })?;
    out.write_all(b"  ]\n}\n")
}

/// The occurrences in `range`, each pretty-printed at the depth of the plan's
/// `occurrences` list, separated by `,\n` (no separator after the last).
fn chunk_json(t: &Timeline, indices: &[usize]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(indices.len() * 512);
    let mut one = Vec::with_capacity(1024);
    for (n, &i) in indices.iter().enumerate() {
        let occ = &t.occurrences[i];
        let contingent = t.is_contingent(occ);
        let ms = occ.offset.as_millis() as u64;
        let mut body = t.body(occ).ok();
        if contingent && let Some(b) = body.as_mut() {
            b.remove("ts");
        }
        let element = Element {
            key: &occ.key,
            inject: &t.inject(occ).id,
            occurrence: occ.n,
            team: occ.team.as_deref().map(|(label, _)| label.as_str()),
            offset: (!contingent).then(|| show_offset(occ.offset)),
            offset_ms: (!contingent).then_some(ms),
            delay: contingent.then(|| crate::human::duration_ms(ms as i64)),
            delay_ms: contingent.then_some(ms),
            endpoint: t.endpoint(occ).path(),
            fires_at: (!t.is_contingent(occ))
                .then(|| show_time(t.fire_at(occ), t.scenario.timezone)),
            condition: t.condition_text(occ).filter(|_| t.is_contingent(occ)),
            objectives: t
                .inject(occ)
                .objectives
                .iter()
                .map(|r| r.name.as_str())
                .collect(),
            owner: t.inject(occ).owner.as_deref(),
            body,
        };
        one.clear();
        serde_json::to_writer_pretty(&mut one, &element).map_err(std::io::Error::from)?;
        // Two levels deeper than a document of its own. A JSON string holds no raw
        // newline, so every newline is a line break of the layout.
        out.extend_from_slice(b"    ");
        for line in one.split_inclusive(|b| *b == b'\n') {
            out.extend_from_slice(line);
            if line.ends_with(b"\n") {
                out.extend_from_slice(b"    ");
            }
        }
        if n + 1 != indices.len() {
            out.extend_from_slice(b",\n");
        }
    }
    Ok(out)
}
