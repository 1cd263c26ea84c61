//! Risk signals read in free Chinese text — agents' notes, borrowers' SMS and WeChat replies,
//! IVR transcripts — by a lexicon held as data, over the text cut into words by a tokenizer (the
//! caller's: the core does no segmentation of its own).
//!
//! A text is read clause by clause (split at punctuation and at 但是 / 不过 / 可是). In a clause a
//! term of the lexicon counts where it starts and ends on word boundaries, so that a word that
//! merely contains it (失业保险) does not fire it. It does not count when:
//! - a negator stands before it in the clause within the lexicon's window (没有失业, 不是不想还);
//! - a hedge stands before it in the clause (万一失业, 如果住院: not a fact);
//! - someone else is named before it in the clause (邻居住院了);
//! - the clause is a question (是否失业？, 失业了吗);
//! - an exclusion of the lexicon covers it (住院部, 抵押贷款);
//! - the text says later that it is over (…现在已经缓过来了, …已经放出来了).
//!
//! Each signal carries the words that fired it and the confidence the lexicon gives its term.

/// A term of the lexicon and the signal it reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub text: String,
    pub kind: String,
    /// How sure the term makes the reading, in percent.
    pub confidence: u8,
}

/// The lexicon: what each signal's terms are, and what cancels them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lexicon {
    pub terms: Vec<Term>,
    /// Words that deny what follows them in the clause (没有, 不是, 并未 …).
    pub negators: Vec<String>,
    /// How many words before a term a negator still denies it.
    pub negation_window: usize,
    /// Words that make what follows a supposition, not a fact (万一, 如果, 担心 …).
    pub hedges: Vec<String>,
    /// Words naming someone other than the borrower and their household (邻居, 朋友, 新闻 …).
    pub others: Vec<String>,
    /// Words that contain a term without meaning it (失业保险, 住院部 …).
    pub exclusions: Vec<String>,
    /// Words saying that what came before is over (缓过来, 出院, 放出来 …).
    pub resolutions: Vec<String>,
    /// Words ending a clause as a question (吗, 么 …), besides a question mark.
    pub question_particles: Vec<String>,
}

/// A risk signal read in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextSignal {
    pub kind: String,
    /// The terms that fired it, in the order read.
    pub words: Vec<String>,
    /// The highest confidence of its terms, in percent.
    pub confidence: u8,
}

/// What ends a clause.
fn is_break(word: &str) -> bool {
    const BREAKS: [&str; 4] = ["但是", "不过", "可是", "然而"];
    BREAKS.contains(&word)
        || word.chars().all(|c| {
            matches!(
                c,
                '，' | '。'
                    | '！'
                    | '？'
                    | '；'
                    | '、'
                    | ','
                    | '.'
                    | '!'
                    | '?'
                    | ';'
                    | '\n'
                    | '…'
                    | '~'
                    | '～'
            )
        }) && !word.is_empty()
        || word.trim().is_empty()
}

fn is_question_mark(word: &str) -> bool {
    word.contains('？') || word.contains('?')
}

/// One clause: its words (no punctuation) and whether it asks.
struct Clause<'a> {
    words: Vec<&'a str>,
    asks: bool,
}

fn clauses<'a>(words: &[&'a str], lexicon: &Lexicon) -> Vec<Clause<'a>> {
    let mut out = Vec::new();
    let mut current: Vec<&'a str> = Vec::new();
    let close = |current: &mut Vec<&'a str>, asked: bool, out: &mut Vec<Clause<'a>>| {
        if current.is_empty() {
            return;
        }
        let particle = current
            .last()
            .is_some_and(|w| lexicon.question_particles.iter().any(|p| p == w));
        out.push(Clause {
            words: std::mem::take(current),
            asks: asked || particle,
        });
    };
    for w in words {
        if is_break(w) {
            close(&mut current, is_question_mark(w), &mut out);
        } else {
            current.push(w);
        }
    }
    close(&mut current, false, &mut out);
    out
}

/// Whether any of `list` is among `words`.
fn any_of(list: &[String], words: &[&str]) -> bool {
    words.iter().any(|w| list.iter().any(|l| l == w))
}

