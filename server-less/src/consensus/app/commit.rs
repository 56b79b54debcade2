//! Committing: a decided block with its commit certificate goes to the
//! ledger, and decided blocks are served to peers that sync.

use bytes::Bytes;
use malachitebft_app_channel::app::engine::host::Next;
use malachitebft_app_channel::app::types::sync::RawDecidedValue;
use malachitebft_core_types::{CommitCertificate, ExtendedCommitCertificate, VoteExtensions};
use tracing::{debug, error, warn};

use super::super::codec::{decode_certificate, encode_certificate};
use super::super::context::{ChainHeight, Plaza};
use crate::error::HostError;

use super::*;

impl App {
    /// Commits the decided block and starts the next height.
    pub(super) async fn finalize(
        &mut self,
        certificate: CommitCertificate<Plaza>,
    ) -> Result<Next<Plaza>, HostError> {
        let height = certificate.height;
        let Some(block) = self.blocks.get(&certificate.value_id).cloned() else {
            warn!(%height, value = %certificate.value_id, "the decided block is not at hand");
            return Ok(Next::Restart(height, self.params(height).await?));
        };
        let committed = match self
            .host
            .commit_certified(block, encode_certificate(&certificate))
            .await
        {
            Ok(committed) => committed,
            Err(HostError::Stopped) => return Err(HostError::Stopped),
            Err(err) => {
                // A block more than two thirds decided, checked when it came,
                // that this host cannot commit: its store is failing. Voting
                // on in this height could sign against its own votes, so
                // consensus stops here rather than risk that.
                error!(%height, %err, "the decided block could not be committed; consensus stops");
                self.broken = Some(HostError::Consensus(format!(
                    "the block decided at height {height} could not be committed: {err}"
                )));
                return Err(HostError::Consensus(format!("commit failed: {err}")));
            }
        };
        debug!(
            height = committed,
            signatures = certificate.commit_signatures.len(),
            "block final"
        );
        self.blocks.clear();
        self.proposed.clear();
        if let Err(err) = self.log.prune(committed) {
            warn!(%err, "the proposals of committed heights could not be removed");
        }
        // Streams of the next height may already be on their way.
        self.streams.committed(height);
        let refused = self.streams.take_refused();
        if refused > 0 {
            debug!(refused, "proposal parts refused during the height");
        }
        let next = ChainHeight(committed + 1);
        self.height = next;
        self.last_block = tokio::time::Instant::now();
        Ok(Next::Start(next, self.params(next).await?))
    }

    /// Decided blocks from `start` to `end` with their certificates, as
    /// far as this host has them.
    pub(super) async fn decided(
        &self,
        start: ChainHeight,
        end: ChainHeight,
    ) -> Vec<RawDecidedValue<Plaza>> {
        let mut values = Vec::new();
        let mut height = start.0.max(1);
        while height <= end.0 && values.len() < 16 {
            let (Ok(block), Ok(Some(certificate))) = (
                self.host.block(height).await,
                self.host.certificate(height).await,
            ) else {
                break;
            };
            let Ok(certificate) = decode_certificate(&certificate) else {
                warn!(height, "a stored commit certificate does not decode");
                break;
            };
            values.push(RawDecidedValue::new(
                Bytes::from(block.to_bytes()),
                ExtendedCommitCertificate::from_commit_certificate_and_extensions(
                    certificate,
                    VoteExtensions::new(Vec::new()),
                ),
            ));
            height += 1;
        }
        values
    }
}
