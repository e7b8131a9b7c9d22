//! Ad hoc injects: an inject written during the run (`ctl send FILE`, the page's
//! Compose form) in the scenario's own YAML shape, joined to the running scenario.
//!
//! [`prepare`] puts the inject's text under the scenario's `injects:` (its id and its
//! instant added when it has none: `adhoc-N`, now), checks the whole with exactly the
//! contract `validate` uses, and says each problem at its line and column in the text
//! given. The run's timeline is then [`Timeline::extended`] by its occurrences, which
//! join at the end. [`join`] puts a journaled inject back, for a resume. Pure: no I/O.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::diag::Diagnostics;
use crate::timeline::Timeline;
use crate::yaml::{Node, Pos, Value};

/// An ad hoc inject, checked and joined.
pub struct AdHoc {
    pub id: String,
    /// The inject as it joins the scenario: the text given, with its id and instant.
    pub yaml: String,
    /// The run's timeline with it: its occurrences at the end.
    pub timeline: Timeline,
    /// Its occurrences' indices in `timeline`.
    pub occurrences: std::ops::Range<usize>,
}

/// Check the inject `text` (from `file`) against the running `current` timeline: its
/// time `at` (asked for beside it, in scenario time), else its own `at:` or `in:`, else
/// now (`now`, the scenario time it is, holds and shifts taken out). The problems,
/// rendered against `text`, when it cannot be sent.
pub fn prepare(
    current: &Timeline,
    file: &str,
    text: &str,
    now: Duration,
    at: Option<Duration>,
    clock_now: DateTime<Utc>,
) -> Result<AdHoc, String> {
    let (mut diags, root) = mapping(
        file,
        text,
        "an inject is a mapping (`persona:`, `channel:`, `body:` ...)",
        Some("write it as one inject of the scenario's `injects:`, without the `- `"),
    )?;
    let fail = |diags: Diagnostics| Err(diags.render(false));
    let Value::Map(entries) = &root.value else {
        return fail(diags);
    };
    let get = |name: &str| entries.iter().find(|(k, _)| k.scalar_text() == name);
    let mut body = text.trim_end().to_string();
    if let Some((key, _)) = get("cron") {
        diags.error(
            key.pos,
            "an ad hoc inject cannot use `cron:`: its times from T0 on, past ones too, would all go at once".to_string(),
            Some("write `every:` (with `count:` or `until:`): it starts now, or at --in / --at".into()),
        );
        return fail(diags);
    }
    // A contingency goes when its condition holds (and `after:` it): no time of its own.
    if let Some((key, _)) = get("when") {
        if at.is_some() {
            diags.error(
                key.pos,
                "a contingency goes when its condition holds, not at a time asked for".to_string(),
                Some("leave out --at / --in; give its delay as `after:`".into()),
            );
            return fail(diags);
        }
        return finish(current, file, body, clock_now, diags);
    }
    // Its time (a recurrence's first): asked for beside it, or its own `in:` (from now),
    // `at:` or `from:`, else now.
    let first = if get("every").is_some() { "from" } else { "at" };
    let written = [first, "in"]
        .into_iter()
        .find_map(|k| get(k).map(|e| (k, e)));
    match (at, written) {
        (Some(_), Some((k, (key, _)))) => {
            diags.error(
                key.pos,
                format!("the inject gives its time (`{k}:`), and a time was asked for beside it"),
                Some("give the time once: in the inject, or with --at / --in".into()),
            );
            return fail(diags);
        }
        (Some(d), None) => add_line(&mut body, &format!("{first}: \"{}\"", offset_text(d))),
        (None, Some(("in", (key, value)))) => {
            // `in: 5m` becomes the `at:` (a recurrence's `from:`) it means, in place.
            match in_as(&body, (key, value), first, now, current.speed) {
                Some(b) => body = b,
                None => {
                    diags.error(value.pos, IN_WORDS.to_string(), None);
                    return fail(diags);
                }
            }
        }
        (None, Some(_)) => {}
        (None, None) => add_line(&mut body, &format!("{first}: \"{}\"", offset_text(now))),
    }
    finish(current, file, body, clock_now, diags)
}

