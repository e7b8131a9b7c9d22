//! The scenario file: reading the YAML tree into a checked model.
//!
//! [`read`] walks the [`yaml::Node`] tree and records every problem it meets (unknown
//! fields with a did-you-mean, wrong types, bad durations and times, duplicate ids)
//! without stopping, so one pass reports them all. It checks shape, not the API's
//! rules: those are [`crate::message::check`]'s, applied to the built bodies by
//! [`crate::validate`]. Nothing here does I/O.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use chrono_tz::Tz;

use crate::diag::{Diagnostics, suggest};
use crate::message::BODY_FIELDS;
use crate::yaml::{self, Node, Pos, Value};

pub mod contingency;
mod times;

pub use contingency::{Condition, Conditional, Deadline, Expectation, Ref};
use times::parse_signed_duration;
pub use times::{MAX_OFFSET, parse_offset, parse_offset_str, parse_start};

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
    "gps_longitude",
];

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
    "extra",
    "notes",
    "expect",
    "when",
    "after",
    "gps",
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
    /// The name a persona move's longitude goes by on the wire: `lon` (the API page's
    /// example body), or `lng` (its field table).
    pub gps_longitude: &'static str,
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

    /// The inject with this id, by index.
    pub fn inject_index(&self, id: &str) -> Option<usize> {
        self.injects.iter().position(|i| i.id == id)
    }

    /// Whether the scenario branches at all (expectations or conditions).
    pub fn is_adaptive(&self) -> bool {
        !self.expectations.is_empty() || self.injects.iter().any(|i| i.condition.is_some())
    }
}

impl Inject {
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

/// An inject's fields that say when it fires, as read.
struct Timing {
    /// `at`, `every`, `from`, `count`, `until` and `cron`.
    fields: BTreeMap<&'static str, Node>,
    /// `when:`: its key, and its condition when it could be read.
    condition: Option<(Node, Option<Condition>)>,
    /// `after:`, the delay once the condition holds.
    after: Option<Node>,
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
    fn scenario(
        &mut self,
        file: &str,
        source: Arc<String>,
        root_pos: Pos,
        entries: Vec<(Node, Node)>,
    ) -> Scenario {
        let mut s = Scenario {
            file: file.to_string(),
            source,
            name: String::new(),
            description: None,
            start: None,
            timezone: None,
            defaults: Vec::new(),
            personas: BTreeMap::new(),
            teams: BTreeMap::new(),
            vars: serde_json::Map::new(),
            extra_channels: Vec::new(),
            injects: Vec::new(),
            injects_pos: root_pos,
            expectations: Vec::new(),
            gps_longitude: "lon",
        };
        let mut free_expectations = Vec::new();
        let fields = self.keyed(entries, SCENARIO_FIELDS, "scenario");
        let has = |n: &str| fields.iter().any(|(f, _, _)| *f == n);
        let (has_name, has_injects) = (has("name"), has("injects"));
        let mut start_node = None;
        for (name, key, value) in fields {
            if value.value == Value::Null && !matches!(name, "name" | "injects") {
                continue; // an optional field left empty
            }
            match name {
                "name" => s.name = self.string(&value, "name").unwrap_or_default(),
                "description" => s.description = self.string(&value, "description"),
                "start" => start_node = Some(value),
                "timezone" => {
                    if let Some(tz) = self.timezone(&value) {
                        s.timezone = Some(tz);
                    }
                }
                "defaults" => s.defaults = self.body_fields(value, "defaults"),
                "personas" => self.personas(value, &mut s.personas),
                "teams" => self.teams(value, &mut s.teams),
                "vars" => match value.to_json() {
                    serde_json::Value::Object(map) => s.vars = map,
                    serde_json::Value::Null => {}
                    _ => self.diags.error(
                        value.pos,
                        format!("`vars` must be a mapping, found {}", value.kind()),
                        None,
                    ),
                },
                "extra_channels" => s.extra_channels = self.string_list(&value, "extra_channels"),
                "expectations" => free_expectations = self.expectations(value),
                "gps_longitude" => match value.as_str() {
                    Some("lon") => s.gps_longitude = "lon",
                    Some("lng") => s.gps_longitude = "lng",
                    _ => self.diags.error(
                        value.pos,
                        format!(
                            "`gps_longitude` is `lon` or `lng`, found {}",
                            describe(&value)
                        ),
                        Some(
                            "the API page's example sends `lon`, its field table says `lng`".into(),
                        ),
                    ),
                },
                "injects" => {
                    s.injects_pos = key.pos;
                    let kind = value.kind();
                    match value.value {
                        Value::Seq(items) => {
                            s.injects = items
                                .into_iter()
                                .map(|i| self.inject(i, &mut s.expectations))
                                .collect();
                        }
                        Value::Null => {}
                        _ => self.diags.error(
                            value.pos,
                            format!("`injects` must be a list, found {kind}"),
                            Some("write each inject as a `- id: ...` item".into()),
                        ),
                    }
                }
                _ => unreachable!("keyed() only returns known fields"),
            }
        }
        if !has_name {
            self.diags.error(
                root_pos,
                "the scenario has no `name`",
                Some("add `name: My exercise` at the top".into()),
            );
        }
        if !has_injects {
            self.diags
                .error(root_pos, "the scenario has no `injects`", None);
        }
        if let Some(node) = start_node
            && let Some(text) = self.string(&node, "start")
        {
            match parse_start(&text, s.timezone) {
                Ok(t) => s.start = Some(t),
                Err(e) => self.diags.error(node.pos, e.0, e.1),
            }
        }
        for (index, inject) in s.injects.iter().enumerate() {
            if let Some(e) = inject.expect {
                s.expectations[e].owner = Some(index);
            }
        }
        s.expectations.extend(free_expectations);
        self.unique_expectation_ids(&s.expectations);
        self.unique_inject_ids(&s.injects);
        s
    }

