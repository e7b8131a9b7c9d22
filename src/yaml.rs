//! A YAML document as a tree of spanned nodes.
//!
//! serde-saphyr's parser reads the text (with limits against alias bombs, deep nesting and
//! oversized input) into [`Node`]s that remember where each value stands in the file.
//! The scenario reader walks this tree itself, so that it can report every problem in
//! one pass with an exact position; serde's derive would stop at the first one.
//! This module knows nothing about scenarios.

use std::collections::HashMap;

use compact_str::CompactString;

use serde_saphyr::granit_parser::{Event, Marker, ParseResult, Parser, ScalarStyle, Span, Tag};

/// Files larger than this are refused before parsing.
pub const MAX_FILE_BYTES: usize = 48 * 1024 * 1024;

/// Where a value stands in its file: byte offset and length, 1-based line and column.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pos {
    pub offset: u32,
    pub len: u32,
    pub line: u32,
    pub column: u32,
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
    /// Inline up to 24 bytes: most scalars of a scenario (keys, ids, times, names)
    /// take no allocation of their own.
    Str(CompactString),
    /// Sized exactly (a large scenario holds hundreds of thousands of these at once).
    Seq(Box<[Node]>),
    /// Keys and values in file order.
    Map(Box<[(Node, Node)]>),
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
            Value::Str(s) => J::String(s.to_string()),
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
            Value::Str(s) => s.to_string(),
            Value::Seq(_) | Value::Map(_) => String::new(),
        }
    }
}

/// A YAML syntax (or limit) error at a position.
#[derive(Debug, Clone)]
pub struct SyntaxError {
    pub message: String,
    pub pos: Option<Pos>,
}

/// Deepest nesting of lists and mappings accepted.
pub const MAX_DEPTH: usize = 64;
/// Most nodes a document may hold.
pub const MAX_NODES: usize = 5_000_000;
/// Most nodes that aliases may add by expansion (alias bombs stop here).
pub const MAX_ALIAS_NODES: usize = 1_000_000;

/// Parse one YAML document into a tree of nodes.
///
/// The tree is built from the events of serde-saphyr's own parser (granit-parser),
/// iteratively, with limits on depth and on the nodes that aliases expand to.
/// (serde-saphyr's `Spanned<T>` deserializer path ran at about 9 MB/s here, too slow
/// for the 100,000-inject goal; its event parser runs at about 35 MB/s.)
/// Plain scalars are typed by the YAML 1.2 core schema, except that numbers with
/// leading zeros stay strings; quoted scalars are always strings.
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
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
    Builder::new(text).run()
}

/// A collection being built: where it starts, its anchor, and where its items start
/// in the builder's stack of items (or entries), with a mapping's pending key.
enum Open {
    Seq(Pos, usize, usize),
    Map(Pos, usize, usize, Option<Node>),
}

struct Builder<'a> {
    text: &'a str,
    stack: Vec<Open>,
    /// The items of the open sequences and the entries of the open mappings, innermost
    /// last: each collection is moved out, sized exactly, when it ends.
    items: Vec<Node>,
    entries: Vec<(Node, Node)>,
    anchors: HashMap<usize, (Node, usize)>,
    nodes: usize,
    alias_nodes: usize,
    root: Option<Node>,
    documents: usize,
    /// (char index, byte offset) of the last position converted, for inputs whose
    /// markers carry no byte offsets.
    cursor: (usize, usize),
    /// For each open mapping past [`SCAN_KEYS`] entries (by its depth in `stack`): its
    /// keys, to the index of their entry, so that finding a duplicate stays linear.
    key_index: HashMap<usize, foldhash::HashMap<KeyId, usize>>,
}

/// Up to this many entries a mapping's keys are compared one by one; past it, hashed.
const SCAN_KEYS: usize = 16;

/// A scalar key as [`Value`]'s equality sees it, hashable.
#[derive(Hash, PartialEq, Eq)]
enum KeyId {
    Null,
    Bool(bool),
    Int(i64),
    Float(u64),
    Str(CompactString),
}

