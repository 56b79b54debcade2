//! The state tree: a sparse, 16-ary Merkle radix tree over 32-byte key
//! hashes, versioned by block height, in the manner of Diem's Jellyfish
//! Merkle tree.
//!
//! A subtree holding one key is just that key's leaf, so the tree is as
//! deep as the keys' hashes need to tell them apart (about log16 of the
//! number of keys). Nodes are immutable: a block writes new nodes along
//! the paths it changes, stored under (version, path), and every older
//! version stays readable, which is what lets a host prove state at any
//! committed height. Leaves carry the record itself, so the leaf store is
//! also the history of every record.
//!
//! Hashes (blake3):
//! - leaf: `H(0x00 ‖ key hash ‖ H(value))`
//! - internal node: `H(0x01 ‖ bitmap (u16, little-endian) ‖ child hashes in
//!   nibble order)`.

use std::sync::Arc;

use borsh::{BorshDeserialize, BorshSerialize};

use crate::error::LedgerError;

/// A state key, hashed.
pub type KeyHash = [u8; 32];
/// A node's hash.
pub type NodeHash = [u8; 32];
/// A tree version: the height of the block that wrote it.
pub type Version = u64;

const LEAF_TAG: u8 = 0x00;
const INTERNAL_TAG: u8 = 0x01;
/// Nibbles in a key hash, so the deepest possible path.
const MAX_DEPTH: usize = 64;

/// The path from the root to a node: a sequence of nibbles.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct NibblePath {
    bytes: [u8; 32],
    len: u8,
}

impl NibblePath {
    /// The root's path.
    pub const ROOT: NibblePath = NibblePath {
        bytes: [0; 32],
        len: 0,
    };

    /// Number of nibbles.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether this is the root's path, which has no nibbles.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The path one level down, through `nibble`.
    fn child(&self, nibble: u8) -> NibblePath {
        let mut next = *self;
        let index = self.len();
        let byte = &mut next.bytes[index / 2];
        if index.is_multiple_of(2) {
            *byte = nibble << 4;
        } else {
            *byte |= nibble & 0x0f;
        }
        next.len += 1;
        next
    }

    /// The bytes that name a node at this path: length, then the packed
    /// nibbles.
    pub fn to_key_bytes(&self, out: &mut Vec<u8>) {
        out.push(self.len);
        out.extend_from_slice(&self.bytes[..self.len().div_ceil(2)]);
    }
}

/// The nibble of `key` at `depth`.
fn nibble(key: &KeyHash, depth: usize) -> u8 {
    let byte = key[depth / 2];
    if depth.is_multiple_of(2) {
        byte >> 4
    } else {
        byte & 0x0f
    }
}

/// A reference from an internal node to one of its children.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Child {
    /// The child's hash.
    pub hash: NodeHash,
    /// The version that wrote the child.
    pub version: Version,
    /// For a leaf, its key hash; `None` for an internal node.
    pub leaf: Option<KeyHash>,
}

/// A node with up to sixteen children.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct InternalNode {
    bitmap: u16,
    children: Vec<Child>,
}

impl InternalNode {
    fn from_slots(slots: &[Option<Child>; 16]) -> Self {
        let mut bitmap = 0u16;
        let mut children = Vec::with_capacity(16);
        for (index, slot) in slots.iter().enumerate() {
            if let Some(child) = slot {
                bitmap |= 1 << index;
                children.push(*child);
            }
        }
        InternalNode { bitmap, children }
    }

    fn slots(&self) -> [Option<Child>; 16] {
        let mut slots = [None; 16];
        let mut children = self.children.iter();
        for (index, slot) in slots.iter_mut().enumerate() {
            if self.bitmap & (1 << index) != 0 {
                *slot = children.next().copied();
            }
        }
        slots
    }

