//! Signing and checking consensus messages.
//!
//! Every signed message begins with a tag naming what it is and the
//! network's chain id, so that a vote cannot be passed off as a proposal
//! and nothing signed on one network counts on another.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use ledger::ChainId;
use ledger::evidence::signing_prefix;
use malachitebft_core_types::{
    NilOrVal, Round, SignedMessage, ValidatorProof, VoteExtensionScope, VoteType,
};
use malachitebft_signing::{Error, Signer, VerificationResult, Verifier};
use malachitebft_signing_ed25519::{PrivateKey, PublicKey, Signature};

use tracing::warn;

use super::context::{BlockHash, ChainHeight, Plaza, Proposal, ValidatorAddress, Vote};
use super::signed::{Decision, Signed, SignedLog, Step};

const EXTENSION: &[u8] = b"plaza/consensus/extension/1";
const PARTS: &[u8] = b"plaza/consensus/parts/1";
const INIT: &[u8] = b"plaza/consensus/stream-init/1";

fn put_height_round(out: &mut Vec<u8>, height: ChainHeight, round: Round) {
    out.extend_from_slice(&height.0.to_be_bytes());
    out.extend_from_slice(&round.as_i64().to_be_bytes());
}

/// The bytes a validator signs for `vote` (its extension is not among
/// them): the ledger's, so that it can check a report of equivocation.
pub fn vote_bytes(chain: &ChainId, vote: &Vote) -> Vec<u8> {
    ledger::evidence::vote_signing_bytes(
        chain,
        vote_kind(vote.kind),
        vote.height.0,
        vote.round.as_i64(),
        ledger_value(&vote.value).as_ref(),
        &vote.validator.0,
    )
}

/// The ledger's form of what a vote is for: a block, or nil.
pub(super) fn ledger_value(value: &NilOrVal<BlockHash>) -> Option<ledger::BlockHash> {
    match value {
        NilOrVal::Nil => None,
        NilOrVal::Val(hash) => Some(ledger::BlockHash(hash.0)),
    }
}

/// Whether `signature` over `bytes` is `signer`'s.
pub(super) fn signed_by(signer: &ValidatorAddress, bytes: &[u8], signature: &Signature) -> bool {
    PublicKey::from_bytes(*signer.0.as_bytes())
        .map(|key| key.verify(bytes, signature).is_ok())
        .unwrap_or(false)
}

/// The ledger's name for a vote's kind.
pub(super) fn vote_kind(kind: VoteType) -> ledger::evidence::VoteKind {
    match kind {
        VoteType::Prevote => ledger::evidence::VoteKind::Prevote,
        VoteType::Precommit => ledger::evidence::VoteKind::Precommit,
    }
}

/// The bytes a proposer signs for `proposal`: the ledger's too.
pub fn proposal_bytes(chain: &ChainId, proposal: &Proposal) -> Vec<u8> {
    ledger::evidence::proposal_signing_bytes(
        chain,
        proposal.height.0,
        proposal.round.as_i64(),
        &ledger::BlockHash(proposal.value.0),
        proposal.pol_round.as_i64(),
        &proposal.proposer.0,
    )
}

/// The bytes a proposer signs over a streamed proposal: who proposes at
/// which height and round, and the hash of the block's bytes.
pub fn parts_bytes(
    chain: &ChainId,
    height: ChainHeight,
    round: Round,
    proposer: &ValidatorAddress,
    block: &BlockHash,
) -> Vec<u8> {
    let mut out = signing_prefix(PARTS, chain);
    put_height_round(&mut out, height, round);
    out.extend_from_slice(proposer.0.as_bytes());
    out.extend_from_slice(&block.0);
    out
}

/// The bytes a proposer signs to open a proposal stream: who proposes at
/// which height and round (and the round of its polka), the peer that
/// publishes the stream (the proposer's own node, by its peer id) and the
/// stream's id. Only a stream opened this way is kept, and only from that
/// peer: nobody can open one in a proposer's name, nor pass its opening
/// off as their own.
pub fn init_bytes(
    chain: &ChainId,
    height: ChainHeight,
    round: Round,
    pol_round: Round,
    proposer: &ValidatorAddress,
    publisher: &[u8],
    stream: &[u8],
) -> Vec<u8> {
    let mut out = signing_prefix(INIT, chain);
    put_height_round(&mut out, height, round);
    out.extend_from_slice(&pol_round.as_i64().to_be_bytes());
    out.extend_from_slice(proposer.0.as_bytes());
    out.extend_from_slice(&(publisher.len() as u32).to_be_bytes());
    out.extend_from_slice(publisher);
    out.extend_from_slice(&(stream.len() as u32).to_be_bytes());
    out.extend_from_slice(stream);
    out
}

