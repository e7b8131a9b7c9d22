//! The JSON Schema (draft-07) of the scenario format, for editors.
//!
//! These types exist only to describe the format to schemars; the scenario reader
//! ([`crate::scenario`]) does the real parsing with positions. A test checks that both
//! know the same field names, so they cannot drift apart.

use std::collections::BTreeMap;

use schemars::JsonSchema;

/// An injector exercise scenario: timed injects sent as Conducttr `POST /messages`.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, title = "injector scenario")]
#[allow(dead_code)] // described, never built
struct ScenarioDoc {
    /// The exercise's name.
    name: String,
    description: Option<String>,
    /// T0: RFC 3339 with an offset, or a local date-time with `timezone`.
    start: Option<String>,
    /// IANA time zone name, for `start`, `cron` and wall-clock display.
    timezone: Option<String>,
    /// Body fields applied to every inject that does not set them, and `jitter`.
    defaults: Option<DefaultsDoc>,
    /// Persona aliases (or `@handles`) to persona ids such as "3-49786".
    personas: Option<BTreeMap<String, String>>,
    /// Team aliases to team ids.
    teams: Option<BTreeMap<String, IdDoc>>,
    /// Variables for `{{ name }}` templates.
    vars: Option<BTreeMap<String, serde_json::Value>>,
    /// Channel names allowed beyond the documented list.
    extra_channels: Option<Vec<String>>,
    injects: Vec<InjectDoc>,
    /// Expected player actions not tied to one inject, each with a deadline from T0.
    expectations: Option<Vec<ExpectationDoc>>,
    /// What the exercise sets out to evaluate; evaluators rate each P, S, M or U.
    objectives: Option<Vec<ObjectiveDoc>>,
    /// The name a persona move's longitude goes by: `lon` (default, as the API page's
    /// example sends it) or `lng` (as its field table says).
    gps_longitude: Option<LongitudeName>,
    /// The seed of every draw (jitter, `one_of`, crowds); default from `name`. The same
    /// file and seed give the same plan on every machine; `--seed` overrides it.
    #[schemars(range(min = 0))]
    seed: Option<u64>,
    /// Phases (HSEEP's moves): an inject with `phase:` counts its `at` from the phase's.
    phases: Option<Vec<PhaseDoc>>,
    /// Realistic volume: posts from the public at seeded instants in a window, each
    /// drawing its voice, text and counts. Keys `ID#1`...`ID#N`.
    crowds: Option<Vec<CrowdDoc>>,
}

/// The defaults: body fields, and the jitter every inject takes unless it sets its own.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct DefaultsDoc {
    jitter: Option<JitterDoc>,
    #[schemars(flatten)]
    body: BodyFields,
}

/// Each occurrence moved by a seeded offset: `90s` is up to 90s early or late; a mapping
/// sets each side (`{ before: 0s, after: 4m }`, never early); null or `0s`, none.
#[derive(JsonSchema)]
#[schemars(untagged)]
#[allow(dead_code)]
enum JitterDoc {
    Both(Offset),
    Sides {
        before: Option<Offset>,
        after: Option<Offset>,
    },
}

/// A phase: `{ id: afternoon, at: 3h }`.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct PhaseDoc {
    /// Injects name it with `phase:`.
    id: String,
    /// When it begins, from T0: moving it moves its injects.
    at: Offset,
    /// What it is, for people.
    text: Option<String>,
}

