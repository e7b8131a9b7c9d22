//! Authoring at volume: `seed:`, `jitter:`, `phases:` and `crowds:`.
//!
//! A crowd is read into an [`Inject`] of its own (appended after the scenario's
//! injects, so plan, run, skip, `--only`, the journal and the report know it as any
//! other), whose [`When::Crowd`] the timeline expands into `count` occurrences at
//! seeded instants inside its window, each post's voice, text and counts drawn from
//! its lists ([`crate::draw`]).

use std::time::Duration;

use super::{Field, Inject, MAX_OCCURRENCES, Reader, When, describe, is_valid_id, parse_offset};
use crate::diag::suggest;
use crate::message::BODY_FIELDS;
use crate::yaml::{Node, Pos, Value};

/// How far each occurrence may move, seeded per occurrence key: `jitter: 90s` is
/// `[-90s, +90s]`; `{ before: 0s, after: 4m }` never early.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Jitter {
    pub before: Duration,
    pub after: Duration,
}

impl Jitter {
    pub fn is_zero(&self) -> bool {
        self.before.is_zero() && self.after.is_zero()
    }
}

/// A phase (HSEEP's move): its injects' `at` counts from its `at`.
#[derive(Debug, Clone)]
pub struct Phase {
    pub id: String,
    pub pos: Pos,
    pub at: Duration,
    pub text: Option<String>,
}

/// The shape of a crowd's posts over its window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Curve {
    Flat,
    Rising,
    Falling,
    /// Peaking at this point of the window (0..=1).
    Burst(f64),
}

impl Curve {
    /// A draw in `[0, 1)` as a point of the window with this curve's density (the
    /// inverse of its distribution function).
    pub fn place(self, u: f64) -> f64 {
        match self {
            Curve::Flat => u,
            Curve::Rising => u.sqrt(),
            Curve::Falling => 1.0 - (1.0 - u).sqrt(),
            Curve::Burst(p) if u < p => (u * p).sqrt(),
            Curve::Burst(p) => 1.0 - ((1.0 - u) * (1.0 - p)).sqrt(),
        }
    }
}

/// A crowd's timing; its voices, posts and drawn counts are its inject's fields.
#[derive(Debug, Clone)]
pub struct Crowd {
    pub from: Duration,
    pub to: Duration,
    pub count: u64,
    pub curve: Curve,
    pub pos: Pos,
}

/// Fields of a crowd besides the body fields it may set for every post.
pub const CROWD_FIELDS: &[&str] = &[
    "id",
    "between",
    "count",
    "rate",
    "curve",
    "personas",
    "posts",
    "notes",
    "owner",
    "objectives",
    "phase",
];

/// Body fields a crowd draws (`persona` from `personas`, `body` from `posts`) or may
/// give as a range.
const CROWD_DRAWN: &[&str] = &["persona", "body"];

/// Every key a crowd may have.
pub static CROWD_KEYS: std::sync::LazyLock<Vec<&'static str>> = std::sync::LazyLock::new(|| {
    CROWD_FIELDS
        .iter()
        .copied()
        .chain(
            BODY_FIELDS
                .iter()
                .copied()
                .filter(|f| !CROWD_DRAWN.contains(f)),
        )
        .collect()
});

