//! Problems found in a scenario file, and how they are shown.
//!
//! Readers and checks push [`Diagnostic`]s into a [`Diagnostics`] list instead of
//! returning early, so that one `validate` reports every problem at once. Rendering is
//! miette's: file:line:column, the source line, a caret under the value, and a hint.

use std::fmt::Write as _;
use std::sync::Arc;

use miette::{
    GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError, MietteSpanContents,
    NamedSource, Severity, SourceCode, SourceSpan, SpanContents,
};
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
    /// Each problem said, by where and what: one written once in a block that several
    /// injects merge (`<<: *block`) is said once.
    said: std::collections::HashSet<(u32, u64)>,
}

impl Diagnostics {
    pub fn new(file: impl Into<String>, source: Arc<String>) -> Self {
        Diagnostics {
            file: file.into(),
            source,
            items: Vec::new(),
            said: std::collections::HashSet::new(),
        }
    }

    pub fn error(&mut self, pos: Pos, message: impl Into<String>, hint: Option<String>) {
        self.push(Level::Error, pos, message.into(), hint);
    }

    pub fn warning(&mut self, pos: Pos, message: impl Into<String>, hint: Option<String>) {
        self.push(Level::Warning, pos, message.into(), hint);
    }

    fn push(&mut self, level: Level, pos: Pos, message: String, hint: Option<String>) {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        message.hash(&mut h);
        if !self.said.insert((pos.offset, h.finish())) {
            return;
        }
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
                message: clip(&item.message),
                hint: item.hint.as_deref().map(clip),
                source: Shown::of(&self.file, &self.source, item.pos),
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

/// A message or hint as shown: at most this many characters (a long alias or value
/// quoted in it is cut, with a marker).
const SHOWN_TEXT: usize = 400;
/// A source line longer than this is shown as a window around the problem.
const LONG_LINE: usize = 240;

fn clip(text: &str) -> String {
    if text.chars().count() <= SHOWN_TEXT {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(SHOWN_TEXT).collect();
    cut.push_str("… (cut)");
    cut
}

#[derive(Debug)]
struct Rendered<'a> {
    item: &'a Diagnostic,
    message: String,
    hint: Option<String>,
    source: Shown,
}

/// The source a diagnostic shows: the whole file, or for a very long line, a window of
/// that line around the problem (`…` where it was cut), so that output stays small and
/// the renderer never meets a line wider than it can lay out.
#[derive(Debug)]
enum Shown {
    File(NamedSource<Arc<String>>),
    Window {
        name: String,
        text: String,
        /// The window's line in the file, 0-based.
        line: usize,
        /// How many bytes of the line the window leaves out before it, less its marker's
        /// (miette counts columns in bytes), so that columns are the file's.
        column: usize,
        /// The problem's place in the window.
        offset: usize,
        len: usize,
    },
}

impl Shown {
    fn of(file: &str, source: &Arc<String>, pos: Pos) -> Shown {
        let text = source.as_str();
        let at = (pos.offset as usize).min(text.len());
        let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
        let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
        if end - start <= LONG_LINE {
            return Shown::File(NamedSource::new(file, source.clone()));
        }
        let floor = |mut i: usize| {
            while !text.is_char_boundary(i) {
                i -= 1;
            }
            i
        };
        let from = floor(at.saturating_sub(LONG_LINE / 2).max(start));
        let len = (pos.len as usize).min(end - at).min(LONG_LINE / 2);
        let to = floor((at + len + LONG_LINE / 2).min(end)).max(at);
        let lead = if from > start { "…" } else { "" };
        let tail = if to < end { "…" } else { "" };
        Shown::Window {
            name: file.to_string(),
            text: format!("{lead}{}{tail}", &text[from..to]),
            line: pos.line.saturating_sub(1) as usize,
            column: (from - start).saturating_sub(lead.len()),
            offset: lead.len() + at - from,
            len: floor((at + len).min(to)) - at,
        }
    }
}

impl SourceCode for Shown {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        match self {
            Shown::File(source) => source.read_span(span, before, after),
            Shown::Window {
                name,
                text,
                line,
                column,
                ..
            } => {
                let inner = text.read_span(span, before, after)?;
                Ok(Box::new(MietteSpanContents::new_named(
                    name.clone(),
                    inner.data(),
                    *inner.span(),
                    inner.line() + line,
                    inner.column() + column,
                    inner.line_count(),
                )))
            }
        }
    }
}

impl std::fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
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
        self.hint
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn std::fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        match &self.source {
            Shown::File(source) if source.inner().is_empty() => None,
            _ => Some(&self.source),
        }
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let (offset, width) = match &self.source {
            Shown::File(source) => {
                let len = source.inner().len();
                if len == 0 {
                    return None;
                }
                let offset = (self.item.pos.offset as usize).min(len);
                let width = (self.item.pos.len as usize)
                    .min(len - offset)
                    .max(usize::from(offset < len));
                (offset, width)
            }
            Shown::Window { offset, len, .. } => (*offset, (*len).max(1)),
        };
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
    // Edit distances cost the product of the lengths: past this, no typo is likely anyway.
    const LONGEST: usize = 100;
    if word.len() > LONGEST {
        return None;
    }
    let lower = word.to_lowercase();
    candidates
        .into_iter()
        .filter(|c| c.len() <= LONGEST)
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

    #[test]
    fn a_very_long_line_is_shown_as_a_window_with_markers() {
        let long = "é".repeat(50_000);
        let src = Arc::new(format!("a: 1\nb: {long}x{long}\nc: 2\n"));
        let mut d = Diagnostics::new("x.yaml", src.clone());
        let offset = src.find('x').unwrap() as u32;
        let pos = Pos {
            offset,
            len: 1,
            line: 2,
            column: 50_004,
        };
        d.error(pos, format!("bad `{long}`"), Some(long.clone()));
        let text = d.render(false);
        assert!(text.starts_with("x.yaml:2:50004\n"), "{}", &text[..200]);
        assert!(text.len() < 4_000, "cut: {} bytes", text.len());
        assert!(text.contains("…é") && text.contains("é…"), "{text}");
        assert!(text.contains(" 2 │"), "the file's line number: {text}");
        assert!(text.contains("(cut)"), "{text}");
    }
}