/// The inject `body` with its time: its id checked (or given), joined and checked.
fn finish(
    current: &Timeline,
    file: &str,
    mut body: String,
    clock_now: DateTime<Utc>,
    mut diags: Diagnostics,
) -> Result<AdHoc, String> {
    let fail = |diags: Diagnostics| Err(diags.render(false));
    // The instant asked for is the instant: the scenario's default jitter does not move
    // it (the inject's own `jitter:` does).
    if current.scenario.jitter.is_some() && !body.lines().any(|l| l.starts_with("jitter:")) {
        add_line(&mut body, "jitter: null");
    }
    let (_, root) = mapping(file, &body, "", None)?;
    let Value::Map(entries) = &root.value else {
        return fail(diags);
    };
    let get = |name: &str| entries.iter().find(|(k, _)| k.scalar_text() == name);
    if let Some((_, v)) = get("id")
        && let Some(id) = v.as_str()
        && current.scenario.inject_index(id).is_some()
    {
        diags.error(
            v.pos,
            format!("`{id}` is already an inject of the running exercise (of its scenario, or sent ad hoc before)"),
            Some("give this one an id of its own, or none (it is then adhoc-N)".into()),
        );
        return fail(diags);
    }
    let id = match get("id").and_then(|(_, v)| v.as_str().map(String::from)) {
        Some(id) => id,
        None => {
            let id = next_id(current);
            add_line(&mut body, &format!("id: {id}"));
            id
        }
    };
    let given = diags.source.lines().count();
    let grown = check_joined(current, (file, given), &body, clock_now)?;
    let timeline = current.extended(&grown);
    let occurrences = current.occurrences.len()..timeline.occurrences.len();
    if occurrences.is_empty() {
        return Err(format!(
            "{file}: `{id}` has no occurrence (its recurrence ends before it begins)"
        ));
    }
    Ok(AdHoc {
        id,
        yaml: body,
        timeline,
        occurrences,
    })
}

/// The running scenario with the inject `body` (from `file`) joined, checked and built;
/// its problems, rendered where they are in `body`.
fn check_joined(
    current: &Timeline,
    (file, given_lines): (&str, usize),
    body: &str,
    clock_now: DateTime<Utc>,
) -> Result<Timeline, String> {
    let source = &current.scenario.source;
    let Some((joined, place)) = join_at(source, body) else {
        return Err(format!(
            "{file}: the running scenario writes its `injects:` in a way an inject cannot be added to (a flow list `[...]`)"
        ));
    };
    let checked = crate::validate::check(
        &current.scenario.file,
        Arc::new(joined),
        Some(current.t0),
        current.speed,
        clock_now,
    );
    // Its problems, where they are in the text given (`body` adds lines at its end).
    let given = Arc::new(body.to_string());
    // Shown as given: the lines added to it (its id, its time) are not the person's.
    let shown: String = body
        .split_inclusive('\n')
        .take(given_lines.max(1))
        .collect();
    let shown = Arc::new(shown.trim_end_matches('\n').to_string());
    let within = |mut p: Pos| {
        if p.offset as usize >= shown.len() {
            let last = shown.rfind('\n').map_or(0, |i| i + 1);
            p = Pos {
                offset: last as u32,
                len: 0,
                line: given_lines.max(1) as u32,
                column: 1,
            };
        }
        p.len = p.len.min((shown.len() - p.offset as usize) as u32);
        p
    };
    let mut mine = Diagnostics::new(file, shown.clone());
    let mut elsewhere = Vec::new();
    for d in &checked.diags.items {
        let line = d.pos.line as usize;
        if (place.line..place.line + place.lines).contains(&line) {
            // Its errors; a warning (a copy-paste of the inject it amends) is not its.
            if d.level == crate::diag::Level::Error {
                mine.error(
                    within(place.back(&given, d.pos)),
                    d.message.clone(),
                    d.hint.clone(),
                );
            }
        } else if d.level == crate::diag::Level::Error {
            elsewhere.push(d.message.clone());
        }
    }
    if mine.error_count() > 0 || !elsewhere.is_empty() || checked.timeline.is_none() {
        let mut out = mine.render(false);
        for m in elsewhere {
            out.push_str(&format!(
                "{file}: with it, the scenario has this problem: {m}\n"
            ));
        }
        if out.is_empty() {
            out = format!("{file}: the scenario with this inject cannot be built\n");
        }
        return Err(out);
    }
    checked
        .timeline
        .ok_or_else(|| format!("{file}: the scenario with this inject cannot be built"))
}