    /// `timezone:`, an IANA time zone; `None` (reported) when it is not one.
    fn timezone(&mut self, value: &Node) -> Option<Tz> {
        let tz = self.string(value, "timezone")?;
        match tz.parse::<Tz>() {
            Ok(tz) => Some(tz),
            Err(_) => {
                self.diags.error(
                    value.pos,
                    format!("unknown time zone `{tz}`"),
                    suggest(&tz, chrono_tz::TZ_VARIANTS.iter().map(|t| t.name()))
                        .or(Some("use an IANA name such as `Europe/London`".into())),
                );
                None
            }
        }
    }

    /// `personas:`, alias to persona id, into `personas`; an id that is not a string
    /// is reported.
    fn personas(&mut self, value: Node, personas: &mut BTreeMap<String, String>) {
        for (alias, id) in self.string_map(value, "personas") {
            match id.value {
                Value::Str(ref v) if !v.trim().is_empty() => {
                    personas.insert(alias, v.to_string());
                }
                _ => self.diags.error(
                    id.pos,
                    format!(
                        "persona id for `{alias}` must be a string such as \"3-49786\", found {}",
                        id.kind()
                    ),
                    None,
                ),
            }
        }
    }

    /// `teams:`, alias to team id, into `teams`; an id that is not numeric is reported.
    fn teams(&mut self, value: Node, teams: &mut BTreeMap<String, serde_json::Value>) {
        for (alias, id) in self.string_map(value, "teams") {
            match &id.value {
                Value::Int(i) if *i >= 0 => {
                    teams.insert(alias, serde_json::Value::from(*i));
                }
                Value::Str(v) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => {
                    teams.insert(alias, serde_json::Value::from(v.as_str()));
                }
                _ => self.diags.error(
                    id.pos,
                    format!(
                        "team id for `{alias}` must be a numeric id such as 3437866, found {}",
                        id.kind()
                    ),
                    None,
                ),
            }
        }
    }

    /// Report each expectation whose id an earlier one has.
    fn unique_expectation_ids(&mut self, expectations: &[Expectation]) {
        let mut seen_expectations: foldhash::HashMap<&str, Pos> = foldhash::HashMap::default();
        for e in expectations {
            if let Some(first) = seen_expectations.get(e.id.as_str()) {
                self.diags.error(
                    e.pos,
                    format!("duplicate expectation id `{}`", e.id),
                    Some(format!(
                        "expectation ids must be unique; `{}` is first used on line {}",
                        e.id, first.line
                    )),
                );
            } else {
                seen_expectations.insert(&e.id, e.pos);
            }
        }
    }

