//! Adaptive parts of a scenario as written: expected player actions (`expect:` on an
//! inject, `expectations:` at the top) and the conditions of contingency injects
//! (`when:`, `after:`). Read here; what they mean at run time is [`crate::adaptive`]'s.

use std::time::Duration;

use super::{Reader, parse_offset};
use crate::yaml::{Node, Pos, Value};

/// Fields of an inject's `expect:`.
pub const EXPECT_FIELDS: &[&str] = &["id", "action", "within", "team", "objectives"];
/// Fields of an entry of `expectations:`.
pub const EXPECTATION_FIELDS: &[&str] = &["id", "action", "by", "team", "objectives"];
/// The keys of a condition.
pub const CONDITION_KEYS: &[&str] = &["met", "missed", "sent", "any", "all"];

/// An expected player action, judged by a controller.
#[derive(Debug, Clone)]
pub struct Expectation {
    pub id: String,
    /// Where its id stands.
    pub pos: Pos,
    /// What players are expected to do, in the controller's words.
    pub action: String,
    pub deadline: Deadline,
    /// Whose action: a team alias or id, as written, and where.
    pub team: Option<(String, Pos)>,
    /// The inject it belongs to (`expect:`), by index; `None` for `expectations:`.
    pub owner: Option<usize>,
    /// The objectives it evaluates, as written.
    pub objectives: Vec<Ref>,
    /// One team's of a fan-out's expectation (`status-report@blue`): the team as its
    /// inject's `team_id` lists it; its deadline opens with that team's occurrence.
    pub fan_team: Option<String>,
}

impl Expectation {
    /// The id its conditions may name for every team: `status-report` of
    /// `status-report@blue`.
    pub fn base_id(&self) -> &str {
        match &self.fan_team {
            Some(_) => self.id.rsplit_once('@').map_or(&self.id, |(b, _)| b),
            None => &self.id,
        }
    }
}

/// When an unjudged expectation becomes missed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deadline {
    /// Counted from its inject's actual send.
    Within(Duration),
    /// An offset from T0.
    By(Duration),
}

/// A name a condition refers to, and where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ref {
    pub name: String,
    pub pos: Pos,
}

/// When a contingency inject fires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// The expectation was judged met.
    Met(Ref),
    /// The expectation was judged missed, or its deadline passed unjudged.
    Missed(Ref),
    /// The inject (its first occurrence to go) or the occurrence key was sent.
    Sent(Ref),
    Any(Vec<Condition>),
    All(Vec<Condition>),
}

impl Condition {
    /// Every name it refers to, in order.
    pub fn refs(&self) -> Vec<(&'static str, &Ref)> {
        let mut out = Vec::new();
        self.walk(&mut |c| match c {
            Condition::Met(r) => out.push(("met", r)),
            Condition::Missed(r) => out.push(("missed", r)),
            Condition::Sent(r) => out.push(("sent", r)),
            _ => {}
        });
        out
    }

    fn walk<'a>(&'a self, f: &mut impl FnMut(&'a Condition)) {
        f(self);
        if let Condition::Any(cs) | Condition::All(cs) = self {
            for c in cs {
                c.walk(f);
            }
        }
    }

    /// This condition for one team of a fan-out: each `met:`/`missed:` of an expected
    /// action judged per team (`is_split`) names that team's (`status-report@blue`).
    pub fn for_team(&self, team: &str, is_split: &dyn Fn(&str) -> bool) -> Condition {
        let one = |r: &Ref| Ref {
            name: if is_split(&r.name) {
                format!("{}@{team}", r.name)
            } else {
                r.name.clone()
            },
            pos: r.pos,
        };
        match self {
            Condition::Met(r) => Condition::Met(one(r)),
            Condition::Missed(r) => Condition::Missed(one(r)),
            Condition::Sent(r) => Condition::Sent(r.clone()),
            Condition::Any(cs) => {
                Condition::Any(cs.iter().map(|c| c.for_team(team, is_split)).collect())
            }
            Condition::All(cs) => {
                Condition::All(cs.iter().map(|c| c.for_team(team, is_split)).collect())
            }
        }
    }

