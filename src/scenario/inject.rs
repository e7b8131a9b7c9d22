//! The reader of an inject: its fields, id and `extra:`, when it fires (`at`, `every`,
//! `cron`, or a contingency's `when:` and `after:`), and a persona move's `gps:`.

use std::collections::BTreeMap;
use std::time::Duration;

use super::times::parse_signed_duration;
use super::{
    Condition, Conditional, Expectation, Field, Gps, INJECT_FIELDS, INJECT_KEYS, Inject, Limit,
    MAX_OCCURRENCES, Reader, When, describe, is_valid_id, parse_offset, parse_start,
};
use crate::diag::suggest;
use crate::message::BODY_FIELDS;
use crate::yaml::{Node, Pos, Value};

/// An inject's fields that say when it fires, as read.
struct Timing {
    /// `at`, `every`, `from`, `count`, `until` and `cron`.
    fields: BTreeMap<&'static str, Node>,
    /// `when:`: its key, and its condition when it could be read.
    condition: Option<(Node, Option<Condition>)>,
    /// `after:`, the delay once the condition holds.
    after: Option<Node>,
}

impl Reader<'_> {
    pub(super) fn inject(&mut self, node: Node, expectations: &mut Vec<Expectation>) -> Inject {
        let mut inject = Inject::empty(node.pos);
        let mut expect = None;
        let mut jitter_pos = None;
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
                // `stagger: null` takes back a merged block's.
                "stagger" if value.value == Value::Null => inject.stagger = None,
                "stagger" => match super::times::parse_offset(&value) {
                    Ok(d) if d.is_zero() => self.diags.error(
                        value.pos,
                        "`stagger` of 0s spaces nothing".to_string(),
                        Some("give the time between the teams' posts, e.g. `stagger: 2m`".into()),
                    ),
                    Ok(d) => inject.stagger = Some((d, value.pos)),
                    Err((m, h)) => self.diags.error(
                        value.pos,
                        format!("bad `stagger`: {m}"),
                        Some(h.filter(|h| h.contains("write `")).unwrap_or_else(|| {
                            "the time between two teams' posts, e.g. `stagger: 2m` (or null for none)"
                                .into()
                        })),
                    ),
                },
                "jitter" => {
                    inject.jitter = self.jitter(&value);
                    jitter_pos = Some(value.pos);
                }
                "phase" => {
                    inject.phase = Some(super::Ref {
                        name: value.scalar_text(),
                        pos: value.pos,
                    });
                }
                "extra" => self.extra(value, &mut inject.extra),
                "notes" => inject.notes = Some(Box::new(value.to_json())),
                "expect" => expect = self.expect(value),
                "when" => {
                    let parsed = self.condition(&value, 0);
                    timing.condition = Some((key, parsed));
                }
                "after" => timing.after = Some(value),
                "gps" => inject.gps = self.gps(&value).map(Box::new),
                "objectives" => inject.objectives = self.ref_list(&value, "objectives"),
                "owner" => inject.owner = self.string(&value, "owner"),
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
        if let (Some(pos), Some(j)) = (jitter_pos, inject.jitter)
            && inject.condition.is_some()
            && !j.is_zero()
        {
            self.diags.error(
                pos,
                format!("inject `{}` is a contingency: it goes `after:` its condition holds, and takes no jitter", inject.id),
                Some("leave `jitter` out; a default `jitter:` does not apply to contingencies either".into()),
            );
        }
        if let Some(mut e) = expect {
            e.owner = Some(usize::MAX); // set below, once the inject's index is known
            inject.expect = Some(expectations.len());
            expectations.push(e);
        }
        inject
    }

    /// An inject's `id`: a string of the characters ids may have, or a number; else
    /// reported.
    pub(super) fn inject_id(&mut self, value: &Node, inject: &mut Inject) {
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
                let hint = if s.contains("{{") {
                    "an id is not a template: a fan-out's occurrences are already `ID@TEAM` (and its expected action's, `EXPECTATION@TEAM`)"
                } else {
                    "use letters, digits, `-`, `_`, `.` and `:`"
                };
                self.diags.error(
                    value.pos,
                    format!("inject id `{s}` has characters that keys use (`#`, `@`, `,`), spaces, or is empty"),
                    Some(hint.into()),
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
