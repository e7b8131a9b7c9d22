//! The scenario file: reading the YAML tree into a checked model.
//!
//! [`read`] walks the [`yaml::Node`] tree and records every problem it meets (unknown
//! fields with a did-you-mean, wrong types, bad durations and times, duplicate ids)
//! without stopping, so one pass reports them all. It checks shape, not the API's
//! rules: those are [`crate::message::check`]'s, applied to the built bodies by
//! [`crate::validate`]. Nothing here does I/O.
//!
//! Its parts: `top` reads the scenario's top level, `inject` each inject, `contingency`
//! the adaptive parts, `times` offsets, durations and start times.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use chrono_tz::Tz;

use crate::diag::{Diagnostics, suggest};
use crate::message::BODY_FIELDS;
use crate::yaml::{self, Node, Pos, Value};

pub mod contingency;
mod inject;
mod times;
mod top;
mod volume;

pub use contingency::{Condition, Conditional, Deadline, Expectation, Ref};
pub use times::{MAX_OFFSET, parse_offset, parse_offset_str, parse_start};
pub use volume::{CROWD_FIELDS, CROWD_KEYS, Crowd, Curve, Jitter, Phase};

pub const SCENARIO_FIELDS: &[&str] = &[
    "name",
    "description",
    "start",
    "timezone",
    "defaults",
    "personas",
    "teams",
    "vars",
    "extra_channels",
    "injects",
    "expectations",
    "objectives",
    "gps_longitude",
    "seed",
    "phases",
    "crowds",
];

/// Fields of an entry of `objectives:`.
pub const OBJECTIVE_FIELDS: &[&str] = &["id", "text", "capability"];

/// Inject fields that are not body fields.
pub const INJECT_FIELDS: &[&str] = &[
    "id",
    "at",
    "every",
    "from",
    "count",
    "until",
    "cron",
    "ts_offset",
    "stagger",
    "jitter",
    "phase",
    "extra",
    "notes",
    "expect",
    "when",
    "after",
    "gps",
    "objectives",
    "owner",
];

/// Every key an inject may have: its own fields and the body fields.
static INJECT_KEYS: std::sync::LazyLock<Vec<&'static str>> =
    std::sync::LazyLock::new(|| INJECT_FIELDS.iter().chain(BODY_FIELDS).copied().collect());

/// The most occurrences one scenario may expand to.
pub const MAX_OCCURRENCES: u64 = 1_000_000;

#[derive(Debug)]
pub struct Scenario {
    pub file: String,
    pub source: Arc<String>,
    pub name: String,
    pub description: Option<String>,
    /// T0 as written in the file, if it is.
    pub start: Option<DateTime<FixedOffset>>,
    /// The zone for cron patterns and wall-clock display.
    pub timezone: Option<Tz>,
    pub defaults: Vec<Field>,
    pub personas: BTreeMap<String, String>,
    pub teams: BTreeMap<String, serde_json::Value>,
    pub vars: serde_json::Map<String, serde_json::Value>,
    pub extra_channels: Vec<String>,
    pub injects: Vec<Inject>,
    /// Where `injects:` stands, for problems of the scenario as a whole.
    pub injects_pos: Pos,
    /// Every expected action: the injects' `expect:` (in file order), then `expectations:`.
    pub expectations: Vec<Expectation>,
    /// What the exercise sets out to evaluate: `objectives:`.
    pub objectives: Vec<Objective>,
    /// The name a persona move's longitude goes by on the wire: `lon` (the API page's
    /// example body), or `lng` (its field table).
    pub gps_longitude: &'static str,
    /// The seed of every draw ([`crate::draw`]): `seed:`, else from the name; `--seed`
    /// and a resume's journal set it over both.
    pub seed: u64,
    /// Whether the file writes `seed:`.
    pub seed_written: bool,
    /// `defaults: { jitter: ... }`: every inject's, unless it sets its own.
    pub jitter: Option<Jitter>,
    /// `phases:`, in file order.
    pub phases: Vec<Phase>,
}