    /// As a person reads it: `missed: evacuation-ordered`, `any: [met: a, sent: b]`.
    pub fn text(&self) -> String {
        let list = |cs: &[Condition]| {
            cs.iter()
                .map(Condition::text)
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            Condition::Met(r) => format!("met: {}", r.name),
            Condition::Missed(r) => format!("missed: {}", r.name),
            Condition::Sent(r) => format!("sent: {}", r.name),
            Condition::Any(cs) => format!("any: [{}]", list(cs)),
            Condition::All(cs) => format!("all: [{}]", list(cs)),
        }
    }
}

/// A contingency: the condition, the delay once it holds, and where `when:` stands.
#[derive(Debug, Clone)]
pub struct Conditional {
    pub condition: Condition,
    pub after: Duration,
    pub pos: Pos,
}

/// How deep `any`/`all` may nest: deeper is not a scenario a person wrote.
const MAX_DEPTH: usize = 16;

impl Reader<'_> {
    /// An inject's `expect:` (its owner's index is set by the caller).
    pub(super) fn expect(&mut self, node: Node) -> Option<super::contingency::Expectation> {
        self.expectation(node, EXPECT_FIELDS, "`expect:`", "within")
    }

    /// The top-level `expectations:` list.
    pub(super) fn expectations(&mut self, node: Node) -> Vec<Expectation> {
        let kind = node.kind();
        match node.value {
            Value::Seq(items) => items
                .into_iter()
                .filter_map(|i| self.expectation(i, EXPECTATION_FIELDS, "expectation", "by"))
                .collect(),
            Value::Null => Vec::new(),
            _ => {
                self.diags.error(
                    node.pos,
                    format!("`expectations` must be a list, found {kind}"),
                    Some("write each as `- { id: ..., action: ..., by: 1h }`".into()),
                );
                Vec::new()
            }
        }
    }

    fn expectation(
        &mut self,
        node: Node,
        known: &[&'static str],
        what: &str,
        deadline: &str,
    ) -> Option<Expectation> {
        let (pos, kind) = (node.pos, node.kind());
        let Value::Map(entries) = node.value else {
            self.diags.error(
                pos,
                format!("{what} must be a mapping, found {kind}"),
                Some(format!(
                    "write `{{ id: evacuation-ordered, action: Blue cell orders the evacuation, {deadline}: 20m }}`"
                )),
            );
            return None;
        };
        let mut e = Expectation {
            id: String::new(),
            pos,
            action: String::new(),
            deadline: Deadline::By(Duration::ZERO),
            team: None,
            owner: None,
            objectives: Vec::new(),
            fan_team: None,
        };
        let mut has_deadline = false;
        for (name, _key, value) in self.keyed(entries.into_vec(), known, what) {
            match name {
                "id" => match &value.value {
                    Value::Str(s) if super::is_valid_id(s) => {
                        e.id = s.to_string();
                        e.pos = value.pos;
                    }
                    _ => self.diags.error(
                        value.pos,
                        format!(
                            "an expectation's `id` must be a name such as `evacuation-ordered`, found {}",
                            super::describe(&value)
                        ),
                        Some("use letters, digits, `-`, `_`, `.` and `:`".into()),
                    ),
                },
                "action" => e.action = self.string(&value, "action").unwrap_or_default(),
                "team" => {
                    e.team = Some((value.scalar_text(), value.pos));
                }
                "objectives" => e.objectives = self.ref_list(&value, "objectives"),
                "within" | "by" => match parse_offset(&value) {
                    Ok(d) => {
                        has_deadline = true;
                        e.deadline = if name == "within" {
                            Deadline::Within(d)
                        } else {
                            Deadline::By(d)
                        };
                    }
                    Err((m, h)) => {
                        has_deadline = true;
                        self.diags.error(value.pos, format!("bad `{name}`: {m}"), h);
                    }
                },
                _ => unreachable!("keyed() only returns known fields"),
            }
        }
        if e.id.is_empty() {
            self.diags.error(
                pos,
                format!("this {what} has no `id`"),
                Some("add `id: evacuation-ordered`; conditions and `ctl met` name it".into()),
            );
        }
        if e.action.trim().is_empty() {
            self.diags.error(
                pos,
                format!("this {what} has no `action`"),
                Some("say what players are expected to do, e.g. `action: Blue cell orders the evacuation`".into()),
            );
        }
        if !has_deadline {
            let hint = if deadline == "within" {
                "add `within: 20m` (counted from this inject's send); unjudged by then, it is missed"
            } else {
                "add `by: 1h15m` (an offset from T0); unjudged by then, it is missed"
            };
            self.diags.error(
                pos,
                format!("this {what} has no deadline (`{deadline}`)"),
                Some(hint.into()),
            );
        }
        (!e.id.is_empty()).then_some(e)
    }

    /// A `when:` condition.
    pub(super) fn condition(&mut self, node: &Node, depth: usize) -> Option<Condition> {
        let example = "write `{ missed: evacuation-ordered }`, `{ met: ... }`, `{ sent: inject-id }`, or `{ any: [...] }` / `{ all: [...] }`";
        if depth > MAX_DEPTH {
            self.diags.error(
                node.pos,
                format!("conditions nest deeper than {MAX_DEPTH} levels"),
                None,
            );
            return None;
        }
        let Value::Map(entries) = &node.value else {
            self.diags.error(
                node.pos,
                format!("a condition must be a mapping, found {}", node.kind()),
                Some(example.into()),
            );
            return None;
        };
        if entries.len() != 1 {
            self.diags.error(
                node.pos,
                format!(
                    "a condition has exactly one of `met`, `missed`, `sent`, `any`, `all`; this one has {}",
                    entries.len()
                ),
                Some("combine several with `any: [...]` or `all: [...]`".into()),
            );
            return None;
        }
        let (k, v) = &entries[0];
        let key = k.scalar_text();
        let name_of = |r: &mut Self| match &v.value {
            Value::Str(s) if !s.trim().is_empty() => Some(Ref {
                name: s.trim().to_string(),
                pos: v.pos,
            }),
            Value::Int(i) => Some(Ref {
                name: i.to_string(),
                pos: v.pos,
            }),
            _ => {
                r.diags.error(
                    v.pos,
                    format!("`{key}` names an id, found {}", v.kind()),
                    Some(format!("write `{key}: evacuation-ordered`")),
                );
                None
            }
        };
        match key.as_str() {
            "met" => name_of(self).map(Condition::Met),
            "missed" => name_of(self).map(Condition::Missed),
            "sent" => name_of(self).map(Condition::Sent),
            "any" | "all" => {
                let Value::Seq(items) = &v.value else {
                    self.diags.error(
                        v.pos,
                        format!("`{key}` takes a list of conditions, found {}", v.kind()),
                        Some(format!(
                            "write `{key}: [ {{ missed: a }}, {{ missed: b }} ]`"
                        )),
                    );
                    return None;
                };
                if items.is_empty() {
                    self.diags.error(
                        v.pos,
                        format!("`{key}` has no conditions"),
                        Some(format!(
                            "write `{key}: [ {{ missed: a }}, {{ missed: b }} ]`"
                        )),
                    );
                    return None;
                }
                let parts: Vec<Condition> = items
                    .iter()
                    .filter_map(|i| self.condition(i, depth + 1))
                    .collect();
                (parts.len() == items.len()).then(|| {
                    if key == "any" {
                        Condition::Any(parts)
                    } else {
                        Condition::All(parts)
                    }
                })
            }
            _ => {
                self.diags.error(
                    k.pos,
                    format!("unknown condition `{key}`"),
                    crate::diag::suggest(&key, CONDITION_KEYS.iter().copied())
                        .or(Some(example.into())),
                );
                None
            }
        }
    }
}