impl Reader<'_> {
    /// `seed:`: a whole number from 0 to 2^63-1.
    pub(super) fn seed(&mut self, node: &Node) -> Option<u64> {
        match node.value {
            Value::Int(i) if i >= 0 => Some(i as u64),
            _ => {
                self.diags.error(
                    node.pos,
                    format!("`seed` must be a whole number from 0 up, found {}", describe(node)),
                    Some(
                        "any number from 0 to 9223372036854775807, e.g. `seed: 20260328`; the same seed gives the same draws"
                            .into(),
                    ),
                );
                None
            }
        }
    }

    /// `jitter:` (an inject's or the defaults'): a duration, `{ before, after }`, or
    /// null / `0s` for none.
    pub(super) fn jitter(&mut self, node: &Node) -> Option<Jitter> {
        let example = "write `jitter: 90s` (up to 90s early or late) or `jitter: { before: 0s, after: 4m }` (never early)";
        let one = |r: &mut Self, n: &Node, what: &str| match parse_offset(n) {
            Ok(d) => Some(d),
            Err((m, h)) => {
                r.diags.error(
                    n.pos,
                    format!("bad `{what}`: {m}"),
                    Some(
                        h.filter(|h| h.contains("write `"))
                            .unwrap_or_else(|| example.into()),
                    ),
                );
                None
            }
        };
        match &node.value {
            Value::Null => Some(Jitter::default()),
            Value::Map(entries) => {
                let mut j = Jitter::default();
                let mut ok = true;
                for (k, v) in entries.iter() {
                    match k.as_str() {
                        Some("before") => match one(self, v, "jitter.before") {
                            Some(d) => j.before = d,
                            None => ok = false,
                        },
                        Some("after") => match one(self, v, "jitter.after") {
                            Some(d) => j.after = d,
                            None => ok = false,
                        },
                        _ => {
                            let key = k.scalar_text();
                            self.diags.error(
                                k.pos,
                                format!("unknown field `{key}` in `jitter`"),
                                suggest(&key, ["before", "after"]).or(Some(example.into())),
                            );
                            ok = false;
                        }
                    }
                }
                ok.then_some(j)
            }
            _ => one(self, node, "jitter").map(|d| Jitter {
                before: d,
                after: d,
            }),
        }
    }

    /// `phases:`: each `{ id, at, text? }`.
    pub(super) fn phases(&mut self, node: Node) -> Vec<Phase> {
        let example = "write `phases: [{ id: afternoon, at: 3h }]`";
        let kind = node.kind();
        let Value::Seq(items) = node.value else {
            self.diags.error(
                node.pos,
                format!("`phases` must be a list, found {kind}"),
                Some(example.into()),
            );
            return Vec::new();
        };
        let mut out: Vec<Phase> = Vec::new();
        for item in items {
            let (pos, kind) = (item.pos, item.kind());
            let Value::Map(entries) = item.value else {
                self.diags.error(
                    pos,
                    format!("a phase must be a mapping, found {kind}"),
                    Some(example.into()),
                );
                continue;
            };
            let (mut id, mut at, mut text) = (None, None, None);
            for (name, _key, value) in
                self.keyed(entries.into_vec(), &["id", "at", "text"], "phase")
            {
                match name {
                    "id" => {
                        let s = value.scalar_text();
                        if is_valid_id(&s) {
                            id = Some((s, value.pos));
                        } else {
                            self.diags.error(
                                value.pos,
                                format!(
                                    "a phase's `id` must be a name such as `afternoon`, found {}",
                                    describe(&value)
                                ),
                                Some("use letters, digits, `-`, `_`, `.` and `:`".into()),
                            );
                        }
                    }
                    "at" => match parse_offset(&value) {
                        Ok(d) => at = Some(d),
                        Err((m, h)) => self.diags.error(value.pos, format!("bad `at`: {m}"), h),
                    },
                    _ => text = self.string(&value, "text"),
                }
            }
            let Some((id, id_pos)) = id else {
                self.diags.error(
                    pos,
                    "this phase has no `id`",
                    Some("add `id: afternoon`; injects name it with `phase: afternoon`".into()),
                );
                continue;
            };
            let Some(at) = at else {
                self.diags.error(
                    pos,
                    format!("phase `{id}` has no `at`"),
                    Some("add `at: 3h`, when it begins from T0".into()),
                );
                continue;
            };
            if let Some(first) = out.iter().find(|p| p.id == id) {
                self.diags.error(
                    id_pos,
                    format!("duplicate phase id `{id}`"),
                    Some(format!(
                        "phase ids must be unique; `{id}` is first used on line {}",
                        first.pos.line
                    )),
                );
                continue;
            }
            out.push(Phase {
                id,
                pos: id_pos,
                at,
                text,
            });
        }
        out
    }

    /// `crowds:`: each read into an inject.
    pub(super) fn crowds(&mut self, node: Node) -> Vec<Inject> {
        let kind = node.kind();
        let Value::Seq(items) = node.value else {
            self.diags.error(
                node.pos,
                format!("`crowds` must be a list, found {kind}"),
                Some("write each crowd as a `- id: ...` item".into()),
            );
            return Vec::new();
        };
        items.into_iter().filter_map(|i| self.crowd(i)).collect()
    }

    fn crowd(&mut self, node: Node) -> Option<Inject> {
        let (pos, kind) = (node.pos, node.kind());
        let Value::Map(entries) = node.value else {
            self.diags.error(
                pos,
                format!("a crowd must be a mapping, found {kind}"),
                Some("write `- id: public-reaction` followed by `between:`, `count:`, `personas:` and `posts:`".into()),
            );
            return None;
        };
        let has_id = entries.iter().any(|(k, _)| k.as_str() == Some("id"));
        let mut inject = Inject::empty(pos);
        // A crowd even when its timing is wrong: its posts are checked as a crowd's.
        inject.crowd = Some(Box::new(Crowd {
            from: Duration::ZERO,
            to: Duration::ZERO,
            count: 0,
            curve: Curve::Flat,
            pos,
        }));
        let has_count = entries
            .iter()
            .any(|(k, _)| matches!(k.as_str(), Some("count" | "rate")));
        let mut between: Option<(Duration, Duration, Pos)> = None;
        let (mut count, mut rate, mut curve) = (None, None, None);
        let has = |name: &str| entries.iter().any(|(k, _)| k.as_str() == Some(name));
        let (has_personas, has_posts) = (has("personas"), has("posts"));
        let has_between = has("between");
        for (name, key, value) in self.keyed(entries.into_vec(), &CROWD_KEYS, "crowd") {
            match name {
                "id" => self.inject_id(&value, &mut inject),
                "between" => between = self.window(&value),
                "count" => match value.value {
                    Value::Int(c) if c >= 1 && c as u64 <= MAX_OCCURRENCES => {
                        count = Some((c as u64, value.pos));
                    }
                    Value::Int(c) if c >= 1 => self.diags.error(
                        value.pos,
                        format!(
                            "a crowd of {c} is more than the limit of {MAX_OCCURRENCES} occurrences"
                        ),
                        Some("a smaller `count`, or a lower `rate`".into()),
                    ),
                    _ => self.diags.error(
                        value.pos,
                        format!(
                            "`count` must be a positive whole number, found {}",
                            describe(&value)
                        ),
                        Some(
                            "how many posts the crowd makes in its window, e.g. `count: 150`"
                                .into(),
                        ),
                    ),
                },
                "rate" => rate = self.rate(&value).map(|r| (r, value.pos)),
                "curve" => curve = Some(value),
                "notes" => inject.notes = Some(Box::new(value.to_json())),
                "objectives" => inject.objectives = self.ref_list(&value, "objectives"),
                "owner" => inject.owner = self.string(&value, "owner"),
                "phase" => {
                    inject.phase = Some(super::Ref {
                        name: value.scalar_text(),
                        pos: value.pos,
                    });
                }
                field => {
                    let name = match field {
                        "personas" => {
                            self.pool(&value, field, "voices", "[resident, tidewatch]");
                            "persona"
                        }
                        "posts" => {
                            self.pool(&value, field, "variants", "[\"Water at the quay\"]");
                            "body"
                        }
                        "likes" | "reposts" | "replies" => {
                            self.range(&value, field);
                            field
                        }
                        body => body,
                    };
                    inject.fields.push(Field {
                        name,
                        key_pos: key.pos,
                        node: value,
                    });
                }
            }
        }
        let id = if inject.id.is_empty() {
            "this crowd".to_string()
        } else {
            format!("crowd `{}`", inject.id)
        };
        self.crowd_lacks(pos, &id, [has_id, has_personas, has_posts]);
        let Some((from, to, window_pos)) = between else {
            if !has_between {
                self.diags.error(
                    pos,
                    format!("{id} has no `between`"),
                    Some("add `between: [20m, 1h10m]`, its window from T0".into()),
                );
            }
            return Some(inject);
        };
        let Some(count) = self.count(count, rate, (from, to), (pos, &id, has_count)) else {
            return Some(inject);
        };
        let curve = match curve {
            None => Curve::Flat,
            Some(node) => match self.curve(&node, from, to) {
                Some(c) => c,
                None => return Some(inject),
            },
        };
        inject.when = When::Crowd;
        inject.crowd = Some(Box::new(Crowd {
            from,
            to,
            count,
            curve,
            pos: window_pos,
        }));
        Some(inject)
    }

    /// What a crowd at `pos` lacks of its id, voices and posts, said.
    fn crowd_lacks(&mut self, pos: Pos, id: &str, [has_id, has_personas, has_posts]: [bool; 3]) {
        if !has_id {
            self.diags.error(
                pos,
                "this crowd has no `id`",
                Some(
                    "add `id: public-reaction`; its posts are `public-reaction#1`, `#2`, ..."
                        .into(),
                ),
            );
        }
        for (has, field, example) in [
            (
                has_personas,
                "personas",
                "`personas: [resident, tidewatch]`, the voices its posts take",
            ),
            (
                has_posts,
                "posts",
                "`posts: [\"Water at the quay again\"]`, the texts its posts draw from",
            ),
        ] {
            if !has {
                self.diags.error(
                    pos,
                    format!("{id} has no `{field}`"),
                    Some(format!("add {example}")),
                );
            }
        }
    }

    /// A crowd's number of posts: its `count`, or its `rate` over its window; `None`
    /// when neither, both, or a wrong one (said, but for a `count` or `rate` said wrong
    /// where it is read: `has_count`).
    fn count(
        &mut self,
        count: Option<(u64, Pos)>,
        rate: Option<(f64, Pos)>,
        (from, to): (Duration, Duration),
        (pos, id, has_count): (Pos, &str, bool),
    ) -> Option<u64> {
        match (count, rate) {
            (Some(_), Some((_, rate_pos))) => {
                self.diags
                    .error(rate_pos, "use `count` or `rate`, not both", None);
                None
            }
            (Some((c, _)), None) => Some(c),
            (None, Some((per_sec, rate_pos))) => {
                let c = (per_sec * (to - from).as_secs_f64()).floor();
                if c < 1.0 {
                    self.diags.error(
                        rate_pos,
                        "this rate makes no post in the window",
                        Some("a higher `rate` or a longer `between`".into()),
                    );
                    return None;
                }
                if c > MAX_OCCURRENCES as f64 {
                    self.diags.error(
                        rate_pos,
                        format!("this rate makes {c} posts in the window; the limit is {MAX_OCCURRENCES} occurrences"),
                        Some("a lower `rate` or a shorter `between`".into()),
                    );
                    return None;
                }
                Some(c as u64)
            }
            (None, None) if has_count => None,
            (None, None) => {
                self.diags.error(
                    pos,
                    format!("{id} has no `count` or `rate`"),
                    Some("add `count: 150` (posts in the window) or `rate: 3/min`".into()),
                );
                None
            }
        }
    }

    /// `between: [20m, 1h10m]`.
    fn window(&mut self, node: &Node) -> Option<(Duration, Duration, Pos)> {
        let example = "write `between: [20m, 1h10m]`, from and to as offsets from T0";
        let Value::Seq(items) = &node.value else {
            self.diags.error(
                node.pos,
                format!(
                    "bad `between`: a window is two offsets, found {}",
                    describe(node)
                ),
                Some(example.into()),
            );
            return None;
        };
        if items.len() != 2 {
            self.diags.error(
                node.pos,
                format!(
                    "bad `between`: a window is two offsets, found {}",
                    items.len()
                ),
                Some(example.into()),
            );
            return None;
        }
        let mut ends = [Duration::ZERO; 2];
        for (i, item) in items.iter().enumerate() {
            match parse_offset(item) {
                Ok(d) => ends[i] = d,
                Err((m, h)) => {
                    self.diags.error(item.pos, format!("bad `between`: {m}"), h);
                    return None;
                }
            }
        }
        if ends[1] <= ends[0] {
            let hint = if ends[1] < ends[0] {
                format!(
                    "swap its ends: `between: [{}, {}]`",
                    items[1].scalar_text(),
                    items[0].scalar_text()
                )
            } else {
                "give the window a length: `between: [20m, 1h10m]`".into()
            };
            self.diags.error(
                node.pos,
                "`between` is empty: its end is not after its start",
                Some(hint),
            );
            return None;
        }
        Some((ends[0], ends[1], node.pos))
    }

    /// `rate: 3/min` (also `/s`, `/h`): posts per second.
    fn rate(&mut self, node: &Node) -> Option<f64> {
        let text = node.scalar_text();
        let parsed = text.split_once('/').and_then(|(n, unit)| {
            let n: f64 = n.trim().parse().ok()?;
            let per = match unit.trim() {
                "s" | "sec" | "second" => 1.0,
                "m" | "min" | "minute" => 60.0,
                "h" | "hour" => 3600.0,
                _ => return None,
            };
            (n.is_finite() && n > 0.0).then_some(n / per)
        });
        if parsed.is_none() {
            self.diags.error(
                node.pos,
                format!("bad `rate` {}: posts per unit of time", describe(node)),
                Some("write `rate: 3/min` (or `/s`, `/h`)".into()),
            );
        }
        parsed
    }

    /// `curve: flat | rising | falling | burst at 35m`.
    fn curve(&mut self, node: &Node, from: Duration, to: Duration) -> Option<Curve> {
        let text = node.scalar_text();
        let t = text.trim();
        let hint = "`flat` (the default), `rising`, `falling` or `burst at 35m` (a peak at that offset from T0, inside `between`)";
        match t {
            "flat" => return Some(Curve::Flat),
            "rising" => return Some(Curve::Rising),
            "falling" => return Some(Curve::Falling),
            _ => {}
        }
        let Some(at) = t
            .strip_prefix("burst at")
            .or_else(|| t.strip_prefix("burst"))
        else {
            self.diags.error(
                node.pos,
                format!("unknown `curve` {}", describe(node)),
                Some(suggest(t, ["flat", "rising", "falling"]).unwrap_or_else(|| hint.into())),
            );
            return None;
        };
        match super::parse_offset_str(at.trim()) {
            Ok(d) if d >= from && d <= to => Some(Curve::Burst(
                (d - from).as_secs_f64() / (to - from).as_secs_f64(),
            )),
            Ok(d) => {
                self.diags.error(
                    node.pos,
                    format!(
                        "the burst at {} is outside the crowd's window ({} to {})",
                        crate::human::show_offset(d),
                        crate::human::show_offset(from),
                        crate::human::show_offset(to)
                    ),
                    Some("a burst's offset is from T0, like `between`'s".into()),
                );
                None
            }
            Err((m, _)) => {
                self.diags
                    .error(node.pos, format!("bad `curve`: {m}"), Some(hint.into()));
                None
            }
        }
    }

    /// A crowd's list of voices or posts: a non-empty list.
    fn pool(&mut self, node: &Node, field: &str, what: &str, example: &str) {
        match &node.value {
            Value::Seq(items) if !items.is_empty() => {}
            Value::Seq(_) => self.diags.error(
                node.pos,
                format!("`{field}` is an empty list"),
                Some(format!("write `{field}: {example}`; each post draws one")),
            ),
            _ => self.diags.error(
                node.pos,
                format!(
                    "`{field}` must be a list of {what}, found {}",
                    describe(node)
                ),
                Some(format!("write `{field}: {example}`; each post draws one")),
            ),
        }
    }

    /// `likes: [0, 40]` (drawn per post) or a number.
    fn range(&mut self, node: &Node, field: &str) {
        let ok = match &node.value {
            Value::Int(i) => *i >= 0,
            Value::Seq(items) => match items.as_ref() {
                [a, b] => {
                    matches!((&a.value, &b.value), (Value::Int(a), Value::Int(b)) if *a >= 0 && a <= b)
                }
                _ => false,
            },
            _ => false,
        };
        if !ok {
            self.diags.error(
                node.pos,
                format!(
                    "`{field}` must be a number or a range [low, high] from 0 up, found {}",
                    node.to_json()
                ),
                Some(format!(
                    "write `{field}: [0, 40]`; each post draws a number in it"
                )),
            );
        }
    }
}