    /// Report each inject whose id an earlier one has.
    fn unique_inject_ids(&mut self, injects: &[Inject]) {
        let mut seen: foldhash::HashMap<String, Pos> =
            foldhash::HashMapExt::with_capacity(injects.len());
        for inject in injects {
            if inject.id.is_empty() {
                continue;
            }
            if let Some(first) = seen.get(&inject.id) {
                self.diags.error(
                    inject.pos,
                    format!("duplicate inject id `{}`", inject.id),
                    Some(format!(
                        "ids must be unique; `{}` is first used on line {}",
                        inject.id, first.line
                    )),
                );
            } else {
                seen.insert(inject.id.clone(), inject.pos);
            }
        }
    }

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
                    let hint =
                        belongs_in(&key, &blocks).or_else(|| suggest(&key, known.iter().copied()));
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

    fn body_fields(&mut self, node: Node, what: &str) -> Vec<Field> {
        let kind = node.kind();
        let entries = match node.value {
            Value::Map(entries) => entries,
            Value::Null => return Vec::new(),
            _ => {
                self.diags.error(
                    node.pos,
                    format!("`{what}` must be a mapping of body fields, found {kind}"),
                    None,
                );
                return Vec::new();
            }
        };
        self.keyed(entries.into_vec(), BODY_FIELDS, what)
            .into_iter()
            .map(|(name, k, v)| Field {
                name,
                key_pos: k.pos,
                node: v,
            })
            .collect()
    }

    fn inject(&mut self, node: Node, expectations: &mut Vec<Expectation>) -> Inject {
        let mut inject = Inject {
            id: String::new(),
            pos: node.pos,
            when: When::Invalid,
            fields: Vec::new(),
            ts_offset: None,
            extra: Vec::new(),
            notes: None,
            expect: None,
            condition: None,
            gps: None,
        };
        let mut expect = None;
        let kind = node.kind();
        let entries = match node.value {
            Value::Map(entries) => entries,
            _ => {
                self.diags.error(
                    node.pos,
                    format!("an inject must be a mapping, found {kind}"),
                    Some("write `- id: ...` followed by its fields".into()),
                );
                return inject;
            }
        };
        let has_id_key = entries.iter().any(|(k, _)| k.as_str() == Some("id"));
        let mut timing = Timing {
            fields: BTreeMap::new(),
            condition: None,
            after: None,
        };
        let keyed = self.keyed(entries.into_vec(), &INJECT_KEYS, "inject");
        // Sized exactly: a scenario holds every inject's fields at once.
        inject.fields.reserve_exact(
            keyed
                .iter()
                .filter(|(name, _, _)| !INJECT_FIELDS.contains(name))
                .count(),
        );
        for (name, key, value) in keyed {
            match name {
                "id" => self.inject_id(&value, &mut inject),
                "at" | "every" | "from" | "count" | "until" | "cron" => {
                    timing.fields.insert(name, value);
                }
                "ts_offset" => match parse_signed_duration(&value) {
                    Ok(secs) => inject.ts_offset = Some((secs, value.pos)),
                    Err((m, h)) => self
                        .diags
                        .error(value.pos, format!("bad `ts_offset`: {m}"), h),
                },
                "extra" => self.extra(value, &mut inject.extra),
                "notes" => inject.notes = Some(Box::new(value.to_json())),
                "expect" => expect = self.expect(value),
                "when" => {
                    let parsed = self.condition(&value, 0);
                    timing.condition = Some((key, parsed));
                }
                "after" => timing.after = Some(value),
                "gps" => inject.gps = self.gps(&value).map(Box::new),
                body => inject.fields.push(Field {
                    name: body,
                    key_pos: key.pos,
                    node: value,
                }),
            }
        }
        if inject.id.is_empty() && !has_id_key {
            self.diags.error(node.pos, "this inject has no `id`", Some("add `id: a-unique-name`; it names the inject in the plan, the journal and on resume".into()));
        }
        self.timing(node.pos, timing, &mut inject);
        if let Some(mut e) = expect {
            e.owner = Some(usize::MAX); // set below, once the inject's index is known
            inject.expect = Some(expectations.len());
            expectations.push(e);
        }
        inject
    }

