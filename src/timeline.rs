//! The timeline: every occurrence of every inject, in firing order, with its body.
//!
//! [`Timeline::build`] expands `at`, `every` and `cron` (croner, in the scenario's time
//! zone, DST-correct) and team fan-out into [`Occurrence`]s keyed `ID`, `ID#N`, `ID@TEAM`
//! or `ID#N@TEAM`, sorted by offset with ties in file order. [`Timeline::body`] builds
//! the exact JSON that goes on the wire for one occurrence. `plan` and `run` both use
//! this, so they cannot disagree. Pure: no I/O, no clock reads.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::{Map, Value as J};

use crate::diag::suggest;
use crate::message::{ADDRESS_LIST_FIELDS, FLAG_FIELDS};
use crate::scenario::{Field, Inject, Limit, MAX_OCCURRENCES, Scenario, When};
use crate::yaml::{Node, Pos, Value};

/// A run's timeline as it stands, shared by the engine, the board, the control page and
/// the terminal: an ad hoc inject joins it while the run goes on
/// ([`Timeline::extended`]). Each reader takes the timeline of the moment.
pub struct Shared(std::sync::RwLock<Arc<Timeline>>);

impl Shared {
    pub fn new(timeline: Arc<Timeline>) -> Arc<Shared> {
        Arc::new(Shared(std::sync::RwLock::new(timeline)))
    }