/// Keys an amendment may not change: what names the inject, its schedule, its
/// branches (its expected action stays with the occurrence as it was).
const NOT_AMENDED: &[&str] = &[
    "id", "every", "from", "count", "until", "cron", "when", "after", "expect", "phase",
];

/// An amendment of one occurrence, checked: the hidden inject that makes it now.
pub struct Amendment {
    /// The hidden inject's id (`ID.amended-N`) and text (as it joins the scenario).
    pub id: String,
    pub yaml: String,
    /// The run's timeline with the occurrence made by it.
    pub timeline: Timeline,
    /// The fields the amendment changes, as written.
    pub fields: Vec<String>,
}

/// Check the amendment `text` (from `file`: fields to change, in the scenario's shape,
/// and `at:`/`in:` for a new instant) of the pending occurrence `occ` of `current`;
/// `now` and `at` as [`prepare`] takes them.
pub fn amend(
    current: &Timeline,
    occ: usize,
    file: &str,
    text: &str,
    (now, at): (Duration, Option<Duration>),
    clock_now: DateTime<Utc>,
) -> Result<Amendment, String> {
    let (mut diags, root) = mapping(
        file,
        text,
        "an amendment is a mapping of the fields to change (`subject:`, `body:`, `at:` ...)",
        None,
    )?;
    let fail = |diags: Diagnostics| Err(diags.render(false));
    let Value::Map(entries) = &root.value else {
        return fail(diags);
    };
    // Written on one line (`{subject: "x", in: 5m}`, the page's Edit): as block lines,
    // which the rest of the inject can follow.
    if text.trim_start().starts_with('{') && !entries.is_empty() {
        let block: Vec<String> = entries
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}: {}",
                    crate::mel::yaml_key(&k.scalar_text()),
                    crate::mel::flow(&v.to_json())
                )
            })
            .collect();
        let block = block.join("\n") + "\n";
        return amend(current, occ, file, &block, (now, at), clock_now);
    }
    let o = &current.occurrences[occ];
    let inject = current.inject(o);
    if inject.crowd.is_some() {
        diags.error(
            root.pos,
            format!(
                "`{}` is a post of the crowd `{}`: its voice, text and instant are drawn, not written",
                o.key, inject.id
            ),
            Some(format!(
                "skip it (`ctl skip {}`) and send one written on the spot (`ctl send FILE`)",
                o.key
            )),
        );
        return fail(diags);
    }
    for (k, _) in entries.iter() {
        let name = k.scalar_text();
        if NOT_AMENDED.contains(&name.as_str()) {
            diags.error(
                k.pos,
                format!(
                    "an amendment changes one occurrence's fields and instant, not its `{name}`"
                ),
                Some("send a new inject for that (`ctl send`), and skip this one".into()),
            );
        }
    }
    if !diags.items.is_empty() {
        return fail(diags);
    }
    let get = |name: &str| entries.iter().find(|(k, _)| k.scalar_text() == name);
    // Only a new time (`{}`): nothing written to keep in place.
    let mut body = if entries.is_empty() {
        String::new()
    } else {
        text.trim_end().to_string()
    };
    let mut fields: Vec<String> = entries
        .iter()
        .map(|(k, _)| k.scalar_text())
        .map(|k| if k == "in" { "at".to_string() } else { k })
        .collect();
    // Its instant: asked for beside it, its own `at:` or `in:`, else the one it had.
    match (at, get("at").or_else(|| get("in"))) {
        (Some(_), Some((key, _))) => {
            diags.error(
                key.pos,
                "the amendment gives its time, and a time was asked for beside it".to_string(),
                Some("give the time once: in the file, or with --at / --in".into()),
            );
            return fail(diags);
        }
        (Some(d), None) => {
            fields.push("at".into());
            add_line(&mut body, &format!("at: \"{}\"", offset_text(d)));
        }
        (None, Some((key, value))) if key.scalar_text() == "in" => {
            match in_as(&body, (key, value), "at", now, current.speed) {
                Some(b) => body = b,
                None => {
                    diags.error(value.pos, IN_WORDS.to_string(), None);
                    return fail(diags);
                }
            }
        }
        (None, Some(_)) => {}
        (None, None) => add_line(&mut body, &format!("at: \"{}\"", offset_text(o.offset))),
    }
    // Its instant is the one given (or the one it had, already drawn): not moved again.
    if current.scenario.jitter_of(inject).is_some() && !fields.iter().any(|f| f == "jitter") {
        add_line(&mut body, "jitter: null");
    }
    // The rest of the inject as written, after the lines given (their places stay).
    let written = written_inject(&current.scenario.source, &inject.id).unwrap_or_default();
    for (k, v) in &written {
        if fields.contains(k)
            || NOT_AMENDED.contains(&k.as_str())
            || matches!(k.as_str(), "at" | "team_id" | "jitter" | "phase")
        {
            continue;
        }
        add_line(
            &mut body,
            &format!("{}: {}", crate::mel::yaml_key(k), crate::mel::flow(v)),
        );
    }
    // Its team: the fan-out's one, else as written.
    if !fields.iter().any(|f| f == "team_id") {
        let team = o
            .team
            .as_deref()
            .map(|(label, _)| serde_json::Value::String(label.clone()))
            .or_else(|| written.get("team_id").cloned());
        if let Some(team) = team {
            add_line(&mut body, &format!("team_id: {}", crate::mel::flow(&team)));
        }
    }
    // Named after the inject it is an occurrence of (an amendment of an amendment too).
    let origin = current.id_of(o);
    let n = current
        .scenario
        .injects
        .iter()
        .filter(|i| i.id.starts_with(&format!("{origin}.amended-")))
        .count();
    let id = format!("{origin}.amended-{}", n + 1);
    add_line(&mut body, &format!("id: {id}"));
    let grown = check_joined(current, (file, text.lines().count()), &body, clock_now)?;
    let timeline = current
        .extended(&grown)
        .amended(&o.key, &id)
        .ok_or_else(|| format!("{file}: the amended occurrence cannot be built"))?;
    Ok(Amendment {
        id,
        yaml: body,
        timeline,
        fields,
    })
}

