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
    let mut out: Vec<Box<str>> = Vec::new();
    let mut word = String::new();
    for text in texts {
        for run in text.split(|c: char| !c.is_alphanumeric()) {
            if run.is_empty() {
                continue;
            }
            if out.len() == limit {
                return out;
            }
            word.clear();
            if run.is_ascii() {
                let cut = &run.as_bytes()[..run.len().min(MAX_WORD_CHARS)];
                word.extend(cut.iter().map(|b| char::from(b.to_ascii_lowercase())));
            } else {
                word.extend(
                    run.chars()
                        .flat_map(char::to_lowercase)
                        .take(MAX_WORD_CHARS),
                );
            }
            if !STOP_WORDS.contains(&word.as_str()) && !out.iter().any(|seen| **seen == *word) {
                out.push(word.as_str().into());
            }
        }
    }
    out
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
    }
}