    /// The child under `nibble`, if any.
    pub fn child(&self, nibble: u8) -> Option<&Child> {
        let bit = 1u16 << nibble;
        if self.bitmap & bit == 0 {
            return None;
        }
        let before = (self.bitmap & (bit - 1)).count_ones() as usize;
        self.children.get(before)
    }

    /// The node's hash.
    pub fn hash(&self) -> NodeHash {
        internal_hash(self.bitmap, self.children.iter().map(|child| &child.hash))
    }

    /// Reads a stored node, checking it is well formed.
    ///
    /// The stored form is the child bitmap and the leaf bitmap (u16,
    /// little-endian), then per child its hash, the version that wrote it
    /// (LEB128) and, for a leaf, its key hash.
    pub fn decode(bytes: &[u8]) -> Result<Self, LedgerError> {
        let corrupt = |what: &str| LedgerError::Corrupt(format!("tree node: {what}"));
        let mut input = bytes;
        let mut take = |n: usize| -> Result<&[u8], LedgerError> {
            if input.len() < n {
                return Err(corrupt("truncated"));
            }
            let (head, rest) = input.split_at(n);
            input = rest;
            Ok(head)
        };
        let bitmap = u16::from_le_bytes(take(2)?.try_into().expect("two bytes"));
        let leaves = u16::from_le_bytes(take(2)?.try_into().expect("two bytes"));
        if bitmap == 0 || leaves & !bitmap != 0 {
            return Err(corrupt("its bitmaps disagree"));
        }
        let mut children = Vec::with_capacity(bitmap.count_ones() as usize);
        for index in 0..16u16 {
            if bitmap & (1 << index) == 0 {
                continue;
            }
            let hash: NodeHash = take(32)?.try_into().expect("32 bytes");
            let mut version: u64 = 0;
            let mut shift = 0u32;
            loop {
                let byte = take(1)?[0];
                if shift == 63 && byte > 1 {
                    return Err(corrupt("a version overflows"));
                }
                version |= u64::from(byte & 0x7f) << shift;
                if byte & 0x80 == 0 {
                    break;
                }
                shift += 7;
                if shift > 63 {
                    return Err(corrupt("a version overflows"));
                }
            }
            let leaf = if leaves & (1 << index) != 0 {
                Some(take(32)?.try_into().expect("32 bytes"))
            } else {
                None
            };
            children.push(Child {
                hash,
                version,
                leaf,
            });
        }
        if !input.is_empty() {
            return Err(corrupt("trailing bytes"));
        }
        Ok(InternalNode { bitmap, children })
    }

    /// Appends the stored form (see [`InternalNode::decode`]) to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let mut leaves = 0u16;
        let mut present = self.bitmap;
        for child in &self.children {
            let index = present.trailing_zeros();
            present &= present - 1;
            if child.leaf.is_some() {
                leaves |= 1 << index;
            }
        }
        out.extend_from_slice(&self.bitmap.to_le_bytes());
        out.extend_from_slice(&leaves.to_le_bytes());
        for child in &self.children {
            out.extend_from_slice(&child.hash);
            let mut version = child.version;
            while version >= 0x80 {
                out.push((version as u8) | 0x80);
                version >>= 7;
            }
            out.push(version as u8);
            if let Some(key) = &child.leaf {
                out.extend_from_slice(key);
            }
        }
    }

    /// The stored form.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + self.children.len() * 74);
        self.encode_into(&mut out);
        out
    }
}

fn internal_hash<'a>(bitmap: u16, children: impl Iterator<Item = &'a NodeHash>) -> NodeHash {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&[INTERNAL_TAG]);
    hasher.update(&bitmap.to_le_bytes());
    for hash in children {
        hasher.update(hash);
    }
    *hasher.finalize().as_bytes()
}

/// The hash of the leaf holding `value` under `key`.
pub fn leaf_hash(key: &KeyHash, value: &[u8]) -> NodeHash {
    let value_hash = blake3::hash(value);
    let mut hasher = blake3::Hasher::new();
    hasher.update(&[LEAF_TAG]);
    hasher.update(key);
    hasher.update(value_hash.as_bytes());
    *hasher.finalize().as_bytes()
}

