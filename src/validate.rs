//! Validation of a whole scenario: shape, timeline, and the API contract of every body.
//!
//! [`check`] reads the file ([`crate::scenario`]), expands the timeline
//! ([`crate::timeline`]), builds each inject's body for its first occurrence per team,
//! and runs [`crate::message::check`] on it, mapping every violation back to the line
//! of the field that caused it. It adds the warnings (likely copy-paste, empty body,
//! very long scenario). `run` calls this too, so it refuses exactly what `validate` does.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};

use crate::diag::Diagnostics;
use crate::message;
use crate::scenario::{self, Scenario};
use crate::timeline::{Occurrence, Timeline};
use crate::workspace::Workspace;
use crate::yaml::Pos;

/// A scenario longer than this draws a warning.
pub const LONG_SCENARIO: Duration = Duration::from_secs(7 * 24 * 3600);

/// What validating one file found.
pub struct Checked {
    pub diags: Diagnostics,
    /// Present when the file parsed far enough to build one.
    pub timeline: Option<Timeline>,
    /// Whether T0 came from the file or a flag (else it is "now").
    pub t0_known: bool,
}

impl Checked {
    pub fn is_valid(&self, strict: bool) -> bool {
        self.diags.error_count() == 0 && (!strict || self.diags.warning_count() == 0)
    }
}

/// Read, expand and check a scenario's text.
pub fn check(
    file: &str,
    source: Arc<String>,
    start_at: Option<DateTime<FixedOffset>>,
    speed: f64,
    now: DateTime<Utc>,
) -> Checked {
    check_with(file, source, start_at, speed, now, (None, None))
}

/// [`check`] with the draws' seed set (`--seed`) over the scenario's own.
pub fn check_seeded(
    file: &str,
    source: Arc<String>,
    start_at: Option<DateTime<FixedOffset>>,
    speed: f64,
    now: DateTime<Utc>,
    seed: Option<u64>,
) -> Checked {
    check_with(file, source, start_at, speed, now, (None, seed))
}

/// [`check`], with `@handles` resolved through the workspace and every persona and team
/// id checked against it.
pub fn check_online(
    file: &str,
    source: Arc<String>,
    start_at: Option<DateTime<FixedOffset>>,
    speed: f64,
    now: DateTime<Utc>,
    ws: &Workspace,
) -> Checked {
    check_with(file, source, start_at, speed, now, (Some(ws), None))
}

fn check_with(
    file: &str,
    source: Arc<String>,
    start_at: Option<DateTime<FixedOffset>>,
    speed: f64,
    now: DateTime<Utc>,
    (ws, seed): (Option<&Workspace>, Option<u64>),
) -> Checked {
    let (mut scenario, diags) = scenario::read(file, source);
    if let (Some(s), Some(seed)) = (scenario.as_mut(), seed) {
        s.seed = seed;
    }
    check_read(scenario, diags, start_at, speed, now, ws)
}

/// [`check`] of a scenario already read ([`scenario::read`]), with its diagnostics so
/// far: for a caller that must look at the scenario (its `start`, its `@handles`)
/// before choosing T0 or the workspace, without reading it twice.
pub fn check_read(
    scenario: Option<Scenario>,
    mut diags: Diagnostics,
    start_at: Option<DateTime<FixedOffset>>,
    speed: f64,
    now: DateTime<Utc>,
    ws: Option<&Workspace>,
) -> Checked {
    let Some(mut scenario) = scenario else {
        return Checked {
            diags,
            timeline: None,
            t0_known: false,
        };
    };
    if let Some(ws) = ws {
        for p in &ws.personas {
            let handle = format!("@{}", p.handle.trim_start_matches('@'));
            scenario
                .personas
                .entry(handle)
                .or_insert_with(|| p.hash.clone());
        }
    }
    let (t0, t0_known) = crate::timeline::choose_t0(start_at, &scenario, now);
    let (timeline, errors) = Timeline::build(Arc::new(scenario), t0, speed);
    for e in errors {
        diags.error(e.pos, e.message, e.hint);
    }
    check_bodies(&timeline, &mut diags);
    check_branches(&timeline, &mut diags);
    if let Some(ws) = ws {
        check_ids(&timeline, ws, &mut diags);
    }
    warnings(&timeline, &mut diags);
    diags.sort();
    Checked {
        diags,
        timeline: Some(timeline),
        t0_known,
    }
}