    /// The timeline as it stands.
    pub fn get(&self) -> Arc<Timeline> {
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Replace it (by one that extends it).
    pub fn set(&self, timeline: Arc<Timeline>) {
        *self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = timeline;
    }
}

/// One firing of an inject.
#[derive(Clone, Debug)]
pub struct Occurrence {
    pub key: String,
    /// Index of the inject in the scenario whose fields make its body.
    pub inject: usize,
    /// Index of the inject it is an occurrence of: `inject`, but for an amended one
    /// (made by a hidden inject, [`Timeline::amended`]), the inject it was planned by.
    /// Its id is the one skips and branches know it by.
    pub origin: usize,
    /// 1-based number within a recurrence; `None` for a single `at`.
    pub n: Option<u64>,
    /// The fan-out team: as written, and its resolved id (shared by the inject's
    /// occurrences for that team).
    pub team: Option<Arc<(String, J)>>,
    /// Scenario time from T0 (before any speed factor).
    pub offset: Duration,
}

/// A problem building a body, located in the file.
#[derive(Clone, Debug)]
pub struct BodyError {
    pub field: String,
    pub pos: Pos,
    pub message: String,
    pub hint: Option<String>,
}

pub struct Timeline {
    pub scenario: Arc<Scenario>,
    pub t0: DateTime<FixedOffset>,
    pub speed: f64,
    pub occurrences: Vec<Occurrence>,
    /// Its contingencies were resolved (`plan --assume`): every offset counts from T0.
    pub resolved: bool,
    env: minijinja::Environment<'static>,
    /// Per inject with several one-team occurrences (a recurrence), its body when no
    /// field holds a template (built at first use): such a body differs between
    /// occurrences only by `ts`. `None` for the others: nothing would be reused.
    fixed_bodies: Vec<Option<FixedBody>>,
    /// Per inject, the endpoint its bodies go to (decided once: a send asks at its instant).
    endpoints: Vec<crate::message::Endpoint>,
}

/// A reusable body, built at first use: `None` inside when it cannot be reused.
type FixedBody = std::sync::OnceLock<Option<Map<String, J>>>;

/// A problem found while expanding the timeline.
#[derive(Clone, Debug)]
pub struct ExpandError {
    pub pos: Pos,
    pub message: String,
    pub hint: Option<String>,
}

impl Timeline {
    /// Expand every inject. `t0` anchors cron patterns and wall-clock times; `speed`
    /// divides offsets when computing fire times (and so `ts`).
    pub fn build(
        scenario: Arc<Scenario>,
        t0: DateTime<FixedOffset>,
        speed: f64,
    ) -> (Timeline, Vec<ExpandError>) {
        let mut errors = Vec::new();
        let mut occurrences = Vec::with_capacity(scenario.injects.len());
        let mut total: u64 = 0;
        for (index, inject) in scenario.injects.iter().enumerate() {
            if inject.id.is_empty() {
                continue;
            }
            let times = match expand_times(
                inject,
                &scenario,
                t0,
                MAX_OCCURRENCES - total.min(MAX_OCCURRENCES),
            ) {
                Ok(times) => times,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            let teams: Vec<Arc<(String, J)>> = fan_out(inject, &scenario, &mut errors)
                .into_iter()
                .map(Arc::new)
                .collect();
            let recurring = !matches!(inject.when, When::At(_));
            if let Some((_, pos)) = inject.stagger
                && teams.len() < 2
            {
                errors.push(ExpandError {
                    pos,
                    message: format!(
                        "`stagger` spaces a fan-out's teams, and inject `{}` goes to one",
                        inject.id
                    ),
                    hint: Some(
                        "give `team_id` two or more teams (`team_id: [blue, red]`), or leave `stagger` out (`stagger: null` over a merged block's)"
                            .into(),
                    ),
                });
            }
            let stagger = inject.stagger.map_or(Duration::ZERO, |(d, _)| d);
            let jitter = scenario.jitter_of(inject);
            let seed = scenario.seed;
            // Never before T0, nor before the phase it is in.
            let floor = inject
                .phase
                .as_ref()
                .and_then(|p| scenario.phases.iter().find(|x| x.id == p.name))
                .map_or(Duration::ZERO, |p| p.at);
            let moved = |key: &str, offset: Duration| match jitter {
                Some(j) => jittered(offset, j, seed, key).max(floor.min(offset)),
                None => offset,
            };
            total += (times.len() * teams.len().max(1)) as u64;
            if total > MAX_OCCURRENCES {
                errors.push(ExpandError {
                    pos: inject.pos,
                    message: format!(
                        "the scenario expands to more than {MAX_OCCURRENCES} occurrences"
                    ),
                    hint: Some("shorten recurrences or split the scenario".into()),
                });
                break;
            }
            for (i, offset) in times.iter().enumerate() {
                let n = recurring.then_some(i as u64 + 1);
                let base = match n {
                    Some(n) => format!("{}#{n}", inject.id),
                    None => inject.id.clone(),
                };
                if teams.is_empty() {
                    occurrences.push(Occurrence {
                        offset: moved(&base, *offset),
                        key: base,
                        inject: index,
                        origin: index,
                        n,
                        team: None,
                    });
                } else {
                    for (k, team) in teams.iter().enumerate() {
                        let key = format!("{base}@{}", team.0);
                        occurrences.push(Occurrence {
                            offset: moved(&key, *offset + stagger * k as u32),
                            key,
                            inject: index,
                            origin: index,
                            n,
                            team: Some(team.clone()),
                        });
                    }
                }
            }
        }
        // Stable: ties keep file order (inject, then occurrence, then team).
        occurrences.sort_by_key(|o| o.offset);
        (Timeline::assemble(scenario, t0, speed, occurrences), errors)
    }

    /// A timeline of the same scenario, T0 and speed with other occurrences (a plan's
    /// branches resolved: contingencies at the offsets they would fire at).
    pub fn with_occurrences(&self, mut occurrences: Vec<Occurrence>) -> Timeline {
        occurrences.sort_by_key(|o| o.offset);
        Timeline {
            resolved: true,
            ..Timeline::assemble(self.scenario.clone(), self.t0, self.speed, occurrences)
        }
    }

    /// This timeline with the injects `grown` has past this one's (the same scenario
    /// with injects appended, built with the same T0 and speed): every occurrence stays
    /// where it is (a run refers to them by index), the new ones join at the end.
    pub fn extended(&self, grown: &Timeline) -> Timeline {
        let known = self.scenario.injects.len();
        let mut occurrences = self.occurrences.clone();
        occurrences.extend(
            grown
                .occurrences
                .iter()
                .filter(|o| o.inject >= known)
                .cloned(),
        );
        Timeline::assemble(grown.scenario.clone(), self.t0, self.speed, occurrences)
    }

    /// This timeline with occurrence `key` made by the inject `hidden` instead of its
    /// own (an amendment: `hidden` holds its amended fields, its one occurrence the
    /// instant), at that occurrence's offset; `hidden`'s own occurrences are left out.
    /// `None` when either is missing.
    pub fn amended(&self, key: &str, hidden: &str) -> Option<Timeline> {
        let h = self.scenario.inject_index(hidden)?;
        let offset = self.occurrences.iter().find(|o| o.inject == h)?.offset;
        let mut occurrences: Vec<Occurrence> = self
            .occurrences
            .iter()
            .filter(|o| o.inject != h)
            .cloned()
            .collect();
        let o = occurrences.iter_mut().find(|o| o.key == key)?;
        o.inject = h;
        o.offset = offset;
        Some(Timeline {
            resolved: self.resolved,
            ..Timeline::assemble(self.scenario.clone(), self.t0, self.speed, occurrences)
        })
    }

    /// This timeline without the occurrences of inject `id` (an amendment's hidden
    /// inject whose occurrence is no longer in the scenario).
    pub fn without_inject(&self, id: &str) -> Timeline {
        let Some(h) = self.scenario.inject_index(id) else {
            return self.with_same(self.occurrences.clone());
        };
        self.with_same(
            self.occurrences
                .iter()
                .filter(|o| o.inject != h)
                .cloned()
                .collect(),
        )
    }

    fn with_same(&self, occurrences: Vec<Occurrence>) -> Timeline {
        Timeline {
            resolved: self.resolved,
            ..Timeline::assemble(self.scenario.clone(), self.t0, self.speed, occurrences)
        }
    }

    fn assemble(
        scenario: Arc<Scenario>,
        t0: DateTime<FixedOffset>,
        speed: f64,
        occurrences: Vec<Occurrence>,
    ) -> Timeline {
        let mut env = minijinja::Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        // Errors carry the template's source in release builds too (minijinja keeps it only
        // in debug builds by default): "`wether` is undefined (did you mean `weather`?)".
        env.set_debug(true);
        env.add_function("one_of", one_of);
        let endpoints = scenario
            .injects
            .iter()
            .map(|i| endpoint_of(&scenario, i))
            .collect();
        Timeline {
            endpoints,
            fixed_bodies: {
                let mut count = vec![0usize; scenario.injects.len()];
                for o in occurrences.iter().filter(|o| o.team.is_none()) {
                    count[o.inject] += 1;
                }
                count
                    .into_iter()
                    .map(|n| (n > 1).then(std::sync::OnceLock::new))
                    .collect()
            },
            scenario,
            t0,
            speed,
            occurrences,
            resolved: false,
            env,
        }
    }

    /// The endpoint an occurrence goes to: a move, a message to a position or a role
    /// (set on the inject or by the defaults), or `/messages`.
    pub fn endpoint(&self, occ: &Occurrence) -> crate::message::Endpoint {
        self.endpoints[occ.inject]
    }

    /// Whether an occurrence is of a contingency inject (its offset counts from when its
    /// condition holds, not from T0).
    pub fn is_contingent(&self, occ: &Occurrence) -> bool {
        !self.resolved && self.inject(occ).condition.is_some()
    }

    /// The wall-clock instant an occurrence fires at: T0 + offset / speed.
    pub fn fire_at(&self, occ: &Occurrence) -> DateTime<FixedOffset> {
        self.t0 + scaled(occ.offset, self.speed)
    }

    /// The scenario's last offset, or zero when empty.
    pub fn duration(&self) -> Duration {
        // Sorted, but for ad hoc occurrences, which join at the end.
        self.occurrences
            .iter()
            .map(|o| o.offset)
            .max()
            .unwrap_or(Duration::ZERO)
    }

    pub fn inject(&self, occ: &Occurrence) -> &Inject {
        &self.scenario.injects[occ.inject]
    }

    /// The id of the inject an occurrence is of (an amended one's too): what a skip of
    /// an inject id, `--only` and the branches know it by.
    pub fn id_of(&self, occ: &Occurrence) -> &str {
        &self.scenario.injects[occ.origin].id
    }

    /// An occurrence's contingency condition as a person reads it: its team's when it
    /// waits on an expected action judged per team (`missed: sitrep@blue`).
    pub fn condition_text(&self, occ: &Occurrence) -> Option<String> {
        self.condition_of(occ).map(|c| c.text())
    }

    /// An occurrence's contingency condition: its team's part when it waits on an
    /// expected action judged per team.
    pub fn condition_of(&self, occ: &Occurrence) -> Option<crate::scenario::Condition> {
        let inject = self.inject(occ);
        inject.condition.as_ref()?;
        let team = occ.team.as_deref().map(|(label, _)| label.as_str());
        let mut parts = self.scenario.contingency_parts(inject);
        let i = parts
            .iter()
            .position(|(t, _)| t.is_some() && t.as_deref() == team)
            .unwrap_or(0);
        (i < parts.len()).then(|| parts.swap_remove(i).1)
    }

    /// The expected action an occurrence's send opens: its inject's, its team's of one
    /// judged per team.
    pub fn expectation_of(&self, occ: &Occurrence) -> Option<&crate::scenario::Expectation> {
        let team = occ.team.as_deref().map(|(label, _)| label.as_str());
        self.scenario.expectation_for(occ.origin, team)
    }

    /// What a person knows an occurrence by: its rendered subject, title or text (the
    /// first 48 characters, on one line), or nothing when its body cannot be built.
    pub fn subject(&self, occ: &Occurrence) -> String {
        self.body(occ)
            .map_or(String::new(), |b| crate::message::short_subject(&b))
    }

    /// The merged fields of an inject: defaults, overridden by the inject's own.
    pub fn merged_fields<'a>(&'a self, inject: &'a Inject) -> Vec<&'a Field> {
        let mut fields: Vec<&Field> = self
            .scenario
            .defaults
            .iter()
            .filter(|d| inject.field(d.name).is_none())
            .collect();
        fields.extend(inject.fields.iter());
        fields
    }

    /// A field's value as written (the inject's, else the default's), as text; empty when
    /// neither sets it.
    pub fn field_text(&self, inject: &Inject, name: &str) -> String {
        self.scenario
            .field(inject, name)
            .map(|f| f.node.scalar_text())
            .unwrap_or_default()
    }

    /// The persona an occurrence is sent from, as written (an alias, handle or id): a
    /// list's turn, a crowd's draw; empty when none is set.
    pub fn persona_text(&self, occ: &Occurrence) -> String {
        let inject = self.inject(occ);
        match self
            .scenario
            .field(inject, "persona")
            .map(|f| &f.node.value)
        {
            Some(Value::Seq(items)) if !items.is_empty() => {
                items[self.turn(inject, occ) % items.len()].scalar_text()
            }
            _ => self.field_text(inject, "persona"),
        }
    }

    /// Where a body field's value stands (the inject's, else the default's), or the inject's id.
    pub fn field_pos(&self, inject: &Inject, field: &str) -> Pos {
        self.scenario
            .field(inject, field)
            .map_or(inject.pos, |f| f.node.pos)
    }

    /// The exact request body of one occurrence, `ts` filled.
    pub fn body(&self, occ: &Occurrence) -> Result<Map<String, J>, Vec<BodyError>> {
        // One-team occurrences of an inject without templates share their body but `ts`.
        if occ.team.is_none()
            && let Some(Some(fixed)) = self
                .fixed_bodies
                .get(occ.inject)
                .and_then(Option::as_ref)
                .map(|cell| cell.get_or_init(|| self.fixed_body(occ)))
        {
            let mut body = fixed.clone();
            let inject = self.inject(occ);
            if !self.ts_pinned(inject) {
                body.insert("ts".into(), J::from(self.ts(inject, occ)));
            }
            return Ok(body);
        }
        let (body, errors) = self.build_body(occ);
        if errors.is_empty() {
            Ok(body)
        } else {
            Err(errors)
        }
    }

    /// The body as far as it can be built, and the problems met: fields that could not
    /// be resolved are left out.
    pub fn build_body(&self, occ: &Occurrence) -> (Map<String, J>, Vec<BodyError>) {
        self.build_body_with(occ, None)
    }

    /// [`Timeline::build_body`], a crowd's post being its variant `post` (numbered from
    /// 0) rather than the one drawn: how every variant is checked.
    pub fn build_body_with(
        &self,
        occ: &Occurrence,
        post: Option<usize>,
    ) -> (Map<String, J>, Vec<BodyError>) {
        let inject = self.inject(occ);
        let crowd = inject.crowd.is_some();
        let seed = self.scenario.seed;
        let fire_at = self.fire_at(occ);
        let mut errors = Vec::new();
        // Built on first use: most fields hold no template.
        let ctx = std::cell::OnceCell::new();
        let ctx = || ctx.get_or_init(|| self.template_context(inject, occ, fire_at));
        let mut fields = self.merged_fields(inject);
        if inject.gps.is_some() {
            // A move takes from the defaults only what a move carries; the inject's own
            // message fields stay, for validation to refuse by their line.
            fields.retain(|f| {
                crate::message::GPS_FIELDS.contains(&f.name) || inject.field(f.name).is_some()
            });
        }
        let mut body = Map::with_capacity(fields.len() + 4 + inject.extra.len());
        for field in fields {
            if field.node.value == Value::Null {
                // `field: null` on an inject clears a default: nothing is sent.
                continue;
            }
            // A crowd's post: the variant drawn for it (or asked for), and its place.
            let variant;
            let field = match (&field.node.value, field.name) {
                // None to draw from: said where the crowd is read.
                (Value::Seq(items), "body" | "persona") if crowd && items.is_empty() => continue,
                (Value::Seq(items), "body") if crowd && !items.is_empty() => {
                    let i = post.unwrap_or_else(|| {
                        (crate::draw::draw(seed, &occ.key, "post") % items.len() as u64) as usize
                    });
                    variant = Field {
                        name: field.name,
                        key_pos: field.key_pos,
                        node: items[i.min(items.len() - 1)].clone(),
                    };
                    &variant
                }
                _ => field,
            };
            let value = match field.name {
                "persona" => self.persona(field, self.turn(inject, occ), &mut errors),
                "likes" | "reposts" | "replies" if crowd => match &field.node.value {
                    Value::Seq(r) => match r.as_ref() {
                        [a, b] => match (&a.value, &b.value) {
                            (Value::Int(a), Value::Int(b)) => Some(J::from(crate::draw::between(
                                seed, &occ.key, field.name, *a, *b,
                            ))),
                            _ => None, // said where the crowd is read
                        },
                        _ => None,
                    },
                    _ => Some(field.node.to_json()),
                },
                "team_id" => match (occ.team.as_deref(), &field.node.value) {
                    (Some((_, id)), _) => Some(id.clone()),
                    // A fan-out list checked outside any occurrence: its first team.
                    (None, Value::Seq(items)) => {
                        items.first().and_then(|n| self.team(n, &mut errors))
                    }
                    (None, _) => self.team(&field.node, &mut errors),
                },
                name if FLAG_FIELDS.contains(&name) => Some(match &field.node.value {
                    Value::Bool(b) => J::from(u8::from(*b)),
                    _ => field.node.to_json(),
                }),
                name if ADDRESS_LIST_FIELDS.contains(&name) => match &field.node.value {
                    Value::Seq(items) => Some(J::String(
                        items
                            .iter()
                            .map(Node::scalar_text)
                            .collect::<Vec<_>>()
                            .join(", "),
                    )),
                    _ => Some(field.node.to_json()),
                },
                _ => Some(field.node.to_json()),
            };
            if let Some(mut value) = value {
                if field.name != "persona" && field.name != "team_id" {
                    self.render(&mut value, &ctx, field, &mut errors);
                }
                body.insert(field.name.to_string(), value);
            }
        }
        if let Some(gps) = &inject.gps {
            body.insert("lat".into(), J::from(gps.lat));
            body.insert(self.scenario.gps_longitude.into(), J::from(gps.lon));
            body.insert("location".into(), J::String(gps.location.clone()));
            body.entry("type")
                .or_insert_with(|| J::String("team".into()));
        }
        if !body.contains_key("ts") {
            body.insert("ts".into(), J::from(self.ts(inject, occ)));
        }
        for (name, node) in &inject.extra {
            body.insert(name.clone(), node.to_json());
        }
        (body, errors)
    }

    /// Whether the scenario sets `ts` itself (else it follows the fire time).
    pub fn ts_pinned(&self, inject: &Inject) -> bool {
        inject.extra.iter().any(|(name, _)| name == "ts")
            || self
                .merged_fields(inject)
                .iter()
                .any(|f| f.name == "ts" && f.node.value != Value::Null)
    }

    /// The `ts` an occurrence gets when the scenario does not set it.
    fn ts(&self, inject: &Inject, occ: &Occurrence) -> i64 {
        let shift = inject.ts_offset.map_or(0, |(s, _)| s);
        self.fire_at(occ).timestamp() + shift
    }

    /// The body of `occ` when none of its inject's fields holds a template and it builds
    /// without problems; else `None`.
    fn fixed_body(&self, occ: &Occurrence) -> Option<Map<String, J>> {
        fn templated(v: &J) -> bool {
            match v {
                J::String(s) => s.contains("{{") || s.contains("{%"),
                J::Array(items) => items.iter().any(templated),
                J::Object(map) => map.values().any(templated),
                _ => false,
            }
        }
        let inject = self.inject(occ);
        // A crowd draws its posts, a list of personas takes turns: each body its own.
        let persona_list = self
            .scenario
            .field(inject, "persona")
            .is_some_and(|f| matches!(f.node.value, Value::Seq(_)));
        if inject.crowd.is_some() || persona_list {
            return None;
        }
        let any_template = self
            .merged_fields(inject)
            .iter()
            .filter(|f| f.name != "persona" && f.name != "team_id")
            .any(|f| templated(&f.node.to_json()));
        if any_template {
            return None;
        }
        let (body, errors) = self.build_body(occ);
        errors.is_empty().then_some(body)
    }

    /// Whose turn it is in a list of personas: a crowd's post draws it, any other
    /// occurrence takes the next ([`Timeline::ordinal`]); taken modulo the list's length.
    fn turn(&self, inject: &Inject, occ: &Occurrence) -> usize {
        if inject.crowd.is_some() {
            crate::draw::draw(self.scenario.seed, &occ.key, "persona") as usize
        } else {
            self.ordinal(inject, occ)
        }
    }

    /// Which of its inject's occurrences `occ` is, from 0, in the inject's own order:
    /// recurrence by recurrence, each fan-out's teams in `team_id` order.
    fn ordinal(&self, inject: &Inject, occ: &Occurrence) -> usize {
        let n = occ.n.map_or(0, |n| n.saturating_sub(1) as usize);
        let teams = match self
            .scenario
            .field(inject, "team_id")
            .map(|f| &f.node.value)
        {
            Some(Value::Seq(items)) => items.as_ref(),
            _ => &[],
        };
        let team = occ
            .team
            .as_deref()
            .and_then(|(label, _)| teams.iter().position(|t| t.scalar_text() == *label));
        n * teams.len().max(1) + team.unwrap_or(0)
    }

    /// The persona's id: as written, or from a list, the one for the occurrence numbered
    /// `ordinal` (cycling); every one of a list is checked.
    fn persona(&self, field: &Field, ordinal: usize, errors: &mut Vec<BodyError>) -> Option<J> {
        if let Value::Seq(items) = &field.node.value {
            if items.is_empty() {
                errors.push(BodyError {
                    field: "persona".into(),
                    pos: field.node.pos,
                    message: "`persona` is an empty list".into(),
                    hint: Some(
                        "list the personas to take turns, e.g. `persona: [resident, tidewatch]`"
                            .into(),
                    ),
                });
                return None;
            }
            let ids: Vec<Option<J>> = items
                .iter()
                .map(|item| {
                    self.persona(
                        &Field {
                            name: field.name,
                            key_pos: field.key_pos,
                            node: item.clone(),
                        },
                        0,
                        errors,
                    )
                })
                .collect();
            return ids[ordinal % ids.len()].clone();
        }
        let Some(text) = field.node.as_str() else {
            errors.push(BodyError {
                field: "persona".into(),
                pos: field.node.pos,
                message: format!(
                    "`persona` must be a string or a list of them, found {}",
                    field.node.kind()
                ),
                hint: Some("quote persona ids: \"3-49786\"".into()),
            });
            return None;
        };
        match resolve_persona(&self.scenario, text) {
            Ok(id) => Some(J::String(id)),
            Err(hint) => {
                errors.push(BodyError {
                    field: "persona".into(),
                    pos: field.node.pos,
                    message: format!("unknown persona `{text}`"),
                    hint: Some(hint),
                });
                None
            }
        }
    }

    fn team(&self, node: &Node, errors: &mut Vec<BodyError>) -> Option<J> {
        match resolve_team(&self.scenario, node) {
            Ok(id) => Some(id),
            Err((message, hint)) => {
                errors.push(BodyError {
                    field: "team_id".into(),
                    pos: node.pos,
                    message,
                    hint,
                });
                None
            }
        }
    }

    fn template_context(
        &self,
        inject: &Inject,
        occ: &Occurrence,
        fire_at: DateTime<FixedOffset>,
    ) -> minijinja::Value {
        let mut ctx = crate::scenario::vars_context(&self.scenario.vars);
        let tz = self.scenario.timezone;
        ctx.insert("t0".into(), minijinja::Value::from(show_time(self.t0, tz)));
        ctx.insert(
            "planned_at".into(),
            minijinja::Value::from(show_time(fire_at, tz)),
        );
        ctx.insert(
            "occurrence".into(),
            minijinja::Value::from(occ.n.unwrap_or(1)),
        );
        // The fan-out's team, else the one team it goes to as written (`blue`); with no
        // team at all `{{ team }}` is undefined, and said so (it rendered `None`).
        let team = occ
            .team
            .as_deref()
            .map(|(label, _)| label.clone())
            .or_else(|| {
                self.scenario
                    .field(inject, "team_id")
                    .and_then(|f| match &f.node.value {
                        Value::Str(s) if !s.contains("{{") => Some(s.to_string()),
                        Value::Int(i) => Some(i.to_string()),
                        _ => None,
                    })
            });
        if let Some(team) = team {
            // Its id as the API takes it: the fan-out's, else the alias's (or the id itself).
            let id = occ
                .team
                .as_deref()
                .map(|(_, id)| id.clone())
                .or_else(|| self.scenario.teams.get(&team).cloned())
                .unwrap_or_else(|| J::String(team.clone()));
            ctx.insert(
                "team_id".into(),
                minijinja::Value::from(minijinja::value::Serde(id)),
            );
            ctx.insert("team".into(), minijinja::Value::from(team));
        }
        ctx.insert(
            "__draws".into(),
            minijinja::Value::from_object(Draws {
                seed: self.scenario.seed,
                key: occ.key.clone(),
                calls: std::sync::atomic::AtomicU64::new(0),
            }),
        );
        // The inject it is an occurrence of (an amended one is made by another).
        ctx.insert(
            "id".into(),
            minijinja::Value::from(self.scenario.injects[occ.origin].id.clone()),
        );
        minijinja::Value::from(ctx)
    }

    fn render<'c>(
        &self,
        value: &mut J,
        ctx: &dyn Fn() -> &'c minijinja::Value,
        field: &Field,
        errors: &mut Vec<BodyError>,
    ) {
        match value {
            J::String(s) if s.contains("{{") || s.contains("{%") => match self.env.render_named_str(field.name, s, ctx()) {
                Ok(out) => *s = out,
                Err(e) => errors.push(BodyError {
                    field: field.name.to_string(),
                    pos: field.node.pos,
                    message: format!("template error in `{}`: {}", field.name, template_message(&e)),
                    hint: Some(if e.to_string().contains("one_of") {
                        "one_of takes a list in brackets: one_of(['Saw', 'Heard about'])".to_string()
                    } else {
                        format!(
                            "define it under `vars:`; built-ins are t0, planned_at, occurrence, team, team_id, id and one_of(['a', 'b']){}",
                            self.var_names_hint(&e)
                        )
                    }),
                }),
            },
            J::Array(items) => items.iter_mut().for_each(|v| self.render(v, ctx, field, errors)),
            J::Object(map) => map.values_mut().for_each(|v| self.render(v, ctx, field, errors)),
            _ => {}
        }
    }

