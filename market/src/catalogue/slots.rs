//! Sets of slots: a few slots held in place, then a hash set, then a
//! bitmap once large, so that a word every listing has costs one bit per
//! listing, a word one listing has costs no allocation, and adding or
//! removing a listing stays one memory touch.

use foldhash::{HashSet, HashSetExt};

/// Up to this many slots are held in place, with no allocation.
const FEW: usize = 8;
/// Above this many slots a set becomes a bitmap.
const DENSE_ABOVE: usize = 2048;
/// Below this many slots a bitmap becomes a hash set again.
const SPARSE_BELOW: usize = 512;

/// A set of slot numbers.
#[derive(Clone, Debug)]
pub(crate) enum SlotSet {
    Few { len: u8, slots: [u32; FEW] },
    Sparse(HashSet<u32>),
    Dense { bits: Vec<u64>, len: usize },
}

impl Default for SlotSet {
    fn default() -> Self {
        SlotSet::Few {
            len: 0,
            slots: [0; FEW],
        }
    }
}

impl SlotSet {
    pub(crate) fn len(&self) -> usize {
        match self {
            SlotSet::Few { len, .. } => usize::from(*len),
            SlotSet::Sparse(set) => set.len(),
            SlotSet::Dense { len, .. } => *len,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn contains(&self, slot: u32) -> bool {
        match self {
            SlotSet::Few { len, slots } => slots[..usize::from(*len)].contains(&slot),
            SlotSet::Sparse(set) => set.contains(&slot),
            SlotSet::Dense { bits, .. } => bits
                .get(slot as usize / 64)
                .is_some_and(|word| word & (1 << (slot % 64)) != 0),
        }
    }

    pub(crate) fn insert(&mut self, slot: u32) {
        match self {
            SlotSet::Few { len, slots } => {
                let held = usize::from(*len);
                if slots[..held].contains(&slot) {
                    return;
                }
                if held < FEW {
                    slots[held] = slot;
                    *len += 1;
                } else {
                    let mut set = HashSet::with_capacity(2 * FEW);
                    set.extend(slots.iter().copied());
                    set.insert(slot);
                    *self = SlotSet::Sparse(set);
                }
            }
            SlotSet::Sparse(set) => {
                set.insert(slot);
                if set.len() > DENSE_ABOVE {
                    let mut bits = Vec::new();
                    for slot in set.iter() {
                        set_bit(&mut bits, *slot);
                    }
                    *self = SlotSet::Dense {
                        bits,
                        len: set.len(),
                    };
                }
            }
            SlotSet::Dense { bits, len } => {
                if set_bit(bits, slot) {
                    *len += 1;
                }
            }
        }
    }

    pub(crate) fn remove(&mut self, slot: u32) {
        match self {
            SlotSet::Few { len, slots } => {
                let held = usize::from(*len);
                if let Some(at) = slots[..held].iter().position(|held| *held == slot) {
                    slots[at] = slots[held - 1];
                    *len -= 1;
                }
            }
            SlotSet::Sparse(set) => {
                set.remove(&slot);
            }
            SlotSet::Dense { bits, len } => {
                let Some(word) = bits.get_mut(slot as usize / 64) else {
                    return;
                };
                let bit = 1 << (slot % 64);
                if *word & bit != 0 {
                    *word &= !bit;
                    *len -= 1;
                    if *len < SPARSE_BELOW {
                        let mut set = HashSet::with_capacity(*len);
                        visit_bits(bits, false, &mut |slot| {
                            set.insert(slot);
                        });
                        *self = SlotSet::Sparse(set);
                    }
                }
            }
        }
    }

    /// Calls `visit` with every slot: a bitmap's in ascending or
    /// descending order, a hash set's in no particular order.
    pub(crate) fn visit(&self, descending: bool, visit: &mut impl FnMut(u32)) {
        match self {
            SlotSet::Few { len, slots } => {
                slots[..usize::from(*len)].iter().copied().for_each(visit)
            }
            SlotSet::Sparse(set) => set.iter().copied().for_each(visit),
            SlotSet::Dense { bits, .. } => visit_bits(bits, descending, visit),
        }
    }

    /// Sets the bit of every slot in `bits`, which covers every slot.
    pub(crate) fn or_into(&self, bits: &mut [u64]) {
        match self {
            SlotSet::Few { len, slots } => set_bits(bits, &slots[..usize::from(*len)]),
            SlotSet::Sparse(set) => set_bits(bits, set),
            SlotSet::Dense { bits: mine, .. } => {
                for (word, more) in bits.iter_mut().zip(mine) {
                    *word |= *more;
                }
            }
        }
    }
}

/// Calls `visit` with the number of every set bit of `bits`, ascending or
/// descending.
pub(crate) fn visit_bits(bits: &[u64], descending: bool, visit: &mut impl FnMut(u32)) {
    if descending {
        for (index, word) in bits.iter().enumerate().rev() {
            let mut word = *word;
            while word != 0 {
                let bit = 63 - word.leading_zeros();
                word &= !(1 << bit);
                visit(index as u32 * 64 + bit);
            }
        }
    } else {
        for (index, word) in bits.iter().enumerate() {
            let mut word = *word;
            while word != 0 {
                let bit = word.trailing_zeros();
                word &= word - 1;
                visit(index as u32 * 64 + bit);
            }
        }
    }
}

/// Sets the bit of every slot of `slots` that `bits` covers.
fn set_bits<'a>(bits: &mut [u64], slots: impl IntoIterator<Item = &'a u32>) {
    for slot in slots {
        if let Some(word) = bits.get_mut(*slot as usize / 64) {
            *word |= 1 << (slot % 64);
        }
    }
}

/// Sets bit `slot`; whether it was clear.
fn set_bit(bits: &mut Vec<u64>, slot: u32) -> bool {
    let index = slot as usize / 64;
    if bits.len() <= index {
        bits.resize(index + 1, 0);
    }
    let bit = 1 << (slot % 64);
    let was_clear = bits[index] & bit == 0;
    bits[index] |= bit;
    was_clear
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_few_slots_are_held_in_place_until_there_are_more() {
        let mut set = SlotSet::default();
        for slot in [7, 3, 7, 11] {
            set.insert(slot);
        }
        assert!(matches!(set, SlotSet::Few { len: 3, .. }));
        set.remove(3);
        set.remove(99);
        assert_eq!(set.len(), 2);
        assert!(set.contains(7) && set.contains(11) && !set.contains(3));
        for slot in 100..110 {
            set.insert(slot);
        }
        assert!(matches!(set, SlotSet::Sparse(_)));
        assert_eq!(set.len(), 12);
        let mut members = Vec::new();
        set.visit(false, &mut |slot| members.push(slot));
        members.sort_unstable();
        let expected: Vec<u32> = [7, 11].into_iter().chain(100..110).collect();
        assert_eq!(members, expected);
    }

    #[test]
    fn a_set_keeps_its_members_as_it_grows_dense_and_shrinks_back() {
        let mut set = SlotSet::default();
        let mut model = std::collections::BTreeSet::new();
        for i in 0..5_000u32 {
            let slot = i.wrapping_mul(2_654_435_761) % 20_000;
            set.insert(slot);
            model.insert(slot);
        }
        assert!(matches!(set, SlotSet::Dense { .. }));
        assert_eq!(set.len(), model.len());
        let mut members = Vec::new();
        set.visit(true, &mut |slot| members.push(slot));
        members.sort_unstable();
        assert_eq!(members, model.iter().copied().collect::<Vec<_>>());
        let all: Vec<u32> = model.iter().copied().collect();
        for slot in &all[..all.len() - 100] {
            set.remove(*slot);
            model.remove(slot);
            assert!(!set.contains(*slot));
        }
        assert!(matches!(set, SlotSet::Sparse(_)));
        assert_eq!(set.len(), 100);
        assert!(model.iter().all(|slot| set.contains(*slot)));
        set.remove(19_999_999);
        assert_eq!(set.len(), 100);
    }
}