/// An inject of the scenario as written, as JSON, by its id.
fn written_inject(source: &str, id: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    let root = crate::yaml::parse(source).ok()?;
    let (_, list) = root
        .as_map()?
        .iter()
        .find(|(k, _)| k.scalar_text() == "injects")?;
    let Value::Seq(items) = &list.value else {
        return None;
    };
    items.iter().find_map(|item| match item.to_json() {
        serde_json::Value::Object(m) if m.get("id").and_then(|v| v.as_str()) == Some(id) => Some(m),
        _ => None,
    })
}

/// A scenario's text with a journaled ad hoc inject put back under its `injects:`
/// (a resume's); `None` when its injects are not a block list.
pub fn join(source: &str, inject: &str) -> Option<String> {
    join_at(source, inject).map(|(text, _)| text)
}

/// `text` (from `file`) read as YAML that must be a mapping (`what` says what it is,
/// `hint` how to write it): its diagnostics so far and its root; the problem, rendered,
/// when it is not.
fn mapping(
    file: &str,
    text: &str,
    what: &str,
    hint: Option<&str>,
) -> Result<(Diagnostics, Node), String> {
    let mut diags = Diagnostics::new(file, Arc::new(text.to_string()));
    let root = match crate::yaml::parse(text) {
        Ok(root) => root,
        Err(e) => {
            diags.error(
                e.pos.unwrap_or_default(),
                format!("invalid YAML: {}", e.message),
                Some("check indentation, quotes and brackets near this point".into()),
            );
            return Err(diags.render(false));
        }
    };
    if !matches!(root.value, Value::Map(_)) {
        diags.error(
            root.pos,
            format!("{what}, found {}", root.kind()),
            hint.map(String::from),
        );
        return Err(diags.render(false));
    }
    Ok((diags, root))
}

/// What `in:` is, for a value that is not one.
const IN_WORDS: &str =
    "`in` is how long from now it is sent, in wall-clock time: a duration such as `5m`";

/// `body` with its `in: DUR` (`key` and `value`, at their places in it) written as the
/// `first:` (`at`, a recurrence's `from`) it means: the scenario time `now` plus DUR of
/// wall-clock time at `speed`; `None` when DUR is not a duration.
fn in_as(
    body: &str,
    (key, value): (&Node, &Node),
    first: &str,
    now: Duration,
    speed: f64,
) -> Option<String> {
    let d = crate::scenario::parse_offset_str(value.as_str()?).ok()?;
    let body = replace(
        body,
        value.pos,
        &format!("\"{}\"", offset_text(now + d.mul_f64(speed))),
    );
    Some(replace(&body, key.pos, first))
}

