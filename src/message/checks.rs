//! The checks: every rule of the API contract a body breaks, at the endpoint it goes
//! to, as [`Violation`]s.

use serde::Serialize;
use serde_json::{Map, Value};

use super::{
    ADDRESS_LIST_FIELDS, ASSET_TYPES, DOCUMENTED_CHANNELS, Endpoint, FLAG_FIELDS, Fields,
    GPS_FIELDS, RECIPIENT_TYPES, ROLES, SENTIMENTS, endpoint, is_hack, team_number,
};

/// One broken rule: the field it concerns and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub field: String,
    /// The field whose value calls for the rule, when `field` itself is absent
    /// (a `type: individual` that needs `to`): where a diagnostic should point.
    #[serde(skip)]
    pub cause: Option<&'static str>,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Violation {
    fn new(field: &str, message: impl Into<String>, hint: Option<String>) -> Self {
        Violation {
            field: field.to_string(),
            cause: None,
            message: message.into(),
            hint,
        }
    }

    fn caused_by(mut self, field: &'static str) -> Self {
        self.cause = Some(field);
        self
    }
}

impl<'a> Fields<'a> {
    /// The text of `field`; `None` when it is missing or null, or when it is not a
    /// string (said in `out`).
    fn text(&self, field: &str, out: &mut Vec<Violation>) -> Option<String> {
        match self.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                out.push(Violation::new(
                    field,
                    format!("`{field}` must be a string, found {}", json_kind(other)),
                    None,
                ));
                None
            }
        }
    }
}

/// Every rule of the API contract that `body` breaks, at the endpoint it is for.
/// `channel_ok` decides which channel names are accepted (documented ones, plus a
/// scenario's `extra_channels`).
pub fn check(body: &Map<String, Value>, channel_ok: &dyn Fn(&str) -> bool) -> Vec<Violation> {
    check_at(endpoint(body), body, channel_ok)
}

/// [`check`] of a body sent to `at` (the stand-in knows the path; a scenario's body says it).
pub fn check_at(
    at: Endpoint,
    body: &Map<String, Value>,
    channel_ok: &dyn Fn(&str) -> bool,
) -> Vec<Violation> {
    if at == Endpoint::Gps {
        return check_gps(body);
    }
    let mut out = check_message(body, channel_ok);
    let text = |f: &str| body.get(f).and_then(Value::as_str).map(str::trim);
    let here = |f: &str| body.get(f).is_some_and(|v| !v.is_null());
    match at {
        Endpoint::Position => match body.get("position") {
            Some(Value::String(p)) if !p.trim().is_empty() => {}
            Some(Value::String(_)) => {
                out.push(Violation::new("position", "`position` is empty", None))
            }
            Some(other) => out.push(Violation::new(
                "position",
                format!(
                    "`position` must be a string such as \"CEO\", found {}",
                    json_kind(other)
                ),
                None,
            )),
            None => out.push(Violation::new(
                "position",
                "a message to a position needs `position`",
                None,
            )),
        },
        Endpoint::Role => match text("role") {
            Some(r) if ROLES.contains(&r) => {}
            Some(r) => out.push(Violation::new(
                "role",
                format!("`role` must be one of Role1…Role5, found `{r}`"),
                crate::diag::suggest(r, ROLES.iter().copied()),
            )),
            None => out.push(Violation::new(
                "role",
                if here("role") {
                    "`role` must be a string such as \"Role2\""
                } else {
                    "a message to a role needs `role`"
                },
                None,
            )),
        },
        Endpoint::Messages | Endpoint::Gps => {}
    }
    if here("position") && here("role") {
        out.push(
            Violation::new(
                "role",
                "a message goes to a position or to a role, not both",
                Some("keep one: `position` is one player, `role` everyone in that role".into()),
            )
            .caused_by("position"),
        );
    }
    if at != Endpoint::Messages {
        let what = if at == Endpoint::Position {
            "position"
        } else {
            "role"
        };
        for field in ["to", "player_email"] {
            if here(field) {
                out.push(
                    Violation::new(
                        field,
                        format!("a message to a {what} names no `{field}`: who receives it would be ambiguous"),
                        Some(format!("drop `{field}` (set it to null if a default sets it), or drop `{what}`")),
                    )
                    .caused_by(what),
                );
            }
        }
    } else {
        for field in ["position", "role"] {
            if here(field) {
                out.push(Violation::new(
                    field,
                    format!("`{field}` belongs to `POST /messages/{field}`, not `/messages`"),
                    None,
                ));
            }
        }
    }
    out
}

