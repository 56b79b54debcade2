//! How consensus messages are written: on the wire between validators, in
//! the write-ahead log, and in value sync.
//!
//! One plain binary form, fixed-width integers big-endian, lengths before
//! every list and byte string. A reader refuses a list or byte string
//! longer than its kind allows before it allocates, and refuses bytes
//! left over at the end, so a malformed message is refused whole with the
//! reason.

use std::ops::RangeInclusive;

use bytes::Bytes;
use ledger::{Address, MAX_BLOCK_BYTES};
use malachitebft_app_channel::app::consensus::{LivenessMsg, ProposedValue, SignedConsensusMsg};
use malachitebft_app_channel::app::streaming::{StreamContent, StreamId, StreamMessage};
use malachitebft_app_channel::app::types::PeerId;
use malachitebft_app_channel::app::types::codec::{Codec, HasEncodedLen};
use malachitebft_core_types::{
    CommitCertificate, CommitSignature, ExtendedCommitCertificate, ExtendedCommitSignature,
    NilOrVal, PolkaCertificate, PolkaSignature, Round, RoundCertificate, RoundCertificateType,
    RoundSignature, SignedMessage, ValidatorProof, Validity, VoteType,
};
use malachitebft_signing_ed25519::Signature;
use malachitebft_sync::{RawDecidedValue, Request, Response, Status, ValueRequest, ValueResponse};

use super::context::{
    BlockHash, ChainHeight, Plaza, Proposal, ProposalPart, ValidatorAddress, Vote,
};
use crate::error::HostError;

/// Most signatures in one certificate: more than any validator set holds.
const MAX_SIGNATURES: usize = 10_000;
/// Longest stream id, peer id or public key.
const MAX_ID_BYTES: usize = 128;
/// Longest piece of a block in one proposal part.
pub const MAX_PART_BYTES: usize = 256 * 1024;
/// Most decided values in one sync response.
const MAX_SYNCED_VALUES: usize = 64;
/// Highest round read.
const MAX_ROUND: i64 = 1 << 24;
/// Fewest bytes one signature entry of a certificate takes.
const SIGNATURE_ENTRY_BYTES: usize = 96;

/// Writes and reads every consensus message Plaza sends or logs.
#[derive(Clone, Copy, Debug, Default)]
pub struct PlazaCodec;

fn bad(what: &str, reason: impl std::fmt::Display) -> HostError {
    HostError::Consensus(format!("malformed {what}: {reason}"))
}

struct Writer(Vec<u8>);

impl Writer {
    fn new() -> Self {
        Writer(Vec::with_capacity(256))
    }

    fn u8(&mut self, value: u8) {
        self.0.push(value);
    }

    fn u64(&mut self, value: u64) {
        self.0.extend_from_slice(&value.to_be_bytes());
    }

    fn bytes(&mut self, bytes: &[u8]) {
        self.0
            .extend_from_slice(&(bytes.len() as u32).to_be_bytes());
        self.0.extend_from_slice(bytes);
    }

    fn count(&mut self, count: usize) {
        self.0.extend_from_slice(&(count as u32).to_be_bytes());
    }

    fn height(&mut self, height: ChainHeight) {
        self.u64(height.0);
    }

    fn round(&mut self, round: Round) {
        self.0.extend_from_slice(&round.as_i64().to_be_bytes());
    }

    fn address(&mut self, address: &ValidatorAddress) {
        self.0.extend_from_slice(address.0.as_bytes());
    }

    fn hash(&mut self, hash: &BlockHash) {
        self.0.extend_from_slice(&hash.0);
    }

    fn signature(&mut self, signature: &Signature) {
        self.0.extend_from_slice(&signature.to_bytes());
    }

    fn nil_or(&mut self, value: &NilOrVal<BlockHash>) {
        match value {
            NilOrVal::Nil => self.u8(0),
            NilOrVal::Val(hash) => {
                self.u8(1);
                self.hash(hash);
            }
        }
    }

    fn vote_type(&mut self, kind: VoteType) {
        self.u8(match kind {
            VoteType::Prevote => 1,
            VoteType::Precommit => 2,
        });
    }

