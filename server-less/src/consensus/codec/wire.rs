//! The byte writer and reader every consensus codec is made of: fixed-width
//! integers big-endian, a length before every list and byte string, and
//! one method per consensus type (votes, proposals, parts, certificates,
//! sync values). The reader refuses a length longer than its kind allows
//! before it allocates, and bytes left over at the end.

use bytes::Bytes;
use ledger::Address;
use malachitebft_core_types::{
    ExtendedCommitCertificate, ExtendedCommitSignature, NilOrVal, PolkaCertificate, PolkaSignature,
    Round, RoundCertificate, RoundCertificateType, RoundSignature, SignedMessage, VoteType,
};
use malachitebft_signing_ed25519::Signature;

use super::super::context::{
    BlockHash, ChainHeight, Plaza, Proposal, ProposalPart, ValidatorAddress, Vote,
};
use crate::error::HostError;

/// Most signatures in one certificate: more than any validator set holds.
pub(super) const MAX_SIGNATURES: usize = 10_000;
/// Longest stream id, peer id or public key.
pub(super) const MAX_ID_BYTES: usize = 128;
/// Longest piece of a block in one proposal part.
pub const MAX_PART_BYTES: usize = 256 * 1024;
/// Most decided values in one sync response.
pub(super) const MAX_SYNCED_VALUES: usize = 64;
/// Highest round read.
pub(super) const MAX_ROUND: i64 = 1 << 24;
/// Fewest bytes one signature entry of a certificate takes.
pub(super) const SIGNATURE_ENTRY_BYTES: usize = 96;

pub(super) fn bad(what: &str, reason: impl std::fmt::Display) -> HostError {
    HostError::Consensus(format!("malformed {what}: {reason}"))
}

pub(super) struct Writer(pub(super) Vec<u8>);

impl Writer {
    pub(super) fn new() -> Self {
        Writer(Vec::with_capacity(256))
    }

    pub(super) fn u8(&mut self, value: u8) {
        self.0.push(value);
    }

    pub(super) fn u64(&mut self, value: u64) {
        self.0.extend_from_slice(&value.to_be_bytes());
    }

    pub(super) fn bytes(&mut self, bytes: &[u8]) {
        self.0
            .extend_from_slice(&(bytes.len() as u32).to_be_bytes());
        self.0.extend_from_slice(bytes);
    }

    pub(super) fn count(&mut self, count: usize) {
        self.0.extend_from_slice(&(count as u32).to_be_bytes());
    }

    pub(super) fn height(&mut self, height: ChainHeight) {
        self.u64(height.0);
    }

    pub(super) fn round(&mut self, round: Round) {
        self.0.extend_from_slice(&round.as_i64().to_be_bytes());
    }

    pub(super) fn address(&mut self, address: &ValidatorAddress) {
        self.0.extend_from_slice(address.0.as_bytes());
    }

    pub(super) fn hash(&mut self, hash: &BlockHash) {
        self.0.extend_from_slice(&hash.0);
    }

    pub(super) fn signature(&mut self, signature: &Signature) {
        self.0.extend_from_slice(&signature.to_bytes());
    }

    pub(super) fn nil_or(&mut self, value: &NilOrVal<BlockHash>) {
        match value {
            NilOrVal::Nil => self.u8(0),
            NilOrVal::Val(hash) => {
                self.u8(1);
                self.hash(hash);
            }
        }
    }

    pub(super) fn vote_type(&mut self, kind: VoteType) {
        self.u8(match kind {
            VoteType::Prevote => 1,
            VoteType::Precommit => 2,
        });
    }

    pub(super) fn vote(&mut self, vote: &Vote) {
        self.vote_type(vote.kind);
        self.height(vote.height);
        self.round(vote.round);
        self.nil_or(&vote.value);
        self.address(&vote.validator);
        match &vote.extension {
            None => self.u8(0),
            Some(extension) => {
                self.u8(1);
                self.signature(&extension.signature);
            }
        }
    }

    pub(super) fn proposal(&mut self, proposal: &Proposal) {
        self.height(proposal.height);
        self.round(proposal.round);
        self.hash(&proposal.value);
        self.round(proposal.pol_round);
        self.address(&proposal.proposer);
    }

    pub(super) fn part(&mut self, part: &ProposalPart) {
        match part {
            ProposalPart::Init {
                height,
                round,
                pol_round,
                proposer,
                signature,
            } => {
                self.u8(1);
                self.height(*height);
                self.round(*round);
                self.round(*pol_round);
                self.address(proposer);
                self.signature(signature);
            }
            ProposalPart::Data(bytes) => {
                self.u8(2);
                self.bytes(bytes);
            }
            ProposalPart::Fin(signature) => {
                self.u8(3);
                self.signature(signature);
            }
        }
    }

