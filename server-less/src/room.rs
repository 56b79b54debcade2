//! Maps that others can grow are bounded: a full one forgets its oldest
//! entry to make room for a new one.

use std::collections::HashMap;
use std::hash::Hash;

/// Makes room for one more entry in `map` of at most `most`: when full,
/// the entry `age` ranks least (the oldest, the longest silent) goes.
pub(crate) fn make_room<K, V, A>(map: &mut HashMap<K, V>, most: usize, age: impl Fn(&V) -> A)
where
    K: Copy + Eq + Hash,
    A: Ord,
{
    if map.len() < most {
        return;
    }
    let oldest = map
        .iter()
        .min_by_key(|(_, value)| age(value))
        .map(|(key, _)| *key);
    if let Some(oldest) = oldest {
        map.remove(&oldest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_map_forgets_its_oldest_entry_and_only_then() {
        let mut ages: HashMap<u8, u32> = [(1, 30), (2, 10), (3, 20)].into();
        make_room(&mut ages, 4, |age| *age);
        assert_eq!(ages.len(), 3, "room left: nothing forgotten");
        make_room(&mut ages, 3, |age| *age);
        assert_eq!(ages.len(), 2);
        assert!(!ages.contains_key(&2), "the oldest goes");
        let mut empty: HashMap<u8, u32> = HashMap::new();
        make_room(&mut empty, 0, |age| *age);
        assert!(empty.is_empty());
    }
}
