//! A scenario's values as a spreadsheet's cells hold them, and back: a cell's text as a
//! value, a value as a cell's text, the difference between what a row's columns give
//! and what the scenario wrote (the `Fields` cell), and a value as YAML text.

use serde_json::{Map, Value};

/// A value as a cell holds it: a string as it is (quoted as JSON only when it would
/// read back as something else: `"12"`, `"true"`), anything else as JSON.
pub fn cell_of(v: &Value) -> String {
    match v {
        Value::String(s) if serde_json::from_str::<Value>(s).is_ok() => {
            serde_json::to_string(s).unwrap_or_default()
        }
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A cell's text as a value: JSON where it reads as JSON, else the text.
pub fn value_of(cell: &str) -> Value {
    serde_json::from_str(cell).unwrap_or_else(|_| Value::String(cell.to_string()))
}

/// What `written` has that `derived` (what a row's columns give) lacks or gives
/// otherwise: mappings compared key by key, a key `derived` has and `written` lacks as
/// null. `merge(derived, diff(written, derived))` is `written`.
pub fn diff(written: &Map<String, Value>, derived: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, w) in written {
        match derived.get(k) {
            Some(d) if d == w => {}
            Some(Value::Object(d)) if w.is_object() => {
                let sub = diff(w.as_object().unwrap_or(&Map::new()), d);
                out.insert(k.clone(), Value::Object(sub));
            }
            _ => {
                out.insert(k.clone(), w.clone());
            }
        }
    }
    for k in derived.keys() {
        if !written.contains_key(k) {
            out.insert(k.clone(), Value::Null);
        }
    }
    out
}

/// `derived` with `fields` laid over it: a mapping merged key by key, a null removing
/// what the columns gave (or, where they gave nothing, kept as a null).
pub fn merge(derived: &mut Map<String, Value>, fields: Map<String, Value>) {
    for (k, f) in fields {
        match (derived.get_mut(&k), f) {
            (Some(_), Value::Null) => {
                derived.shift_remove(&k);
            }
            (Some(Value::Object(d)), Value::Object(f)) => merge(d, f),
            (_, f) => {
                derived.insert(k, f);
            }
        }
    }
}

/// A value as YAML flow text: strings double-quoted (JSON's quoting is YAML's),
/// mappings `{ key: value, ... }` with plain keys where they are words.
pub fn flow(v: &Value) -> String {
    match v {
        Value::String(s) => quote(s),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(flow).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(map) if map.is_empty() => "{}".into(),
        Value::Object(map) => format!(
            "{{ {} }}",
            map.iter()
                .map(|(k, v)| format!("{}: {}", key(k), flow(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

/// A mapping's key as YAML text: plain when it is a word, else quoted.
pub fn key(k: &str) -> String {
    if !k.is_empty()
        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !matches!(
            k,
            "null" | "true" | "false" | "y" | "n" | "yes" | "no" | "on" | "off"
        )
        && !k.starts_with(|c: char| c.is_ascii_digit())
    {
        k.to_string()
    } else {
        quote(k)
    }
}

/// Any text as a YAML double-quoted scalar (JSON strings are valid YAML).
pub fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// An offset as a MEL's Time cell holds it: `HH:MM:SS` (hours past 24 kept).
pub fn time_cell(d: std::time::Duration) -> String {
    crate::human::show_offset(d)
        .trim_start_matches("T+")
        .to_string()
}

/// A written offset (`5m`, `1h30m`, `01:30:00`) in the form a Time cell gives it back,
/// so that the two compare equal; anything else (an instant, a slip) as it is.
pub fn normal_offset(v: &Value) -> Value {
    match v {
        Value::String(s) => crate::scenario::parse_offset_str(s)
            .map_or_else(|_| v.clone(), |d| Value::String(time_cell(d))),
        _ => v.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_cell_reads_back_as_the_value_it_was_written_from() {
        for v in [
            json!("Portmere"),
            json!("12"),
            json!("true"),
            json!(""),
            json!(12),
            json!(2.5),
            json!(true),
            json!(null),
            json!([1, "a"]),
            json!({"a": {"b": [1]}}),
            json!("{{ city }}"),
            json!("[not json"),
        ] {
            assert_eq!(value_of(&cell_of(&v)), v, "{v}");
        }
    }

    #[test]
    fn merging_the_difference_gives_back_what_was_written() {
        let written = json!({"id": "a", "at": "00:05:00", "type": "individual", "notes": {"tag": "x", "extra": 1}, "team_id": null});
        let derived = json!({"id": "a", "at": "00:05:00", "type": "team", "notes": {"tag": "x"}, "persona": "p"});
        let (w, d) = (written.as_object().unwrap(), derived.as_object().unwrap());
        let fields = diff(w, d);
        assert_eq!(
            Value::Object(fields.clone()),
            json!({"type": "individual", "notes": {"extra": 1}, "team_id": null, "persona": null})
        );
        let mut back = d.clone();
        merge(&mut back, fields);
        assert_eq!(Value::Object(back), written);
    }

    #[test]
    fn offsets_compare_in_the_time_cells_form() {
        assert_eq!(normal_offset(&json!("1h30m")), json!("01:30:00"));
        assert_eq!(normal_offset(&json!("26h15m")), json!("26:15:00"));
        assert_eq!(normal_offset(&json!("1.5s")), json!("00:00:01.500"));
        assert_eq!(
            crate::scenario::parse_offset_str("26:15:00").unwrap(),
            std::time::Duration::from_secs(26 * 3600 + 15 * 60)
        );
        assert_eq!(
            normal_offset(&json!("2026-03-28T12:00:00Z")),
            json!("2026-03-28T12:00:00Z")
        );
    }

    #[test]
    fn flow_text_is_yaml_that_reads_back() {
        let v = json!({"id": "evac", "action": "Order \"now\"\nplease", "within": "00:15:00", "2x": [1, true, null], "null": "n"});
        let text = format!("k: {}\n", flow(&v));
        let node = crate::yaml::parse(&text).unwrap();
        assert_eq!(node.as_map().unwrap()[0].1.to_json(), v);
    }
}