    fn var_names_hint(&self, e: &minijinja::Error) -> String {
        let Some(name) = undefined_name(e) else {
            return String::new();
        };
        let names = self.scenario.vars.keys().map(String::as_str).chain([
            "one_of",
            "t0",
            "planned_at",
            "occurrence",
            "team",
            "team_id",
            "id",
        ]);
        suggest(&name, names).map_or(String::new(), |s| format!(" ({s})"))
    }
}

/// What `one_of` draws with: the seed, the occurrence's key, and how many calls its
/// templates made so far (so two calls in one body draw apart).
#[derive(Debug)]
struct Draws {
    seed: u64,
    key: String,
    calls: std::sync::atomic::AtomicU64,
}

impl minijinja::value::Object for Draws {}

/// `{{ one_of(['Saw', 'Heard about']) }}`: one of the list, drawn per occurrence
/// (seeded by its key, the field and the call), the same on every plan and run.
fn one_of(
    state: &minijinja::State,
    items: minijinja::Value,
) -> Result<minijinja::Value, minijinja::Error> {
    let bad = |why: &str| {
        minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            format!("one_of {why}: write one_of(['Saw', 'Heard about'])"),
        )
    };
    if items.kind() != minijinja::value::ValueKind::Seq {
        return Err(bad(&format!("takes a list, not {}", items.kind())));
    }
    let len = items.len().unwrap_or(0);
    if len == 0 {
        return Err(bad("has an empty list"));
    }
    let draws = state.lookup("__draws");
    let (seed, key, n) = match draws
        .as_ref()
        .and_then(|d| d.downcast_object_ref::<Draws>())
    {
        Some(d) => (
            d.seed,
            d.key.as_str(),
            d.calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        ),
        None => (0, "", 0),
    };
    let what = format!("one_of {} {n}", state.name());
    let i = crate::draw::draw(seed, key, &what) % len as u64;
    items.get_item_by_index(i as usize)
}

