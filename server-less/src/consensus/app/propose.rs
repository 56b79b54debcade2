//! Proposing: a block from the mempool when it is this validator's turn,
//! paced to the network's block interval, streamed in signed parts.

use std::time::Duration;

use bytes::Bytes;
use ledger::Block;
use malachitebft_app_channel::NetworkMsg;
use malachitebft_app_channel::app::streaming::{StreamContent, StreamId, StreamMessage};
use malachitebft_app_channel::app::types::ProposedValue;
use malachitebft_core_types::{Round, Validator as _, Validity};
use tracing::{debug, info};

use super::super::codec::MAX_PART_BYTES;
use super::super::context::{BlockHash, ChainHeight, ProposalPart};
use super::super::settings::spoilt;
use super::super::signing::{init_bytes, parts_bytes};
use crate::error::HostError;

use super::*;

impl App {
    /// This host's value for `height` and `round`: the block it proposed
    /// before in this round if any (kept on disk, so a validator restarted
    /// within a height proposes the same block again), else a new one from
    /// its mempool, saved before it is sent.
    pub(super) async fn propose(
        &mut self,
        height: ChainHeight,
        round: Round,
        timeout: Duration,
    ) -> Result<BlockHash, HostError> {
        if let Some(value) = self.proposed.iter().find(|value| {
            value.height == height && value.round == round && value.proposer == self.me
        }) {
            return Ok(value.value);
        }
        let block = match self.log.find(height, round)? {
            Some(block) => {
                info!(%height, %round, "proposing again the block proposed before a restart");
                block
            }
            None => {
                self.pace(timeout).await;
                let now = self
                    .host
                    .now()
                    .saturating_add_signed(self.faults.clock_skew_secs);
                let mut block = self.host.propose(now).await?;
                if self.faults.invalid_proposals {
                    block = spoilt(block, height.0);
                }
                if block.header.height != height.0 {
                    return Err(HostError::Consensus(format!(
                        "asked for a block at height {height}, but the ledger is at {}",
                        block.header.height
                    )));
                }
                self.log.save(height, round, &block)?;
                block
            }
        };
        let value = BlockHash(block.hash().0);
        self.proposed.push(ProposedValue {
            height,
            round,
            valid_round: Round::Nil,
            proposer: self.me,
            value,
            validity: Validity::Valid,
        });
        self.stream(height, round, Round::Nil, &block, 0).await;
        debug!(%height, %round, txs = block.txs.len(), "proposed a block");
        self.blocks.insert(value, block);
        Ok(value)
    }

    /// Waits, before proposing, until there is something to put in the
    /// block (a transaction, or a rental's end falling due), at least
    /// [`MIN_BLOCK_INTERVAL`] after the last block and at most
    /// [`EMPTY_BLOCK_INTERVAL`] (or half the propose timeout): a quiet
    /// network makes an empty block now and then, not one after another.
    pub(super) async fn pace(&self, timeout: Duration) {
        let started = tokio::time::Instant::now();
        let latest = started + EMPTY_BLOCK_INTERVAL.min(timeout / 2);
        let earliest = self.last_block + MIN_BLOCK_INTERVAL;
        let mut work = self.host.backlog();
        loop {
            let now = tokio::time::Instant::now();
            let state = *work.borrow_and_update();
            let due =
                state.next_due.is_some_and(|due| due <= self.host.now()) || state.stake_changes;
            if now >= latest || ((state.pending > 0 || due) && now >= earliest) {
                return;
            }
            let wake = if state.pending > 0 || due {
                earliest
            } else {
                latest
            };
            tokio::select! {
                _ = tokio::time::sleep_until(wake) => {}
                changed = work.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
            }
        }
    }

    /// Streams `block` to the other validators as proposal parts.
    pub(super) async fn stream(
        &self,
        height: ChainHeight,
        round: Round,
        pol_round: Round,
        block: &Block,
        attempt: u8,
    ) {
        let bytes = block.to_bytes();
        let value = BlockHash(block.hash().0);
        let mut id = Vec::with_capacity(17);
        id.extend_from_slice(&height.0.to_be_bytes());
        id.extend_from_slice(&round.as_i64().to_be_bytes());
        id.push(attempt);
        let opening = self.signer.sign(&init_bytes(
            &self.chain,
            height,
            round,
            pol_round,
            &self.me,
            &self.peer,
            &id,
        ));
        let id = StreamId::new(Bytes::from(id));
        let signature =
            self.signer
                .sign(&parts_bytes(&self.chain, height, round, &self.me, &value));
        let parts = std::iter::once(ProposalPart::Init {
            height,
            round,
            pol_round,
            proposer: self.me,
            signature: opening,
        })
        .chain(
            bytes
                .chunks(MAX_PART_BYTES)
                .map(|chunk| ProposalPart::Data(chunk.to_vec())),
        )
        .chain(std::iter::once(ProposalPart::Fin(signature)));
        if self.faults.bogus_streams > 0 {
            self.bogus_streams(height, round).await;
        }
        let mut sequence = 0;
        for part in parts {
            if !self.publish(&id, sequence, part).await {
                return;
            }
            sequence += 1;
        }
        let _ = self
            .network
            .send(NetworkMsg::PublishProposalPart(StreamMessage::new(
                id,
                sequence,
                StreamContent::Fin,
            )))
            .await;
    }

    /// Publishes the bogus streams [`Faults::bogus_streams`] asks for.
    pub(super) async fn bogus_streams(&self, height: ChainHeight, round: Round) {
        for index in 0..self.faults.bogus_streams {
            let id = StreamId::new(Bytes::from(
                format!("bogus {height} {round} {index}").into_bytes(),
            ));
            let parts = if index % 2 == 0 {
                // No first part at all.
                vec![
                    ProposalPart::Data(vec![0xbd; 1024]),
                    ProposalPart::Data(vec![0xbd; 1024]),
                ]
            } else {
                // A first part in the name of someone it is not.
                let other = self
                    .validators
                    .as_ref()
                    .and_then(|set| {
                        set.validators()
                            .iter()
                            .find(|v| v.address() != &self.me)
                            .map(|v| *v.address())
                    })
                    .unwrap_or(self.me);
                let signature = self.signer.sign(&init_bytes(
                    &self.chain,
                    height,
                    round,
                    Round::Nil,
                    &other,
                    &self.peer,
                    &id.to_bytes(),
                ));
                vec![
                    ProposalPart::Init {
                        height,
                        round,
                        pol_round: Round::Nil,
                        proposer: other,
                        signature,
                    },
                    ProposalPart::Data(vec![0xbd; 1024]),
                ]
            };
            for (sequence, part) in (0..).zip(parts) {
                if !self.publish(&id, sequence, part).await {
                    return;
                }
            }
        }
    }

    /// Publishes part `sequence` of stream `id`; false once the network
    /// has stopped.
    pub(super) async fn publish(&self, id: &StreamId, sequence: u64, part: ProposalPart) -> bool {
        let message = StreamMessage::new(id.clone(), sequence, StreamContent::Data(part));
        self.network
            .send(NetworkMsg::PublishProposalPart(message))
            .await
            .is_ok()
    }
}