/// `adhoc-N`, one past the ad hoc injects the timeline has.
fn next_id(t: &Timeline) -> String {
    let n = t
        .scenario
        .injects
        .iter()
        .filter_map(|i| i.id.strip_prefix("adhoc-")?.parse::<u64>().ok())
        .max()
        .unwrap_or(0);
    format!("adhoc-{}", n + 1)
}

/// An offset as an inject's `at:` takes it.
fn offset_text(d: Duration) -> String {
    crate::human::show_offset(d)
}

fn add_line(body: &mut String, line: &str) {
    if !body.is_empty() && !body.ends_with('\n') {
        body.push('\n');
    }
    body.push_str(line);
    body.push('\n');
}

/// `text` with the span at `pos` replaced by `with`.
fn replace(text: &str, pos: Pos, with: &str) -> String {
    let (a, b) = (pos.offset as usize, (pos.offset + pos.len) as usize);
    format!("{}{with}{}", &text[..a], &text[b.min(text.len())..])
}

/// Where an inject's text stands in the joined scenario: its first line, how many, and
/// how far each is indented.
struct Place {
    line: usize,
    lines: usize,
    indent: usize,
}

impl Place {
    /// A position in the joined text as the same place in the inject's own `text`.
    fn back(&self, text: &str, pos: Pos) -> Pos {
        let line = pos.line as usize - self.line + 1;
        let column = (pos.column as usize).saturating_sub(self.indent).max(1);
        let start: usize = text
            .split_inclusive('\n')
            .take(line - 1)
            .map(str::len)
            .sum();
        Pos {
            offset: (start + column - 1).min(text.len()) as u32,
            len: pos.len,
            line: line as u32,
            column: column as u32,
        }
    }
}

/// The scenario's text with `inject` (a mapping's lines) as the last item of its
/// `injects:`, and where it stands.
fn join_at(source: &str, inject: &str) -> Option<(String, Place)> {
    let root = crate::yaml::parse(source).ok()?;
    let (_, list) = root
        .as_map()?
        .iter()
        .find(|(k, _)| k.scalar_text() == "injects")?;
    let Value::Seq(items) = &list.value else {
        return None;
    };
    if source[list.pos.offset as usize..].starts_with('[') {
        return None;
    }
    let first = items.first()?;
    // The items' own indentation: what stands before the first one on its line.
    let item_at = first.pos.offset as usize;
    let line_start = source[..item_at].rfind('\n').map_or(0, |i| i + 1);
    let dash = &source[line_start..item_at];
    if !dash.trim_start().starts_with('-') {
        return None;
    }
    let last_end = items.iter().map(end_of).max()?;
    // After the last item's line (a block scalar's text ends with its line break).
    let insert = if last_end > 0 && source.as_bytes().get(last_end - 1) == Some(&b'\n') {
        last_end
    } else {
        source[last_end..]
            .find('\n')
            .map_or(source.len(), |i| last_end + i + 1)
    };
    let mut text = String::with_capacity(source.len() + inject.len() * 2);
    text.push_str(&source[..insert]);
    if !text.ends_with('\n') {
        text.push('\n');
    }
    let line = text.lines().count() + 1;
    let pad = " ".repeat(dash.chars().count());
    let mut lines = 0;
    for (i, l) in inject.lines().enumerate() {
        text.push_str(if i == 0 { dash } else { &pad });
        text.push_str(l);
        text.push('\n');
        lines += 1;
    }
    text.push_str(&source[insert..]);
    Some((
        text,
        Place {
            line,
            lines,
            indent: dash.chars().count(),
        },
    ))
}