fn extension_bytes(chain: &ChainId, scope: &VoteExtensionScope<Plaza>) -> Vec<u8> {
    let mut out = signing_prefix(EXTENSION, chain);
    put_height_round(&mut out, scope.height, scope.round);
    out.extend_from_slice(&scope.value_id.0);
    out.extend_from_slice(scope.validator_address.0.as_bytes());
    out
}

/// Signs for one validator of one network.
pub struct PlazaSigner {
    key: PrivateKey,
    chain: ChainId,
    /// What was signed, on disk, for the signer the engine votes with.
    log: Option<Arc<Mutex<SignedLog>>>,
}

impl PlazaSigner {
    /// A signer with the validator's ed25519 secret `seed`. It keeps no
    /// record: for what is not a vote or a proposal (validator proofs,
    /// stream openings).
    pub fn new(seed: [u8; 32], chain: ChainId) -> Self {
        PlazaSigner {
            key: PrivateKey::from(seed),
            chain,
            log: None,
        }
    }

    /// A signer that records every vote and proposal in `log` before its
    /// signature leaves, and never signs two messages for one height,
    /// round and step: asked again, it hands back what it signed then.
    pub fn guarded(seed: [u8; 32], chain: ChainId, log: SignedLog) -> Self {
        PlazaSigner {
            log: Some(Arc::new(Mutex::new(log))),
            ..PlazaSigner::new(seed, chain)
        }
    }

    /// The validator's public key.
    pub fn public_key(&self) -> PublicKey {
        self.key.public_key()
    }

    /// Signs `bytes` as they are.
    pub fn sign(&self, bytes: &[u8]) -> Signature {
        self.key.sign(bytes)
    }

    /// Signs `asked` (bytes by `bytes`) at its height, round and step, or
    /// hands back what was signed there before.
    fn sign_once(
        &self,
        asked: Signed,
        bytes: impl FnOnce(&Signed) -> Vec<u8>,
    ) -> Result<Signed, Error> {
        let Some(log) = &self.log else {
            return Ok(Signed {
                signature: self.key.sign(&bytes(&asked)).to_bytes(),
                ..asked
            });
        };
        let mut log = log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match log.decide(asked.height, asked.round, asked.step) {
            Decision::Sign => {
                let signed = Signed {
                    signature: self.key.sign(&bytes(&asked)).to_bytes(),
                    ..asked
                };
                log.record(signed).map_err(Error::from_source)?;
                Ok(signed)
            }
            Decision::Reuse(before) => {
                if (before.value, before.pol_round) != (asked.value, asked.pol_round) {
                    warn!(
                        height = asked.height,
                        round = asked.round,
                        step = ?asked.step,
                        "asked to sign something else where this validator signed before \
                         (a consensus WAL that lost its tail?): sending what it signed then"
                    );
                }
                Ok(before)
            }
            Decision::Refuse { height, oldest } => Err(Error::from_source(format!(
                "refusing to sign at height {height}: only heights from {oldest} on are \
                 recorded, and this validator may have signed there"
            ))),
        }
    }
}

fn step_of(kind: VoteType) -> Step {
    match kind {
        VoteType::Prevote => Step::Prevote,
        VoteType::Precommit => Step::Precommit,
    }
}

fn value_of(value: Option<[u8; 32]>) -> NilOrVal<BlockHash> {
    value.map_or(NilOrVal::Nil, |hash| NilOrVal::Val(BlockHash(hash)))
}

#[async_trait]
impl Signer<Plaza> for PlazaSigner {
    async fn sign_vote(&self, vote: Vote) -> Result<SignedMessage<Plaza, Vote>, Error> {
        let asked = Signed {
            height: vote.height.0,
            round: vote.round.as_i64(),
            step: step_of(vote.kind),
            value: ledger_value(&vote.value).map(|hash| hash.0),
            pol_round: 0,
            signature: [0; 64],
        };
        let signed = self.sign_once(asked, |signed| {
            vote_bytes(
                &self.chain,
                &Vote {
                    value: value_of(signed.value),
                    ..vote.clone()
                },
            )
        })?;
        let vote = Vote {
            value: value_of(signed.value),
            ..vote
        };
        Ok(SignedMessage::new(
            vote,
            Signature::from_bytes(signed.signature),
        ))
    }