/// Reads the signals of a text cut into words (`words` in order, punctuation included as the
/// tokenizer gives it). Signals come in the order their first term is read.
pub fn read(lexicon: &Lexicon, words: &[&str]) -> Vec<TextSignal> {
    let mut found: Vec<TextSignal> = Vec::new();
    let all = clauses(words, lexicon);
    for (n, clause) in all.iter().enumerate() {
        if clause.asks {
            continue;
        }
        // a later clause (or this one) says it is over: nothing of this clause counts
        let over = all
            .get(n..)
            .unwrap_or_default()
            .iter()
            .any(|c| any_of(&lexicon.resolutions, &c.words));
        if over {
            continue;
        }
        // the clause's text and where each word starts and ends in it
        let mut text = String::new();
        let mut starts = Vec::with_capacity(clause.words.len() + 1);
        for w in &clause.words {
            starts.push(text.len());
            text.push_str(w);
        }
        starts.push(text.len());
        let word_at = |offset: usize| starts.iter().position(|s| *s == offset);
        let excluded: Vec<(usize, usize)> = lexicon
            .exclusions
            .iter()
            .flat_map(|x| {
                text.match_indices(x.as_str())
                    .map(|(at, m)| (at, at + m.len()))
            })
            .collect();
        for term in &lexicon.terms {
            for (at, m) in text.match_indices(term.text.as_str()) {
                let end = at + m.len();
                let (Some(first), Some(_)) = (word_at(at), word_at(end)) else {
                    continue; // inside a longer word
                };
                if excluded.iter().any(|(s, e)| at < *e && *s < end) {
                    continue;
                }
                let before = clause.words.get(..first).unwrap_or_default();
                let near = before
                    .get(before.len().saturating_sub(lexicon.negation_window)..)
                    .unwrap_or_default();
                if any_of(&lexicon.negators, near)
                    || any_of(&lexicon.hedges, before)
                    || any_of(&lexicon.others, before)
                {
                    continue;
                }
                match found.iter_mut().find(|s| s.kind == term.kind) {
                    Some(s) => {
                        if !s.words.contains(&term.text) {
                            s.words.push(term.text.clone());
                        }
                        s.confidence = s.confidence.max(term.confidence);
                    }
                    None => found.push(TextSignal {
                        kind: term.kind.clone(),
                        words: vec![term.text.clone()],
                        confidence: term.confidence,
                    }),
                }
            }
        }
    }
    found
}

/// Checks a lexicon before it is used: terms with a text and a kind named as signals are
/// (a–z, 0–9, _), confidences within 1–100, a window of one word at least. The error names the
/// field (`terms[3].kind: …`).
pub fn check(lexicon: &Lexicon) -> Result<(), String> {
    if lexicon.terms.is_empty() {
        return Err("terms: a lexicon has one term at least".into());
    }
    if lexicon.negation_window == 0 {
        return Err("negation_window: one word at least".into());
    }
    for (i, t) in lexicon.terms.iter().enumerate() {
        if t.text.trim().is_empty() {
            return Err(format!("terms[{i}].text: a term has a text"));
        }
        if !crate::followup::identifier(&t.kind) {
            return Err(format!(
                "terms[{i}].kind: {:?} is not a signal's name (a-z, 0-9, _)",
                t.kind
            ));
        }
        if !(1..=100).contains(&t.confidence) {
            return Err(format!(
                "terms[{i}].confidence: {} is not within 1 to 100",
                t.confidence
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lexicon() -> Lexicon {
        let term = |text: &str, kind: &str| Term {
            text: text.into(),
            kind: kind.into(),
            confidence: 90,
        };
        Lexicon {
            terms: vec![
                term("失业", "job_loss"),
                term("没钱", "hardship"),
                term("不想还", "unwilling_to_pay"),
                term("住院", "serious_illness"),
            ],
            negators: vec!["没有".into(), "不是".into(), "没".into()],
            negation_window: 2,
            hedges: vec!["万一".into()],
            others: vec!["邻居".into()],
            exclusions: vec!["住院部".into()],
            resolutions: vec!["出院".into()],
            question_particles: vec!["吗".into()],
        }
    }

    fn kinds(words: &[&str]) -> Vec<String> {
        read(&lexicon(), words)
            .into_iter()
            .map(|s| s.kind)
            .collect()
    }

    #[test]
    fn terms_count_on_word_boundaries_unless_cancelled() {
        assert_eq!(kinds(&["我", "失业", "了"]), ["job_loss"]);
        // inside a longer word
        assert!(kinds(&["交", "失业保险"]).is_empty());
        // denied, supposed, someone else's, asked, excluded
        assert!(kinds(&["我", "没有", "失业"]).is_empty());
        assert!(kinds(&["万一", "以后", "失业", "了"]).is_empty());
        assert!(kinds(&["邻居", "住院", "了"]).is_empty());
        assert!(kinds(&["你", "失业", "了", "吗"]).is_empty());
        assert!(kinds(&["是否", "失业", "？"]).is_empty());
        assert!(kinds(&["去", "住院", "部", "办手续"]).is_empty());
        // the negator denies only its own clause
        assert_eq!(
            kinds(&["不是", "不想还", "，", "是", "真", "没钱"]),
            ["hardship"]
        );
        // a negator too far back no longer denies
        assert_eq!(
            kinds(&["没", "想到", "这么", "快", "就", "失业"]),
            ["job_loss"]
        );
        // over by the end of the text
        assert!(kinds(&["上周", "住院", "了", "，", "昨天", "出院", "了"]).is_empty());
        let s = read(&lexicon(), &["失业", "了", "，", "又", "失业"]);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].words, ["失业"]);
    }

    #[test]
    fn a_lexicon_is_checked_naming_the_field() {
        assert_eq!(check(&lexicon()), Ok(()));
        let mut l = lexicon();
        l.terms[1].kind = "Hardship".into();
        assert!(check(&l).unwrap_err().starts_with("terms[1].kind"));
        let mut l = lexicon();
        l.terms[0].confidence = 0;
        assert!(check(&l).unwrap_err().starts_with("terms[0].confidence"));
        let mut l = lexicon();
        l.negation_window = 0;
        assert!(check(&l).is_err());
    }
}