    /// An inject's `id`: a string of the characters ids may have, or a number; else
    /// reported.
    fn inject_id(&mut self, value: &Node, inject: &mut Inject) {
        match &value.value {
            Value::Str(s) if is_valid_id(s) => {
                inject.id = s.to_string();
                inject.pos = value.pos;
            }
            Value::Int(i) => {
                inject.id = i.to_string();
                inject.pos = value.pos;
            }
            Value::Str(s) => {
                inject.pos = value.pos;
                self.diags.error(
                    value.pos,
                    format!("inject id `{s}` has characters that keys use (`#`, `@`, `,`), spaces, or is empty"),
                    Some("use letters, digits, `-`, `_`, `.` and `:`".into()),
                );
            }
            _ => self.diags.error(
                value.pos,
                format!("`id` must be a string, found {}", value.kind()),
                None,
            ),
        }
    }

    /// An inject's `extra:`, further body fields sent verbatim, into `extra`; a body
    /// field there, or an `extra` that is not a mapping, is reported.
    fn extra(&mut self, value: Node, extra: &mut Vec<(String, Node)>) {
        let (pos, kind) = (value.pos, value.kind());
        if let Value::Map(entries) = value.value {
            for (k, v) in entries {
                let name = k.scalar_text();
                if BODY_FIELDS.contains(&name.as_str()) {
                    self.diags.error(
                        k.pos,
                        format!(
                            "`{name}` is a body field; set it on the inject, not under `extra`"
                        ),
                        None,
                    );
                } else {
                    extra.push((name, v));
                }
            }
        } else {
            self.diags.error(
                pos,
                format!("`extra` must be a mapping, found {kind}"),
                None,
            );
        }
    }

    /// When the inject at `inject_pos` fires, from its `timing`: its schedule, and for
    /// a contingency its condition, the schedule then counting from `after` once it
    /// holds; what does not go together is reported.
    fn timing(&mut self, inject_pos: Pos, timing: Timing, inject: &mut Inject) {
        let Timing {
            fields: timing,
            condition,
            after,
        } = timing;
        let after_d = match &after {
            None => Duration::ZERO,
            Some(node) => match parse_offset(node) {
                Ok(d) => d,
                Err((m, h)) => {
                    self.diags.error(node.pos, format!("bad `after`: {m}"), h);
                    Duration::ZERO
                }
            },
        };
        match condition {
            Some((when_key, parsed)) => {
                for name in ["at", "cron"] {
                    if let Some(node) = timing.get(name) {
                        self.diags.error(
                            node.pos,
                            format!("an inject with `when` has no `{name}`: it fires once its condition holds"),
                            Some("write `after: 2m` for a delay once the condition holds; `every`, `from` and `count` count from that moment".into()),
                        );
                    }
                }
                if timing.contains_key("at") || timing.contains_key("cron") {
                    inject.when = When::Invalid;
                } else if timing.contains_key("every") {
                    inject.when = match self.when(inject_pos, &timing, true) {
                        When::Every { every, from, limit } => When::Every {
                            every,
                            from: from + after_d,
                            limit: match limit {
                                Limit::Until(u) => Limit::Until(u + after_d),
                                other => other,
                            },
                        },
                        other => other,
                    };
                } else {
                    for name in ["from", "count", "until"] {
                        if let Some(node) = timing.get(name) {
                            self.diags
                                .error(node.pos, format!("`{name}` goes with `every`"), None);
                        }
                    }
                    inject.when = When::At(after_d);
                }
                if let Some(condition) = parsed {
                    inject.condition = Some(Box::new(Conditional {
                        condition,
                        after: after_d,
                        pos: when_key.pos,
                    }));
                }
            }
            None => {
                if let Some(node) = &after {
                    self.diags.error(
                        node.pos,
                        "`after` goes with `when`: it is the delay once a condition holds",
                        Some("for a planned inject, write `at:` (an offset from T0)".into()),
                    );
                }
                inject.when = self.when(inject_pos, &timing, false);
            }
        }
    }