/// A crowd: `count` posts (or `rate: 3/min`) inside `between`, shaped by `curve`.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code, non_snake_case)]
struct CrowdDoc {
    /// Unique among injects and crowds; its posts are `ID#1`...`ID#N`.
    id: String,
    /// The window, offsets from T0: `[20m, 1h10m]`.
    between: [Offset; 2],
    /// How many posts.
    #[schemars(range(min = 1, max = 1_000_000))]
    count: Option<u64>,
    /// Or posts per unit of time: `3/min`, `20/h`.
    rate: Option<String>,
    /// `flat` (default), `rising`, `falling` or `burst at 35m` (an offset from T0).
    curve: Option<String>,
    /// The voices (aliases, @handles or ids); each post draws one.
    personas: Vec<String>,
    /// The texts (templates; `one_of` allowed); each post draws one.
    posts: Vec<String>,
    notes: Option<serde_json::Value>,
    owner: Option<String>,
    objectives: Option<Vec<String>>,
    /// The phase its window counts from.
    phase: Option<String>,
    /// Drawn per post from `[low, high]`, or a number.
    likes: Option<Range>,
    reposts: Option<Range>,
    replies: Option<Range>,
    channel: Option<String>,
    subject: Option<String>,
    to: Option<String>,
    cc: Option<AddressList>,
    bcc: Option<AddressList>,
    title: Option<String>,
    subtitle: Option<String>,
    assets: Option<Vec<AssetDoc>>,
    sentiment: Option<Sentiment>,
    #[schemars(rename = "type")]
    kind: Option<RecipientType>,
    team_id: Option<TeamIds>,
    player_email: Option<String>,
    isDraft: Option<Flag>,
    is_hacked: Option<Flag>,
    show_details: Option<Flag>,
    hacked_image: Option<String>,
    ts: Option<i64>,
    position: Option<String>,
    role: Option<RoleName>,
}

/// A number, or a range `[low, high]` drawn from per post.
#[derive(JsonSchema)]
#[schemars(untagged)]
#[allow(dead_code)]
enum Range {
    One(#[schemars(range(min = 0))] u64),
    Between([u64; 2]),
}

/// An exercise objective (HSEEP), tied to a capability.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct ObjectiveDoc {
    /// Unique; injects, expectations, `ctl rate` and notes name it: `O1`.
    id: String,
    /// What is evaluated: "Issue a timely public warning to residents at risk".
    text: String,
    /// Free text; FEMA's core capabilities suggested: "Public Information and Warning".
    capability: Option<String>,
}

#[derive(JsonSchema)]
#[schemars(rename_all = "lowercase")]
#[allow(dead_code)]
enum LongitudeName {
    Lon,
    Lng,
}

/// A persona move (`POST /messages/gps`): where to, and the place players see.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct GpsDoc {
    /// Latitude, -90 to 90.
    lat: f64,
    /// Longitude, -180 to 180 (`lng` is taken too).
    lon: Option<f64>,
    lng: Option<f64>,
    /// Free text players see; it need not match the coordinates.
    location: String,
}

/// An expected player action tied to an inject: judged met or missed by a controller;
/// unjudged by its deadline (counted from the inject's actual send), it is missed.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct ExpectDoc {
    /// Unique among expectations; conditions (`met:`, `missed:`) and `ctl met` name it.
    id: String,
    /// What players are expected to do.
    action: String,
    /// The deadline after the inject's send: `20m`.
    within: Offset,
    /// Whose action: a team alias or id.
    team: Option<String>,
    /// The objectives it evaluates (ids from `objectives:`).
    objectives: Option<Vec<String>>,
}

/// An expected player action with a deadline from T0.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct ExpectationDoc {
    id: String,
    action: String,
    /// The deadline as an offset from T0: `1h15m`.
    by: Offset,
    team: Option<String>,
    objectives: Option<Vec<String>>,
}

/// When a contingency inject fires: exactly one of these keys.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct ConditionDoc {
    /// An expectation judged met.
    met: Option<String>,
    /// An expectation judged missed, or unjudged at its deadline.
    missed: Option<String>,
    /// An inject id (its first occurrence sent) or an occurrence key, actually sent.
    sent: Option<String>,
    /// Any of these conditions.
    any: Option<Vec<ConditionDoc>>,
    /// All of these conditions.
    all: Option<Vec<ConditionDoc>>,
}