    pub(super) fn signed_vote(&mut self, vote: &SignedMessage<Plaza, Vote>) {
        self.vote(&vote.message);
        self.signature(&vote.signature);
    }

    pub(super) fn polka(&mut self, certificate: &PolkaCertificate<Plaza>) {
        self.height(certificate.height);
        self.round(certificate.round);
        self.hash(&certificate.value_id);
        self.count(certificate.polka_signatures.len());
        for signature in &certificate.polka_signatures {
            self.address(&signature.address);
            self.signature(&signature.signature);
        }
    }

    pub(super) fn round_certificate(&mut self, certificate: &RoundCertificate<Plaza>) {
        self.height(certificate.height);
        self.round(certificate.round);
        self.u8(match certificate.cert_type {
            RoundCertificateType::Skip => 1,
            RoundCertificateType::Precommit => 2,
        });
        self.count(certificate.round_signatures.len());
        for signature in &certificate.round_signatures {
            self.vote_type(signature.vote_type);
            self.nil_or(&signature.value_id);
            self.address(&signature.address);
            self.signature(&signature.signature);
        }
    }

    pub(super) fn commit(&mut self, certificate: &ExtendedCommitCertificate<Plaza>) {
        self.height(certificate.height);
        self.round(certificate.round);
        self.hash(&certificate.value_id);
        self.count(certificate.commit_signatures.len());
        for signature in &certificate.commit_signatures {
            self.address(&signature.address);
            self.signature(&signature.signature);
            match &signature.extension {
                None => self.u8(0),
                Some(extension) => {
                    self.u8(1);
                    self.signature(&extension.signature);
                }
            }
        }
    }

    pub(super) fn done(self) -> Bytes {
        Bytes::from(self.0)
    }
}

