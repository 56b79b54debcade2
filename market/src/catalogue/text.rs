//! Words for text search: lower-case runs of letters and digits.

/// Most words indexed for one listing.
pub(crate) const MAX_WORDS_PER_LISTING: usize = 64;
/// Most words a query may hold.
pub const MAX_QUERY_WORDS: usize = 8;
/// Longest word kept; longer runs are cut to this many characters.
const MAX_WORD_CHARS: usize = 32;
/// Query words shorter than this must match a whole word; longer ones
/// match the beginning of a word ("lam" finds "lamp").
pub(crate) const MIN_PREFIX_CHARS: usize = 2;

/// Words too common to find anything by: not indexed, and ignored in a
/// query.
const STOP_WORDS: [&str; 24] = [
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "in", "is", "it", "its",
    "of", "on", "or", "that", "the", "this", "to", "was", "with",
];

/// The distinct words of `texts` that are not stop words, in first-seen
/// order, at most `limit`.
pub(crate) fn words<'a>(texts: impl IntoIterator<Item = &'a str>, limit: usize) -> Vec<Box<str>> {
    split(Joiner::default().join(texts, limit))
        .map(Box::from)
        .collect()
}

/// Joins words: the distinct words of some texts in one string, each
/// followed by a space. It keeps its buffers from one call to the next,
/// so that indexing a listing allocates nothing but the words it keeps.
#[derive(Default)]
pub(crate) struct Joiner {
    out: String,
    /// Where each kept word starts in `out`, to find repeats without
    /// splitting `out` again.
    starts: Vec<usize>,
    /// Room for the word at hand.
    word: String,
    limit: usize,
}

impl Joiner {
    /// The words of `texts` that are not stop words, distinct, in
    /// first-seen order, at most `limit`, joined; valid until the next
    /// call.
    pub(crate) fn join<'a>(
        &mut self,
        texts: impl IntoIterator<Item = &'a str>,
        limit: usize,
    ) -> &str {
        self.out.clear();
        self.starts.clear();
        self.limit = limit;
        'texts: for text in texts {
            if text.is_ascii() {
                // Plain ASCII, the common case: runs found byte by byte.
                let bytes = text.as_bytes();
                let mut at = 0;
                while at < bytes.len() {
                    while at < bytes.len() && !bytes[at].is_ascii_alphanumeric() {
                        at += 1;
                    }
                    let start = at;
                    while at < bytes.len() && bytes[at].is_ascii_alphanumeric() {
                        at += 1;
                    }
                    let run = &bytes[start..at.min(start + MAX_WORD_CHARS)];
                    if !run.is_empty()
                        && !self.keep(run.iter().map(|b| char::from(b.to_ascii_lowercase())))
                    {
                        break 'texts;
                    }
                }
            } else {
                for run in text.split(|c: char| !c.is_alphanumeric()) {
                    if !run.is_empty()
                        && !self.keep(
                            run.chars()
                                .flat_map(char::to_lowercase)
                                .take(MAX_WORD_CHARS),
                        )
                    {
                        break 'texts;
                    }
                }
            }
        }
        &self.out
    }

    /// Keeps `word` (lower case) unless it is a stop word or a repeat;
    /// false once `limit` words are kept and the rest must be ignored.
    fn keep(&mut self, word: impl Iterator<Item = char>) -> bool {
        if self.starts.len() == self.limit {
            return false;
        }
        self.word.clear();
        self.word.extend(word);
        if is_stop_word(&self.word) {
            return true;
        }
        let (out, word) = (self.out.as_bytes(), self.word.as_bytes());
        let seen = self.starts.iter().any(|&start| {
            out[start..].starts_with(word) && out.get(start + word.len()) == Some(&b' ')
        });
        if !seen {
            self.starts.push(self.out.len());
            self.out.push_str(&self.word);
            self.out.push(' ');
        }
        true
    }
}

/// Whether `word` (lower case) is one of [`STOP_WORDS`].
fn is_stop_word(word: &str) -> bool {
    word.len() <= 4 && STOP_WORDS.contains(&word)
}

/// The words of a joined string.
pub(crate) fn split(joined: &str) -> impl Iterator<Item = &str> {
    joined.split(' ').filter(|word| !word.is_empty())
}

/// The value of a word that is a number written plainly: digits only,
/// no leading zero, at most 19 of them. Other words, "007" among them, are
/// kept as text.
pub(crate) fn number(word: &str) -> Option<u64> {
    let plain = !word.is_empty()
        && word.len() <= 19
        && word.bytes().all(|b| b.is_ascii_digit())
        && (word.len() == 1 || !word.starts_with('0'));
    plain.then(|| word.parse().ok()).flatten()
}

/// Whether a query word must match a whole word: a short word, or a
/// number ("12" does not find "1204"). Longer words match the beginning of
/// a word.
pub(crate) fn matches_whole(word: &str) -> bool {
    word.chars().count() < MIN_PREFIX_CHARS || word.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_lower_case_distinct_and_bounded() {
        let found = words(["Brass Lamp, brass-lamp!", "Ünïcode 42 of the"], 10);
        let found: Vec<&str> = found.iter().map(|w| &**w).collect();
        assert_eq!(found, ["brass", "lamp", "ünïcode", "42"]);
        assert_eq!(words(["a b c d"], 2).len(), 2);
        let found = words(["lamps lamp LAMPS", "lamp-lampshade"], 10);
        let found: Vec<&str> = found.iter().map(|w| &**w).collect();
        assert_eq!(found, ["lamps", "lamp", "lampshade"]);
        assert_eq!(number("4521"), Some(4521));
        assert_eq!(number("0"), Some(0));
        assert_eq!(number("007"), None);
        assert_eq!(number("12a"), None);
        assert_eq!(number("99999999999999999999"), None);
    }
}