impl KeyId {
    /// `None` for a key no other equals (NaN) or that is not a scalar.
    fn of(v: &Value) -> Option<KeyId> {
        Some(match v {
            Value::Null => KeyId::Null,
            Value::Bool(b) => KeyId::Bool(*b),
            Value::Int(i) => KeyId::Int(*i),
            Value::Float(f) if f.is_nan() => return None,
            // 0.0 == -0.0.
            Value::Float(f) => KeyId::Float(if *f == 0.0 { 0 } else { f.to_bits() }),
            Value::Str(s) => KeyId::Str(s.clone()),
            Value::Seq(_) | Value::Map(_) => return None,
        })
    }
}

/// A mapping's entries with its merge keys (`<<: *block`, `<<: [*a, *b]`) taken in, as
/// other YAML tools do: each merged mapping's entries that the mapping does not write
/// itself, the first merged first, after its own; merged entries keep where they were
/// written (the anchored block), for messages.
fn merged(entries: Vec<(Node, Node)>) -> Result<Vec<(Node, Node)>, SyntaxError> {
    if !entries.iter().any(|(k, _)| k.as_str() == Some("<<")) {
        return Ok(entries);
    }
    let (merges, mut own): (Vec<_>, Vec<_>) = entries
        .into_iter()
        .partition(|(k, _)| k.as_str() == Some("<<"));
    let refused = |at: &Node, found: &str| SyntaxError {
        message: format!(
            "a merge key `<<` takes a mapping or a list of mappings (`<<: *block`, `<<: [*a, *b]`), found {found}"
        ),
        pos: Some(at.pos),
    };
    for (_, value) in merges {
        let sources: Vec<Node> = match &value.value {
            Value::Map(_) => vec![value],
            // Said at the merge key's value (an alias's own place), not in the block.
            Value::Seq(items) => match items.iter().find(|i| !matches!(i.value, Value::Map(_))) {
                Some(bad) => {
                    return Err(refused(&value, &format!("a list holding {}", bad.kind())));
                }
                None => items.to_vec(),
            },
            _ => return Err(refused(&value, value.kind())),
        };
        for source in sources {
            let Value::Map(from) = source.value else {
                continue;
            };
            for (k, v) in from.into_vec() {
                if !own.iter().any(|(o, _)| o.value == k.value) {
                    own.push((k, v));
                }
            }
        }
    }
    Ok(own)
}

impl<'a> Builder<'a> {
    fn new(text: &'a str) -> Self {
        Builder {
            text,
            stack: Vec::new(),
            items: Vec::new(),
            entries: Vec::new(),
            anchors: HashMap::new(),
            nodes: 0,
            alias_nodes: 0,
            root: None,
            documents: 0,
            cursor: (0, 0),
            key_index: HashMap::new(),
        }
    }

    fn byte_of(&mut self, m: &Marker) -> usize {
        if let Some(b) = m.byte_offset() {
            return b;
        }
        let chars = m.index();
        if chars < self.cursor.0 {
            self.cursor = (0, 0);
        }
        let (mut c, mut b) = self.cursor;
        for ch in self.text[b..].chars() {
            if c == chars {
                break;
            }
            c += 1;
            b += ch.len_utf8();
        }
        self.cursor = (c, b);
        b
    }

    fn pos(&mut self, span: &Span) -> Pos {
        let offset = self.byte_of(&span.start);
        let end = self.byte_of(&span.end).max(offset);
        Pos {
            offset: offset as u32,
            len: (end - offset) as u32,
            line: span.start.line() as u32,
            column: span.start.col() as u32 + 1,
        }
    }

    fn fail(&mut self, message: impl Into<String>, span: &Span) -> SyntaxError {
        SyntaxError {
            message: message.into(),
            pos: Some(self.pos(span)),
        }
    }