pub(super) struct Reader<'a> {
    what: &'static str,
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(super) fn new(what: &'static str, bytes: &'a [u8]) -> Self {
        Reader { what, bytes }
    }

    pub(super) fn take(&mut self, len: usize) -> Result<&'a [u8], HostError> {
        if self.bytes.len() < len {
            return Err(bad(
                self.what,
                format!("cut short ({} bytes left, {len} wanted)", self.bytes.len()),
            ));
        }
        let (head, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        Ok(head)
    }

    pub(super) fn array<const N: usize>(&mut self) -> Result<[u8; N], HostError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(super) fn u8(&mut self) -> Result<u8, HostError> {
        Ok(self.take(1)?[0])
    }

    pub(super) fn u64(&mut self) -> Result<u64, HostError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    pub(super) fn count(&mut self, max: usize, of: &str) -> Result<usize, HostError> {
        let count = u32::from_be_bytes(self.array()?) as usize;
        if count > max {
            return Err(bad(self.what, format!("{count} {of}; at most {max}")));
        }
        Ok(count)
    }

    pub(super) fn bytes(&mut self, max: usize, of: &str) -> Result<&'a [u8], HostError> {
        let len = self.count(max, of)?;
        self.take(len)
    }

    pub(super) fn height(&mut self) -> Result<ChainHeight, HostError> {
        Ok(ChainHeight(self.u64()?))
    }

    /// Room to reserve for `count` signature entries: no more than the
    /// bytes left could hold, so a short message cannot make a large
    /// allocation.
    pub(super) fn room(&self, count: usize) -> usize {
        count.min(self.bytes.len() / SIGNATURE_ENTRY_BYTES)
    }

    pub(super) fn round(&mut self) -> Result<Round, HostError> {
        let round = i64::from_be_bytes(self.array()?);
        // Rounds past this never happen: a round lasts seconds.
        if !(-1..=MAX_ROUND).contains(&round) {
            return Err(bad(self.what, format!("round {round}")));
        }
        Ok(Round::from(round))
    }

    pub(super) fn address(&mut self) -> Result<ValidatorAddress, HostError> {
        Ok(ValidatorAddress(Address::from_bytes(self.array()?)))
    }

    pub(super) fn hash(&mut self) -> Result<BlockHash, HostError> {
        Ok(BlockHash(self.array()?))
    }

    pub(super) fn signature(&mut self) -> Result<Signature, HostError> {
        Ok(Signature::from_bytes(self.array()?))
    }

    pub(super) fn flag(&mut self) -> Result<bool, HostError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(bad(self.what, format!("flag {other}"))),
        }
    }

    pub(super) fn nil_or(&mut self) -> Result<NilOrVal<BlockHash>, HostError> {
        Ok(if self.flag()? {
            NilOrVal::Val(self.hash()?)
        } else {
            NilOrVal::Nil
        })
    }

    pub(super) fn vote_type(&mut self) -> Result<VoteType, HostError> {
        match self.u8()? {
            1 => Ok(VoteType::Prevote),
            2 => Ok(VoteType::Precommit),
            other => Err(bad(self.what, format!("vote type {other}"))),
        }
    }

    pub(super) fn vote(&mut self) -> Result<Vote, HostError> {
        Ok(Vote {
            kind: self.vote_type()?,
            height: self.height()?,
            round: self.round()?,
            value: self.nil_or()?,
            validator: self.address()?,
            extension: if self.flag()? {
                Some(SignedMessage::new((), self.signature()?))
            } else {
                None
            },
        })
    }

    pub(super) fn proposal(&mut self) -> Result<Proposal, HostError> {
        Ok(Proposal {
            height: self.height()?,
            round: self.round()?,
            value: self.hash()?,
            pol_round: self.round()?,
            proposer: self.address()?,
        })
    }

    pub(super) fn part(&mut self) -> Result<ProposalPart, HostError> {
        match self.u8()? {
            1 => Ok(ProposalPart::Init {
                height: self.height()?,
                round: self.round()?,
                pol_round: self.round()?,
                proposer: self.address()?,
                signature: self.signature()?,
            }),
            2 => Ok(ProposalPart::Data(
                self.bytes(MAX_PART_BYTES, "bytes in a part")?.to_vec(),
            )),
            3 => Ok(ProposalPart::Fin(self.signature()?)),
            other => Err(bad(self.what, format!("proposal part kind {other}"))),
        }
    }

    pub(super) fn signed_vote(&mut self) -> Result<SignedMessage<Plaza, Vote>, HostError> {
        let vote = self.vote()?;
        Ok(SignedMessage::new(vote, self.signature()?))
    }

    pub(super) fn polka(&mut self) -> Result<PolkaCertificate<Plaza>, HostError> {
        let (height, round, value_id) = (self.height()?, self.round()?, self.hash()?);
        let count = self.count(MAX_SIGNATURES, "signatures")?;
        let mut polka_signatures = Vec::with_capacity(self.room(count));
        for _ in 0..count {
            polka_signatures.push(PolkaSignature::new(self.address()?, self.signature()?));
        }
        Ok(PolkaCertificate {
            height,
            round,
            value_id,
            polka_signatures,
        })
    }

    pub(super) fn round_certificate(&mut self) -> Result<RoundCertificate<Plaza>, HostError> {
        let (height, round) = (self.height()?, self.round()?);
        let cert_type = match self.u8()? {
            1 => RoundCertificateType::Skip,
            2 => RoundCertificateType::Precommit,
            other => return Err(bad(self.what, format!("round certificate kind {other}"))),
        };
        let count = self.count(MAX_SIGNATURES, "signatures")?;
        let mut round_signatures = Vec::with_capacity(self.room(count));
        for _ in 0..count {
            round_signatures.push(RoundSignature::new(
                self.vote_type()?,
                self.nil_or()?,
                self.address()?,
                self.signature()?,
            ));
        }
        Ok(RoundCertificate {
            height,
            round,
            cert_type,
            round_signatures,
        })
    }

    pub(super) fn commit(&mut self) -> Result<ExtendedCommitCertificate<Plaza>, HostError> {
        let (height, round, value_id) = (self.height()?, self.round()?, self.hash()?);
        let count = self.count(MAX_SIGNATURES, "signatures")?;
        let mut commit_signatures = Vec::with_capacity(self.room(count));
        for _ in 0..count {
            let (address, signature) = (self.address()?, self.signature()?);
            let extension = if self.flag()? {
                Some(SignedMessage::new((), self.signature()?))
            } else {
                None
            };
            commit_signatures.push(ExtendedCommitSignature::new(address, signature, extension));
        }
        Ok(ExtendedCommitCertificate {
            height,
            round,
            value_id,
            commit_signatures,
        })
    }

    /// Ends reading: bytes left over are refused.
    pub(super) fn done<T>(self, value: T) -> Result<T, HostError> {
        if self.bytes.is_empty() {
            Ok(value)
        } else {
            Err(bad(
                self.what,
                format!("{} bytes left over", self.bytes.len()),
            ))
        }
    }
}