/// Where a node's text ends (its last descendant's), in bytes.
fn end_of(node: &Node) -> usize {
    let own = (node.pos.offset + node.pos.len) as usize;
    match &node.value {
        Value::Seq(items) => items.iter().map(end_of).max().unwrap_or(own).max(own),
        Value::Map(entries) => entries
            .iter()
            .map(|(k, v)| end_of(k).max(end_of(v)))
            .max()
            .unwrap_or(own)
            .max(own),
        _ => own,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timeline(yaml: &str) -> Timeline {
        let start = chrono::DateTime::parse_from_rfc3339("2026-03-28T09:00:00Z").unwrap();
        let c = crate::validate::check(
            "s.yaml",
            Arc::new(yaml.into()),
            Some(start),
            1.0,
            Utc::now(),
        );
        assert!(c.is_valid(false), "{}", c.diags.render(false));
        c.timeline.unwrap()
    }

    const SCENARIO: &str = "name: S\npersonas:\n  hm: \"3-49786\"\nteams:\n  blue: 3437866\ndefaults:\n  type: team\n  team_id: blue\ninjects:\n  - id: a\n    at: 0s\n    persona: hm\n    channel: microblog\n    body: |\n      one\n      two\n  # a comment after\nexpectations: []\n";

    #[test]
    fn an_inject_joins_at_the_end_with_its_id_and_time() {
        let t = timeline(SCENARIO);
        let got = prepare(
            &t,
            "press.yaml",
            "persona: hm\nchannel: microblog\nbody: Spokesperson is {{ spokesperson }}\n",
            Duration::from_secs(600),
            None,
            Utc::now(),
        );
        let err = got.err().unwrap();
        assert!(err.contains("press.yaml:3:7"), "{err}");
        let got = prepare(
            &t,
            "press.yaml",
            "persona: hm\nchannel: microblog\nin: 5m\nbody: Spokesperson named\n",
            Duration::from_secs(600),
            None,
            Utc::now(),
        )
        .unwrap();
        assert_eq!(got.id, "adhoc-1");
        assert_eq!(got.occurrences, 1..2);
        let o = &got.timeline.occurrences[1];
        assert_eq!(o.key, "adhoc-1");
        assert_eq!(o.offset, Duration::from_secs(900));
        assert_eq!(got.timeline.occurrences[0].key, "a");
        assert!(got.yaml.contains("at: \"T+00:15:00\""), "{}", got.yaml);
        // Put back from the journal, the same scenario.
        let again = join(&t.scenario.source, &got.yaml).unwrap();
        assert!(
            again.contains("  - persona: hm\n    channel: microblog\n    at: \"T+00:15:00\"")
                && again.find("two").unwrap() < again.find("- persona").unwrap(),
            "{again}"
        );
        assert!(
            again.ends_with("    id: adhoc-1\nexpectations: []\n"),
            "{again}"
        );
        // A block scalar last, right before the next top-level key: the inject goes
        // between them.
        let tight = "name: S\ninjects:\n  - id: a\n    at: 0s\n    persona: \"3-49786\"\n    channel: microblog\n    type: team\n    team_id: 3437866\n    body: |\n      one\nvars: {}\n";
        let joined = join(tight, "id: b\nat: 1m\n").unwrap();
        assert!(
            joined.ends_with("      one\n  - id: b\n    at: 1m\nvars: {}\n"),
            "{joined}"
        );
    }

    /// The instant a person asks for is the instant: a scenario's default jitter moves
    /// neither an inject sent on the spot nor an amended occurrence (nor does its phase
    /// count twice), and a crowd's post is not amended but skipped and replaced.
    #[test]
    fn an_instant_asked_for_is_not_jittered_and_a_crowd_post_is_not_amended() {
        let drawn = SCENARIO
            .replace("defaults:\n", "defaults:\n  jitter: 10m\n")
            .replace(
                "  - id: a\n    at: 0s\n",
                "  - id: a\n    phase: p\n    at: 5m\n",
            )
            .replace("injects:\n", "phases: [{ id: p, at: 1h }]\ninjects:\n")
            .replace(
                "expectations: []\n",
                "crowds:\n  - id: c\n    between: [2h, 3h]\n    count: 5\n    channel: microblog\n    personas: [hm]\n    posts: [x]\nexpectations: []\n",
            );
        let t = timeline(&drawn);
        let sent = prepare(
            &t,
            "p.yaml",
            "persona: hm\nchannel: microblog\nbody: now\n",
            Duration::from_secs(600),
            None,
            Utc::now(),
        )
        .unwrap();
        let o = &sent.timeline.occurrences[sent.occurrences.start];
        assert_eq!(o.offset, Duration::from_secs(600), "{}", sent.yaml);
        let a = t.occurrences.iter().position(|o| o.key == "a").unwrap();
        let moved = amend(
            &t,
            a,
            "m.yaml",
            "subject: new",
            (Duration::from_secs(60), Some(Duration::from_secs(4000))),
            Utc::now(),
        )
        .unwrap();
        let o = moved
            .timeline
            .occurrences
            .iter()
            .find(|o| o.key == "a")
            .unwrap();
        assert_eq!(o.offset, Duration::from_secs(4000), "{}", moved.yaml);
        let post = t.occurrences.iter().position(|o| o.key == "c#1").unwrap();
        let refused = amend(
            &t,
            post,
            "m.yaml",
            "body: y",
            (Duration::from_secs(60), None),
            Utc::now(),
        )
        .err()
        .unwrap();
        assert!(
            refused.contains("`c#1` is a post of the crowd `c`")
                && refused.contains("ctl skip c#1"),
            "{refused}"
        );
    }

    #[test]
    fn a_recurrence_starts_now_not_at_t0() {
        let t = timeline(SCENARIO);
        let got = prepare(
            &t,
            "r.yaml",
            "persona: hm\nchannel: microblog\nbody: tick\nevery: 10m\ncount: 3\n",
            Duration::from_secs(3600),
            None,
            Utc::now(),
        )
        .unwrap();
        let offsets: Vec<u64> = got
            .occurrences
            .map(|i| got.timeline.occurrences[i].offset.as_secs() / 60)
            .collect();
        assert_eq!(offsets, [60, 70, 80]);
        let cron = prepare(
            &t,
            "r.yaml",
            "persona: hm\nchannel: microblog\nbody: tick\ncron: \"0 * * * *\"\ncount: 3\n",
            Duration::ZERO,
            None,
            Utc::now(),
        )
        .err()
        .unwrap();
        assert!(
            cron.contains("r.yaml:4:1") && cron.contains("cannot use `cron:`"),
            "{cron}"
        );
    }

    #[test]
    fn branches_join_and_what_cannot_be_is_said_where_it_is() {
        let t = timeline(SCENARIO);
        let expecting = prepare(
            &t,
            "x.yaml",
            "persona: hm\nchannel: microblog\nbody: b\nexpect: { id: e, action: x, within: 5m }\n",
            Duration::from_secs(60),
            None,
            Utc::now(),
        )
        .unwrap();
        let o = &expecting.timeline.occurrences[expecting.occurrences.start];
        assert!(expecting.timeline.inject(o).expect.is_some());
        assert!(
            expecting.yaml.contains("at: \"T+00:01:00\""),
            "{}",
            expecting.yaml
        );
        // A contingency has no time of its own: none is added, and one asked for is refused.
        let when = "persona: hm\nchannel: microblog\nbody: b\nwhen: { sent: a }\nafter: 2m\n";
        let armed = prepare(
            &t,
            "x.yaml",
            when,
            Duration::from_secs(60),
            None,
            Utc::now(),
        )
        .unwrap();
        assert!(!armed.yaml.contains("at:"), "{}", armed.yaml);
        let o = &armed.timeline.occurrences[armed.occurrences.start];
        assert!(armed.timeline.is_contingent(o));
        let err = prepare(
            &t,
            "x.yaml",
            when,
            Duration::ZERO,
            Some(Duration::from_secs(90)),
            Utc::now(),
        )
        .err()
        .unwrap();
        assert!(
            err.contains("x.yaml:4:1") && err.contains("goes when its condition holds"),
            "{err}"
        );
        let twice = prepare(
            &t,
            "x.yaml",
            "id: a\npersona: hm\nchannel: microblog\nbody: b\n",
            Duration::ZERO,
            None,
            Utc::now(),
        )
        .err()
        .unwrap();
        assert!(
            twice.contains("x.yaml:1:5") && twice.contains("`a` is already an inject"),
            "{twice}"
        );
        let both = prepare(
            &t,
            "x.yaml",
            "persona: hm\nchannel: microblog\nat: 5m\nbody: b\n",
            Duration::ZERO,
            Some(Duration::from_secs(60)),
            Utc::now(),
        )
        .err()
        .unwrap();
        assert!(both.contains("give the time once"), "{both}");
    }
}