/// The contract of `POST /messages/gps`: a persona, coordinates in range, a place name,
/// the session team, `type: team`, `ts`; nothing a message carries.
fn check_gps(body: &Map<String, Value>) -> Vec<Violation> {
    let mut out = Vec::new();
    match body.get("persona").and_then(Value::as_str) {
        Some(p) if !p.trim().is_empty() => {}
        _ => out.push(Violation::new(
            "persona",
            "a persona move needs `persona` (whom it moves)",
            None,
        )),
    }
    let coordinate = |field: &str, range: f64, out: &mut Vec<Violation>| match body.get(field) {
        Some(v) => match v.as_f64() {
            Some(x) if x.is_finite() && x.abs() <= range => {}
            Some(x) => out.push(Violation::new(
                field,
                format!("`{field}` must be between -{range} and {range}, found {x}"),
                None,
            )),
            None => out.push(Violation::new(
                field,
                format!("`{field}` must be a number, found {}", show(v)),
                None,
            )),
        },
        None => out.push(Violation::new(
            field,
            format!("a persona move needs `{field}`"),
            None,
        )),
    };
    coordinate("lat", 90.0, &mut out);
    let longitude = if body.contains_key("lng") {
        "lng"
    } else {
        "lon"
    };
    coordinate(longitude, 180.0, &mut out);
    match body.get("location").and_then(Value::as_str) {
        Some(l) if !l.trim().is_empty() => {}
        _ => out.push(Violation::new(
            "location",
            "a persona move needs `location`, the place players see (it need not match the coordinates)",
            None,
        )),
    }
    match body.get("type").and_then(Value::as_str) {
        Some("team") => {}
        _ => out.push(Violation::new(
            "type",
            "a persona move has `type: team`",
            None,
        )),
    }
    match body.get("team_id") {
        Some(id) if team_number(id).is_some() => {}
        Some(other) => out.push(Violation::new(
            "team_id",
            format!("`team_id` must be a numeric team id, found {}", show(other)),
            None,
        )),
        None => out.push(Violation::new(
            "team_id",
            "a persona move needs `team_id`, the session team",
            Some("set `team_id` to the session team (`injector teams` lists it, kind S)".into()),
        )),
    }
    match body.get("ts") {
        Some(v) if v.as_i64().is_some() => {}
        Some(v) => out.push(Violation::new(
            "ts",
            format!("`ts` must be an integer unix time, found {}", show(v)),
            None,
        )),
        None => out.push(Violation::new("ts", "`ts` is missing", None)),
    }
    for field in body.keys() {
        if !GPS_FIELDS.contains(&field.as_str()) {
            out.push(Violation::new(
                field,
                format!("a persona move carries no `{field}`: it is not a message"),
                Some("a move has persona, lat, lon, location, team_id, type and ts".into()),
            ));
        }
    }
    out
}

/// The rules every message shares, whatever its endpoint.
fn check_message(body: &Map<String, Value>, channel_ok: &dyn Fn(&str) -> bool) -> Vec<Violation> {
    let hack = is_hack(body);
    let body = Fields(body);
    let mut out = Vec::new();
    let channel = check_sender(&body, channel_ok, &mut out);
    check_content(&body, channel.as_deref(), hack, &mut out);
    check_recipients(&body, &mut out);
    check_details(&body, &mut out);
    out
}

/// Who sends a message and where: a persona, and a channel `channel_ok` accepts; the
/// channel, when it is a string.
fn check_sender(
    body: &Fields,
    channel_ok: &dyn Fn(&str) -> bool,
    out: &mut Vec<Violation>,
) -> Option<String> {
    match body.text("persona", out) {
        None if !out.iter().any(|v| v.field == "persona") => out.push(Violation::new(
            "persona",
            "`persona` is missing",
            Some(
                "every message is sent from a persona: set `persona` (here or in `defaults`)"
                    .into(),
            ),
        )),
        Some(p) if p.trim().is_empty() => {
            out.push(Violation::new("persona", "`persona` is empty", None))
        }
        _ => {}
    }
    let channel = body.text("channel", out);
    match &channel {
        None if !out.iter().any(|v| v.field == "channel") => out.push(Violation::new(
            "channel",
            "`channel` is missing",
            Some("set `channel`, for example `mail`, `microblog` or `websites`".into()),
        )),
        Some(c) if !channel_ok(c) => {
            let hint = crate::diag::suggest(c, DOCUMENTED_CHANNELS.iter().copied()).or_else(|| {
                Some("use a documented channel, or list it under `extra_channels`".into())
            });
            out.push(Violation::new(
                "channel",
                format!("unknown channel `{c}`"),
                hint,
            ));
        }
        _ => {}
    }
    channel
}