fn template_message(e: &minijinja::Error) -> String {
    match e.detail() {
        Some(d) => format!("{} ({d})", e.kind()),
        None => e.kind().to_string(),
    }
}

/// The undefined variable's name, read from the template around the error.
fn undefined_name(e: &minijinja::Error) -> Option<String> {
    let src = e.template_source()?;
    let range = e.range()?;
    let text = src.get(range)?;
    let name: String = text
        .trim()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}

/// Show an instant in the scenario's zone when it has one.
pub fn show_time(t: DateTime<FixedOffset>, tz: Option<Tz>) -> String {
    let t = match tz {
        Some(tz) => t.with_timezone(&tz).fixed_offset(),
        None => t,
    };
    let precision = if t.timestamp_subsec_nanos() == 0 {
        chrono::SecondsFormat::Secs
    } else {
        chrono::SecondsFormat::Millis
    };
    t.to_rfc3339_opts(precision, false)
}

/// The endpoint an inject's bodies go to: a move, a message to a position or a role (set
/// on the inject or by the defaults), or `/messages`.
fn endpoint_of(s: &Scenario, inject: &Inject) -> crate::message::Endpoint {
    use crate::message::Endpoint;
    if inject.gps.is_some() {
        return Endpoint::Gps;
    }
    let set = |name: &str| {
        s.field(inject, name)
            .is_some_and(|f| f.node.value != Value::Null)
    };
    if set("position") {
        Endpoint::Position
    } else if set("role") {
        Endpoint::Role
    } else {
        Endpoint::Messages
    }
}