/// Where the tree's nodes are read from.
pub trait NodeSource: Sync {
    /// The internal node written at `version` under `path`.
    fn internal_node(
        &self,
        version: Version,
        path: &NibblePath,
    ) -> Result<Option<Arc<InternalNode>>, LedgerError>;
}

/// What one version adds to the tree.
#[derive(Debug, Default)]
pub struct TreeUpdate {
    /// The new root hash.
    pub root: NodeHash,
    /// New internal nodes, the root among them.
    pub nodes: Vec<(NibblePath, InternalNode)>,
}

/// Writes `changes` (sorted by key hash, each key once) on top of the tree
/// at `previous` and returns the nodes of version `version`. Leaves are
/// stored by the caller under (key hash, `version`).
pub fn update<S: NodeSource>(
    source: &S,
    previous: Option<Version>,
    version: Version,
    changes: &[(KeyHash, NodeHash)],
) -> Result<TreeUpdate, LedgerError> {
    if changes.windows(2).any(|pair| pair[0].0 >= pair[1].0) {
        return Err(LedgerError::Corrupt(
            "tree changes are not sorted and unique".into(),
        ));
    }
    if previous.is_none() && changes.is_empty() {
        return Err(LedgerError::Corrupt(
            "the state tree cannot start empty".into(),
        ));
    }
    let root = match previous {
        Some(previous) => Some(
            source
                .internal_node(previous, &NibblePath::ROOT)?
                .ok_or_else(|| {
                    LedgerError::Corrupt(format!("state tree has no root at version {previous}"))
                })?,
        ),
        None => None,
    };
    let updates: Vec<(KeyHash, Child)> = changes
        .iter()
        .map(|(key, hash)| {
            (
                *key,
                Child {
                    hash: *hash,
                    version,
                    leaf: Some(*key),
                },
            )
        })
        .collect();

    // The root's sixteen subtrees are independent: the upper eight are
    // updated on a second thread while this one does the lower eight.
    let mut slots = root.as_deref().map_or([None; 16], InternalNode::slots);
    let groups = group_by_nibble(&updates, 0);
    let (low, high) = groups.split_at(groups.partition_point(|(nibble, _)| *nibble < 8));
    let subtrees = |groups: &[(u8, &[(KeyHash, Child)])], slots: &[Option<Child>; 16]| {
        let mut nodes = Vec::new();
        let mut children = Vec::with_capacity(groups.len());
        for (nibble, group) in groups {
            let existing = slots[usize::from(*nibble)];
            let path = NibblePath::ROOT.child(*nibble);
            children.push((
                *nibble,
                update_slot(source, existing, path, version, group, &mut nodes)?,
            ));
        }
        Ok::<_, LedgerError>((children, nodes))
    };
    let ((low_children, mut nodes), (high_children, high_nodes)) = std::thread::scope(|scope| {
        let high = scope.spawn(|| subtrees(high, &slots));
        let low = subtrees(low, &slots);
        let high = high
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        Ok::<_, LedgerError>((low?, high?))
    })?;
    nodes.extend(high_nodes);
    for (nibble, child) in low_children.into_iter().chain(high_children) {
        slots[usize::from(nibble)] = Some(child);
    }
    let root = InternalNode::from_slots(&slots);
    let hash = root.hash();
    nodes.push((NibblePath::ROOT, root));
    Ok(TreeUpdate { root: hash, nodes })
}

/// Splits sorted updates into runs sharing the nibble at `depth`.
fn group_by_nibble(updates: &[(KeyHash, Child)], depth: usize) -> Vec<(u8, &[(KeyHash, Child)])> {
    let mut groups = Vec::new();
    let mut start = 0;
    while start < updates.len() {
        let n = nibble(&updates[start].0, depth);
        let mut end = start + 1;
        while end < updates.len() && nibble(&updates[end].0, depth) == n {
            end += 1;
        }
        groups.push((n, &updates[start..end]));
        start = end;
    }
    groups
}