/// What a message shows: its texts are strings, a website article (not a `hack`) has a
/// title, a hack its `is_hacked`, flags are 1 or 0, and a hack's image is a URL.
fn check_content(body: &Fields, channel: Option<&str>, hack: bool, out: &mut Vec<Violation>) {
    for field in ["subject", "body", "title", "subtitle", "hacked_image"] {
        body.text(field, out);
    }

    if channel == Some("websites") && !hack {
        match body.get("title") {
            Some(Value::String(t)) if !t.trim().is_empty() => {}
            Some(Value::String(_)) => out.push(Violation::new(
                "title",
                "a website article needs a non-empty `title`",
                None,
            )),
            Some(_) => {}
            None => out.push(
                Violation::new(
                    "title",
                    "a website article needs a `title`",
                    Some("add `title`, or `is_hacked` if this is a website hack".into()),
                )
                .caused_by("channel"),
            ),
        }
    }
    if hack && !body.contains_key("is_hacked") {
        out.push(
            Violation::new(
                "is_hacked",
                "a website hack needs `is_hacked` (1 to hack, 0 to restore)",
                None,
            )
            .caused_by(if body.contains_key("hacked_image") {
                "hacked_image"
            } else {
                "show_details"
            }),
        );
    }
    for flag in FLAG_FIELDS {
        if let Some(v) = body.get(flag)
            && v.as_i64() != Some(0)
            && v.as_i64() != Some(1)
        {
            out.push(Violation::new(
                flag,
                format!("`{flag}` must be 1 or 0, found {}", show(v)),
                Some("write true/false or 1/0".into()),
            ));
        }
    }
    if let Some(url) = body.text("hacked_image", &mut Vec::new())
        && !is_http_url(&url)
    {
        out.push(Violation::new(
            "hacked_image",
            format!("`hacked_image` must be an http(s) URL, found `{url}`"),
            None,
        ));
    }
}

/// Whom a message is for: a `type` with what it needs (`team_id`, or `to` or
/// `player_email`), a numeric team id, and well-formed addresses.
fn check_recipients(body: &Fields, out: &mut Vec<Violation>) {
    let kind = body.text("type", out);
    match kind.as_deref() {
        None if !out.iter().any(|v| v.field == "type") => out.push(Violation::new(
            "type",
            "`type` is missing",
            Some("set `type: team` (with `team_id`) or `type: individual` (with `to` or `player_email`)".into()),
        )),
        Some("team") if !body.contains_key("team_id") => out.push(
            Violation::new("team_id", "a message of type `team` needs `team_id`", None)
                .caused_by("type"),
        ),
        Some("individual") if !body.contains_key("to") && !body.contains_key("player_email") => out.push(
            Violation::new("to", "a message of type `individual` needs `to` or `player_email`", None)
                .caused_by("type"),
        ),
        Some("team" | "individual") => {}
        Some(other) => out.push(Violation::new(
            "type",
            format!("`type` must be `individual` or `team`, found `{other}`"),
            crate::diag::suggest(other, RECIPIENT_TYPES.iter().copied()),
        )),
        None => {}
    }
    match body.get("team_id") {
        None => {}
        Some(Value::Number(n)) if n.as_u64().is_some() => {}
        Some(Value::String(s)) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {}
        Some(other) => out.push(Violation::new(
            "team_id",
            format!("`team_id` must be a numeric team id, found {}", show(other)),
            None,
        )),
    }
    for field in ["to", "player_email"] {
        if let Some(addr) = body.text(field, out) {
            check_addresses(field, &addr, false, out);
        }
    }
    for field in ADDRESS_LIST_FIELDS {
        if let Some(list) = body.text(field, out) {
            check_addresses(field, &list, true, out);
        }
    }
}

