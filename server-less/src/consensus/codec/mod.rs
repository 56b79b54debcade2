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
    NilOrVal, PolkaCertificate, Round, SignedMessage, ValidatorProof, Validity, VoteType,
};
use malachitebft_signing_ed25519::Signature;
use malachitebft_sync::{RawDecidedValue, Request, Response, Status, ValueRequest, ValueResponse};

use super::context::{
    BlockHash, ChainHeight, Plaza, Proposal, ProposalPart, ValidatorAddress, Vote,
};
use crate::error::HostError;

mod wire;

pub use self::wire::MAX_PART_BYTES;
use self::wire::{MAX_ID_BYTES, MAX_SYNCED_VALUES, Reader, Writer, bad};

/// Writes and reads every consensus message Plaza sends or logs.
#[derive(Clone, Copy, Debug, Default)]
pub struct PlazaCodec;

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

/// A stored commit certificate as the ledger's light client reads it.
pub fn light_commit(bytes: &[u8]) -> Result<ledger::light::Commit, HostError> {
    let certificate = decode_certificate(bytes)?;
    Ok(ledger::light::Commit {
        height: certificate.height.0,
        round: certificate.round.as_i64(),
        block: ledger::BlockHash(certificate.value_id.0),
        signatures: certificate
            .commit_signatures
            .iter()
            .map(|signature| {
                (
                    signature.address.0,
                    ledger::Signature(signature.signature.to_bytes()),
                )
            })
            .collect(),
    })
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
    use malachitebft_core_types::{
        PolkaSignature, RoundCertificate, RoundCertificateType, RoundSignature,
    };

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