/// An exercise objective (HSEEP): what evaluators rate, P, S, M or U.
#[derive(Debug, Clone)]
pub struct Objective {
    pub id: String,
    /// Where its id stands.
    pub pos: Pos,
    pub text: String,
    /// The capability it exercises (free text; FEMA's core capabilities suggested).
    pub capability: Option<String>,
}

/// A persona move: where to, as coordinates and as the place players see.
#[derive(Debug, Clone)]
pub struct Gps {
    pub lat: f64,
    pub lon: f64,
    pub location: String,
    pub pos: Pos,
}

/// A body field as written: its name, where its key stands, and its value.
#[derive(Clone, Debug)]
pub struct Field {
    pub name: &'static str,
    pub key_pos: Pos,
    pub node: Node,
}

#[derive(Debug)]
pub struct Inject {
    pub id: String,
    /// Where the id's value stands (or the inject itself, when it has none).
    pub pos: Pos,
    pub when: When,
    pub fields: Vec<Field>,
    pub ts_offset: Option<(i64, Pos)>,
    /// Further body fields, sent verbatim: name and value.
    pub extra: Vec<(String, Node)>,
    pub notes: Option<Box<serde_json::Value>>,
    /// Its `expect:`, by index into [`Scenario::expectations`].
    pub expect: Option<usize>,
    /// Its `when:` and `after:`: a contingency, fired once the condition holds. Its
    /// timing then counts from that moment.
    pub condition: Option<Box<Conditional>>,
    /// Its `gps:`: the inject is a persona move (`POST /messages/gps`), not a message.
    pub gps: Option<Box<Gps>>,
    /// Its `objectives:`: the objectives it exercises, as written.
    pub objectives: Vec<Ref>,
    /// Its `owner:`: the controller who watches it.
    pub owner: Option<String>,
    /// Its `stagger:`: the occurrences a fan-out puts at one instant, spaced this far
    /// apart in team order (the first at the instant).
    pub stagger: Option<(Duration, Pos)>,
    /// Its `jitter:` (`Some` of zero when it takes back the defaults').
    pub jitter: Option<Jitter>,
    /// Its `phase:`: its `at` (or `from`, `until`) counts from the phase's.
    pub phase: Option<Ref>,
    /// A crowd's timing: the inject is one of `crowds:`.
    pub crowd: Option<Box<Crowd>>,
}

impl Scenario {
    /// An inject's field, else the scenario's default for it.
    pub fn field<'a>(&'a self, inject: &'a Inject, name: &str) -> Option<&'a Field> {
        inject
            .field(name)
            .or_else(|| self.defaults.iter().find(|d| d.name == name))
    }

    /// The expectation with this id.
    pub fn expectation(&self, id: &str) -> Option<&Expectation> {
        self.expectations.iter().find(|e| e.id == id)
    }

    /// The teams an inject fans out to, as its `team_id` list (or the defaults') writes
    /// them; empty when it goes to one.
    pub fn fan_labels(&self, inject: &Inject) -> Vec<String> {
        match self.field(inject, "team_id").map(|f| &f.node.value) {
            Some(Value::Seq(items)) => items.iter().map(Node::scalar_text).collect(),
            _ => Vec::new(),
        }
    }

    /// The expectations a condition's `met:`/`missed:` name: the one with that id, else
    /// every team's of a fan-out's (`status-report` for `status-report@blue`, ...).
    pub fn expectations_named(&self, name: &str) -> Vec<usize> {
        if let Some(i) = self.expectations.iter().position(|e| e.id == name) {
            return vec![i];
        }
        self.expectations
            .iter()
            .enumerate()
            .filter(|(_, e)| e.fan_team.is_some() && e.base_id() == name)
            .map(|(i, _)| i)
            .collect()
    }