/// The rest of a message: its sentiment, its counts, its unix time `ts`, its assets.
fn check_details(body: &Fields, out: &mut Vec<Violation>) {
    if let Some(s) = body.text("sentiment", out)
        && !SENTIMENTS.contains(&s.as_str())
    {
        out.push(Violation::new(
            "sentiment",
            format!("`sentiment` must be positive, negative or neutral, found `{s}`"),
            crate::diag::suggest(&s, SENTIMENTS.iter().copied()),
        ));
    }
    for field in ["replies", "likes", "reposts"] {
        if let Some(v) = body.get(field)
            && v.as_u64().is_none()
        {
            out.push(Violation::new(
                field,
                format!(
                    "`{field}` must be a non-negative integer, found {}",
                    show(v)
                ),
                None,
            ));
        }
    }
    match body.get("ts") {
        None => out.push(Violation::new("ts", "`ts` is missing", None)),
        Some(v) if v.as_i64().is_none() => out.push(Violation::new(
            "ts",
            format!("`ts` must be an integer unix time, found {}", show(v)),
            None,
        )),
        _ => {}
    }
    if let Some(assets) = body.get("assets") {
        check_assets(assets, out);
    }
}

fn check_assets(assets: &Value, out: &mut Vec<Violation>) {
    let Some(list) = assets.as_array() else {
        out.push(Violation::new(
            "assets",
            format!("`assets` must be a list, found {}", json_kind(assets)),
            None,
        ));
        return;
    };
    for (i, asset) in list.iter().enumerate() {
        let n = i + 1;
        let Some(obj) = asset.as_object() else {
            out.push(Violation::new(
                "assets",
                format!("asset {n} must be a mapping with `type` and `assetUrl`"),
                None,
            ));
            continue;
        };
        match obj.get("type").and_then(Value::as_str) {
            Some(t) if ASSET_TYPES.contains(&t) => {}
            Some(t) => out.push(Violation::new(
                "assets",
                format!("asset {n}: `type` must be image, video, audio or document, found `{t}`"),
                crate::diag::suggest(t, ASSET_TYPES.iter().copied()),
            )),
            None => out.push(Violation::new(
                "assets",
                format!("asset {n}: `type` is missing or not a string"),
                None,
            )),
        }
        match obj.get("assetUrl").and_then(Value::as_str) {
            Some(u) if is_http_url(u) => {}
            Some(u) => out.push(Violation::new(
                "assets",
                format!("asset {n}: `assetUrl` must be an absolute http(s) URL, found `{u}`"),
                None,
            )),
            None => out.push(Violation::new(
                "assets",
                format!("asset {n}: `assetUrl` is missing or not a string"),
                None,
            )),
        }
        if let Some(alt) = obj.get("alt")
            && !alt.is_string()
        {
            out.push(Violation::new(
                "assets",
                format!("asset {n}: `alt` must be a string"),
                None,
            ));
        }
        for key in obj.keys() {
            if !["type", "assetUrl", "alt"].contains(&key.as_str()) {
                out.push(Violation::new(
                    "assets",
                    format!("asset {n}: unknown field `{key}`"),
                    crate::diag::suggest(key, ["type", "assetUrl", "alt"]),
                ));
            }
        }
    }
}

fn check_addresses(field: &str, value: &str, list: bool, out: &mut Vec<Violation>) {
    let parts: Vec<&str> = if list {
        value.split(',').map(str::trim).collect()
    } else {
        vec![value.trim()]
    };
    for part in parts {
        if !is_email(part) {
            let hint = if !list && value.contains(',') {
                Some(format!("`{field}` takes one address"))
            } else {
                None
            };
            out.push(Violation::new(
                field,
                format!("`{field}` has a malformed address `{part}`"),
                hint,
            ));
        }
    }
}

/// A plausible e-mail address: one `@`, a non-empty local part, a dotted domain, no spaces.
pub fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let labels_ok = domain.split('.').all(|l| {
        !l.is_empty()
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b >= 0x80)
    });
    !local.is_empty()
        && !s.chars().any(|c| c.is_whitespace() || c == '<' || c == '>')
        && !domain.contains('@')
        && domain.contains('.')
        && labels_ok
}

/// An absolute http or https URL with a host.
pub fn is_http_url(s: &str) -> bool {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"));
    match rest {
        Some(rest) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            !host.is_empty() && !s.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("`{s}`"),
        other => other.to_string(),
    }
}