    fn run(mut self) -> Result<Node, SyntaxError> {
        // The parser runs on a thread of its own, handing over events in batches, while
        // this one builds the tree: the two take about four fifths and one fifth of the
        // time. A bounded channel keeps it at most a few batches ahead; when the tree is
        // refused (a limit), the receiver goes and the parser stops at its next batch.
        const BATCH: usize = 4096;
        let text = self.text;
        std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<ParseResult<'_>>>(4);
            scope.spawn(move || {
                let mut parser = Parser::new_from_str(text);
                let mut batch = Vec::with_capacity(BATCH);
                while let Some(event) = parser.next_event() {
                    let failed = event.is_err();
                    batch.push(event);
                    if failed || batch.len() == BATCH {
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                        if tx.send(full).is_err() || failed {
                            return;
                        }
                    }
                }
                let _ = tx.send(batch);
            });
            for batch in rx {
                for event in batch {
                    self.event(event)?;
                }
            }
            Ok(())
        })?;
        Ok(self.root.unwrap_or(Node {
            value: Value::Null,
            pos: Pos {
                line: 1,
                column: 1,
                ..Pos::default()
            },
        }))
    }

    /// Take one event of the parser into the tree.
    fn event(&mut self, event: ParseResult<'_>) -> Result<(), SyntaxError> {
        let (event, span) = event.map_err(|e| {
            let m = e.marker();
            let pos = Pos {
                offset: self.byte_of(m) as u32,
                len: 0,
                line: m.line() as u32,
                column: m.col() as u32 + 1,
            };
            SyntaxError {
                message: e.info(),
                pos: Some(pos),
            }
        })?;
        match event {
            Event::DocumentStart(..) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(self.fail(
                        "a scenario is one YAML document; this file has more (`---`)",
                        &span,
                    ));
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                let pos = self.pos(&span);
                let value = scalar(text, style, tag.as_deref());
                self.finish(Node { value, pos }, anchor, 1, &span)?;
            }
            Event::SequenceStart(_, anchor, _) => {
                self.open(&span)?;
                let pos = self.pos(&span);
                self.stack.push(Open::Seq(pos, anchor, self.items.len()));
            }
            Event::MappingStart(_, anchor, _) => {
                self.open(&span)?;
                let pos = self.pos(&span);
                self.stack
                    .push(Open::Map(pos, anchor, self.entries.len(), None));
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let node = match self.stack.pop() {
                    Some(Open::Seq(pos, anchor, start)) => (
                        Node {
                            value: Value::Seq(self.items.drain(start..).collect()),
                            pos,
                        },
                        anchor,
                    ),
                    Some(Open::Map(pos, anchor, start, _)) => {
                        self.key_index.remove(&(self.stack.len() + 1));
                        let entries: Vec<(Node, Node)> = self.entries.drain(start..).collect();
                        (
                            Node {
                                value: Value::Map(merged(entries)?.into_boxed_slice()),
                                pos,
                            },
                            anchor,
                        )
                    }
                    None => return Err(self.fail("unbalanced YAML structure", &span)),
                };
                let (node, anchor) = node;
                self.finish(node, anchor, 0, &span)?;
            }
            Event::Alias(id) => {
                let Some(count) = self.anchors.get(&id).map(|(_, c)| *c) else {
                    return Err(self.fail("an alias refers to an unknown anchor", &span));
                };
                // Count before copying: an alias bomb is refused before it explodes.
                self.alias_nodes += count;
                self.nodes += count;
                if self.alias_nodes > MAX_ALIAS_NODES || self.nodes > MAX_NODES {
                    return Err(self.fail(
                        format!("aliases expand this document beyond {MAX_ALIAS_NODES} nodes"),
                        &span,
                    ));
                }
                let node = self.anchors[&id].0.clone();
                let pos = self.pos(&span);
                let node = Node { pos, ..node };
                self.place(node, &span)?;
            }
            Event::UnresolvedAlias(name) => {
                return Err(self.fail(format!("unknown anchor `{name}`"), &span));
            }
            _ => {}
        }
        Ok(())
    }

    fn open(&mut self, span: &Span) -> Result<(), SyntaxError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(self.fail(format!("nesting deeper than {MAX_DEPTH} levels"), span));
        }
        Ok(())
    }

    /// A complete node: count it, remember its anchor, place it in its parent.
    fn finish(
        &mut self,
        node: Node,
        anchor: usize,
        own: usize,
        span: &Span,
    ) -> Result<(), SyntaxError> {
        self.nodes += own.max(1);
        if self.nodes > MAX_NODES {
            return Err(self.fail(
                format!("the document has more than {MAX_NODES} nodes"),
                span,
            ));
        }
        if anchor != 0 {
            let count = count_nodes(&node);
            self.anchors.insert(anchor, (node.clone(), count));
        }
        self.place(node, span)
    }

    fn place(&mut self, node: Node, span: &Span) -> Result<(), SyntaxError> {
        match self.stack.last_mut() {
            None => {
                self.root = Some(node);
                Ok(())
            }
            Some(Open::Seq(..)) => {
                self.items.push(node);
                Ok(())
            }
            Some(Open::Map(_, _, start, key)) => match key.take() {
                None => {
                    *key = Some(node);
                    Ok(())
                }
                Some(k) => {
                    if !matches!(k.value, Value::Seq(_) | Value::Map(_)) {
                        let start = *start;
                        let first = if self.entries.len() - start < SCAN_KEYS {
                            self.entries[start..]
                                .iter()
                                .find(|(e, _)| e.value == k.value)
                                .map(|(e, _)| e.pos.line)
                        } else {
                            let entries = &self.entries;
                            let index =
                                self.key_index.entry(self.stack.len()).or_insert_with(|| {
                                    entries[start..]
                                        .iter()
                                        .enumerate()
                                        .filter_map(|(i, (e, _))| {
                                            Some((KeyId::of(&e.value)?, start + i))
                                        })
                                        .collect()
                                });
                            match KeyId::of(&k.value) {
                                Some(id) => match index.get(&id) {
                                    Some(&i) => Some(entries[i].0.pos.line),
                                    None => {
                                        index.insert(id, entries.len());
                                        None
                                    }
                                },
                                None => None,
                            }
                        };
                        if let Some(line) = first {
                            let text = k.scalar_text();
                            let merge = if text == "<<" {
                                ": merge several blocks with one key, `<<: [*a, *b]`"
                            } else {
                                ""
                            };
                            return Err(SyntaxError {
                                message: format!(
                                    "duplicate key `{text}` (first on line {line}){merge}"
                                ),
                                pos: Some(k.pos),
                            });
                        }
                    }
                    let _ = span;
                    self.entries.push((k, node));
                    Ok(())
                }
            },
        }
    }
}