/// `t` moved by `shift` (holds and shifts), held at the ends of time rather than
/// overflowing.
pub fn moved(t: DateTime<Utc>, shift: chrono::TimeDelta) -> DateTime<Utc> {
    t.checked_add_signed(shift)
        .unwrap_or(if shift > chrono::TimeDelta::zero() {
            DateTime::<Utc>::MAX_UTC
        } else {
            DateTime::<Utc>::MIN_UTC
        })
}

/// A scenario duration as run time: divided by the speed.
pub fn scaled(offset: Duration, speed: f64) -> chrono::TimeDelta {
    let nanos = if speed == 1.0 {
        offset.as_nanos() as f64
    } else {
        offset.as_nanos() as f64 / speed
    };
    chrono::TimeDelta::nanoseconds(nanos.round() as i64)
}

/// Whether a persona value is a Conducttr persona hash such as `3-49786`.
pub fn is_persona_id(s: &str) -> bool {
    matches!(s.split_once('-'), Some((a, b)) if !a.is_empty() && !b.is_empty()
        && a.bytes().all(|c| c.is_ascii_digit()) && b.bytes().all(|c| c.is_ascii_digit()))
}

/// A persona alias, `@handle` or id, to the id.
pub fn resolve_persona(s: &Scenario, text: &str) -> Result<String, String> {
    if let Some(id) = s.personas.get(text) {
        return Ok(id.clone());
    }
    if let Some(handle) = text.strip_prefix('@')
        && let Some(id) = s.personas.get(handle)
    {
        return Ok(id.clone());
    }
    if !text.starts_with('@')
        && let Some(id) = s.personas.get(&format!("@{text}"))
    {
        return Ok(id.clone());
    }
    if is_persona_id(text) {
        return Ok(text.to_string());
    }
    // The nearest alias or handle the scenario knows, else where an unknown one comes from.
    if let Some(near) = suggest(text, s.personas.keys().map(String::as_str)) {
        return Err(near);
    }
    Err(if text.starts_with('@') {
        format!(
            "`injector sync FILE` adds the workspace's handles to `personas:`, and `validate --online` checks them against the workspace; or map it yourself under `personas:` as `\"{text}\": \"<persona id>\"`"
        )
    } else {
        format!(
            "map it under `personas:` as `{text}: \"<persona id>\"` (`injector personas` lists the ids), or write the persona id itself"
        )
    })
}