    /// The expectation an occurrence of inject `index` for `team` (its fan-out label)
    /// opens: its own, or its team's of a fan-out's.
    pub fn expectation_for(&self, index: usize, team: Option<&str>) -> Option<&Expectation> {
        let own = self
            .injects
            .get(index)?
            .expect
            .map(|e| &self.expectations[e])?;
        match (&own.fan_team, team) {
            (Some(_), Some(team)) => self
                .expectations
                .iter()
                .find(|e| e.owner == Some(index) && e.fan_team.as_deref() == Some(team)),
            _ => Some(own),
        }
    }

    /// Every contingency part: its id as the journal and report name it (`chase`, or
    /// `chase@blue` of one per team), its inject's condition and delay, and its condition.
    pub fn contingency_rows(&self) -> Vec<(String, &Conditional, Condition)> {
        self.contingencies()
            .flat_map(|(i, c)| {
                self.contingency_parts(i)
                    .into_iter()
                    .map(move |(team, condition)| {
                        let id = match team {
                            Some(team) => format!("{}@{team}", i.id),
                            None => i.id.clone(),
                        };
                        (id, c, condition)
                    })
            })
            .collect()
    }

    /// A contingency's parts: one per team of its fan-out when its condition names an
    /// expected action judged per team (each waiting on its team's), else one.
    pub fn contingency_parts(&self, inject: &Inject) -> Vec<(Option<String>, Condition)> {
        let Some(c) = &inject.condition else {
            return Vec::new();
        };
        let split = |name: &str| {
            !self.expectations.iter().any(|e| e.id == name)
                && self
                    .expectations
                    .iter()
                    .any(|e| e.fan_team.is_some() && e.base_id() == name)
        };
        let names_split = c
            .condition
            .refs()
            .iter()
            .any(|(kind, r)| *kind != "sent" && split(&r.name));
        let labels = self.fan_labels(inject);
        if !names_split || labels.is_empty() {
            return vec![(None, c.condition.clone())];
        }
        let has = |name: &str, team: &str| {
            self.expectations
                .iter()
                .any(|e| e.base_id() == name && e.fan_team.as_deref() == Some(team))
        };
        labels
            .into_iter()
            .map(|team| {
                let cond = c
                    .condition
                    .for_team(&team, &|name| split(name) && has(name, &team));
                (Some(team), cond)
            })
            .collect()
    }

    /// The objective with this id.
    pub fn objective(&self, id: &str) -> Option<&Objective> {
        self.objectives.iter().find(|o| o.id == id)
    }

    /// The inject with this id, by index.
    pub fn inject_index(&self, id: &str) -> Option<usize> {
        self.injects.iter().position(|i| i.id == id)
    }

    /// Each contingency inject with its condition and delay, in file order.
    pub fn contingencies(&self) -> impl Iterator<Item = (&Inject, &Conditional)> {
        self.injects
            .iter()
            .filter_map(|i| i.condition.as_deref().map(|c| (i, c)))
    }

    /// The jitter an inject's occurrences take: its own, else the defaults'; `None` for
    /// none. A crowd's instants are drawn already, and a contingency's delay is as written.
    pub fn jitter_of(&self, inject: &Inject) -> Option<Jitter> {
        if inject.condition.is_some() {
            return None;
        }
        inject
            .jitter
            .or(if inject.crowd.is_some() {
                None
            } else {
                self.jitter
            })
            .filter(|j| !j.is_zero())
    }

    /// Whether anything in the scenario is drawn with its seed (jitter, a crowd, `one_of`).
    pub fn draws(&self) -> bool {
        self.injects
            .iter()
            .any(|i| i.crowd.is_some() || self.jitter_of(i).is_some())
            || self.source.contains("one_of")
    }

    /// Whether the scenario branches at all (expectations or conditions).
    pub fn is_adaptive(&self) -> bool {
        !self.expectations.is_empty() || self.injects.iter().any(|i| i.condition.is_some())
    }
}

