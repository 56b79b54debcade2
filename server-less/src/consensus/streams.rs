//! Proposal streams being put together: every part a peer sends is
//! hostile until checked, so what a peer can make a host hold is bounded.
//!
//! A stream is kept only once its first part is a valid `Init`: signed by
//! the proposer it names, who must be the proposer of that height and
//! round (the caller checks both). Parts that arrive before their stream's
//! `Init` wait in a small space of their own per peer. Streams are bounded
//! in number per peer and in all, in bytes per stream, per peer and in
//! all, and in publishers per proposal: a peer that passes on another's
//! proposal under its own name takes one of a few places, never the
//! proposer's own.

use std::collections::{BTreeMap, HashMap};

use ledger::MAX_BLOCK_BYTES;
use malachitebft_app_channel::app::streaming::{StreamContent, StreamId, StreamMessage};
use malachitebft_app_channel::app::types::PeerId;
use malachitebft_core_types::Round;
use malachitebft_signing_ed25519::Signature;
use tracing::debug;

use super::context::{ChainHeight, ProposalPart, ValidatorAddress};

/// Streams with a valid first part kept at once, in all.
const MAX_STREAMS: usize = 64;
/// Such streams one peer may have open.
const MAX_STREAMS_PER_PEER: usize = 4;
/// Peers whose copies of one proposal (height, round, proposer) are kept.
const MAX_PUBLISHERS: usize = 4;
/// Bytes one peer's streams may hold together.
const MAX_BYTES_PER_PEER: usize = MAX_BLOCK_BYTES + 64 * 1024;
/// Bytes all streams may hold together: a block for this height and one
/// for the next from each of a few publishers.
const MAX_BYTES: usize = 4 * MAX_BLOCK_BYTES;
/// Streams whose first part has not come yet, per peer and in all.
const MAX_EARLY_PER_PEER: usize = 1;
const MAX_EARLY: usize = 16;
/// Bytes such a stream may hold before its first part comes.
const MAX_EARLY_BYTES: usize = 1 << 20;

/// What the first part of a stream says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Init {
    pub(super) height: ChainHeight,
    pub(super) round: Round,
    pub(super) pol_round: Round,
    pub(super) proposer: ValidatorAddress,
}

/// A stream with every part in.
#[derive(Debug)]
pub(super) struct Whole {
    pub(super) init: Init,
    pub(super) bytes: Vec<u8>,
    pub(super) signature: Signature,
}

#[derive(Default)]
struct Stream {
    init: Option<Init>,
    data: BTreeMap<u64, Vec<u8>>,
    signature: Option<Signature>,
    /// The sequence number of the stream's end.
    end: Option<u64>,
    bytes: usize,
}

/// The streams being put together.
#[derive(Default)]
pub(super) struct Streams {
    streams: HashMap<(PeerId, StreamId), Stream>,
    /// Parts refused since the last look, for logs and tests.
    refused: u64,
}

impl Streams {
    fn peer_bytes(&self, peer: &PeerId) -> usize {
        self.streams
            .iter()
            .filter(|((from, _), _)| from == peer)
            .map(|(_, stream)| stream.bytes)
            .sum()
    }

    fn total_bytes(&self) -> usize {
        self.streams.values().map(|stream| stream.bytes).sum()
    }

    /// Streams with a first part (`opened`) or still without one: held
    /// by `peer`, and in all.
    fn count(&self, peer: &PeerId, opened: bool) -> (usize, usize) {
        let mut mine = 0;
        let mut all = 0;
        for ((from, _), stream) in &self.streams {
            if stream.init.is_some() == opened {
                all += 1;
                if from == peer {
                    mine += 1;
                }
            }
        }
        (mine, all)
    }

    fn opened(&self, peer: &PeerId) -> (usize, usize) {
        self.count(peer, true)
    }

    fn early(&self, peer: &PeerId) -> (usize, usize) {
        self.count(peer, false)
    }

    fn refuse(&mut self, from: PeerId, why: &'static str) -> Option<Whole> {
        self.refused += 1;
        debug!(%from, why, "a proposal part was refused");
        None
    }

    /// Parts refused since the last call.
    pub(super) fn take_refused(&mut self) -> u64 {
        std::mem::take(&mut self.refused)
    }

