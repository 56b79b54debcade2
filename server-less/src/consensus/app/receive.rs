//! Receiving proposals: parts reassembled from their proposer's signed
//! stream, and the block checked against the ledger before the engine may
//! vote for it; blocks for the next height wait for it.

use ledger::Block;
use malachitebft_app_channel::app::streaming::StreamMessage;
use malachitebft_app_channel::app::types::{PeerId, ProposedValue};
use malachitebft_core_types::{Height as _, Round, Validator as _, Validity};
use tracing::warn;

use super::super::context::{BlockHash, Plaza, ProposalPart};
use super::super::signing::{init_bytes, parts_bytes, signed_by};
use super::super::streams::Whole;

use super::*;

impl App {
    /// Takes a part of another validator's proposal; the proposed value
    /// once the stream is whole. Only a stream opened by the round's own
    /// proposer (for this height or the next) is kept, within the bounds
    /// of [`Streams`]; a proposal already at hand is not checked again,
    /// and a second, different one from the same proposer for the same
    /// round is refused (and reported).
    pub(super) async fn received(
        &mut self,
        from: PeerId,
        part: StreamMessage<ProposalPart>,
    ) -> Option<ProposedValue<Plaza>> {
        let (height, current, next) = (
            self.height,
            self.validators.as_ref(),
            self.next_validators.as_ref(),
        );
        let chain = &self.chain;
        let whole = self.streams.add(from, part, |init, signature, stream| {
            let set = if init.height == height {
                current
            } else if init.height == height.increment() {
                next
            } else {
                None
            };
            let proposes = set.is_some_and(|set| {
                set.proposer(init.height, init.round).address() == &init.proposer
            });
            proposes
                && signed_by(
                    &init.proposer,
                    &init_bytes(
                        chain,
                        init.height,
                        init.round,
                        init.pol_round,
                        &init.proposer,
                        &from.to_bytes(),
                        &stream.to_bytes(),
                    ),
                    signature,
                )
        })?;
        let Whole {
            init,
            bytes,
            signature,
        } = whole;
        let block = match Block::from_bytes(&bytes) {
            Ok(block) => block,
            Err(err) => {
                warn!(%from, proposer = %init.proposer, %err, "a proposed block does not decode");
                return None;
            }
        };
        let value = BlockHash(block.hash().0);
        let signed = signed_by(
            &init.proposer,
            &parts_bytes(&self.chain, init.height, init.round, &init.proposer, &value),
            &signature,
        );
        if !signed {
            warn!(%from, proposer = %init.proposer, "a proposal's parts are not signed by its proposer");
            return None;
        }
        // The same proposal again (another copy, or sent again): nothing
        // new. Another proposal by the same proposer for the same round:
        // it signed two, which the engine reports; the first is kept.
        let seen = self
            .proposed
            .iter()
            .chain(self.waiting.iter().map(|waiting| &waiting.value))
            .find(|seen| {
                seen.height == init.height
                    && seen.round == init.round
                    && seen.proposer == init.proposer
            });
        if let Some(seen) = seen {
            if seen.value != value {
                warn!(
                    proposer = %init.proposer,
                    height = %init.height,
                    round = %init.round,
                    "a validator proposed two different blocks for one round; the first is kept"
                );
            }
            return None;
        }
        let mut proposed = ProposedValue {
            height: init.height,
            round: init.round,
            valid_round: init.pol_round,
            proposer: init.proposer,
            value,
            validity: Validity::Invalid,
        };
        if init.height > self.height {
            if self.waiting.len() < MAX_KEPT {
                self.waiting.push(Waiting {
                    value: proposed,
                    block,
                });
            }
            return None;
        }
        if init.height < self.height || self.proposed.len() >= MAX_KEPT {
            return None;
        }
        proposed.validity = self.validity(&block, init.pol_round).await;
        self.keep_block(value, block, proposed.validity);
        self.proposed.push(proposed.clone());
        Some(proposed)
    }

    /// Keeps a block for its commit if it is valid; an invalid one is
    /// never kept, and never replaces one kept under the same hash.
    pub(super) fn keep_block(&mut self, value: BlockHash, block: Block, validity: Validity) {
        if validity == Validity::Valid {
            self.blocks.entry(value).or_insert(block);
        }
    }

    /// Checks the blocks that arrived early for the height now started.
    pub(super) async fn check_waiting(&mut self) {
        let (now, later): (Vec<Waiting>, Vec<Waiting>) = std::mem::take(&mut self.waiting)
            .into_iter()
            .filter(|waiting| waiting.value.height >= self.height)
            .partition(|waiting| waiting.value.height == self.height);
        self.waiting = later;
        for Waiting { mut value, block } in now {
            value.validity = self.validity(&block, value.valid_round).await;
            self.keep_block(value.value, block, value.validity);
            self.proposed.push(value);
        }
    }

    /// Whether `block` may follow the committed chain: the ledger's checks
    /// (parent, height, time not before the parent's, signatures, every
    /// rule), and a time within [`MAX_CLOCK_SKEW_SECS`] of this host's
    /// clock: never ahead of it by more, and, for a fresh proposal (no
    /// polka round), not behind it by more either.
    pub(super) async fn validity(&self, block: &Block, pol_round: Round) -> Validity {
        let now = self.host.now();
        let time = block.header.time;
        let ahead = time.saturating_sub(now);
        let behind = if pol_round == Round::Nil {
            now.saturating_sub(time)
        } else {
            0
        };
        if ahead > MAX_CLOCK_SKEW_SECS || behind > MAX_CLOCK_SKEW_SECS {
            warn!(
                height = block.header.height,
                proposer = %block.header.proposer,
                ahead_secs = ahead,
                behind_secs = behind,
                "a validator's clock is off: its proposal's time is too far from this host's"
            );
            return Validity::Invalid;
        }
        self.ledger_validity(block, "a proposed block").await
    }

    /// The ledger's verdict on `block` (parent, height, time not before
    /// the parent's, signatures, every rule); `what` names it in the log.
    pub(super) async fn ledger_validity(&self, block: &Block, what: &str) -> Validity {
        match self.host.check(block.clone()).await {
            Ok(()) => Validity::Valid,
            Err(err) => {
                warn!(
                    height = block.header.height,
                    proposer = %block.header.proposer,
                    %err,
                    "{what} is invalid"
                );
                Validity::Invalid
            }
        }
    }
}