/// One inject: a POST /messages body plus when to send it.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct InjectDoc {
    /// Unique name; keys are ID, ID#N (recurrence), ID@TEAM (fan-out).
    id: String,
    /// Offset from T0: `90s`, `5m`, `1h30m`, `01:30:00`.
    at: Option<Offset>,
    /// Recurrence interval.
    every: Option<Offset>,
    /// First occurrence of an `every` recurrence (default 0s).
    from: Option<Offset>,
    /// Number of occurrences of a recurrence.
    #[schemars(range(min = 1))]
    count: Option<u64>,
    /// Last allowed offset (or, with `cron`, an RFC 3339 instant).
    until: Option<String>,
    /// Cron pattern (seconds optional) in the scenario's time zone.
    cron: Option<String>,
    /// Shift `ts` from the planned time, e.g. `-2h` to backdate.
    ts_offset: Option<String>,
    /// Space a fan-out's occurrences at one instant this far apart, in team order
    /// (`2m`: blue at the instant, red 2m later, ...).
    stagger: Option<String>,
    /// Move each occurrence by a seeded offset (over the defaults'; null for none).
    jitter: Option<JitterDoc>,
    /// The phase its `at` (or `from`, `until`) counts from.
    phase: Option<String>,
    /// Further body fields passed through verbatim.
    extra: Option<BTreeMap<String, serde_json::Value>>,
    /// Free-form notes for the controller; never sent.
    notes: Option<serde_json::Value>,
    /// The player action this inject expects, judged live.
    expect: Option<ExpectDoc>,
    /// A contingency: fire once this holds (then no `at`; `every` counts from then).
    when: Option<ConditionDoc>,
    /// With `when`: the delay once the condition holds (default 0s).
    after: Option<Offset>,
    /// The objectives it exercises (ids from `objectives:`).
    objectives: Option<Vec<String>>,
    /// The controller who watches it (shown on the control page and in the MEL).
    owner: Option<String>,
    /// Makes the inject a persona move (`POST /messages/gps`) instead of a message.
    gps: Option<GpsDoc>,
    #[schemars(flatten)]
    body: BodyFields,
}

/// The fields of Conducttr's POST /messages body, by the API's own names.
#[derive(JsonSchema)]
#[allow(dead_code, non_snake_case)]
struct BodyFields {
    /// Persona id ("3-49786"), alias or @handle; a list takes turns, one occurrence
    /// after another (recurrence by recurrence, a fan-out's teams in order).
    persona: Option<PersonaDoc>,
    /// Channel: mail, microblog, websites, notifications, ... or one of `extra_channels`.
    channel: Option<String>,
    subject: Option<String>,
    body: Option<String>,
    /// One address.
    to: Option<String>,
    cc: Option<AddressList>,
    bcc: Option<AddressList>,
    /// Required for a website article.
    title: Option<String>,
    subtitle: Option<String>,
    assets: Option<Vec<AssetDoc>>,
    sentiment: Option<Sentiment>,
    #[schemars(rename = "type")]
    kind: Option<RecipientType>,
    /// Team id or alias; a list fans out, once per team.
    team_id: Option<TeamIds>,
    player_email: Option<String>,
    isDraft: Option<Flag>,
    #[schemars(range(min = 0))]
    replies: Option<u64>,
    #[schemars(range(min = 0))]
    likes: Option<u64>,
    #[schemars(range(min = 0))]
    reposts: Option<u64>,
    /// 1/true hacks the website, 0/false restores it.
    is_hacked: Option<Flag>,
    show_details: Option<Flag>,
    /// http(s) URL of the image shown instead of the website.
    hacked_image: Option<String>,
    /// Unix seconds; filled with the planned time when absent.
    ts: Option<i64>,
    /// Send to the player holding this position (`POST /messages/position`); case-sensitive.
    position: Option<String>,
    /// Send to everyone in this role (`POST /messages/role`).
    role: Option<RoleName>,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
enum RoleName {
    Role1,
    Role2,
    Role3,
    Role4,
    Role5,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code, non_snake_case)]
struct AssetDoc {
    #[schemars(rename = "type")]
    kind: AssetType,
    /// Absolute http(s) URL of the hosted asset.
    assetUrl: String,
    alt: Option<String>,
}

#[derive(JsonSchema)]
#[schemars(rename_all = "lowercase")]
#[allow(dead_code)]
enum AssetType {
    Image,
    Video,
    Audio,
    Document,
}

#[derive(JsonSchema)]
#[schemars(rename_all = "lowercase")]
#[allow(dead_code)]
enum Sentiment {
    Positive,
    Negative,
    Neutral,
}

