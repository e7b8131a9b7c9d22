//! Problems found in a scenario file, and how they are shown.
//!
//! Readers and checks push [`Diagnostic`]s into a [`Diagnostics`] list instead of
//! returning early, so that one `validate` reports every problem at once. Rendering is
//! miette's: file:line:column, the source line, a caret under the value, and a hint.

use std::fmt::Write as _;
use std::sync::Arc;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, Severity};
use serde::Serialize;

use crate::yaml::Pos;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Error,
    Warning,
}

/// One problem, pointing into a file.
#[derive(Clone, Debug, Serialize)]
pub struct Diagnostic {
    pub level: Level,
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    #[serde(skip)]
    pub pos: Pos,
}

/// The problems of one file, in the order found, with the file's text for rendering.
#[derive(Debug)]
pub struct Diagnostics {
    pub file: String,
    pub source: Arc<String>,
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn new(file: impl Into<String>, source: Arc<String>) -> Self {
        Diagnostics {
            file: file.into(),
            source,
            items: Vec::new(),
        }
    }

    pub fn error(&mut self, pos: Pos, message: impl Into<String>, hint: Option<String>) {
        self.push(Level::Error, pos, message.into(), hint);
    }

    pub fn warning(&mut self, pos: Pos, message: impl Into<String>, hint: Option<String>) {
        self.push(Level::Warning, pos, message.into(), hint);
    }

    fn push(&mut self, level: Level, pos: Pos, message: String, hint: Option<String>) {
        self.items.push(Diagnostic {
            level,
            file: self.file.clone(),
            line: pos.line.max(1) as usize,
            column: pos.column.max(1) as usize,
            message,
            hint,
            pos,
        });
    }

    pub fn error_count(&self) -> usize {
        self.items
            .iter()
            .filter(|d| d.level == Level::Error)
            .count()
    }

    pub fn warning_count(&self) -> usize {
        self.items.len() - self.error_count()
    }

    /// Errors first in file order, then warnings in file order.
    pub fn sort(&mut self) {
        self.items
            .sort_by_key(|d| (d.level == Level::Warning, d.pos.line, d.pos.column));
    }

    /// Render every item as text: position, source line, caret, hint.
    pub fn render(&self, color: bool) -> String {
        let theme = if color {
            GraphicalTheme::unicode()
        } else {
            GraphicalTheme::unicode_nocolor()
        };
        let handler = GraphicalReportHandler::new_themed(theme)
            .with_width(100)
            .with_links(false);
        let mut out = String::new();
        for item in &self.items {
            let report = Rendered {
                item,
                source: NamedSource::new(&self.file, self.source.clone()),
            };
            let _ = writeln!(out, "{}:{}:{}", item.file, item.line, item.column);
            if handler.render_report(&mut out, &report).is_err() {
                let _ = writeln!(out, "{}: {}", level_word(item.level), item.message);
            }
        }
        out
    }
}

fn level_word(level: Level) -> &'static str {
    match level {
        Level::Error => "error",
        Level::Warning => "warning",
    }
}

#[derive(Debug)]
struct Rendered<'a> {
    item: &'a Diagnostic,
    source: NamedSource<Arc<String>>,
}

impl std::fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.item.message)
    }
}

impl std::error::Error for Rendered<'_> {}

impl miette::Diagnostic for Rendered<'_> {
    fn severity(&self) -> Option<Severity> {
        Some(match self.item.level {
            Level::Error => Severity::Error,
            Level::Warning => Severity::Warning,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        self.item
            .hint
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn std::fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        if self.source.inner().is_empty() {
            None
        } else {
            Some(&self.source)
        }
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let len = self.source.inner().len();
        if len == 0 {
            return None;
        }
        let offset = (self.item.pos.offset as usize).min(len);
        let width = (self.item.pos.len as usize)
            .min(len - offset)
            .max(usize::from(offset < len));
        Some(Box::new(std::iter::once(LabeledSpan::new(
            Some("here".into()),
            offset,
            width,
        ))))
    }
}

/// The closest candidate to `word`, when close enough to be a likely typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let lower = word.to_lowercase();
    candidates
        .into_iter()
        .filter_map(|c| {
            let other = c.to_lowercase();
            let jw = strsim::jaro_winkler(&lower, &other);
            // Short words are poorly served by Jaro-Winkler: allow one edit per three letters.
            let edits = strsim::damerau_levenshtein(&lower, &other);
            let close = jw >= 0.8 || edits <= (lower.chars().count() / 3).max(1);
            close.then_some((jw - edits as f64, c))
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// "did you mean `x`?" when a candidate is close.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    did_you_mean(word, candidates).map(|c| format!("did you mean `{c}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_find_typos_and_ignore_strangers() {
        let fields = ["subject", "sentiment", "persona"];
        assert_eq!(did_you_mean("subjct", fields), Some("subject"));
        assert_eq!(did_you_mean("Persona", fields), Some("persona"));
        assert_eq!(did_you_mean("zzz", fields), None);
    }

    #[test]
    fn render_shows_position_source_line_and_hint() {
        let src = Arc::new("a: 1\nsubjct: hi\n".to_string());
        let mut d = Diagnostics::new("x.yaml", src);
        let pos = Pos {
            offset: 5,
            len: 6,
            line: 2,
            column: 1,
        };
        d.error(
            pos,
            "unknown field `subjct`",
            Some("did you mean `subject`?".into()),
        );
        let text = d.render(false);
        assert!(text.starts_with("x.yaml:2:1\n"), "{text}");
        assert!(text.contains("subjct: hi"), "{text}");
        assert!(text.contains("did you mean `subject`?"), "{text}");
    }
}
