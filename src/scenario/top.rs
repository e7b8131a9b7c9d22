//! The reader of the scenario's top level: its fields, time zone, personas and teams,
//! defaults, and the ids that must be unique across it.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono_tz::Tz;

use super::{Expectation, Field, Inject, Reader, SCENARIO_FIELDS, Scenario, describe, parse_start};
use crate::diag::suggest;
use crate::message::BODY_FIELDS;
use crate::yaml::{Node, Pos, Value};

impl Reader<'_> {
    pub(super) fn scenario(
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
            objectives: Vec::new(),
            gps_longitude: "lon",
            seed: 0,
            seed_written: false,
            jitter: None,
            phases: Vec::new(),
        };
        let mut crowds = Vec::new();
        let mut free_expectations = Vec::new();
        // `x-` keys are the author's own (a place for anchors, notes): not the scenario's.
        let entries: Vec<(Node, Node)> = entries
            .into_iter()
            .filter(|(k, _)| !k.as_str().is_some_and(|k| k.starts_with("x-")))
            .collect();
        let fields = self.keyed(entries, SCENARIO_FIELDS, "scenario");
        let has = |n: &str| fields.iter().any(|(f, _, _)| *f == n);
        // A scenario of crowds alone is one.
        let (has_name, has_injects) = (has("name"), has("injects") || has("crowds"));
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
                "defaults" => {
                    let (jitter, rest) = take_key(value, "jitter");
                    if let Some(j) = jitter {
                        s.jitter = self.jitter(&j);
                    }
                    s.defaults = self.body_fields(rest, "defaults");
                }
                "seed" => {
                    if let Some(seed) = self.seed(&value) {
                        s.seed = seed;
                        s.seed_written = true;
                    }
                }
                "phases" => s.phases = self.phases(value),
                "crowds" => crowds = self.crowds(value),
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
                "objectives" => s.objectives = self.objectives(value),
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
        // The crowds first: an inject sent ad hoc joins `injects:` and so the end of the
        // list, where every inject before it keeps its index (a run refers to them so).
        crowds.append(&mut s.injects);
        s.injects = crowds;
        self.place_in_phases(&s.phases, &mut s.injects);
        self.per_team_expectations(&mut s);
        s.expectations.extend(free_expectations);
        if !s.seed_written {
            s.seed = crate::draw::seed_of_name(&s.name);
        }
        self.unique_expectation_ids(&s.expectations);
        self.unique_inject_ids(&s.injects);
        s
    }

    /// Each fan-out's expected action (with no `team:` of its own) made one per team:
    /// `status-report@blue`, `status-report@red`, each whose team is the team, its
    /// `{{ team }}` rendered; any other expected action's `{{ team }}` too.
    fn per_team_expectations(&mut self, s: &mut Scenario) {
        let mut out = Vec::with_capacity(s.expectations.len());
        let mut moved = Vec::new();
        for (index, inject) in s.injects.iter().enumerate() {
            let Some(e) = inject.expect else { continue };
            let e = s.expectations[e].clone();
            let labels = match s
                .defaults
                .iter()
                .chain(inject.fields.iter())
                .rfind(|f| f.name == "team_id")
                .map(|f| &f.node.value)
            {
                Some(Value::Seq(items)) if e.team.is_none() => {
                    items.iter().map(Node::scalar_text).collect::<Vec<_>>()
                }
                _ => Vec::new(),
            };
            moved.push((index, out.len()));
            if labels.is_empty() {
                let team = e.team.as_ref().map(|(t, _)| t.clone()).or_else(|| {
                    s.defaults
                        .iter()
                        .chain(inject.fields.iter())
                        .rfind(|f| f.name == "team_id")
                        .map(|f| f.node.scalar_text())
                        .filter(|t| !t.is_empty())
                });
                let action = self.render_action(&e, team.as_deref(), s);
                out.push(super::Expectation {
                    action,
                    owner: Some(index),
                    ..e
                });
                continue;
            }
            for team in labels {
                let action = self.render_action(&e, Some(&team), s);
                out.push(super::Expectation {
                    id: format!("{}@{team}", e.id),
                    action,
                    team: Some((team.clone(), e.pos)),
                    owner: Some(index),
                    fan_team: Some(team),
                    ..e.clone()
                });
            }
        }
        s.expectations = out;
        for (index, e) in moved {
            s.injects[index].expect = Some(e);
        }
    }

    /// An expected action's text with `{{ team }}` (and `{{ team_id }}`, the vars)
    /// rendered, for `team`; as written when it holds no template.
    fn render_action(
        &mut self,
        e: &super::Expectation,
        team: Option<&str>,
        s: &Scenario,
    ) -> String {
        if !e.action.contains("{{") && !e.action.contains("{%") {
            return e.action.clone();
        }
        let mut env = minijinja::Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        let mut ctx = super::vars_context(&s.vars);
        if let Some(team) = team {
            ctx.insert("team".into(), minijinja::Value::from(team));
            if let Some(id) = s.teams.get(team) {
                ctx.insert(
                    "team_id".into(),
                    minijinja::Value::from(minijinja::value::Serde(id)),
                );
            }
        }
        match env.render_str(&e.action, ctx) {
            Ok(text) => text,
            Err(err) => {
                let hint = if team.is_none() {
                    "`{{ team }}` is the team of a fan-out (`team_id: [blue, red]`), or of the inject's one `team_id`; this expected action has none"
                } else {
                    "an expected action's text may use `{{ team }}`, `{{ team_id }}` and `vars:`"
                };
                self.diags.error(
                    e.pos,
                    format!(
                        "template error in the expected action of `{}`: {}",
                        e.id,
                        err.detail().unwrap_or(&err.kind().to_string())
                    ),
                    Some(hint.into()),
                );
                e.action.clone()
            }
        }
    }

    /// Each inject's `phase:`: its timing counted from the phase's `at`.
    fn place_in_phases(&mut self, phases: &[super::Phase], injects: &mut [Inject]) {
        for inject in injects {
            let Some(r) = &inject.phase else { continue };
            let Some(phase) = phases.iter().find(|p| p.id == r.name) else {
                let hint = suggest(&r.name, phases.iter().map(|p| p.id.as_str())).or(Some(
                    if phases.is_empty() {
                        "declare it at the top: `phases: [{ id: afternoon, at: 3h }]`".into()
                    } else {
                        format!(
                            "the phases are {}",
                            phases
                                .iter()
                                .map(|p| format!("`{}`", p.id))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    },
                ));
                self.diags
                    .error(r.pos, format!("unknown phase `{}`", r.name), hint);
                continue;
            };
            if inject.condition.is_some() {
                self.diags.error(r.pos, format!("inject `{}` has `when:`: it counts from when its condition holds, not from a phase", inject.id), Some("leave `phase` out of a contingency".into()));
                continue;
            }
            let p = phase.at;
            // A crowd's window counts from its phase.
            if let Some(crowd) = inject.crowd.as_mut() {
                crowd.from += p;
                crowd.to += p;
                continue;
            }
            inject.when = match std::mem::replace(&mut inject.when, super::When::Invalid) {
                super::When::At(d) => super::When::At(p + d),
                super::When::Every { every, from, limit } => super::When::Every {
                    every,
                    from: p + from,
                    limit: match limit {
                        super::Limit::Until(u) => super::Limit::Until(p + u),
                        other => other,
                    },
                },
                super::When::Cron { .. } => {
                    self.diags.error(r.pos, format!("inject `{}` has a cron pattern, which sets clock times: a phase cannot move it", inject.id), Some("leave `phase` out, or write `every:` with `from:` counted from the phase".into()));
                    super::When::Invalid
                }
                other => other,
            };
        }
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

    /// The `objectives:` list: each an id, its text and, if given, its capability.
    fn objectives(&mut self, node: Node) -> Vec<super::Objective> {
        let kind = node.kind();
        let Value::Seq(items) = node.value else {
            self.diags.error(
                node.pos,
                format!("`objectives` must be a list, found {kind}"),
                Some("write each as `- { id: O1, text: Issue a timely public warning }`".into()),
            );
            return Vec::new();
        };
        let mut out: Vec<super::Objective> = Vec::new();
        for item in items {
            let (pos, kind) = (item.pos, item.kind());
            let Value::Map(entries) = item.value else {
                self.diags.error(
                    pos,
                    format!("an objective must be a mapping, found {kind}"),
                    Some("write `- { id: O1, text: Issue a timely public warning, capability: Public Information and Warning }`".into()),
                );
                continue;
            };
            let mut o = super::Objective {
                id: String::new(),
                pos,
                text: String::new(),
                capability: None,
            };
            for (name, _key, value) in
                self.keyed(entries.into_vec(), super::OBJECTIVE_FIELDS, "objective")
            {
                match name {
                    "id" => {
                        let id = value.scalar_text();
                        if super::is_valid_id(&id) {
                            o.id = id;
                            o.pos = value.pos;
                        } else {
                            self.diags.error(
                                value.pos,
                                format!(
                                    "an objective's `id` must be a name such as `O1`, found {}",
                                    describe(&value)
                                ),
                                Some("use letters, digits, `-`, `_`, `.` and `:`".into()),
                            );
                        }
                    }
                    "text" => o.text = self.string(&value, "text").unwrap_or_default(),
                    "capability" => o.capability = self.string(&value, "capability"),
                    _ => unreachable!("keyed() only returns known fields"),
                }
            }
            if o.id.is_empty() {
                self.diags.error(
                    pos,
                    "this objective has no `id`",
                    Some("add `id: O1`; injects, expectations and `ctl rate` name it".into()),
                );
                continue;
            }
            if o.text.trim().is_empty() {
                self.diags.error(pos, format!("objective `{}` has no `text`", o.id), Some("say what is evaluated, e.g. `text: Issue a timely public warning to residents at risk`".into()));
            }
            if let Some(first) = out.iter().find(|x| x.id == o.id) {
                self.diags.error(
                    o.pos,
                    format!("duplicate objective id `{}`", o.id),
                    Some(format!(
                        "objective ids must be unique; `{}` is first used on line {}",
                        o.id, first.pos.line
                    )),
                );
                continue;
            }
            out.push(o);
        }
        out
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
}

/// A mapping without its `key` entry, and that entry's value (a mapping's other
/// shapes are returned as they are).
fn take_key(node: Node, key: &str) -> (Option<Node>, Node) {
    let Node { value, pos } = node;
    match value {
        Value::Map(entries) => {
            let mut found = None;
            let mut rest = Vec::new();
            for (k, v) in entries.into_vec() {
                if k.as_str() == Some(key) {
                    found = Some(v);
                } else {
                    rest.push((k, v));
                }
            }
            (
                found,
                Node {
                    value: Value::Map(rest.into()),
                    pos,
                },
            )
        }
        other => (None, Node { value: other, pos }),
    }
}
