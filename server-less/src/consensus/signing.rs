//! Signing and checking consensus messages.
//!
//! Every signed message begins with a tag naming what it is and the
//! network's chain id, so that a vote cannot be passed off as a proposal
//! and nothing signed on one network counts on another.

use async_trait::async_trait;
use ledger::ChainId;
use ledger::evidence::signing_prefix;
use malachitebft_core_types::{
    NilOrVal, Round, SignedMessage, ValidatorProof, VoteExtensionScope, VoteType,
};
use malachitebft_signing::{Error, Signer, VerificationResult, Verifier};
use malachitebft_signing_ed25519::{PrivateKey, PublicKey, Signature};

use super::context::{BlockHash, ChainHeight, Plaza, Proposal, ValidatorAddress, Vote};

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
}

impl PlazaSigner {
    /// A signer with the validator's ed25519 secret `seed`.
    pub fn new(seed: [u8; 32], chain: ChainId) -> Self {
        PlazaSigner {
            key: PrivateKey::from(seed),
            chain,
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
}

#[async_trait]
impl Signer<Plaza> for PlazaSigner {
    async fn sign_vote(&self, vote: Vote) -> Result<SignedMessage<Plaza, Vote>, Error> {
        let signature = self.key.sign(&vote_bytes(&self.chain, &vote));
        Ok(SignedMessage::new(vote, signature))
    }

    async fn sign_proposal(
        &self,
        proposal: Proposal,
    ) -> Result<SignedMessage<Plaza, Proposal>, Error> {
        let signature = self.key.sign(&proposal_bytes(&self.chain, &proposal));
        Ok(SignedMessage::new(proposal, signature))
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
}
