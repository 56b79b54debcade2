//! The hash maps the ledger keeps in memory.

use std::collections::{HashMap, HashSet};

/// foldhash with a random seed per map: quick on the short keys the ledger
/// uses (addresses, ids, key hashes), and, being seeded, not steerable by
/// whoever chooses those keys.
pub(crate) type Hasher = foldhash::fast::RandomState;

/// A hash map keyed by ledger identifiers.
pub(crate) type FastMap<K, V> = HashMap<K, V, Hasher>;

/// A hash set of ledger identifiers.
pub(crate) type FastSet<K> = HashSet<K, Hasher>;