    fn when(&mut self, inject_pos: Pos, t: &BTreeMap<&str, Node>, conditional: bool) -> When {
        let at = t.get("at");
        let every = t.get("every");
        let cron = t.get("cron");
        let n = [at, every, cron].iter().filter(|x| x.is_some()).count();
        if n == 0 && !conditional {
            self.diags.error(
                inject_pos,
                "this inject has no time",
                Some("add `at: 5m` (an offset from the start), `every:` or `cron:`, or `when:` for a contingency".into()),
            );
            return When::Invalid;
        }
        if n > 1 {
            let second = [at, every, cron]
                .into_iter()
                .flatten()
                .nth(1)
                .expect("two present");
            self.diags
                .error(second.pos, "use only one of `at`, `every` and `cron`", None);
            return When::Invalid;
        }
        if let Some(at) = at {
            for extra in ["from", "count", "until"] {
                if let Some(node) = t.get(extra) {
                    self.diags.error(
                        node.pos,
                        format!("`{extra}` goes with `every` or `cron`, not `at`"),
                        None,
                    );
                }
            }
            return match parse_offset(at) {
                Ok(d) => When::At(d),
                Err((m, h)) => {
                    self.diags.error(at.pos, format!("bad `at`: {m}"), h);
                    When::Invalid
                }
            };
        }
        let limit = self.limit(inject_pos, t, cron.is_some());
        if let Some(every_node) = every {
            let every = match parse_offset(every_node) {
                Ok(d) if d.is_zero() => {
                    self.diags.error(
                        every_node.pos,
                        "`every` must be longer than zero",
                        Some("write an interval such as `15m`".into()),
                    );
                    None
                }
                Ok(d) => Some(d),
                Err((m, h)) => {
                    self.diags
                        .error(every_node.pos, format!("bad `every`: {m}"), h);
                    None
                }
            };
            let from = match t.get("from") {
                None => Some(Duration::ZERO),
                Some(node) => match parse_offset(node) {
                    Ok(d) => Some(d),
                    Err((m, h)) => {
                        self.diags.error(node.pos, format!("bad `from`: {m}"), h);
                        None
                    }
                },
            };
            let (Some(every), Some(from), Some(limit)) = (every, from, limit) else {
                return When::Invalid;
            };
            let count = match limit {
                Limit::Count(c) => c,
                Limit::Until(u) if u < from => {
                    self.diags
                        .error(t["until"].pos, "`until` is before `from`", None);
                    return When::Invalid;
                }
                Limit::Until(u) => ((u - from).as_nanos() / every.as_nanos()) as u64 + 1,
                Limit::UntilInstant(_) => {
                    self.diags.error(
                        t["until"].pos,
                        "with `every`, `until` is an offset such as `2h`",
                        None,
                    );
                    return When::Invalid;
                }
            };
            if count > MAX_OCCURRENCES {
                self.diags.error(
                    every_node.pos,
                    format!("this recurrence expands to {count} occurrences; the limit is {MAX_OCCURRENCES}"),
                    Some("use a longer `every` or a smaller `count`/`until`".into()),
                );
                return When::Invalid;
            }
            return When::Every { every, from, limit };
        }
        let cron_node = cron.expect("one of the three");
        if let Some(node) = t.get("from") {
            self.diags.error(
                node.pos,
                "`from` goes with `every`; a cron pattern starts at T0",
                None,
            );
        }
        let Some(pattern) = self.string(cron_node, "cron") else {
            return When::Invalid;
        };
        let parsed = match pattern.parse::<croner::Cron>() {
            Ok(c) => c,
            Err(e) => {
                self.diags.error(
                    cron_node.pos,
                    format!("bad cron pattern `{pattern}`: {e}"),
                    Some(
                        "five fields (minute hour day month weekday), or six with seconds first"
                            .into(),
                    ),
                );
                return When::Invalid;
            }
        };
        match limit {
            Some(limit) => When::Cron {
                cron: Box::new(parsed),
                pattern,
                limit,
            },
            None => When::Invalid,
        }
    }

