//! A YAML document as a tree of spanned nodes.
//!
//! serde-saphyr parses the text (with budgets against alias bombs, deep nesting and
//! oversized input) into [`Node`]s that remember where each value stands in the file.
//! The scenario reader walks this tree itself, so that it can report every problem in
//! one pass with an exact position; serde's derive would stop at the first one.
//! This module knows nothing about scenarios.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// Files larger than this are refused before parsing.
pub const MAX_FILE_BYTES: usize = 48 * 1024 * 1024;

/// Where a value stands in its file: byte offset and length, 1-based line and column.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pos {
    pub offset: usize,
    pub len: usize,
    pub line: usize,
    pub column: usize,
}

impl Pos {
    fn from_location(loc: &serde_saphyr::Location) -> Self {
        let span = loc.span();
        Pos {
            offset: span.byte_offset().unwrap_or(0) as usize,
            len: span.byte_len().unwrap_or(0) as usize,
            line: loc.line() as usize,
            column: loc.column() as usize,
        }
    }
}

/// A YAML value with its position.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub value: Value,
    pub pos: Pos,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Keys and values in file order.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// A short name of the value's kind, for "expected X, found Y" messages.
    pub fn kind(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The entries of a mapping, or `None`.
    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// Plain JSON of this value (positions dropped).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Str(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.scalar_text(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// The text of a scalar, as a map key would be written.
    pub fn scalar_text(&self) -> String {
        match &self.value {
            Value::Null => "null".into(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Str(s) => s.clone(),
            Value::Seq(_) | Value::Map(_) => String::new(),
        }
    }
}

/// A YAML syntax (or budget) error at a position.
#[derive(Debug, Clone)]
pub struct SyntaxError {
    pub message: String,
    pub pos: Option<Pos>,
}

/// Parse one YAML document into a tree of nodes.
///
/// Parsing recurses once per nesting level (up to the budget's 64) through serde's
/// frames, which in a debug build can outgrow a 2 MiB thread stack; it runs on a
/// thread of its own with room to spare.
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("yaml-parse".into())
            .stack_size(PARSE_STACK)
            .spawn_scoped(scope, || parse_here(text))
            .map(|h| h.join())
    })
    .map_err(|e| SyntaxError { message: format!("cannot start the parser thread: {e}"), pos: None })?
    .unwrap_or_else(|_| Err(SyntaxError { message: "the YAML parser failed".into(), pos: None }))
}

const PARSE_STACK: usize = 256 * 1024 * 1024;

fn parse_here(text: &str) -> Result<Node, SyntaxError> {
    if text.len() > MAX_FILE_BYTES {
        return Err(SyntaxError {
            message: format!(
                "the file is {} bytes; the limit is {} MiB",
                text.len(),
                MAX_FILE_BYTES / (1024 * 1024)
            ),
            pos: None,
        });
    }
    let mut budget = serde_saphyr::Budget::default();
    // A 100,000-inject scenario has a few million events and nodes; the defaults
    // (1M events, 250k nodes) are sized for configuration files.
    budget.max_events = 40_000_000;
    budget.max_nodes = 10_000_000;
    budget.max_depth = 64;
    budget.flow_nesting_limit = 64;
    budget.max_aliases = 10_000;
    budget.max_anchors = 10_000;
    budget.max_recorded_anchor_events = 100_000;
    budget.max_recorded_anchor_bytes = 4 * 1024 * 1024;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options.with_snippet = false;
    options.strict_booleans = true;
    options.leading_zero_numbers_as_strings = true;
    options.emit_comments = false;
    match serde_saphyr::from_str_with_options::<Option<Node>>(text, options) {
        Ok(Some(node)) => Ok(node),
        Ok(None) => Ok(Node {
            value: Value::Null,
            pos: Pos {
                line: 1,
                column: 1,
                ..Pos::default()
            },
        }),
        Err(err) => {
            let pos = err.location().map(|l| Pos::from_location(&l));
            let inner = err.without_snippet();
            let mut message = inner.to_string();
            // The library appends " at line X column Y"; we print positions ourselves.
            if let Some(i) = message.find(" at line ") {
                message.truncate(i);
            }
            Err(SyntaxError { message, pos })
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<Value>::deserialize(deserializer)?;
        Ok(Node {
            pos: Pos::from_location(&spanned.referenced),
            value: spanned.value,
        })
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::Float(v as f64), Value::Int))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::Float(v as f64), Value::Int))
    }
    fn visit_u128<E>(self, v: u128) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::Float(v as f64), Value::Int))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Str(String::from_utf8_lossy(v).into_owned()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Value::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
        while let Some((k, v)) = map.next_entry::<Node, Node>()? {
            entries.push((k, v));
        }
        Ok(Value::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_lines_and_columns_with_byte_offsets() {
        let text = "a: 1\nb:\n  - x\n  - \"5\"\n";
        let node = parse(text).unwrap();
        let map = node.as_map().unwrap();
        let (k, v) = &map[1];
        assert_eq!(k.as_str(), Some("b"));
        assert_eq!((k.pos.line, k.pos.column), (2, 1));
        let Value::Seq(items) = &v.value else {
            panic!("{v:?}")
        };
        assert_eq!(items[0].as_str(), Some("x"));
        assert_eq!((items[0].pos.line, items[0].pos.column), (3, 5));
        assert_eq!(&text[items[0].pos.offset..][..1], "x");
        assert_eq!(items[1].value, Value::Str("5".into()));
        assert_eq!(map[0].1.value, Value::Int(1));
    }

    #[test]
    fn clock_times_and_leading_zeros_stay_strings() {
        let node = parse("a: 01:30:00\nb: 0755\nc: yes\n").unwrap();
        let m = node.as_map().unwrap();
        assert_eq!(m[0].1.value, Value::Str("01:30:00".into()));
        assert_eq!(m[1].1.value, Value::Str("0755".into()));
        assert_eq!(m[2].1.value, Value::Str("yes".into()));
    }

    #[test]
    fn syntax_error_has_a_position() {
        let err = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.pos.is_some(), "{err:?}");
        assert!(!err.message.contains(" at line "), "{}", err.message);
    }

    #[test]
    fn alias_bomb_is_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let started = std::time::Instant::now();
        assert!(parse(&text).is_err());
        assert!(started.elapsed().as_secs() < 5);
    }

    #[test]
    fn deep_nesting_is_refused() {
        let text = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(parse(&text).is_err());
        let text: String = (0..5000)
            .map(|i| format!("{}k:\n", " ".repeat(i)))
            .collect();
        assert!(parse(&text).is_err());
    }
}