    async fn sign_proposal(
        &self,
        proposal: Proposal,
    ) -> Result<SignedMessage<Plaza, Proposal>, Error> {
        let asked = Signed {
            height: proposal.height.0,
            round: proposal.round.as_i64(),
            step: Step::Propose,
            value: Some(proposal.value.0),
            pol_round: proposal.pol_round.as_i64(),
            signature: [0; 64],
        };
        let signed = self.sign_once(asked, |_| proposal_bytes(&self.chain, &proposal))?;
        let proposal = Proposal {
            value: BlockHash(signed.value.unwrap_or(proposal.value.0)),
            pol_round: Round::from(signed.pol_round),
            ..proposal
        };
        Ok(SignedMessage::new(
            proposal,
            Signature::from_bytes(signed.signature),
        ))
    }

    async fn sign_vote_extension(
        &self,
        scope: VoteExtensionScope<Plaza>,
        extension: (),
    ) -> Result<SignedMessage<Plaza, ()>, Error> {
        let signature = self.key.sign(&extension_bytes(&self.chain, &scope));
        Ok(SignedMessage::new(extension, signature))
    }

    async fn sign_validator_proof(
        &self,
        public_key: Vec<u8>,
        peer_id: Vec<u8>,
    ) -> Result<ValidatorProof<Plaza>, Error> {
        let signature = self.key.sign(&ValidatorProof::<Plaza>::signing_bytes(
            &public_key,
            &peer_id,
        ));
        Ok(ValidatorProof::new(public_key, peer_id, signature))
    }
}

/// Checks signatures for one network.
pub struct PlazaVerifier {
    chain: ChainId,
}

impl PlazaVerifier {
    /// A verifier for network `chain`.
    pub fn new(chain: ChainId) -> Self {
        PlazaVerifier { chain }
    }
}

fn verdict(key: &PublicKey, bytes: &[u8], signature: &Signature) -> VerificationResult {
    VerificationResult::from_bool(key.verify(bytes, signature).is_ok())
}

#[async_trait]
impl Verifier<Plaza> for PlazaVerifier {
    async fn verify_signed_vote(
        &self,
        vote: &Vote,
        signature: &Signature,
        public_key: &PublicKey,
    ) -> Result<VerificationResult, Error> {
        Ok(verdict(
            public_key,
            &vote_bytes(&self.chain, vote),
            signature,
        ))
    }

    async fn verify_signed_proposal(
        &self,
        proposal: &Proposal,
        signature: &Signature,
        public_key: &PublicKey,
    ) -> Result<VerificationResult, Error> {
        Ok(verdict(
            public_key,
            &proposal_bytes(&self.chain, proposal),
            signature,
        ))
    }

    async fn verify_signed_vote_extension(
        &self,
        scope: &VoteExtensionScope<Plaza>,
        _extension: &(),
        signature: &Signature,
        public_key: &PublicKey,
    ) -> Result<VerificationResult, Error> {
        Ok(verdict(
            public_key,
            &extension_bytes(&self.chain, scope),
            signature,
        ))
    }