    fn vote(&mut self, vote: &Vote) {
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

    fn proposal(&mut self, proposal: &Proposal) {
        self.height(proposal.height);
        self.round(proposal.round);
        self.hash(&proposal.value);
        self.round(proposal.pol_round);
        self.address(&proposal.proposer);
    }

    fn part(&mut self, part: &ProposalPart) {
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

    fn signed_vote(&mut self, vote: &SignedMessage<Plaza, Vote>) {
        self.vote(&vote.message);
        self.signature(&vote.signature);
    }

    fn polka(&mut self, certificate: &PolkaCertificate<Plaza>) {
        self.height(certificate.height);
        self.round(certificate.round);
        self.hash(&certificate.value_id);
        self.count(certificate.polka_signatures.len());
        for signature in &certificate.polka_signatures {
            self.address(&signature.address);
            self.signature(&signature.signature);
        }
    }

    fn round_certificate(&mut self, certificate: &RoundCertificate<Plaza>) {
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

    fn commit(&mut self, certificate: &ExtendedCommitCertificate<Plaza>) {
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

    fn done(self) -> Bytes {
        Bytes::from(self.0)
    }
}

struct Reader<'a> {
    what: &'static str,
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(what: &'static str, bytes: &'a [u8]) -> Self {
        Reader { what, bytes }
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], HostError> {
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

    fn array<const N: usize>(&mut self) -> Result<[u8; N], HostError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, HostError> {
        Ok(self.take(1)?[0])
    }

    fn u64(&mut self) -> Result<u64, HostError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    fn count(&mut self, max: usize, of: &str) -> Result<usize, HostError> {
        let count = u32::from_be_bytes(self.array()?) as usize;
        if count > max {
            return Err(bad(self.what, format!("{count} {of}; at most {max}")));
        }
        Ok(count)
    }

    fn bytes(&mut self, max: usize, of: &str) -> Result<&'a [u8], HostError> {
        let len = self.count(max, of)?;
        self.take(len)
    }

    fn height(&mut self) -> Result<ChainHeight, HostError> {
        Ok(ChainHeight(self.u64()?))
    }

    /// Room to reserve for `count` signature entries: no more than the
    /// bytes left could hold, so a short message cannot make a large
    /// allocation.
    fn room(&self, count: usize) -> usize {
        count.min(self.bytes.len() / SIGNATURE_ENTRY_BYTES)
    }

    fn round(&mut self) -> Result<Round, HostError> {
        let round = i64::from_be_bytes(self.array()?);
        // Rounds past this never happen: a round lasts seconds.
        if !(-1..=MAX_ROUND).contains(&round) {
            return Err(bad(self.what, format!("round {round}")));
        }
        Ok(Round::from(round))
    }

    fn address(&mut self) -> Result<ValidatorAddress, HostError> {
        Ok(ValidatorAddress(Address::from_bytes(self.array()?)))
    }

    fn hash(&mut self) -> Result<BlockHash, HostError> {
        Ok(BlockHash(self.array()?))
    }

    fn signature(&mut self) -> Result<Signature, HostError> {
        Ok(Signature::from_bytes(self.array()?))
    }

    fn flag(&mut self) -> Result<bool, HostError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(bad(self.what, format!("flag {other}"))),
        }
    }

    fn nil_or(&mut self) -> Result<NilOrVal<BlockHash>, HostError> {
        Ok(if self.flag()? {
            NilOrVal::Val(self.hash()?)
        } else {
            NilOrVal::Nil
        })
    }

    fn vote_type(&mut self) -> Result<VoteType, HostError> {
        match self.u8()? {
            1 => Ok(VoteType::Prevote),
            2 => Ok(VoteType::Precommit),
            other => Err(bad(self.what, format!("vote type {other}"))),
        }
    }

    fn vote(&mut self) -> Result<Vote, HostError> {
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

    fn proposal(&mut self) -> Result<Proposal, HostError> {
        Ok(Proposal {
            height: self.height()?,
            round: self.round()?,
            value: self.hash()?,
            pol_round: self.round()?,
            proposer: self.address()?,
        })
    }

    fn part(&mut self) -> Result<ProposalPart, HostError> {
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

    fn signed_vote(&mut self) -> Result<SignedMessage<Plaza, Vote>, HostError> {
        let vote = self.vote()?;
        Ok(SignedMessage::new(vote, self.signature()?))
    }

    fn polka(&mut self) -> Result<PolkaCertificate<Plaza>, HostError> {
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

    fn round_certificate(&mut self) -> Result<RoundCertificate<Plaza>, HostError> {
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

    fn commit(&mut self) -> Result<ExtendedCommitCertificate<Plaza>, HostError> {
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
    fn done<T>(self, value: T) -> Result<T, HostError> {
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

/// The commit certificate of a decided block, as stored beside it.
pub fn encode_certificate(certificate: &CommitCertificate<Plaza>) -> Vec<u8> {
    let mut out = Writer::new();
    let extended = ExtendedCommitCertificate {
        height: certificate.height,
        round: certificate.round,
        value_id: certificate.value_id,
        commit_signatures: certificate
            .commit_signatures
            .iter()
            .map(|signature| {
                ExtendedCommitSignature::new(signature.address, signature.signature, None)
            })
            .collect(),
    };
    out.commit(&extended);
    out.0
}

/// Reads a stored commit certificate.
pub fn decode_certificate(bytes: &[u8]) -> Result<CommitCertificate<Plaza>, HostError> {
    let mut reader = Reader::new("commit certificate", bytes);
    let extended = reader.commit()?;
    let certificate = CommitCertificate {
        height: extended.height,
        round: extended.round,
        value_id: extended.value_id,
        commit_signatures: extended
            .commit_signatures
            .into_iter()
            .map(|signature| CommitSignature::new(signature.address, signature.signature))
            .collect(),
    };
    reader.done(certificate)
}

macro_rules! codec {
    ($ty:ty, $what:literal, |$w:ident, $msg:ident| $write:block, |$r:ident| $read:block) => {
        impl Codec<$ty> for PlazaCodec {
            type Error = HostError;

            fn decode(&self, bytes: Bytes) -> Result<$ty, HostError> {
                let mut $r = Reader::new($what, &bytes);
                let value = $read;
                $r.done(value)
            }

            fn encode(&self, $msg: &$ty) -> Result<Bytes, HostError> {
                let mut $w = Writer::new();
                $write;
                Ok($w.done())
            }
        }
    };
}

codec!(
    ProposalPart,
    "proposal part",
    |w, part| { w.part(part) },
    |r| { r.part()? }
);

codec!(
    SignedConsensusMsg<Plaza>,
    "consensus message",
    |w, message| {
        match message {
            SignedConsensusMsg::Vote(vote) => {
                w.u8(1);
                w.signed_vote(vote);
            }
            SignedConsensusMsg::Proposal(proposal) => {
                w.u8(2);
                w.proposal(&proposal.message);
                w.signature(&proposal.signature);
            }
        }
    },
    |r| {
        match r.u8()? {
            1 => SignedConsensusMsg::Vote(r.signed_vote()?),
            2 => {
                let proposal = r.proposal()?;
                SignedConsensusMsg::Proposal(SignedMessage::new(proposal, r.signature()?))
            }
            other => return Err(bad("consensus message", format!("kind {other}"))),
        }
    }
);

codec!(
    LivenessMsg<Plaza>,
    "liveness message",
    |w, message| {
        match message {
            LivenessMsg::Vote(vote) => {
                w.u8(1);
                w.signed_vote(vote);
            }
            LivenessMsg::PolkaCertificate(certificate) => {
                w.u8(2);
                w.polka(certificate);
            }
            LivenessMsg::SkipRoundCertificate(certificate) => {
                w.u8(3);
                w.round_certificate(certificate);
            }
        }
    },
    |r| {
        match r.u8()? {
            1 => LivenessMsg::Vote(r.signed_vote()?),
            2 => LivenessMsg::PolkaCertificate(r.polka()?),
            3 => LivenessMsg::SkipRoundCertificate(r.round_certificate()?),
            other => return Err(bad("liveness message", format!("kind {other}"))),
        }
    }
);

codec!(
    StreamMessage<ProposalPart>,
    "proposal stream message",
    |w, message| {
        w.bytes(&message.stream_id.to_bytes());
        w.u64(message.sequence);
        match &message.content {
            StreamContent::Data(part) => {
                w.u8(1);
                w.part(part);
            }
            StreamContent::Fin => w.u8(2),
        }
    },
    |r| {
        let stream_id = StreamId::new(Bytes::copy_from_slice(
            r.bytes(MAX_ID_BYTES, "stream id bytes")?,
        ));
        let sequence = r.u64()?;
        let content = match r.u8()? {
            1 => StreamContent::Data(r.part()?),
            2 => StreamContent::Fin,
            other => {
                return Err(bad(
                    "proposal stream message",
                    format!("content kind {other}"),
                ));
            }
        };
        StreamMessage::new(stream_id, sequence, content)
    }
);

codec!(
    ValidatorProof<Plaza>,
    "validator proof",
    |w, proof| {
        w.bytes(&proof.public_key);
        w.bytes(&proof.peer_id);
        w.signature(&proof.signature);
    },
    |r| {
        let public_key = r.bytes(MAX_ID_BYTES, "public key bytes")?.to_vec();
        let peer_id = r.bytes(MAX_ID_BYTES, "peer id bytes")?.to_vec();
        ValidatorProof::new(public_key, peer_id, r.signature()?)
    }
);

codec!(
    ProposedValue<Plaza>,
    "proposed value",
    |w, value| {
        w.height(value.height);
        w.round(value.round);
        w.round(value.valid_round);
        w.address(&value.proposer);
        w.hash(&value.value);
        w.u8(match value.validity {
            Validity::Valid => 1,
            Validity::Invalid => 0,
        });
    },
    |r| {
        ProposedValue {
            height: r.height()?,
            round: r.round()?,
            valid_round: r.round()?,
            proposer: r.address()?,
            value: r.hash()?,
            validity: Validity::from_bool(r.flag()?),
        }
    }
);

codec!(
    PolkaCertificate<Plaza>,
    "polka certificate",
    |w, certificate| { w.polka(certificate) },
    |r| { r.polka()? }
);

codec!(
    Status<Plaza>,
    "sync status",
    |w, status| {
        w.bytes(&status.peer_id.to_bytes());
        w.height(status.tip_height);
        w.height(status.history_min_height);
    },
    |r| {
        let peer_id = PeerId::from_bytes(r.bytes(MAX_ID_BYTES, "peer id bytes")?)
            .map_err(|err| bad("sync status", err))?;
        Status {
            peer_id,
            tip_height: r.height()?,
            history_min_height: r.height()?,
        }
    }
);

fn range(start: ChainHeight, end: ChainHeight) -> RangeInclusive<ChainHeight> {
    start..=end
}

codec!(
    Request<Plaza>,
    "sync request",
    |w, request| {
        let Request::ValueRequest(request) = request;
        w.height(*request.range.start());
        w.height(*request.range.end());
    },
    |r| {
        let start = r.height()?;
        let end = r.height()?;
        Request::ValueRequest(ValueRequest::new(range(start, end)))
    }
);

codec!(
    Response<Plaza>,
    "sync response",
    |w, response| {
        let Response::ValueResponse(response) = response;
        w.height(response.start_height);
        w.count(response.values.len());
        for value in &response.values {
            w.bytes(&value.value_bytes);
            w.commit(&value.certificate);
        }
    },
    |r| {
        let start_height = r.height()?;
        let count = r.count(MAX_SYNCED_VALUES, "decided values")?;
        let mut values = Vec::with_capacity(count);
        for _ in 0..count {
            let value_bytes = Bytes::copy_from_slice(r.bytes(MAX_BLOCK_BYTES, "block bytes")?);
            values.push(RawDecidedValue::new(value_bytes, r.commit()?));
        }
        Response::ValueResponse(ValueResponse::new(start_height, values))
    }
);

impl HasEncodedLen<Response<Plaza>> for PlazaCodec {
    fn encoded_len(&self, response: &Response<Plaza>) -> Result<usize, HostError> {
        Ok(self.encode(response)?.len())
    }
}

/// Hands `bytes` to the decoder of every message a peer can send on the
/// consensus network (votes, proposals, parts and streams, liveness,
/// sync status, requests and responses, commit certificates), as a peer
/// would; how many took them. For fuzzing: none may panic or allocate
/// beyond what the bytes hold.
pub fn decode_each(bytes: &[u8]) -> usize {
    let bytes = Bytes::copy_from_slice(bytes);
    [
        Codec::<ProposalPart>::decode(&PlazaCodec, bytes.clone()).is_ok(),
        Codec::<SignedConsensusMsg<Plaza>>::decode(&PlazaCodec, bytes.clone()).is_ok(),
        Codec::<LivenessMsg<Plaza>>::decode(&PlazaCodec, bytes.clone()).is_ok(),
        Codec::<StreamMessage<ProposalPart>>::decode(&PlazaCodec, bytes.clone()).is_ok(),
        Codec::<ValidatorProof<Plaza>>::decode(&PlazaCodec, bytes.clone()).is_ok(),
        Codec::<ProposedValue<Plaza>>::decode(&PlazaCodec, bytes.clone()).is_ok(),
        Codec::<PolkaCertificate<Plaza>>::decode(&PlazaCodec, bytes.clone()).is_ok(),
        Codec::<Status<Plaza>>::decode(&PlazaCodec, bytes.clone()).is_ok(),
        Codec::<Request<Plaza>>::decode(&PlazaCodec, bytes.clone()).is_ok(),
        Codec::<Response<Plaza>>::decode(&PlazaCodec, bytes.clone()).is_ok(),
        decode_certificate(&bytes).is_ok(),
    ]
    .into_iter()
    .filter(|ok| *ok)
    .count()
}

/// Well-formed encodings of consensus messages, to start fuzzing from.
pub fn sample_messages() -> Vec<Vec<u8>> {
    let validator = ValidatorAddress(Address::from_bytes([7; 32]));
    let signature = Signature::from_bytes([9; 64]);
    let vote = |kind, value| Vote {
        kind,
        height: ChainHeight(7),
        round: Round::new(2),
        value,
        validator,
        extension: None,
    };
    let init = ProposalPart::Init {
        height: ChainHeight(7),
        round: Round::new(0),
        pol_round: Round::Nil,
        proposer: validator,
        signature,
    };
    let stream = StreamId::new(Bytes::from_static(b"stream"));
    let mut out: Vec<Bytes> = Vec::new();
    let mut push = |bytes: Result<Bytes, HostError>| {
        if let Ok(bytes) = bytes {
            out.push(bytes);
        }
    };
    push(PlazaCodec.encode(&init));
    push(PlazaCodec.encode(&ProposalPart::Data(vec![1, 2, 3, 4])));
    push(PlazaCodec.encode(&ProposalPart::Fin(signature)));
    push(PlazaCodec.encode(&StreamMessage::new(
        stream.clone(),
        0,
        StreamContent::Data(init),
    )));
    push(PlazaCodec.encode(&StreamMessage::<ProposalPart>::new(
        stream,
        3,
        StreamContent::Fin,
    )));
    for (kind, value) in [
        (VoteType::Prevote, NilOrVal::Nil),
        (VoteType::Precommit, NilOrVal::Val(BlockHash([3; 32]))),
    ] {
        push(
            PlazaCodec.encode(&SignedConsensusMsg::<Plaza>::Vote(SignedMessage::new(
                vote(kind, value),
                signature,
            ))),
        );
    }
    push(
        PlazaCodec.encode(&SignedConsensusMsg::<Plaza>::Proposal(SignedMessage::new(
            Proposal {
                height: ChainHeight(7),
                round: Round::new(0),
                value: BlockHash([4; 32]),
                pol_round: Round::Nil,
                proposer: validator,
            },
            signature,
        ))),
    );
    out.into_iter().map(|bytes| bytes.to_vec()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger::testkit::keypair;

    fn me() -> ValidatorAddress {
        ValidatorAddress(keypair(9, 0).address())
    }

    fn signature(byte: u8) -> Signature {
        Signature::from_bytes([byte; 64])
    }

    fn round_trip<T>(value: T)
    where
        PlazaCodec: Codec<T, Error = HostError>,
        T: PartialEq + std::fmt::Debug,
    {
        let bytes = PlazaCodec.encode(&value).unwrap();
        assert_eq!(PlazaCodec.decode(bytes.clone()).unwrap(), value);
        // Cut short or with bytes left over, it is refused.
        let short = bytes.slice(..bytes.len() - 1);
        assert!(Codec::<T>::decode(&PlazaCodec, short).is_err());
        let mut long = bytes.to_vec();
        long.push(0);
        let err = Codec::<T>::decode(&PlazaCodec, Bytes::from(long)).unwrap_err();
        assert!(err.to_string().contains("left over"), "{err}");
    }

    fn vote(kind: VoteType, value: NilOrVal<BlockHash>) -> Vote {
        Vote {
            kind,
            height: ChainHeight(7),
            round: Round::new(2),
            value,
            validator: me(),
            extension: None,
        }
    }

    #[test]
    fn every_message_reads_back_as_written() {
        let block = BlockHash([3; 32]);
        let signed = SignedMessage::new(
            vote(VoteType::Precommit, NilOrVal::Val(block)),
            signature(1),
        );
        round_trip(ProposalPart::Init {
            height: ChainHeight(7),
            round: Round::new(0),
            pol_round: Round::Nil,
            proposer: me(),
            signature: signature(8),
        });
        round_trip(ProposalPart::Data(vec![1, 2, 3]));
        round_trip(ProposalPart::Fin(signature(9)));
        round_trip(SignedConsensusMsg::Vote(signed.clone()));
        round_trip(SignedConsensusMsg::<Plaza>::Vote(SignedMessage::new(
            vote(VoteType::Prevote, NilOrVal::Nil),
            signature(2),
        )));
        round_trip(SignedConsensusMsg::<Plaza>::Proposal(SignedMessage::new(
            Proposal {
                height: ChainHeight(7),
                round: Round::new(1),
                value: block,
                pol_round: Round::new(0),
                proposer: me(),
            },
            signature(4),
        )));
        let polka = PolkaCertificate::<Plaza> {
            height: ChainHeight(7),
            round: Round::new(2),
            value_id: block,
            polka_signatures: vec![PolkaSignature::new(me(), signature(5))],
        };
        round_trip(LivenessMsg::PolkaCertificate(polka.clone()));
        round_trip(polka);
        round_trip(LivenessMsg::<Plaza>::SkipRoundCertificate(
            RoundCertificate {
                height: ChainHeight(7),
                round: Round::new(3),
                cert_type: RoundCertificateType::Skip,
                round_signatures: vec![RoundSignature::new(
                    VoteType::Prevote,
                    NilOrVal::Nil,
                    me(),
                    signature(6),
                )],
            },
        ));
        round_trip(LivenessMsg::Vote(signed));
        round_trip(StreamMessage::new(
            StreamId::new(Bytes::from_static(b"stream")),
            3,
            StreamContent::Data(ProposalPart::Data(vec![9; 10])),
        ));
        round_trip(StreamMessage::<ProposalPart>::new(
            StreamId::new(Bytes::from_static(b"stream")),
            4,
            StreamContent::Fin,
        ));
        round_trip(ValidatorProof::<Plaza>::new(
            vec![1; 32],
            vec![2; 38],
            signature(7),
        ));
        round_trip(ProposedValue::<Plaza> {
            height: ChainHeight(7),
            round: Round::new(0),
            valid_round: Round::Nil,
            proposer: me(),
            value: block,
            validity: Validity::Invalid,
        });
        round_trip(Status::<Plaza> {
            peer_id: PeerId::from_bytes(&libp2p::PeerId::random().to_bytes()).unwrap(),
            tip_height: ChainHeight(9),
            history_min_height: ChainHeight(1),
        });
        round_trip(Request::<Plaza>::ValueRequest(ValueRequest::new(
            ChainHeight(3)..=ChainHeight(8),
        )));
        let certificate = ExtendedCommitCertificate::<Plaza> {
            height: ChainHeight(3),
            round: Round::new(0),
            value_id: block,
            commit_signatures: vec![ExtendedCommitSignature::new(me(), signature(8), None)],
        };
        round_trip(Response::<Plaza>::ValueResponse(ValueResponse::new(
            ChainHeight(3),
            vec![RawDecidedValue::new(
                Bytes::from_static(b"block"),
                certificate,
            )],
        )));

        let commit = CommitCertificate::<Plaza> {
            height: ChainHeight(3),
            round: Round::new(1),
            value_id: block,
            commit_signatures: vec![CommitSignature::new(me(), signature(8))],
        };
        assert_eq!(
            decode_certificate(&encode_certificate(&commit)).unwrap(),
            commit
        );
    }

    #[test]
    fn lengths_past_their_limits_are_refused_before_anything_is_allocated() {
        let mut bytes = vec![2u8];
        bytes.extend_from_slice(&u32::MAX.to_be_bytes());
        let err = Codec::<ProposalPart>::decode(&PlazaCodec, Bytes::from(bytes)).unwrap_err();
        assert!(err.to_string().contains("at most"), "{err}");
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&7u64.to_be_bytes());
        bytes.extend_from_slice(&(u32::MAX).to_be_bytes());
        let err = Codec::<Response<Plaza>>::decode(&PlazaCodec, Bytes::from(bytes)).unwrap_err();
        assert!(err.to_string().contains("decided values"), "{err}");
        let err = Codec::<ProposalPart>::decode(&PlazaCodec, Bytes::from_static(&[9])).unwrap_err();
        assert!(err.to_string().contains("kind 9"), "{err}");
    }
}