/// A team alias or id to the id, as the API takes it.
pub fn resolve_team(s: &Scenario, node: &Node) -> Result<J, (String, Option<String>)> {
    match &node.value {
        Value::Int(i) if *i >= 0 => Ok(J::from(*i)),
        Value::Str(t) if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) => {
            Ok(J::String(t.to_string()))
        }
        Value::Str(t) => s.teams.get(t.as_str()).cloned().ok_or_else(|| {
            (
                format!("unknown team `{t}`"),
                Some(
                    suggest(t, s.teams.keys().map(String::as_str)).unwrap_or_else(|| {
                        "add it under `teams:` (alias: 3437866), or use the team id itself".into()
                    }),
                ),
            )
        }),
        _ => Err((
            format!(
                "`team_id` must be a team id or alias, found {}",
                node.kind()
            ),
            None,
        )),
    }
}

/// The fan-out teams of an inject: `(as written, id)` for each, empty when not a list.
fn fan_out(inject: &Inject, s: &Scenario, errors: &mut Vec<ExpandError>) -> Vec<(String, J)> {
    let field = s.field(inject, "team_id");
    let Some(Value::Seq(items)) = field.map(|f| &f.node.value) else {
        return Vec::new();
    };
    let mut teams: Vec<(String, J)> = Vec::new();
    for item in items {
        let label = item.scalar_text();
        match resolve_team(s, item) {
            Ok(id) => {
                if teams.iter().any(|(l, _)| *l == label) {
                    errors.push(ExpandError {
                        pos: item.pos,
                        message: format!("team `{label}` is listed twice"),
                        hint: None,
                    });
                } else {
                    teams.push((label, id));
                }
            }
            Err((message, hint)) => errors.push(ExpandError {
                pos: item.pos,
                message,
                hint,
            }),
        }
    }
    if items.is_empty() {
        errors.push(ExpandError {
            pos: field.map_or(inject.pos, |f| f.node.pos),
            message: "`team_id` is an empty list".into(),
            hint: None,
        });
    }
    teams
}