impl Inject {
    /// An inject with nothing read yet, standing at `pos`.
    pub(crate) fn empty(pos: Pos) -> Inject {
        Inject {
            id: String::new(),
            pos,
            when: When::Invalid,
            fields: Vec::new(),
            ts_offset: None,
            extra: Vec::new(),
            notes: None,
            expect: None,
            condition: None,
            gps: None,
            objectives: Vec::new(),
            owner: None,
            stagger: None,
            jitter: None,
            phase: None,
            crowd: None,
        }
    }

    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

#[derive(Debug, Clone)]
pub enum When {
    At(Duration),
    Every {
        every: Duration,
        from: Duration,
        limit: Limit,
    },
    Cron {
        cron: Box<croner::Cron>,
        pattern: String,
        limit: Limit,
    },
    /// A crowd's posts, at seeded instants in its window ([`Inject::crowd`]).
    Crowd,
    /// The timing was wrong; already reported.
    Invalid,
}

#[derive(Debug, Clone, Copy)]
pub enum Limit {
    Count(u64),
    /// An offset from T0, inclusive.
    Until(Duration),
    /// A wall-clock instant, inclusive.
    UntilInstant(DateTime<FixedOffset>),
}

/// Read a scenario. `None` when the YAML itself could not be parsed or is not a mapping.
pub fn read(file: &str, source: Arc<String>) -> (Option<Scenario>, Diagnostics) {
    let mut diags = Diagnostics::new(file, source.clone());
    if source.as_bytes().contains(&0) {
        diags.error(
            Pos::default(),
            "the file is not text (it holds NUL bytes)",
            Some("a scenario is a YAML text file".into()),
        );
        return (None, diags);
    }
    let root = match yaml::parse(&source) {
        Ok(root) => root,
        Err(err) => {
            diags.error(
                err.pos.unwrap_or_default(),
                format!("invalid YAML: {}", err.message),
                Some("check indentation, quotes and brackets near this point".into()),
            );
            return (None, diags);
        }
    };
    let root_pos = root.pos;
    let entries = match root.value {
        Value::Map(entries) => entries,
        _ => {
            diags.error(
                root.pos,
                format!("a scenario must be a mapping, found {}", root.kind()),
                Some("start with `name:` and `injects:`".into()),
            );
            return (None, diags);
        }
    };
    let mut reader = Reader { diags: &mut diags };
    let scenario = reader.scenario(file, source.clone(), root_pos, entries.into_vec());
    (Some(scenario), diags)
}

struct Reader<'a> {
    diags: &'a mut Diagnostics,
}

/// Where a field that an inject does not know belongs, when it is one of a block's
/// (`within` of `expect:`): indented out of it, most likely.
fn belongs_in(key: &str, blocks: &[(&str, Pos)]) -> Option<String> {
    let block = [
        ("expect", contingency::EXPECT_FIELDS),
        ("when", contingency::CONDITION_KEYS),
        ("gps", &["lat", "lon", "lng", "location"][..]),
    ]
    .into_iter()
    .find(|(_, fields)| fields.contains(&key))?
    .0;
    let place = match blocks.iter().find(|(b, _)| *b == block) {
        Some((_, pos)) => format!(
            "indent it under this inject's `{block}:` (line {}), as far as the fields beside it",
            pos.line
        ),
        None => format!("put it inside a `{block}:` block"),
    };
    Some(format!("`{key}` belongs inside `{block}:`: {place}"))
}