/// The new child for the slot at `path`, which held `existing`.
fn update_slot<S: NodeSource>(
    source: &S,
    existing: Option<Child>,
    path: NibblePath,
    version: Version,
    updates: &[(KeyHash, Child)],
    out: &mut Vec<(NibblePath, InternalNode)>,
) -> Result<Child, LedgerError> {
    match existing {
        None if updates.len() == 1 => Ok(updates[0].1),
        None => update_internal(source, None, path, version, updates, out),
        Some(child) => match child.leaf {
            Some(key) => {
                if updates.len() == 1 && updates[0].0 == key {
                    return Ok(updates[0].1);
                }
                // Another key shares this slot: push both down until their
                // paths part.
                let mut merged = updates.to_vec();
                if let Err(position) = merged.binary_search_by(|(probe, _)| probe.cmp(&key)) {
                    merged.insert(position, (key, child));
                }
                update_internal(source, None, path, version, &merged, out)
            }
            None => {
                let node = source.internal_node(child.version, &path)?.ok_or_else(|| {
                    LedgerError::Corrupt(format!(
                        "state tree node at version {} is missing",
                        child.version
                    ))
                })?;
                update_internal(source, Some(&node), path, version, updates, out)
            }
        },
    }
}

/// A new internal node at `path`: `existing`'s children with `updates`
/// written in.
fn update_internal<S: NodeSource>(
    source: &S,
    existing: Option<&InternalNode>,
    path: NibblePath,
    version: Version,
    updates: &[(KeyHash, Child)],
    out: &mut Vec<(NibblePath, InternalNode)>,
) -> Result<Child, LedgerError> {
    let depth = path.len();
    if depth >= MAX_DEPTH {
        return Err(LedgerError::Corrupt(
            "two state keys share a full key hash".into(),
        ));
    }
    let mut slots = existing.map_or([None; 16], InternalNode::slots);
    for (n, group) in group_by_nibble(updates, depth) {
        let index = usize::from(n);
        slots[index] = Some(update_slot(
            source,
            slots[index],
            path.child(n),
            version,
            group,
            out,
        )?);
    }
    let node = InternalNode::from_slots(&slots);
    let hash = node.hash();
    out.push((path, node));
    Ok(Child {
        hash,
        version,
        leaf: None,
    })
}

/// The siblings met on the way from the root to a leaf.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Proof {
    /// One level per internal node, root first.
    pub levels: Vec<ProofLevel>,
}

/// One internal node on a proof's path.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ProofLevel {
    /// Which of the node's sixteen slots are filled.
    pub bitmap: u16,
    /// The hashes of the filled slots other than the path's, in order.
    pub siblings: Vec<NodeHash>,
}

/// The leaf of `key` in the tree of `version` and the path to it, or
/// `None` if the key has no value there. The leaf says which version wrote
/// the value; the caller fetches the value itself.
pub fn prove<S: NodeSource>(
    source: &S,
    version: Version,
    key: &KeyHash,
) -> Result<Option<(Child, Proof)>, LedgerError> {
    let mut node = source
        .internal_node(version, &NibblePath::ROOT)?
        .ok_or_else(|| {
            LedgerError::Corrupt(format!("state tree has no root at version {version}"))
        })?;
    let mut path = NibblePath::ROOT;
    let mut levels = Vec::new();
    for depth in 0..MAX_DEPTH {
        let n = nibble(key, depth);
        let Some(child) = node.child(n).copied() else {
            return Ok(None);
        };
        levels.push(ProofLevel {
            bitmap: node.bitmap,
            siblings: node
                .slots()
                .iter()
                .enumerate()
                .filter(|(index, _)| *index != usize::from(n))
                .filter_map(|(_, slot)| slot.map(|child| child.hash))
                .collect(),
        });
        path = path.child(n);
        match child.leaf {
            Some(leaf_key) if &leaf_key == key => return Ok(Some((child, Proof { levels }))),
            Some(_) => return Ok(None),
            None => {
                node = source.internal_node(child.version, &path)?.ok_or_else(|| {
                    LedgerError::Corrupt(format!(
                        "state tree node at version {} is missing",
                        child.version
                    ))
                })?;
            }
        }
    }
    Err(LedgerError::Corrupt(
        "state tree is deeper than a key hash".into(),
    ))
}