    /// Streams held.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.streams.len()
    }

    /// Takes a part from `from`; the stream once it is whole. `valid_init`
    /// says whether a first part is signed by the proposer it names and
    /// that proposer proposes at its height and round.
    pub(super) fn add(
        &mut self,
        from: PeerId,
        part: StreamMessage<ProposalPart>,
        valid_init: impl FnOnce(&Init, &Signature, &StreamId) -> bool,
    ) -> Option<Whole> {
        let key = (from, part.stream_id.clone());
        let known = self.streams.get(&key).map(|stream| stream.init.is_some());
        match part.content {
            StreamContent::Data(ProposalPart::Init {
                height,
                round,
                pol_round,
                proposer,
                signature,
            }) => {
                if known == Some(true) {
                    return self.refuse(from, "a second first part");
                }
                let init = Init {
                    height,
                    round,
                    pol_round,
                    proposer,
                };
                if !valid_init(&init, &signature, &part.stream_id) {
                    self.streams.remove(&key);
                    return self
                        .refuse(from, "a first part not signed by the proposer of its round");
                }
                let (mine, all) = self.opened(&from);
                if mine >= MAX_STREAMS_PER_PEER || all >= MAX_STREAMS {
                    self.streams.remove(&key);
                    return self.refuse(from, "too many streams open");
                }
                let publishers = self
                    .streams
                    .values()
                    .filter(|stream| stream.init == Some(init))
                    .count();
                if publishers >= MAX_PUBLISHERS {
                    self.streams.remove(&key);
                    return self.refuse(from, "this proposal has enough copies already");
                }
                self.streams.entry(key.clone()).or_default().init = Some(init);
            }
            StreamContent::Data(ProposalPart::Data(bytes)) => {
                let opened = known == Some(true);
                if known.is_none() {
                    let (mine, all) = self.early(&from);
                    if mine >= MAX_EARLY_PER_PEER || all >= MAX_EARLY {
                        return self.refuse(from, "too many streams without a first part");
                    }
                }
                let held = self.streams.get(&key).map_or(0, |stream| stream.bytes);
                let limit = if opened {
                    MAX_BLOCK_BYTES
                } else {
                    MAX_EARLY_BYTES
                };
                if held + bytes.len() > limit
                    || self.peer_bytes(&from) + bytes.len() > MAX_BYTES_PER_PEER
                    || self.total_bytes() + bytes.len() > MAX_BYTES
                {
                    self.streams.remove(&key);
                    return self.refuse(from, "a stream larger than it may be");
                }
                let stream = self.streams.entry(key.clone()).or_default();
                stream.bytes += bytes.len();
                stream.data.insert(part.sequence, bytes);
            }
            StreamContent::Data(ProposalPart::Fin(signature)) => {
                if known.is_none() && self.early(&from).0 >= MAX_EARLY_PER_PEER {
                    return self.refuse(from, "too many streams without a first part");
                }
                self.streams.entry(key.clone()).or_default().signature = Some(signature);
            }
            StreamContent::Fin => {
                if known.is_none() && self.early(&from).0 >= MAX_EARLY_PER_PEER {
                    return self.refuse(from, "too many streams without a first part");
                }
                self.streams.entry(key.clone()).or_default().end = Some(part.sequence);
            }
        }
        let stream = self.streams.get(&key)?;
        if let Some(end) = stream.end {
            // Init is 0, data 1..end-1, the signature end-1, the end
            // itself end: an end its parts contradict can never be whole.
            let fits = end
                .checked_sub(2)
                .is_some_and(|last| stream.data.keys().all(|seq| (1..=last).contains(seq)));
            if !fits {
                self.streams.remove(&key);
                return self.refuse(from, "a stream whose end its parts contradict");
            }
        }
        let (Some(init), Some(signature), Some(end)) = (stream.init, stream.signature, stream.end)
        else {
            return None;
        };
        if stream.data.len() as u64 != end - 2 {
            return None;
        }
        let stream = self.streams.remove(&key)?;
        Some(Whole {
            init,
            bytes: stream.data.into_values().flatten().collect(),
            signature,
        })
    }

    /// A round began: streams of earlier rounds of its height, and those
    /// still without a first part, are of no more use.
    pub(super) fn started_round(&mut self, height: ChainHeight, round: Round) {
        self.streams.retain(|_, stream| {
            stream.init.is_some_and(|init| {
                init.height > height || (init.height == height && init.round >= round)
            })
        });
    }

    /// Forgets every stream but those of heights after `committed`.
    pub(super) fn committed(&mut self, committed: ChainHeight) {
        self.streams
            .retain(|_, stream| stream.init.is_some_and(|init| init.height > committed));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use bytes::Bytes;
    use ledger::Keypair;

    use super::*;

    fn peer() -> PeerId {
        PeerId::from_bytes(&libp2p::PeerId::random().to_bytes()).unwrap()
    }

    fn id(n: u8) -> StreamId {
        StreamId::new(Bytes::from(vec![n]))
    }

    fn proposer() -> ValidatorAddress {
        ValidatorAddress(Keypair::from_seed([1; 32]).address())
    }

    fn signature() -> Signature {
        Signature::from_bytes([0; 64])
    }

    fn init(height: u64) -> ProposalPart {
        ProposalPart::Init {
            height: ChainHeight(height),
            round: Round::new(0),
            pol_round: Round::Nil,
            proposer: proposer(),
            signature: signature(),
        }
    }

    fn message(
        stream: &StreamId,
        sequence: u64,
        part: ProposalPart,
    ) -> StreamMessage<ProposalPart> {
        StreamMessage::new(stream.clone(), sequence, StreamContent::Data(part))
    }

    fn end(stream: &StreamId, sequence: u64) -> StreamMessage<ProposalPart> {
        StreamMessage::new(stream.clone(), sequence, StreamContent::Fin)
    }

    /// Sends a whole stream of `data` parts in order; what came out.
    fn send(
        streams: &mut Streams,
        from: PeerId,
        stream: &StreamId,
        data: &[Vec<u8>],
    ) -> Option<Whole> {
        let yes = |_: &Init, _: &Signature, _: &StreamId| true;
        assert!(
            streams
                .add(from, message(stream, 0, init(5)), yes)
                .is_none()
        );
        for (index, bytes) in data.iter().enumerate() {
            assert!(
                streams
                    .add(
                        from,
                        message(stream, 1 + index as u64, ProposalPart::Data(bytes.clone())),
                        yes
                    )
                    .is_none()
            );
        }
        let fin = 1 + data.len() as u64;
        assert!(
            streams
                .add(
                    from,
                    message(stream, fin, ProposalPart::Fin(signature())),
                    yes
                )
                .is_none()
        );
        streams.add(from, end(stream, fin + 1), yes)
    }

    #[test]
    fn a_stream_comes_out_whole_in_any_order_of_its_parts() {
        let mut streams = Streams::default();
        let from = peer();
        let whole = send(&mut streams, from, &id(1), &[vec![1, 2], vec![3]]).unwrap();
        assert_eq!(whole.bytes, vec![1, 2, 3]);
        assert_eq!(streams.len(), 0);
        // Data before the first part waits for it.
        let yes = |_: &Init, _: &Signature, _: &StreamId| true;
        let stream = id(2);
        assert!(
            streams
                .add(from, message(&stream, 1, ProposalPart::Data(vec![7])), yes)
                .is_none()
        );
        assert!(streams.add(from, end(&stream, 3), yes).is_none());
        assert!(
            streams
                .add(
                    from,
                    message(&stream, 2, ProposalPart::Fin(signature())),
                    yes
                )
                .is_none()
        );
        let whole = streams
            .add(from, message(&stream, 0, init(5)), yes)
            .unwrap();
        assert_eq!(whole.bytes, vec![7]);
    }

    #[test]
    fn bogus_streams_from_one_peer_leave_room_for_the_proposer() {
        let mut streams = Streams::default();
        let rogue = peer();
        let no = |_: &Init, _: &Signature, _: &StreamId| false;
        let yes = |_: &Init, _: &Signature, _: &StreamId| true;
        for n in 0..64u8 {
            // Forged first parts are refused outright; parts without one
            // take one small place, no more.
            streams.add(rogue, message(&id(n), 0, init(5)), no);
            streams.add(
                rogue,
                message(&id(n), 1, ProposalPart::Data(vec![0; 1000])),
                yes,
            );
        }
        assert!(streams.len() <= MAX_EARLY_PER_PEER);
        assert!(streams.take_refused() >= 64);
        let honest = peer();
        let whole = send(&mut streams, honest, &id(200), &[vec![9; 10]]).unwrap();
        assert_eq!(whole.bytes, vec![9; 10]);
    }

    #[test]
    fn copies_of_a_proposal_are_bounded_and_so_are_bytes() {
        let mut streams = Streams::default();
        let yes = |_: &Init, _: &Signature, _: &StreamId| true;
        for _ in 0..MAX_PUBLISHERS {
            assert!(
                streams
                    .add(peer(), message(&id(1), 0, init(5)), yes)
                    .is_none()
            );
        }
        assert_eq!(streams.len(), MAX_PUBLISHERS);
        streams.add(peer(), message(&id(1), 0, init(5)), yes);
        assert_eq!(streams.len(), MAX_PUBLISHERS);
        // A stream past the size of a block is dropped.
        let big = peer();
        streams.add(big, message(&id(3), 0, init(6)), yes);
        let part = vec![0u8; MAX_BLOCK_BYTES / 4 + 1];
        for sequence in 1..=4 {
            streams.add(
                big,
                message(&id(3), sequence, ProposalPart::Data(part.clone())),
                yes,
            );
        }
        assert!(streams.peer_bytes(&big) <= MAX_BLOCK_BYTES);
        // Streams of committed heights go.
        streams.committed(ChainHeight(5));
        assert!(streams.len() <= 1);
    }

    #[test]
    fn a_stream_whose_end_contradicts_its_parts_is_dropped() {
        let mut streams = Streams::default();
        let yes = |_: &Init, _: &Signature, _: &StreamId| true;
        let from = peer();
        streams.add(from, message(&id(1), 0, init(5)), yes);
        streams.add(from, message(&id(1), 1, ProposalPart::Data(vec![1])), yes);
        streams.add(from, message(&id(1), 7, ProposalPart::Data(vec![1])), yes);
        streams.add(
            from,
            message(&id(1), 2, ProposalPart::Fin(signature())),
            yes,
        );
        assert!(streams.add(from, end(&id(1), 3), yes).is_none());
        assert_eq!(streams.len(), 0);
        streams.add(from, message(&id(2), 0, init(5)), yes);
        assert!(streams.add(from, end(&id(2), 1), yes).is_none());
        assert_eq!(streams.len(), 0);
    }
}
