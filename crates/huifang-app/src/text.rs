//! Risk signals read in Chinese free text (`huifang signals test`): the text is cut into words
//! by jieba (jieba-rs, its dictionary with the lexicon's terms added as words) and read by the
//! core's [`huifang_core::text::read`] with the lexicon held as data (`data/lexicon.json`:
//! the terms of each signal with their confidence, the negators and their window, hedges, other
//! people, exclusions, resolutions, question particles).

use std::sync::OnceLock;

use huifang_core::text::{self, Lexicon, Term, TextSignal};
use jieba_rs::Jieba;
use serde::Deserialize;

use crate::AppError;

/// The lexicon shipped with Huifang.
const LEXICON: &str = include_str!("../data/lexicon.json");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LexiconDoc {
    negation_window: usize,
    negators: Vec<String>,
    hedges: Vec<String>,
    others: Vec<String>,
    exclusions: Vec<String>,
    resolutions: Vec<String>,
    question_particles: Vec<String>,
    terms: Vec<TermsDoc>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TermsDoc {
    kind: String,
    confidence: u8,
    words: Vec<String>,
}

/// Reads a lexicon document (JSON), checked by the core; the error names the field.
pub fn lexicon_from_text(doc: &str) -> Result<Lexicon, AppError> {
    let d: LexiconDoc =
        serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(doc))
            .map_err(|e| AppError::Invalid(format!("lexicon: {}: {}", e.path(), e.inner())))?;
    let lexicon = Lexicon {
        terms: d
            .terms
            .into_iter()
            .flat_map(|t| {
                t.words.into_iter().map(move |w| Term {
                    text: w,
                    kind: t.kind.clone(),
                    confidence: t.confidence,
                })
            })
            .collect(),
        negators: d.negators,
        negation_window: d.negation_window,
        hedges: d.hedges,
        others: d.others,
        exclusions: d.exclusions,
        resolutions: d.resolutions,
        question_particles: d.question_particles,
    };
    text::check(&lexicon).map_err(|e| AppError::Invalid(format!("lexicon: {e}")))?;
    Ok(lexicon)
}

/// The reader: the lexicon and a tokenizer that keeps each of its words whole.
pub struct Reader {
    lexicon: Lexicon,
    jieba: Jieba,
}

impl Reader {
    /// A reader of `lexicon`: jieba's dictionary learns its terms, negators, hedges and
    /// exclusions as words, so that each is cut as one.
    pub fn new(lexicon: Lexicon) -> Reader {
        let mut jieba = Jieba::new();
        let words = lexicon
            .terms
            .iter()
            .map(|t| t.text.as_str())
            .chain(lexicon.negators.iter().map(String::as_str))
            .chain(lexicon.hedges.iter().map(String::as_str))
            .chain(lexicon.others.iter().map(String::as_str))
            .chain(lexicon.exclusions.iter().map(String::as_str))
            .chain(lexicon.resolutions.iter().map(String::as_str));
        for w in words {
            jieba.add_word(w, None, None);
        }
        Reader { lexicon, jieba }
    }

    /// The words a text is cut into.
    pub fn words<'a>(&self, text: &'a str) -> Vec<&'a str> {
        self.jieba
            .cut(text, true)
            .into_iter()
            .map(|t| t.word)
            .collect()
    }

    /// The signals a text yields.
    pub fn read(&self, text: &str) -> Vec<TextSignal> {
        text::read(&self.lexicon, &self.words(text))
    }
}

/// The reader of the lexicon shipped with Huifang, made once per process (jieba's dictionary
/// takes a moment to load).
pub fn reader() -> &'static Reader {
    static READER: OnceLock<Reader> = OnceLock::new();
    READER.get_or_init(|| {
        // the shipped lexicon is checked by the tests
        let lexicon = lexicon_from_text(LEXICON).unwrap_or_default();
        Reader::new(lexicon)
    })
}

/// The signals a text yields with the shipped lexicon.
pub fn read(text: &str) -> Vec<TextSignal> {
    reader().read(text)
}

/// The signals a text yields, as recorded: (kind, value), the value naming where the text came
/// from (`source`: "notes", "sms reply", …), the words that fired and the confidence.
pub fn read_as(source: &str, text: &str) -> Vec<(String, String)> {
    read(text)
        .into_iter()
        .map(|s| {
            let value = format!("{source}: {} ({}%)", s.words.join(", "), s.confidence);
            (s.kind, value)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_shipped_lexicon_is_valid() {
        let l = super::lexicon_from_text(super::LEXICON).unwrap();
        assert!(l.terms.len() > 100);
        assert!(super::lexicon_from_text("{\"terms\": 3}").is_err());
    }
}