/// Checks that `proof` shows `value` under `key` in the tree whose root is
/// `root`. Needs nothing but its arguments.
pub fn verify(
    root: &NodeHash,
    key: &KeyHash,
    value: &[u8],
    proof: &Proof,
) -> Result<(), LedgerError> {
    if proof.levels.is_empty() || proof.levels.len() > MAX_DEPTH {
        return Err(LedgerError::InvalidProof("the proof's depth is impossible"));
    }
    let mut hash = leaf_hash(key, value);
    for (depth, level) in proof.levels.iter().enumerate().rev() {
        let n = nibble(key, depth);
        if level.bitmap & (1 << n) == 0 {
            return Err(LedgerError::InvalidProof(
                "a level's bitmap lacks the key's path",
            ));
        }
        if level.siblings.len() + 1 != level.bitmap.count_ones() as usize {
            return Err(LedgerError::InvalidProof(
                "a level's siblings disagree with its bitmap",
            ));
        }
        let before = (level.bitmap & ((1u16 << n) - 1)).count_ones() as usize;
        let children = level.siblings[..before]
            .iter()
            .chain(std::iter::once(&hash))
            .chain(&level.siblings[before..]);
        hash = internal_hash(level.bitmap, children);
    }
    if &hash == root {
        Ok(())
    } else {
        Err(LedgerError::InvalidProof(
            "the path does not lead to the root",
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};
    use std::sync::Mutex;

    use super::*;

    /// Nodes in memory, to test the tree on its own.
    #[derive(Default)]
    struct Memory {
        nodes: Mutex<HashMap<(Version, NibblePath), Arc<InternalNode>>>,
        leaves: HashMap<(KeyHash, Version), Vec<u8>>,
        version: Option<Version>,
    }

    impl NodeSource for Memory {
        fn internal_node(
            &self,
            version: Version,
            path: &NibblePath,
        ) -> Result<Option<Arc<InternalNode>>, LedgerError> {
            Ok(self.nodes.lock().unwrap().get(&(version, *path)).cloned())
        }
    }

    impl Memory {
        /// The value under `key` at `version`, with its proof.
        fn prove(&self, version: Version, key: &KeyHash) -> Option<(Vec<u8>, Proof)> {
            let (leaf, proof) = prove(self, version, key).unwrap()?;
            let value = self.leaves[&(*key, leaf.version)].clone();
            assert_eq!(leaf.hash, leaf_hash(key, &value));
            Some((value, proof))
        }

        fn apply(&mut self, version: Version, values: &BTreeMap<KeyHash, Vec<u8>>) -> NodeHash {
            let changes: Vec<(KeyHash, NodeHash)> =
                values.iter().map(|(k, v)| (*k, leaf_hash(k, v))).collect();
            let update = update(self, self.version, version, &changes).unwrap();
            for (path, node) in update.nodes {
                self.nodes
                    .lock()
                    .unwrap()
                    .insert((version, path), Arc::new(node));
            }
            for (key, value) in values {
                self.leaves.insert((*key, version), value.clone());
            }
            self.version = Some(version);
            update.root
        }
    }

    fn key(i: u64) -> KeyHash {
        *blake3::hash(&i.to_le_bytes()).as_bytes()
    }

    #[test]
    fn root_depends_only_on_contents_not_on_history() {
        let all: BTreeMap<KeyHash, Vec<u8>> =
            (0..300).map(|i| (key(i), vec![i as u8; 3])).collect();
        let mut at_once = Memory::default();
        let root_at_once = at_once.apply(0, &all);

        let mut in_steps = Memory::default();
        let mut root = [0; 32];
        for (version, chunk) in all.iter().collect::<Vec<_>>().chunks(37).enumerate() {
            let step: BTreeMap<KeyHash, Vec<u8>> =
                chunk.iter().map(|(k, v)| (**k, (*v).clone())).collect();
            root = in_steps.apply(version as Version, &step);
        }
        assert_eq!(root, root_at_once);
    }

    #[test]
    fn proofs_verify_at_every_version_and_catch_tampering() {
        let mut tree = Memory::default();
        let first: BTreeMap<KeyHash, Vec<u8>> =
            (0..100).map(|i| (key(i), b"old".to_vec())).collect();
        let root0 = tree.apply(0, &first);
        let second: BTreeMap<KeyHash, Vec<u8>> =
            (50..150).map(|i| (key(i), b"new".to_vec())).collect();
        let root1 = tree.apply(1, &second);
        assert_ne!(root0, root1);

        let (value, proof) = tree.prove(0, &key(60)).unwrap();
        assert_eq!(value, b"old");
        verify(&root0, &key(60), &value, &proof).unwrap();
        assert!(verify(&root1, &key(60), &value, &proof).is_err());

        let (value, proof) = tree.prove(1, &key(60)).unwrap();
        assert_eq!(value, b"new");
        verify(&root1, &key(60), &value, &proof).unwrap();
        assert!(verify(&root1, &key(60), b"old", &proof).is_err());
        assert!(verify(&root1, &key(61), &value, &proof).is_err());

        let mut forged = proof.clone();
        forged.levels[0].siblings[0][0] ^= 1;
        assert!(verify(&root1, &key(60), &value, &forged).is_err());
        let mut truncated = proof.clone();
        truncated.levels.remove(0);
        assert!(verify(&root1, &key(60), &value, &truncated).is_err());

        assert!(tree.prove(0, &key(120)).is_none());
        let (value, proof) = tree.prove(1, &key(120)).unwrap();
        verify(&root1, &key(120), &value, &proof).unwrap();
    }

    #[test]
    fn nodes_round_trip_and_malformed_ones_are_refused() {
        let mut tree = Memory::default();
        let values: BTreeMap<KeyHash, Vec<u8>> = (0..40).map(|i| (key(i), vec![1])).collect();
        tree.apply(300, &values);
        let nodes = tree.nodes.lock().unwrap();
        for node in nodes.values() {
            let bytes = node.encode();
            assert_eq!(&InternalNode::decode(&bytes).unwrap(), node.as_ref());
            assert!(InternalNode::decode(&bytes[..bytes.len() - 1]).is_err());
            let mut longer = bytes.clone();
            longer.push(0);
            assert!(InternalNode::decode(&longer).is_err());
        }
        assert!(InternalNode::decode(&[0, 0, 0, 0]).is_err(), "no children");
        assert!(
            InternalNode::decode(&[1, 0, 2, 0]).is_err(),
            "a leaf outside the bitmap"
        );
        let mut huge_version = vec![1, 0, 0, 0];
        huge_version.extend_from_slice(&[0; 32]);
        huge_version.extend_from_slice(&[0xff; 10]);
        huge_version.push(1);
        assert!(InternalNode::decode(&huge_version).is_err());
    }

    #[test]
    fn unsorted_changes_are_refused() {
        let tree = Memory::default();
        let changes = vec![(key(2), [0; 32]), (key(1), [0; 32])];
        let mut sorted = changes.clone();
        sorted.sort();
        if sorted != changes {
            assert!(update(&tree, None, 0, &changes).is_err());
        }
        let dup = vec![(key(1), [0; 32]), (key(1), [1; 32])];
        assert!(update(&tree, None, 0, &dup).is_err());
    }
}
