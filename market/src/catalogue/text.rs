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

/// The distinct words of `texts`, in first-seen order, at most `limit`.
pub(crate) fn words<'a>(texts: impl IntoIterator<Item = &'a str>, limit: usize) -> Vec<Box<str>> {
    let mut out: Vec<Box<str>> = Vec::new();
    for text in texts {
        for word in split(text) {
            if out.len() == limit {
                return out;
            }
            if !out.iter().any(|seen| **seen == *word) {
                out.push(word.into_boxed_str());
            }
        }
    }
    out
}

fn split(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|run| !run.is_empty())
        .map(|run| {
            run.chars()
                .flat_map(char::to_lowercase)
                .take(MAX_WORD_CHARS)
                .collect()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_lower_case_distinct_and_bounded() {
        let found = words(["Brass Lamp, brass-lamp!", "Ünïcode 42"], 10);
        let found: Vec<&str> = found.iter().map(|w| &**w).collect();
        assert_eq!(found, ["brass", "lamp", "ünïcode", "42"]);
        assert_eq!(words(["a b c d"], 2).len(), 2);
    }
}