/// Whether an inject (or the defaults) names a persona by an `@handle` the scenario's
/// `personas:` map does not resolve: only the workspace can.
pub fn unmapped_handles(s: &Scenario) -> bool {
    let unmapped = |f: Option<&crate::scenario::Field>| {
        f.and_then(|f| match &f.node.value {
            crate::yaml::Value::Str(text) => Some(text),
            _ => None,
        })
        .is_some_and(|text| {
            text.starts_with('@') && crate::timeline::resolve_persona(s, text).is_err()
        })
    };
    unmapped(s.defaults.iter().find(|d| d.name == "persona"))
        || s.injects.iter().any(|i| unmapped(i.field("persona")))
}

fn check_bodies(timeline: &Timeline, diags: &mut Diagnostics) {
    let s = &timeline.scenario;
    let channel_ok = |c: &str| {
        message::DOCUMENTED_CHANNELS.contains(&c) || s.extra_channels.iter().any(|e| e == c)
    };
    // The first occurrence of each inject and team; an inject whose timing is broken
    // has none, so its body is checked at offset zero.
    let mut firsts: Vec<Occurrence> = Vec::new();
    let mut checked: foldhash::HashSet<(usize, Option<&str>)> =
        foldhash::HashSetExt::with_capacity(s.injects.len());
    let mut has_any = vec![false; s.injects.len()];
    for occ in &timeline.occurrences {
        has_any[occ.inject] = true;
        if checked.insert((occ.inject, occ.team.as_deref().map(|(l, _)| l.as_str()))) {
            firsts.push(occ.clone());
        }
    }
    for (index, inject) in s.injects.iter().enumerate() {
        if !has_any[index] {
            firsts.push(Occurrence {
                key: inject.id.clone(),
                inject: index,
                origin: index,
                n: None,
                team: None,
                offset: Duration::ZERO,
            });
        }
    }
    firsts.sort_by_key(|o| o.inject);
    // A crowd's first post once per variant of its posts: every variant is checked.
    let firsts: Vec<(Occurrence, Option<usize>)> = firsts
        .into_iter()
        .flat_map(|occ| {
            let inject = &s.injects[occ.inject];
            let variants = match inject.crowd.as_ref().and(inject.field("body")) {
                Some(f) => match &f.node.value {
                    crate::yaml::Value::Seq(items) => items.len(),
                    _ => 0,
                },
                None => 0,
            };
            let one = (variants == 0).then(|| (occ.clone(), None));
            one.into_iter()
                .chain((0..variants).map(move |v| (occ.clone(), Some(v))))
        })
        .collect();
    // Building and checking bodies is independent per occurrence: spread it over the cores.
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let chunk = firsts.len().div_ceil(threads).max(1);
    let found: Vec<Found> = std::thread::scope(|scope| {
        let handles: Vec<_> = firsts
            .chunks(chunk)
            .map(|part| {
                scope.spawn(|| {
                    part.iter()
                        .map(|(occ, post)| check_one(timeline, occ, *post, &channel_ok))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a body check does not panic"))
            .collect()
    });
    let mut reported: HashSet<(usize, String)> = HashSet::new();
    for ((occ, _), problems) in firsts.iter().zip(found) {
        for (key, pos, message, hint) in problems {
            // A fan-out repeats the same problem per team: report it once.
            if reported.insert((occ.inject, key)) {
                diags.error(pos, message, hint);
            }
        }
    }
}

/// One problem: a dedup key, where, what, and a hint.
type Found = Vec<(String, Pos, String, Option<String>)>;

fn check_one(
    timeline: &Timeline,
    occ: &Occurrence,
    post: Option<usize>,
    channel_ok: &(dyn Fn(&str) -> bool + Sync),
) -> Found {
    let s = &timeline.scenario;
    let inject = timeline.inject(occ);
    let (body, errors) = timeline.build_body_with(occ, post);
    let mut out: Found = Vec::new();
    let broken: HashSet<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    for e in &errors {
        out.push((
            format!("{}:{}", e.field, e.message),
            e.pos,
            e.message.clone(),
            e.hint.clone(),
        ));
    }
    for v in message::check(&body, channel_ok) {
        // A field that could not be built was reported above.
        if broken.contains(v.field.as_str()) {
            continue;
        }
        let present = |f: &str| s.field(inject, f).is_some();
        let anchor = match v.cause {
            Some(cause) if !present(&v.field) => cause,
            _ => v.field.as_str(),
        };
        let pos = timeline.field_pos(inject, anchor);
        let message = if present(&v.field) {
            v.message.clone()
        } else {
            format!("inject `{}`: {}", inject.id, v.message)
        };
        out.push((format!("{}:{}", v.field, v.message), pos, message, v.hint));
    }
    out
}

/// Every persona and team id of the scenario must exist in the workspace.
fn check_ids(timeline: &Timeline, ws: &Workspace, diags: &mut Diagnostics) {
    let mut reported: HashSet<(usize, String)> = HashSet::new();
    for occ in &timeline.occurrences {
        let inject = timeline.inject(occ);
        let Ok(body) = timeline.body(occ) else {
            continue;
        };
        if let Some(persona) = body.get("persona").and_then(serde_json::Value::as_str)
            && !ws.has_persona(persona)
            && reported.insert((occ.inject, format!("p{persona}")))
        {
            let written = timeline.scenario.field(inject, "persona");
            let word = written
                .map(|f| f.node.scalar_text())
                .unwrap_or_else(|| persona.to_string());
            diags.error(
                timeline.field_pos(inject, "persona"),
                format!(
                    "inject `{}`: no persona `{persona}` in the workspace",
                    inject.id
                ),
                ws.suggest_persona(&word).or(Some(
                    "`injector personas` lists the workspace's personas".into(),
                )),
            );
        }
        for (field, listed) in [("position", &ws.positions), ("role", &ws.roles)] {
            let Some(list) = listed else { continue };
            if let Some(name) = body.get(field).and_then(serde_json::Value::as_str)
                && !list.iter().any(|n| n == name)
                && reported.insert((occ.inject, format!("{field}:{name}")))
            {
                // Case first: positions are case-sensitive, and `Gold commander` is
                // most likely `Gold Commander`.
                let hint = list
                    .iter()
                    .find(|n| n.to_lowercase() == name.to_lowercase())
                    .map(|n| format!("did you mean `{n}`? ({field}s are case-sensitive)"))
                    .or_else(|| {
                        crate::diag::did_you_mean(name, list.iter().map(String::as_str))
                            .map(|n| format!("did you mean `{n}`?"))
                    })
                    .or(Some(format!(
                        "the workspace's {field}s: {}",
                        list.iter()
                            .map(|n| format!("`{n}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                diags.error(
                    timeline.field_pos(inject, field),
                    format!(
                        "inject `{}`: no {field} `{name}` in the workspace",
                        inject.id
                    ),
                    hint,
                );
            }
        }
        if let Some(team) = body.get("team_id")
            && !ws.has_team(team)
            && reported.insert((occ.inject, format!("t{team}")))
        {
            let labels: Vec<String> = ws
                .teams
                .iter()
                .flat_map(|t| [t.label(), t.id.to_string()])
                .collect();
            let label = occ.team.as_deref().map_or_else(
                || team.to_string().trim_matches('"').to_string(),
                |(l, _)| l.clone(),
            );
            let hint = crate::diag::did_you_mean(&label, labels.iter().map(String::as_str))
                .and_then(|l| {
                    ws.teams
                        .iter()
                        .find(|t| t.label() == l || t.id.to_string() == l)
                })
                .map(|t| format!("did you mean {} ({})?", t.id, t.name))
                .or(Some("`injector teams` lists the workspace's teams".into()));
            diags.error(
                timeline.field_pos(inject, "team_id"),
                format!("inject `{}`: no team {team} in the workspace", inject.id),
                hint,
            );
        }
    }
}

/// Fields whose text players read.
const TEXT_FIELDS: &[&str] = &["body", "subject", "title", "subtitle", "location"];

/// A text left unquoted and followed by ` #Tag` on its line: YAML reads the tag as a
/// comment and the text ends before it (`We showed everyone. #Leaks` loses `#Leaks`).
fn hashtags_lost(s: &Scenario, diags: &mut Diagnostics) {
    let source = s.source.as_str();
    let fields = s
        .defaults
        .iter()
        .chain(s.injects.iter().flat_map(|i| i.fields.iter()));
    for f in fields.filter(|f| TEXT_FIELDS.contains(&f.name)) {
        let (start, end) = (
            f.node.pos.offset as usize,
            (f.node.pos.offset + f.node.pos.len) as usize,
        );
        let Some(text) = f.node.as_str() else {
            continue;
        };
        // Quoted and block scalars keep their `#`.
        if text.is_empty()
            || end > source.len()
            || matches!(
                source.as_bytes().get(start),
                Some(b'"' | b'\'' | b'|' | b'>')
            )
        {
            continue;
        }
        let rest = source[end..].split('\n').next().unwrap_or("");
        let trimmed = rest.trim_start_matches([' ', '\t']);
        if trimmed.len() < rest.len()
            && let Some(tag) = trimmed.strip_prefix('#')
            && tag.starts_with(|c: char| c.is_alphanumeric())
        {
            let lost = trimmed.trim_end();
            diags.warning(
                f.node.pos,
                format!("`{}` ends before `{lost}`: YAML reads ` #` as the start of a comment, so players would not see it", f.name),
                Some(format!("quote the text: {}: \"{text} {lost}\"", f.name)),
            );
        }
    }
}

fn warnings(timeline: &Timeline, diags: &mut Diagnostics) {
    let s = &timeline.scenario;
    hashtags_lost(s, diags);
    // Positions are case-sensitive: one spelled two ways is most likely a typo.
    let mut positions: Vec<(String, Pos)> = Vec::new();
    for inject in &s.injects {
        let Some(f) = s.field(inject, "position") else {
            continue;
        };
        let Some(p) = f.node.as_str() else { continue };
        match positions
            .iter()
            .find(|(q, _)| q != p && q.to_lowercase() == p.to_lowercase())
        {
            Some((other, at)) => diags.warning(
                f.node.pos,
                format!(
                    "position `{p}` differs only in case from `{other}` (line {})",
                    at.line
                ),
                Some(
                    "positions are case-sensitive: the API takes each as its own; write them alike"
                        .into(),
                ),
            ),
            None => {
                if !positions.iter().any(|(q, _)| q == p) {
                    positions.push((p.to_string(), f.node.pos));
                }
            }
        }
    }
    for inject in &s.injects {
        if inject.id.is_empty() {
            continue;
        }
        let hack = ["is_hacked", "hacked_image", "show_details"]
            .iter()
            .any(|f| timeline.merged_fields(inject).iter().any(|m| m.name == *f));
        // A hack carries no text, nor does a persona move.
        if hack || inject.gps.is_some() {
            continue;
        }
        let body = timeline
            .merged_fields(inject)
            .into_iter()
            .find(|f| f.name == "body");
        match body.map(|b| &b.node.value) {
            Some(crate::yaml::Value::Str(text)) if !text.trim().is_empty() => {}
            // A crowd's posts: each variant is checked as a body of its own.
            Some(crate::yaml::Value::Seq(_)) if inject.crowd.is_some() => {}
            Some(_) => diags.warning(
                body.expect("matched").node.pos,
                format!("inject `{}` has an empty body", inject.id),
                None,
            ),
            None => diags.warning(
                inject.pos,
                format!("inject `{}` has no body", inject.id),
                Some("add `body:` with the message text".into()),
            ),
        }
    }
    // The same persona, channel, recipient, body and instant twice is most likely a
    // copy-paste. Occurrences are compared by a hash of those five; a match is confirmed
    // on the texts themselves, so a collision never draws a false warning (at worst, the
    // occurrence that collided is not remembered, and a later copy of it goes unwarned).
    use std::hash::BuildHasher;
    let state = foldhash::fast::FixedState::default();
    // The recipient: the team as its number (so `blue`, `3437866`, `"3437866"` and a
    // fan-out to `[blue]` are one team), and `to`.
    let team_text = |id: &serde_json::Value| {
        message::team_number(id).map_or_else(|| id.to_string(), |n| n.to_string())
    };
    let own_team = |inject: &crate::scenario::Inject| {
        s.field(inject, "team_id")
            .map(|f| {
                crate::timeline::resolve_team(s, &f.node)
                    .map_or_else(|_| f.node.scalar_text(), |id| team_text(&id))
            })
            .unwrap_or_default()
    };
    let recipient = |occ: &Occurrence| {
        let inject = timeline.inject(occ);
        let team = occ
            .team
            .as_deref()
            .map_or_else(|| own_team(inject), |(_, id)| team_text(id));
        (team, timeline.field_text(inject, "to"))
    };
    let identity = |occ: &Occurrence| {
        let inject = timeline.inject(occ);
        let text = |name: &str| timeline.field_text(inject, name);
        (
            text("persona"),
            text("channel"),
            recipient(occ),
            text("body"),
            occ.offset,
        )
    };
    // Per inject: its persona, channel and body, and its own recipient.
    let hashes: Vec<(u64, u64)> = s
        .injects
        .iter()
        .map(|inject| {
            let text = |name: &str| timeline.field_text(inject, name);
            (
                state.hash_one((text("persona"), text("channel"), text("body"))),
                state.hash_one((own_team(inject), text("to"))),
            )
        })
        .collect();
    let mut seen: foldhash::HashMap<u64, usize> =
        foldhash::HashMapExt::with_capacity(timeline.occurrences.len());
    let mut warned: HashSet<(usize, usize)> = HashSet::new();
    for (index, occ) in timeline.occurrences.iter().enumerate() {
        // A crowd's posts are drawn: alike by design, not by a slip.
        if timeline.inject(occ).crowd.is_some() {
            continue;
        }
        let (core, own_recipient) = hashes[occ.inject];
        let to_whom = occ
            .team
            .as_deref()
            .map_or(own_recipient, |_| state.hash_one(recipient(occ)));
        let key = state.hash_one((core, to_whom, occ.offset));
        let Some(&first) = seen.get(&key) else {
            seen.insert(key, index);
            continue;
        };
        let first = &timeline.occurrences[first];
        if first.inject != occ.inject
            && !warned.contains(&(first.inject, occ.inject))
            && identity(first) == identity(occ)
        {
            warned.insert((first.inject, occ.inject));
            let inject = timeline.inject(occ);
            let other = timeline.inject(first);
            diags.warning(
                inject.pos,
                format!(
                    "inject `{}` sends the same body from the same persona on the same channel at the same time as `{}`",
                    inject.id, other.id
                ),
                Some(format!("a likely copy-paste of line {}; change its time or persona if intended", other.pos.line)),
            );
        }
    }
    let duration = timeline.duration();
    if duration > LONG_SCENARIO {
        let last = timeline.occurrences.last().expect("non-zero duration");
        diags.warning(
            timeline.inject(last).pos,
            format!(
                "the scenario lasts {}, longer than 7 days",
                humantime::format_duration(duration)
            ),
            Some("check the units of `at`, `every` and `until`".into()),
        );
    }
}

/// The rules of expectations and conditions: every name a condition uses exists, no
/// contingency waits on itself, every condition can hold, teams are known, and every
/// expectation matters to something (else a warning).
fn check_branches(timeline: &Timeline, diags: &mut Diagnostics) {
    let s = &timeline.scenario;
    check_expectation_teams(s, diags);
    let depends = check_conditions(timeline, diags);
    check_cycles(s, &depends.waits, diags);
    check_used(s, &depends.used, diags);
    check_objectives(s, diags);
}

/// Every objective an inject or expectation names is in `objectives:`; an objective
/// nothing exercises is a warning.
fn check_objectives(s: &Scenario, diags: &mut Diagnostics) {
    let ids: Vec<&str> = s.objectives.iter().map(|o| o.id.as_str()).collect();
    let refs = s
        .injects
        .iter()
        .map(|i| (format!("inject `{}`", i.id), &i.objectives))
        .chain(
            s.expectations
                .iter()
                .map(|e| (format!("expected action `{}`", e.id), &e.objectives)),
        );
    let mut used: HashSet<&str> = HashSet::new();
    for (what, list) in refs {
        for r in list {
            if let Some(id) = ids.iter().find(|i| **i == r.name) {
                used.insert(id);
                continue;
            }
            let hint = if ids.is_empty() {
                Some(format!(
                    "declare it at the top: `objectives: [{{ id: {}, text: ..., capability: ... }}]`",
                    r.name
                ))
            } else {
                crate::diag::suggest(&r.name, ids.iter().copied())
                    .or(Some(format!("the objectives are {}", ids.join(", "))))
            };
            diags.error(
                r.pos,
                format!("unknown objective `{}` for {what}", r.name),
                hint,
            );
        }
    }
    for o in &s.objectives {
        if !used.contains(o.id.as_str()) {
            diags.warning(
                o.pos,
                format!("nothing exercises objective `{}`", o.id),
                Some(format!(
                    "evaluators can still rate it; name it on an inject or an expected action: `objectives: [{}]`",
                    o.id
                )),
            );
        }
    }
}

/// Every expectation's team is an alias from `teams:` or a numeric team id.
fn check_expectation_teams(s: &Scenario, diags: &mut Diagnostics) {
    for e in &s.expectations {
        if let Some((team, pos)) = &e.team
            && !s.teams.contains_key(team)
            && (team.is_empty() || !team.bytes().all(|b| b.is_ascii_digit()))
        {
            diags.error(
                *pos,
                format!("unknown team `{team}` for expectation `{}`", e.id),
                crate::diag::suggest(team, s.teams.keys().map(String::as_str)).or(Some(
                    "use an alias from `teams:` or a numeric team id".into(),
                )),
            );
        }
    }
}

/// What the scenario's conditions depend on.
struct Depends<'a> {
    /// Per inject, the injects its condition waits on (by `sent`, or by the inject an
    /// expectation belongs to).
    waits: Vec<Vec<usize>>,
    /// The expectations some condition names.
    used: HashSet<&'a str>,
}

/// Every name a condition uses exists, and every condition can hold; what each
/// condition depends on.
fn check_conditions<'a>(timeline: &'a Timeline, diags: &mut Diagnostics) -> Depends<'a> {
    let s = &timeline.scenario;
    let exp_ids: Vec<&str> = s.expectations.iter().map(|e| e.id.as_str()).collect();
    let inject_ids: Vec<&str> = s.injects.iter().map(|i| i.id.as_str()).collect();
    let keys: HashSet<&str> = timeline
        .occurrences
        .iter()
        .map(|o| o.key.as_str())
        .collect();
    let mut used: HashSet<&str> = HashSet::new();
    let mut waits: Vec<Vec<usize>> = vec![Vec::new(); s.injects.len()];
    for (index, inject) in s.injects.iter().enumerate() {
        let Some(c) = &inject.condition else { continue };
        let mut known = true;
        for (kind, r) in c.condition.refs() {
            let name = r.name.as_str();
            if kind == "sent" {
                let base = name.split(['#', '@']).next().unwrap_or(name);
                match s.inject_index(base) {
                    Some(i) if name == base || keys.contains(name) => waits[index].push(i),
                    Some(_) => {
                        known = false;
                        diags.error(
                            r.pos,
                            format!("`sent: {name}`: `{base}` has no occurrence `{name}`"),
                            crate::diag::suggest(
                                name,
                                timeline
                                    .occurrences
                                    .iter()
                                    .filter(|o| timeline.inject(o).id == base)
                                    .map(|o| o.key.as_str()),
                            )
                            .or(Some("`injector plan` lists every occurrence key".into())),
                        );
                    }
                    None => {
                        known = false;
                        let hint = if exp_ids.contains(&name) {
                            Some(format!(
                                "`{name}` is an expected action: write `met: {name}` or `missed: {name}`"
                            ))
                        } else {
                            crate::diag::suggest(name, inject_ids.iter().copied())
                        };
                        diags.error(r.pos, format!("`sent: {name}` names no inject"), hint);
                    }
                }
            } else {
                used.insert(name);
                let named = s.expectations_named(name);
                match named.first() {
                    Some(_) => {
                        waits[index].extend(named.iter().filter_map(|&e| s.expectations[e].owner));
                    }
                    None => {
                        known = false;
                        let expects = s
                            .inject_index(name)
                            .and_then(|i| s.injects[i].expect)
                            .map(|e| s.expectations[e].id.as_str());
                        let hint = if let Some(e) = expects {
                            Some(format!(
                                "`{name}` is an inject; its expected action is `{e}`: write `{kind}: {e}` (or `sent: {name}`)"
                            ))
                        } else if inject_ids.contains(&name) {
                            Some(format!(
                                "`{name}` is an inject: write `sent: {name}`, or give it `expect:` and name that"
                            ))
                        } else {
                            crate::diag::suggest(name, exp_ids.iter().copied()).or(Some(
                                "expected actions are `expect:` on an inject, or `expectations:`"
                                    .into(),
                            ))
                        };
                        diags.error(
                            r.pos,
                            format!("`{kind}: {name}` names no expected action"),
                            hint,
                        );
                    }
                }
            }
        }
        if known && !can_hold(&c.condition) {
            diags.error(
                c.pos,
                format!(
                    "the condition of `{}` can never hold: `{}`",
                    inject.id,
                    c.condition.text()
                ),
                Some("an expectation is either met or missed, never both".into()),
            );
        }
    }
    Depends { waits, used }
}

/// No contingency waits (through others) on itself: it would never fire.
fn check_cycles(s: &Scenario, waits: &[Vec<usize>], diags: &mut Diagnostics) {
    let mut state = vec![0u8; s.injects.len()]; // 0 new, 1 on the path, 2 done
    fn visit(
        i: usize,
        waits: &[Vec<usize>],
        state: &mut [u8],
        path: &mut Vec<usize>,
    ) -> Option<Vec<usize>> {
        state[i] = 1;
        path.push(i);
        for &j in &waits[i] {
            if state[j] == 1 {
                let from = path.iter().position(|&p| p == j).unwrap_or(0);
                return Some(path[from..].to_vec());
            }
            if state[j] == 0
                && let Some(cycle) = visit(j, waits, state, path)
            {
                return Some(cycle);
            }
        }
        path.pop();
        state[i] = 2;
        None
    }
    for i in 0..s.injects.len() {
        if state[i] != 0 {
            continue;
        }
        let mut path = Vec::new();
        if let Some(cycle) = visit(i, waits, &mut state, &mut path) {
            let first = &s.injects[cycle[0]];
            let names: Vec<&str> = cycle
                .iter()
                .chain(std::iter::once(&cycle[0]))
                .map(|&k| s.injects[k].id.as_str())
                .collect();
            diags.error(
                first.condition.as_ref().map_or(first.pos, |c| c.pos),
                format!("`{}` waits on itself: {}", first.id, names.join(" → ")),
                Some("a contingency cannot depend, directly or through others, on its own send or expectation".into()),
            );
        }
    }
}

/// A warning for each expectation no condition depends on (`used` names those some do).
fn check_used(s: &Scenario, used: &HashSet<&str>, diags: &mut Diagnostics) {
    let mut said: HashSet<&str> = HashSet::new();
    for e in &s.expectations {
        // A fan-out's per-team expected actions are named by their id for every team.
        if !used.contains(e.id.as_str()) && !used.contains(e.base_id()) && said.insert(e.base_id())
        {
            diags.warning(
                e.pos,
                format!("no condition depends on expected action `{}`", e.base_id()),
                Some(format!(
                    "it is still judged and reported; add an inject with `when: {{ missed: {} }}` to branch on it",
                    e.base_id()
                )),
            );
        }
    }
}

/// Whether some outcome of the expectations (each met or missed) and of the sends
/// makes `c` hold (tried exhaustively over up to 12 names; beyond, assumed so).
fn can_hold(c: &crate::scenario::Condition) -> bool {
    use crate::scenario::Condition;
    let mut names: Vec<(bool, String)> = Vec::new();
    for (kind, r) in c.refs() {
        let n = (kind == "sent", r.name.clone());
        if !names.contains(&n) {
            names.push(n);
        }
    }
    if names.len() > 12 {
        return true;
    }
    fn eval(c: &Condition, names: &[(bool, String)], bits: u32) -> bool {
        let value = |sent: bool, name: &str| {
            let i = names
                .iter()
                .position(|(s, n)| *s == sent && n == name)
                .unwrap_or(0);
            bits & (1 << i) != 0
        };
        match c {
            Condition::Met(r) => value(false, &r.name),
            Condition::Missed(r) => !value(false, &r.name),
            Condition::Sent(r) => value(true, &r.name),
            Condition::Any(cs) => cs.iter().any(|c| eval(c, names, bits)),
            Condition::All(cs) => cs.iter().all(|c| eval(c, names, bits)),
        }
    }
    (0..1u32 << names.len()).any(|bits| eval(c, &names, bits))
}