/// A crowd's instants, in order: each post's point of the window drawn by its curve
/// (seeded by the crowd's id and the post's number), to the second, then sorted so
/// that `#1` is the first to go.
fn crowd_instants(id: &str, crowd: &crate::scenario::Crowd, seed: u64) -> Vec<Duration> {
    let (from, span) = (
        crowd.from.as_secs_f64(),
        (crowd.to - crowd.from).as_secs_f64(),
    );
    let mut key = String::with_capacity(id.len() + 8);
    let mut out: Vec<Duration> = (1..=crowd.count)
        .map(|n| {
            use std::fmt::Write as _;
            key.clear();
            let _ = write!(key, "{id}#{n}");
            let x = crowd.curve.place(crate::draw::unit(seed, &key, "instant"));
            Duration::from_secs((from + x * span).round() as u64)
        })
        .collect();
    out.sort_unstable();
    out
}

/// `offset` moved by the occurrence `key`'s draw within `jitter`, to the second (to the
/// millisecond when the jitter is not whole seconds), never before T0.
fn jittered(offset: Duration, jitter: crate::scenario::Jitter, seed: u64, key: &str) -> Duration {
    let whole = jitter.before.subsec_nanos() == 0 && jitter.after.subsec_nanos() == 0;
    let unit: i64 = if whole { 1000 } else { 1 };
    let lo = -((jitter.before.as_millis() as i64) / unit);
    let hi = (jitter.after.as_millis() as i64) / unit;
    let ms = crate::draw::between(seed, key, "jitter", lo, hi) * unit;
    if ms < 0 {
        offset.saturating_sub(Duration::from_millis(ms.unsigned_abs()))
    } else {
        offset + Duration::from_millis(ms as u64)
    }
}