fn count_nodes(node: &Node) -> usize {
    match &node.value {
        Value::Seq(items) => 1 + items.iter().map(count_nodes).sum::<usize>(),
        Value::Map(entries) => {
            1 + entries
                .iter()
                .map(|(k, v)| count_nodes(k) + count_nodes(v))
                .sum::<usize>()
        }
        _ => 1,
    }
}

/// Type a scalar by the YAML 1.2 core schema (quoted and block scalars are strings).
fn scalar(cow: std::borrow::Cow<'_, str>, style: ScalarStyle, tag: Option<&Tag>) -> Value {
    let text: &str = &cow;
    if style != ScalarStyle::Plain || tag.is_some_and(|t| t.suffix() == "str") {
        return Value::Str(CompactString::from(cow));
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        // `0755` and `007` stay text: ids and codes, not octal numbers.
        if digits.len() > 1 && digits.starts_with('0') {
            return Value::Str(CompactString::from(text));
        }
        return text
            .parse::<i64>()
            .map_or_else(|_| Value::Str(CompactString::from(text)), Value::Int);
    }
    if let Some(hex) = text.strip_prefix("0x") {
        if let Ok(i) = i64::from_str_radix(hex, 16) {
            return Value::Int(i);
        }
    } else if let Some(oct) = text.strip_prefix("0o")
        && let Ok(i) = i64::from_str_radix(oct, 8)
    {
        return Value::Int(i);
    }
    let floaty = digits.bytes().any(|b| b == b'.' || b == b'e' || b == b'E')
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
        && digits
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_digit() || b == b'.');
    if floaty && let Ok(f) = text.parse::<f64>() {
        return Value::Float(f);
    }
    Value::Str(CompactString::from(text))
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
        assert_eq!(&text[items[0].pos.offset as usize..][..1], "x");
        assert_eq!(items[1].value, Value::Str("5".into()));
        assert_eq!(map[0].1.value, Value::Int(1));
    }

    #[test]
    fn merge_keys_take_what_the_mapping_does_not_write_itself() {
        let text = "x-a: &a { p: 1, q: 2 }\nx-b: &b { q: 3, r: 4 }\nm:\n  <<: [*a, *b]\n  p: 9\none: { <<: *a }\n";
        let node = parse(text).unwrap();
        let map = node.as_map().unwrap();
        let get = |m: &Node, k: &str| {
            m.as_map()
                .unwrap()
                .iter()
                .find(|(key, _)| key.as_str() == Some(k))
                .map(|(_, v)| v.value.clone())
        };
        let m = &map[2].1;
        // Its own `p` stands; `q` from the first merged; `r` from the second; no `<<`.
        assert_eq!(get(m, "p"), Some(Value::Int(9)));
        assert_eq!(get(m, "q"), Some(Value::Int(2)));
        assert_eq!(get(m, "r"), Some(Value::Int(4)));
        assert_eq!(get(m, "<<"), None);
        assert_eq!(get(&map[3].1, "q"), Some(Value::Int(2)));
        // A merged entry says where it was written: the anchored block.
        let (k, _) = m
            .as_map()
            .unwrap()
            .iter()
            .find(|(k, _)| k.as_str() == Some("r"))
            .unwrap();
        assert_eq!(k.pos.line, 2);
        // A list of strings merged: said at the merge key's value, not in the block.
        let err = parse("x-t: &t [a, b]\nm:\n  <<: *t\n").unwrap_err();
        assert!(
            err.message.contains("found a list holding a string"),
            "{err:?}"
        );
        assert_eq!(err.pos.map(|p| p.line), Some(3));
        let err = parse("m:\n  <<: 5\n").unwrap_err();
        assert!(
            err.message.contains("a merge key `<<` takes a mapping"),
            "{err:?}"
        );
        assert_eq!(err.pos.map(|p| (p.line, p.column)), Some((2, 7)));
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
    fn core_schema_scalars() {
        let node =
            parse("a: [1, -2, 1.5, 1e3, 0x1F, true, null, ~, '1', \"true\", 1_000, abc, .inf]\n")
                .unwrap();
        let Value::Seq(items) = &node.as_map().unwrap()[0].1.value else {
            panic!()
        };
        let v: Vec<&Value> = items.iter().map(|n| &n.value).collect();
        assert_eq!(v[0], &Value::Int(1));
        assert_eq!(v[1], &Value::Int(-2));
        assert_eq!(v[2], &Value::Float(1.5));
        assert_eq!(v[3], &Value::Float(1000.0));
        assert_eq!(v[4], &Value::Int(31));
        assert_eq!(v[5], &Value::Bool(true));
        assert_eq!(v[6], &Value::Null);
        assert_eq!(v[7], &Value::Null);
        assert_eq!(v[8], &Value::Str("1".into()));
        assert_eq!(v[9], &Value::Str("true".into()));
        assert_eq!(v[10], &Value::Str("1_000".into()));
        assert_eq!(v[11], &Value::Str("abc".into()));
        assert_eq!(v[12], &Value::Float(f64::INFINITY));
    }

    #[test]
    fn anchors_and_aliases_expand() {
        let node = parse("base: &b {x: 1}\nother: *b\n").unwrap();
        let m = node.as_map().unwrap();
        assert_eq!(m[1].1.as_map().unwrap()[0].1.value, Value::Int(1));
        assert_eq!(m[1].1.pos.line, 2);
    }

    #[test]
    fn duplicate_keys_and_multiple_documents_are_refused() {
        let err = parse("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert!(
            err.message.contains("duplicate key `a` (first on line 1)"),
            "{}",
            err.message
        );
        assert_eq!(err.pos.unwrap().line, 3);
        assert!(parse("a: 1\n---\nb: 2\n").is_err());
    }

    #[test]
    fn byte_offsets_after_multibyte_text() {
        let text = "name: Quickstart — flood\nx: héllo\n";
        let node = parse(text).unwrap();
        let v = &node.as_map().unwrap()[1].1;
        assert_eq!(
            &text[v.pos.offset as usize..(v.pos.offset + v.pos.len) as usize],
            "héllo"
        );
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