#[derive(JsonSchema)]
#[schemars(rename_all = "lowercase")]
#[allow(dead_code)]
enum RecipientType {
    Individual,
    Team,
}

/// A duration offset.
#[derive(JsonSchema)]
#[schemars(
    transparent,
    extend("pattern" = r"^\s*\+?(\d+:[0-5]\d(:[0-5]\d(\.\d+)?)?|(\d+(\.\d+)?\s*[a-zA-Zµ]+\s*)+)\s*$")
)]
#[allow(dead_code)]
struct Offset(String);

#[derive(JsonSchema)]
#[schemars(untagged)]
#[allow(dead_code)]
enum IdDoc {
    Number(u64),
    Text(String),
}

#[derive(JsonSchema)]
#[schemars(untagged)]
#[allow(dead_code)]
enum TeamIds {
    One(IdDoc),
    Many(Vec<IdDoc>),
}

#[derive(JsonSchema)]
#[schemars(untagged)]
#[allow(dead_code)]
enum AddressList {
    One(String),
    Many(Vec<String>),
}

#[derive(JsonSchema)]
#[schemars(untagged)]
#[allow(dead_code)]
enum PersonaDoc {
    One(String),
    Turns(Vec<String>),
}

#[derive(JsonSchema)]
#[schemars(untagged)]
#[allow(dead_code)]
enum Flag {
    Bool(bool),
    Int(#[schemars(range(min = 0, max = 1))] u8),
}

/// The schema as pretty JSON.
pub fn schema_json() -> String {
    let generator = schemars::generate::SchemaSettings::draft07().into_generator();
    let schema = generator.into_root_schema_for::<ScenarioDoc>();
    let mut value = serde_json::to_value(&schema).expect("a schema serializes");
    // `x-` keys at the top are the author's own (a place for YAML anchors): allowed.
    value["patternProperties"] = serde_json::json!({
        "^x-": { "description": "The author's own: ignored by injector (a place for YAML anchors, `<<: *block`)." }
    });
    let mut text = serde_json::to_string_pretty(&value).expect("a schema serializes");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::BODY_FIELDS;
    use crate::scenario::{INJECT_FIELDS, SCENARIO_FIELDS};

    fn keys(v: &serde_json::Value) -> Vec<String> {
        let mut k: Vec<String> = v["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        k.sort();
        k
    }

    fn sorted(a: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = a.iter().map(|s| s.to_string()).collect();
        v.sort();
        v
    }

    #[test]
    fn schema_and_reader_know_the_same_fields() {
        let schema: serde_json::Value = serde_json::from_str(&schema_json()).unwrap();
        assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
        assert_eq!(keys(&schema), sorted(SCENARIO_FIELDS));
        assert!(schema["patternProperties"]["^x-"].is_object());
        let inject = &schema["definitions"]["InjectDoc"];
        let all: Vec<&str> = INJECT_FIELDS.iter().chain(BODY_FIELDS).copied().collect();
        assert_eq!(keys(inject), sorted(&all));
        assert_eq!(inject["additionalProperties"], false);
        let defaults: Vec<&str> = BODY_FIELDS.iter().copied().chain(["jitter"]).collect();
        assert_eq!(
            keys(&schema["definitions"]["DefaultsDoc"]),
            sorted(&defaults)
        );
        use crate::scenario::contingency::{CONDITION_KEYS, EXPECT_FIELDS, EXPECTATION_FIELDS};
        assert_eq!(
            keys(&schema["definitions"]["ExpectDoc"]),
            sorted(EXPECT_FIELDS)
        );
        assert_eq!(
            keys(&schema["definitions"]["ExpectationDoc"]),
            sorted(EXPECTATION_FIELDS)
        );
        assert_eq!(
            keys(&schema["definitions"]["ConditionDoc"]),
            sorted(CONDITION_KEYS)
        );
        assert_eq!(
            keys(&schema["definitions"]["CrowdDoc"]),
            sorted(&crate::scenario::CROWD_KEYS)
        );
        assert_eq!(
            keys(&schema["definitions"]["ObjectiveDoc"]),
            sorted(crate::scenario::OBJECTIVE_FIELDS)
        );
    }
}