    async fn verify_validator_proof(
        &self,
        proof: &ValidatorProof<Plaza>,
    ) -> Result<VerificationResult, Error> {
        let Ok(key) = proof.decoded_public_key() else {
            return Ok(VerificationResult::Invalid);
        };
        Ok(verdict(&key, &proof.preimage(), &proof.signature))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger::testkit::keypair;
    use malachitebft_core_types::Context;

    fn signer_of(index: u64, chain: &str) -> (PlazaSigner, ValidatorAddress) {
        let key = keypair(9, index);
        (
            PlazaSigner::new(key.seed(), ChainId::new(chain).unwrap()),
            ValidatorAddress(key.address()),
        )
    }

    #[test]
    fn votes_and_proposals_verify_only_as_signed_on_their_own_network() {
        futures::executor::block_on(async {
            let (signer, me) = signer_of(0, "plaza-test");
            // The validator's ledger address is its consensus key.
            assert_eq!(signer.public_key().as_bytes(), me.0.as_bytes());
            let here = PlazaVerifier::new(ChainId::new("plaza-test").unwrap());
            let elsewhere = PlazaVerifier::new(ChainId::new("plaza-other").unwrap());
            let block = BlockHash([7; 32]);
            let vote = Plaza.new_precommit(ChainHeight(5), Round::new(1), NilOrVal::Val(block), me);
            let signed = signer.sign_vote(vote.clone()).await.unwrap();
            let key = signer.public_key();
            let check = |verifier: &PlazaVerifier, vote: &Vote| {
                let bytes = vote_bytes(&verifier.chain, vote);
                key.verify(&bytes, &signed.signature).is_ok()
            };
            // The verifier says what the bytes say.
            assert!(
                here.verify_signed_vote(&vote, &signed.signature, &key)
                    .await
                    .unwrap()
                    .is_valid()
            );
            assert!(
                elsewhere
                    .verify_signed_vote(&vote, &signed.signature, &key)
                    .await
                    .unwrap()
                    .is_invalid()
            );
            assert!(check(&here, &vote));
            assert!(!check(&elsewhere, &vote));
            // Another round, value or kind is another message.
            let other_round = Vote {
                round: Round::new(2),
                ..vote.clone()
            };
            let nil = Vote {
                value: NilOrVal::Nil,
                ..vote.clone()
            };
            let prevote =
                Plaza.new_prevote(ChainHeight(5), Round::new(1), NilOrVal::Val(block), me);
            assert!(!check(&here, &other_round));
            assert!(!check(&here, &nil));
            assert!(!check(&here, &prevote));

            let proposal = Plaza.new_proposal(ChainHeight(5), Round::new(0), block, Round::Nil, me);
            let signed = signer.sign_proposal(proposal.clone()).await.unwrap();
            assert!(
                here.verify_signed_proposal(&proposal, &signed.signature, &key)
                    .await
                    .unwrap()
                    .is_valid()
            );
            let (other, _) = signer_of(1, "plaza-test");
            assert!(
                here.verify_signed_proposal(&proposal, &signed.signature, &other.public_key())
                    .await
                    .unwrap()
                    .is_invalid()
            );

            let proof = signer
                .sign_validator_proof(key.as_bytes().to_vec(), b"peer".to_vec())
                .await
                .unwrap();
            assert!(
                here.verify_validator_proof(&proof)
                    .await
                    .unwrap()
                    .is_valid()
            );
            let stolen =
                ValidatorProof::new(proof.public_key.clone(), b"thief".to_vec(), proof.signature);
            assert!(
                here.verify_validator_proof(&stolen)
                    .await
                    .unwrap()
                    .is_invalid()
            );
        });
    }

    #[test]
    fn a_guarded_signer_never_signs_two_votes_for_one_round_even_after_a_restart() {
        futures::executor::block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("consensus.signed");
            let key = keypair(9, 0);
            let chain = ChainId::new("plaza-test").unwrap();
            let me = ValidatorAddress(key.address());
            let here = PlazaVerifier::new(chain.clone());
            let guarded =
                || PlazaSigner::guarded(key.seed(), chain.clone(), SignedLog::open(&path).unwrap());
            let block = BlockHash([7; 32]);
            let signer = guarded();
            let first = signer
                .sign_vote(Plaza.new_prevote(
                    ChainHeight(5),
                    Round::new(0),
                    NilOrVal::Val(block),
                    me,
                ))
                .await
                .unwrap();
            drop(signer);
            // Restarted with a WAL that lost the prevote, the engine asks
            // for nil in the same round: the block's prevote comes back,
            // with the signature that went out before.
            let signer = guarded();
            let again = signer
                .sign_vote(Plaza.new_prevote(ChainHeight(5), Round::new(0), NilOrVal::Nil, me))
                .await
                .unwrap();
            assert_eq!(again.message.value, NilOrVal::Val(block));
            assert_eq!(again.signature, first.signature);
            assert!(
                here.verify_signed_vote(&again.message, &again.signature, &signer.public_key())
                    .await
                    .unwrap()
                    .is_valid()
            );
            // The next round, and the precommit, are signed as asked.
            let next = signer
                .sign_vote(Plaza.new_prevote(ChainHeight(5), Round::new(1), NilOrVal::Nil, me))
                .await
                .unwrap();
            assert_eq!(next.message.value, NilOrVal::Nil);
            // A proposal is kept the same way.
            let proposal = Plaza.new_proposal(ChainHeight(6), Round::new(0), block, Round::Nil, me);
            let proposed = signer.sign_proposal(proposal).await.unwrap();
            let other = Plaza.new_proposal(
                ChainHeight(6),
                Round::new(0),
                BlockHash([8; 32]),
                Round::Nil,
                me,
            );
            let kept = guarded().sign_proposal(other).await;
            drop(signer);
            let kept = kept.unwrap();
            assert_eq!(kept.message.value, block);
            assert_eq!(kept.signature, proposed.signature);
        });
    }
}