/// The offsets of an inject's occurrences, at most `room` of them.
fn expand_times(
    inject: &Inject,
    s: &Scenario,
    t0: DateTime<FixedOffset>,
    room: u64,
) -> Result<Vec<Duration>, ExpandError> {
    let too_many = |pos| ExpandError {
        pos,
        message: format!("the scenario expands to more than {MAX_OCCURRENCES} occurrences"),
        hint: Some("shorten recurrences or split the scenario".into()),
    };
    match &inject.when {
        When::Invalid => Ok(Vec::new()),
        When::At(d) => Ok(vec![*d]),
        When::Crowd => {
            let Some(crowd) = inject.crowd.as_deref() else {
                return Ok(Vec::new());
            };
            if crowd.count > room {
                return Err(too_many(crowd.pos));
            }
            Ok(crowd_instants(&inject.id, crowd, s.seed))
        }
        When::Every { every, from, limit } => {
            let count = match limit {
                Limit::Count(c) => *c,
                Limit::Until(u) => ((*u - *from).as_nanos() / every.as_nanos()) as u64 + 1,
                Limit::UntilInstant(_) => 0,
            };
            if count > room {
                return Err(too_many(inject.pos));
            }
            Ok((0..count).map(|i| *from + *every * i as u32).collect())
        }
        When::Cron { cron, limit, .. } => {
            let tz = s.timezone.unwrap_or(Tz::UTC);
            let start = t0.with_timezone(&tz);
            let end: Option<DateTime<Utc>> = match limit {
                Limit::Count(_) => None,
                Limit::Until(d) => Some(
                    (t0 + chrono::TimeDelta::from_std(*d).unwrap_or(chrono::TimeDelta::MAX))
                        .to_utc(),
                ),
                Limit::UntilInstant(t) => Some(t.to_utc()),
            };
            let max = match limit {
                Limit::Count(c) => *c,
                _ => u64::MAX,
            };
            let mut out = Vec::new();
            for t in cron.iter_from(start, croner::Direction::Forward) {
                if out.len() as u64 >= max {
                    break;
                }
                if end.is_some_and(|end| t.to_utc() > end) {
                    break;
                }
                if out.len() as u64 >= room {
                    return Err(too_many(inject.pos));
                }
                let delta = t.to_utc() - t0.to_utc();
                out.push(delta.to_std().unwrap_or(Duration::ZERO));
            }
            Ok(out)
        }
    }
}

/// T0 "now" is this far after launch, so that offset-zero injects are not late
/// for the time it takes to validate, open the journal and connect.
pub const START_LEAD: chrono::TimeDelta = chrono::TimeDelta::seconds(1);

/// T0 for a timeline: the flag, else the scenario's `start`, else now (plus [`START_LEAD`]).
pub fn choose_t0(
    flag: Option<DateTime<FixedOffset>>,
    scenario: &Scenario,
    now: DateTime<Utc>,
) -> (DateTime<FixedOffset>, bool) {
    match flag.or(scenario.start) {
        Some(t) => (t, true),
        None => {
            let tz = scenario.timezone.unwrap_or(Tz::UTC);
            let now = tz
                .from_utc_datetime(&(now + START_LEAD).naive_utc())
                .fixed_offset();
            (now, false)
        }
    }
}