impl Reader<'_> {
    /// The entries of a mapping whose keys are all in `known`; others are reported.
    fn keyed(
        &mut self,
        entries: Vec<(Node, Node)>,
        known: &[&'static str],
        what: &str,
    ) -> Vec<(&'static str, Node, Node)> {
        let mut out = Vec::with_capacity(entries.len());
        // The inject's own blocks, where a field indented out of one belongs.
        let blocks: Vec<(&'static str, Pos)> = if what == "inject" {
            entries
                .iter()
                .filter_map(|(k, _)| match k.as_str() {
                    Some("expect") => Some(("expect", k.pos)),
                    Some("when") => Some(("when", k.pos)),
                    Some("gps") => Some(("gps", k.pos)),
                    _ => None,
                })
                .collect()
        } else {
            Vec::new()
        };
        for (k, v) in entries {
            let found = match &k.value {
                Value::Str(key) => known.iter().find(|n| **n == key.as_str()),
                _ => None,
            };
            match found {
                Some(name) => out.push((*name, k, v)),
                None => {
                    let key = k.scalar_text();
                    let hint = belongs_in(&key, &blocks)
                        .or_else(|| own_key_hint(&key, what))
                        .or_else(|| suggest(&key, known.iter().copied()));
                    self.diags
                        .error(k.pos, format!("unknown field `{key}` in {what}"), hint);
                }
            }
        }
        out
    }

    fn string(&mut self, node: &Node, field: &str) -> Option<String> {
        match &node.value {
            Value::Str(s) => Some(s.to_string()),
            _ => {
                self.diags.error(
                    node.pos,
                    format!("`{field}` must be a string, found {}", node.kind()),
                    None,
                );
                None
            }
        }
    }

    fn string_list(&mut self, node: &Node, field: &str) -> Vec<String> {
        match &node.value {
            Value::Seq(items) => items.iter().filter_map(|i| self.string(i, field)).collect(),
            Value::Str(s) => vec![s.to_string()],
            _ => {
                self.diags.error(
                    node.pos,
                    format!("`{field}` must be a list of strings, found {}", node.kind()),
                    None,
                );
                Vec::new()
            }
        }
    }

    /// A list of names (or one name), each with where it stands.
    fn ref_list(&mut self, node: &Node, field: &str) -> Vec<Ref> {
        let one = |n: &Node| Ref {
            name: n.scalar_text(),
            pos: n.pos,
        };
        match &node.value {
            Value::Seq(items) => items
                .iter()
                .filter(|i| {
                    let scalar = matches!(i.value, Value::Str(_) | Value::Int(_));
                    if !scalar {
                        self.diags.error(
                            i.pos,
                            format!("`{field}` lists ids, found {}", i.kind()),
                            Some(format!("write `{field}: [O1, O2]`")),
                        );
                    }
                    scalar
                })
                .map(one)
                .collect(),
            Value::Str(_) | Value::Int(_) => vec![one(node)],
            _ => {
                self.diags.error(
                    node.pos,
                    format!("`{field}` must be a list of ids, found {}", node.kind()),
                    Some(format!("write `{field}: [O1, O2]`")),
                );
                Vec::new()
            }
        }
    }

    fn string_map(&mut self, node: Node, field: &str) -> Vec<(String, Node)> {
        let kind = node.kind();
        match node.value {
            Value::Map(entries) => entries
                .into_iter()
                .map(|(k, v)| (k.scalar_text(), v))
                .collect(),
            Value::Null => Vec::new(),
            _ => {
                self.diags.error(
                    node.pos,
                    format!("`{field}` must be a mapping of alias to id, found {kind}"),
                    None,
                );
                Vec::new()
            }
        }
    }
}

fn is_valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
}

fn describe(node: &Node) -> String {
    match &node.value {
        Value::Str(s) => format!("`{s}`"),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        _ => node.kind().to_string(),
    }
}

pub(super) type Problem = (String, Option<String>);

/// For a key that looks like the author's own (`x-...`, `x_...`): where such keys go.
fn own_key_hint(key: &str, what: &str) -> Option<String> {
    if key.starts_with("x-") && what != "scenario" {
        return Some("`x-` keys are the author's own only at the top of the file, beside `injects:` (a place for anchored blocks)".into());
    }
    key.strip_prefix("x_").map(|rest| {
        format!("a key of your own at the top of the file starts with `x-`: `x-{rest}`")
    })
}

/// A template's context of the scenario's `vars:`.
pub fn vars_context(
    vars: &serde_json::Map<String, serde_json::Value>,
) -> std::collections::BTreeMap<String, minijinja::Value> {
    vars.iter()
        .map(|(k, v)| {
            (
                k.clone(),
                minijinja::Value::from(minijinja::value::Serde(v)),
            )
        })
        .collect()
}