    fn limit(&mut self, inject_pos: Pos, t: &BTreeMap<&str, Node>, cron: bool) -> Option<Limit> {
        match (t.get("count"), t.get("until")) {
            (Some(_), Some(until)) => {
                self.diags
                    .error(until.pos, "use `count` or `until`, not both", None);
                None
            }
            (None, None) => {
                self.diags.error(
                    inject_pos,
                    "a recurrence needs `count:` or `until:`",
                    Some("bound it, for example `count: 4` or `until: 2h`".into()),
                );
                None
            }
            (Some(count), None) => match count.value {
                Value::Int(c) if c >= 1 && c as u64 <= MAX_OCCURRENCES => {
                    Some(Limit::Count(c as u64))
                }
                Value::Int(c) if c >= 1 => {
                    self.diags.error(
                        count.pos,
                        format!("`count` is {c}; the limit is {MAX_OCCURRENCES}"),
                        None,
                    );
                    None
                }
                _ => {
                    self.diags.error(
                        count.pos,
                        format!(
                            "`count` must be a positive integer, found {}",
                            describe(count)
                        ),
                        None,
                    );
                    None
                }
            },
            (None, Some(until)) => {
                if cron
                    && let Some(text) = until.as_str()
                    && text.contains('-')
                    && text.len() >= 10
                {
                    return match parse_start(text, None) {
                        Ok(t) => Some(Limit::UntilInstant(t)),
                        Err(e) => {
                            self.diags
                                .error(until.pos, format!("bad `until`: {}", e.0), e.1);
                            None
                        }
                    };
                }
                match parse_offset(until) {
                    Ok(d) => Some(Limit::Until(d)),
                    Err((m, h)) => {
                        self.diags.error(until.pos, format!("bad `until`: {m}"), h);
                        None
                    }
                }
            }
        }
    }
}

impl Reader<'_> {
    /// An inject's `gps:`: `{ lat: 51.5, lon: -0.09, location: "Merril Bay" }` (`lng`
    /// is taken for `lon`).
    fn gps(&mut self, node: &Node) -> Option<Gps> {
        let example = "write `gps: { lat: 51.5, lon: -0.09, location: \"Merril Bay, Goldland\" }`";
        let Value::Map(entries) = &node.value else {
            self.diags.error(
                node.pos,
                format!("`gps` must be a mapping, found {}", node.kind()),
                Some(example.into()),
            );
            return None;
        };
        let (mut lat, mut lon, mut location) = (None, None, None);
        for (k, v) in entries.iter() {
            let key = k.scalar_text();
            let number = |r: &mut Self, range: f64| match &v.value {
                Value::Int(i) if (*i as f64).abs() <= range => Some(*i as f64),
                Value::Float(f) if f.is_finite() && f.abs() <= range => Some(*f),
                Value::Int(_) | Value::Float(_) => {
                    r.diags.error(
                        v.pos,
                        format!(
                            "`{key}` must be between -{range} and {range}, found {}",
                            describe(v)
                        ),
                        None,
                    );
                    None
                }
                _ => {
                    r.diags.error(
                        v.pos,
                        format!("`{key}` must be a number, found {}", describe(v)),
                        None,
                    );
                    None
                }
            };
            match key.as_str() {
                "lat" => lat = number(self, 90.0),
                "lon" | "lng" => lon = number(self, 180.0),
                "location" => match v.as_str().map(str::trim) {
                    Some(l) if !l.is_empty() => location = Some(l.to_string()),
                    _ => self.diags.error(
                        v.pos,
                        "`location` is the place players see, as text",
                        Some(
                            "it need not match the coordinates: \"Merril Bay, Goldland\" is fine"
                                .into(),
                        ),
                    ),
                },
                _ => self.diags.error(
                    k.pos,
                    format!("unknown field `{key}` in `gps`"),
                    suggest(&key, ["lat", "lon", "lng", "location"]),
                ),
            }
        }
        let mut missing = Vec::new();
        if lat.is_none() && !entries.iter().any(|(k, _)| k.as_str() == Some("lat")) {
            missing.push("lat");
        }
        if lon.is_none()
            && !entries
                .iter()
                .any(|(k, _)| matches!(k.as_str(), Some("lon" | "lng")))
        {
            missing.push("lon");
        }
        if location.is_none() && !entries.iter().any(|(k, _)| k.as_str() == Some("location")) {
            missing.push("location");
        }
        if !missing.is_empty() {
            self.diags.error(
                node.pos,
                format!("`gps` lacks {}", missing.join(", ")),
                Some(example.into()),
            );
        }
        // Reported above when wrong; placeholders keep the inject a move, so it is not
        // also checked as a message.
        Some(Gps {
            lat: lat.unwrap_or(0.0),
            lon: lon.unwrap_or(0.0),
            location: location.unwrap_or_else(|| "?".into()),
            pos: node.pos,
        })
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
