//! Joining a host: a player proves its account and gets a netcode connect
//! token that only it can read.
//!
//! The exchange runs over a small TCP endpoint, in frames of a 2-byte
//! length and a borsh value ([`JoinRequest`], [`JoinReply`]):
//!
//! 1. The player says who it is, which world it means to enter (or the
//!    host's first), and an X25519 key share made for this join alone.
//! 2. The host answers with a fresh challenge, its own key share, the
//!    host's address (its key) and the world, all signed with the host's
//!    key over the [`Transcript`] of the exchange.
//! 3. The player checks that signature and signs the same transcript with
//!    its account's key.
//!    With it goes its [`Pass`]: its signed word that it plays at this
//!    host from now on, which the host shows other hosts so that they
//!    believe it speaks for the account.
//! 4. The host checks that the signature is the account's and names this
//!    host, a world it serves, its challenge and both key shares, and that
//!    the pass is the account's, for this host and network, and dated
//!    within [`PASS_SKEW`] of the host's clock; then it sends the connect
//!    token sealed (XChaCha20-Poly1305) under a key derived from both key
//!    shares and the transcript.
//!
//! A proof names one host, one world and one exchange, so a host that
//! relays it to another gains nothing: the other host seals the token to
//! key shares only the player holds. The token's private part and the
//! session keys inside it never cross the network in clear text, so
//! nobody who watches a join can take over the session.
//!
//! This module holds the frames, the transcript and its keys, and the
//! player's half; the host's endpoint is in `server-less`.

use std::net::SocketAddr;
use std::time::Duration;

use borsh::{BorshDeserialize, BorshSerialize};
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use curve25519_dalek::montgomery::MontgomeryPoint;
use ledger::{Address, ChainId, Keypair, Signature};
use rand::RngCore;
use renet_netcode::ConnectToken;
use zeroize::Zeroizing;

use crate::error::ClientError;
use crate::protocol::{self, ErrorCode, MAX_JOIN_FRAME_BYTES, MAX_WORLD_NAME_BYTES, ProtocolError};
use crate::text::hex;
use crate::time::unix_time;

/// The join protocol's version; a client of another is refused with
/// [`ErrorCode::WrongVersion`]. It follows the session protocol's.
pub const JOIN_VERSION: u16 = protocol::VERSION;

/// A player's join frame.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum JoinRequest {
    /// "I am this account and mean to enter this world; challenge me."
    Hello {
        /// The client's protocol version.
        version: u16,
        /// The account it will prove.
        account: Address,
        /// The world it means to enter; `None` for the host's first.
        world: Option<String>,
        /// Its X25519 key share for this join.
        key_share: [u8; 32],
    },
    /// The account's signature of [`Transcript::player_message`], and its
    /// pass for this host.
    Prove {
        /// The signature.
        signature: Signature,
        /// The player's word that it plays at this host from now on.
        pass: Pass,
    },
    /// A host (or its operator) asks what network this is: answered with
    /// [`JoinReply::Network`] (see [`crate::network`]).
    Network {
        /// The asker's network protocol version.
        version: u16,
    },
    /// After [`JoinReply::Network`]: one part of the network's genesis.
    GenesisPart {
        /// The part's number, from 0.
        part: u32,
    },
    /// After [`JoinReply::Network`]: one part of an item of the snapshot
    /// it offers (see [`crate::network::SnapshotOffer`]).
    SnapshotPart {
        /// The snapshot's height.
        height: u64,
        /// 0 for its head, `i + 1` for chunk `i`.
        item: u32,
        /// The part's number, from 0.
        part: u32,
    },
}

/// How far a pass's date may be from the host's clock when the player
/// joins (or sends it again), either way.
pub const PASS_SKEW: Duration = Duration::from_secs(60);

/// How often a player in a world signs its pass again and sends it to its
/// host ([`crate::protocol::ClientMessage::Pass`]).
pub const PASS_RENEW: Duration = Duration::from_secs(60);

/// The oldest pass a host believes of another host's player: a host whose
/// player has gone (logged off, or moved on) cannot show it for longer.
pub const PASS_MAX_AGE: Duration = Duration::from_secs(300);

/// A player's signed word that its account plays at one host of one
/// network from a time on. The host passes it on with its presence; other
/// hosts show the account as that host's player only with a pass that
/// names that host, and when two hosts speak for one account the newer
/// pass wins. A host cannot make one for an account it does not hold the
/// key of, nor use one made for another host; an old pass of a player who
/// has since joined elsewhere loses to the newer. A player signs its pass
/// again every [`PASS_RENEW`] while it plays, and hosts believe none older
/// than [`PASS_MAX_AGE`], so a host cannot go on showing a player that
/// left it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Pass {
    /// When the player joined, by its clock (Unix milliseconds).
    pub since: u64,
    /// The account's signature of [`Pass::message`].
    pub signature: Signature,
}

impl Pass {
    /// What the account signs: a domain, the network, the host and the
    /// account (texts as a 4-byte little-endian length and their bytes,
    /// keys as their 32 bytes), then `since` (8 bytes, little-endian).
    pub fn message(chain_id: &ChainId, host: &Address, account: &Address, since: u64) -> Vec<u8> {
        const DOMAIN: &[u8] = b"plaza/pass/v1\0";
        let chain = chain_id.as_str().as_bytes();
        let mut out = Vec::with_capacity(DOMAIN.len() + chain.len() + 80);
        out.extend_from_slice(DOMAIN);
        let len = u32::try_from(chain.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(chain);
        out.extend_from_slice(host.as_bytes());
        out.extend_from_slice(account.as_bytes());
        out.extend_from_slice(&since.to_le_bytes());
        out
    }

    /// `key`'s pass for `host` of network `chain_id`, dated `since`.
    pub fn sign(key: &Keypair, chain_id: &ChainId, host: &Address, since: u64) -> Pass {
        Pass {
            since,
            signature: key.sign(&Pass::message(chain_id, host, &key.address(), since)),
        }
    }

    /// Whether this is `account`'s pass for `host` of network `chain_id`.
    pub fn is_for(&self, chain_id: &ChainId, host: &Address, account: &Address) -> bool {
        signed_by(
            account,
            &Pass::message(chain_id, host, account, self.since),
            &self.signature,
        )
    }
}

/// The host's join frame.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum JoinReply {
    /// Sign this exchange.
    Challenge {
        /// The network.
        chain_id: String,
        /// The host: the address of its key, which signed this frame.
        host: Address,
        /// The world the session is for.
        world: String,
        /// Fresh random bytes.
        challenge: [u8; 32],
        /// The host's X25519 key share for this join.
        key_share: [u8; 32],
        /// The host's signature of [`Transcript::host_message`].
        signature: Signature,
    },
    /// Connect with this netcode token.
    Token {
        /// The session's client id.
        client_id: u64,
        /// The connect token as netcode writes it, sealed with
        /// [`Transcript::token_key`]: a 24-byte nonce, then the ciphertext.
        sealed: Vec<u8>,
    },
    /// What network this host belongs to, and where its hosts are.
    Network(crate::network::NetworkInfo),
    /// One part of the network's genesis.
    GenesisPart {
        /// The part's number.
        part: u32,
        /// Its bytes.
        bytes: Vec<u8>,
    },
    /// Not joined, and why.
    Refused {
        /// What went wrong.
        code: ErrorCode,
        /// In words.
        message: String,
    },
    /// One part of an item of a snapshot.
    SnapshotPart {
        /// The snapshot's height.
        height: u64,
        /// The item: 0 for the head, `i + 1` for chunk `i`.
        item: u32,
        /// The part's number.
        part: u32,
        /// Its bytes.
        bytes: Vec<u8>,
    },
}

/// Everything one join exchange names; both sides sign it, and the token
/// is sealed under a key bound to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transcript {
    /// The network.
    pub chain_id: ChainId,
    /// The host's address.
    pub host: Address,
    /// The world.
    pub world: String,
    /// The host's challenge.
    pub challenge: [u8; 32],
    /// The player's account.
    pub account: Address,
    /// The player's key share.
    pub player_share: [u8; 32],
    /// The host's key share.
    pub host_share: [u8; 32],
}

impl Transcript {
    /// `domain`, then every field in order: texts as a 4-byte
    /// little-endian length and their bytes, keys and shares as their 32
    /// bytes. Written by hand so that it cannot fail.
    fn with_domain(&self, domain: &[u8]) -> Vec<u8> {
        fn text(out: &mut Vec<u8>, text: &str) {
            let len = u32::try_from(text.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(text.as_bytes());
        }
        let mut out = Vec::with_capacity(domain.len() + 256);
        out.extend_from_slice(domain);
        text(&mut out, self.chain_id.as_str());
        out.extend_from_slice(self.host.as_bytes());
        text(&mut out, &self.world);
        out.extend_from_slice(&self.challenge);
        out.extend_from_slice(self.account.as_bytes());
        out.extend_from_slice(&self.player_share);
        out.extend_from_slice(&self.host_share);
        out
    }

    /// What the host signs.
    pub fn host_message(&self) -> Vec<u8> {
        self.with_domain(b"plaza/join/host/v3\0")
    }

    /// What the player signs.
    pub fn player_message(&self) -> Vec<u8> {
        self.with_domain(b"plaza/join/player/v3\0")
    }

    /// The key the token is sealed with: the X25519 secret both sides
    /// share, bound to this exchange.
    pub fn token_key(&self, shared: &[u8; 32]) -> Zeroizing<[u8; 32]> {
        let mut material = Zeroizing::new(Vec::with_capacity(64));
        material.extend_from_slice(shared);
        material.extend_from_slice(blake3::hash(&self.with_domain(b"")).as_bytes());
        Zeroizing::new(blake3::derive_key("plaza join token v3", &material))
    }
}

/// One side's X25519 key share for one join.
pub struct KeyShare {
    secret: Zeroizing<[u8; 32]>,
    public: [u8; 32],
}

impl KeyShare {
    /// A fresh share.
    pub fn new() -> Self {
        let mut secret = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(&mut secret[..]);
        let public = MontgomeryPoint::mul_base_clamped(*secret).to_bytes();
        KeyShare { secret, public }
    }

    /// What is sent to the other side.
    pub fn public(&self) -> [u8; 32] {
        self.public
    }

    /// The secret shared with the holder of `theirs`; refused if `theirs`
    /// is a point of small order, which would make it guessable.
    pub fn shared(&self, theirs: &[u8; 32]) -> Result<Zeroizing<[u8; 32]>, ProtocolError> {
        let shared = Zeroizing::new(
            MontgomeryPoint(*theirs)
                .mul_clamped(*self.secret)
                .to_bytes(),
        );
        if shared.iter().all(|byte| *byte == 0) {
            return Err(ProtocolError::new(
                ErrorCode::Invalid,
                "a key share of small order",
            ));
        }
        Ok(shared)
    }
}

impl Default for KeyShare {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for KeyShare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyShare({})", hex(&self.public))
    }
}

/// `plaintext` sealed under `key`: a fresh 24-byte nonce, then the
/// XChaCha20-Poly1305 ciphertext.
pub fn seal(key: &[u8; 32], plaintext: &[u8]) -> Result<Vec<u8>, ProtocolError> {
    let mut nonce = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let sealed = XChaCha20Poly1305::new(key.into())
        .encrypt(XNonce::from_slice(&nonce), plaintext)
        .map_err(|_| ProtocolError::new(ErrorCode::Unavailable, "the token could not be sealed"))?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// What [`seal`] sealed under `key`; refused if it does not open.
pub fn open(key: &[u8; 32], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, ProtocolError> {
    let bad = || ProtocolError::new(ErrorCode::Malformed, "the sealed token does not open");
    let (nonce, ciphertext) = sealed.split_at_checked(24).ok_or_else(bad)?;
    XChaCha20Poly1305::new(key.into())
        .decrypt(XNonce::from_slice(nonce), ciphertext)
        .map(Zeroizing::new)
        .map_err(|_| bad())
}

/// A frame's bytes: a 2-byte big-endian length, then `bytes`.
pub fn frame(bytes: &[u8]) -> Result<Vec<u8>, ProtocolError> {
    frame_of_at_most(bytes, MAX_JOIN_FRAME_BYTES)
}

/// [`frame`] for a frame of at most `max` bytes (at most 65,535).
pub fn frame_of_at_most(bytes: &[u8], max: usize) -> Result<Vec<u8>, ProtocolError> {
    let len = u16::try_from(bytes.len())
        .ok()
        .filter(|len| usize::from(*len) <= max)
        .ok_or_else(|| {
            ProtocolError::new(
                ErrorCode::TooLarge,
                format!("a join frame of {} bytes", bytes.len()),
            )
        })?;
    let mut out = Vec::with_capacity(bytes.len() + 2);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
    Ok(out)
}

/// The length a frame header announces, if it is within the limit.
pub fn frame_len(header: [u8; 2]) -> Result<usize, ProtocolError> {
    frame_len_at_most(header, MAX_JOIN_FRAME_BYTES)
}

/// [`frame_len`] for a frame of at most `max` bytes.
pub fn frame_len_at_most(header: [u8; 2], max: usize) -> Result<usize, ProtocolError> {
    let len = usize::from(u16::from_be_bytes(header));
    if len > max {
        return Err(ProtocolError::new(
            ErrorCode::TooLarge,
            format!("a join frame of {len} bytes, the most is {max}"),
        ));
    }
    Ok(len)
}

/// Writes one join frame to a blocking stream.
pub fn send_frame<T: BorshSerialize>(
    stream: &mut std::net::TcpStream,
    value: &T,
) -> Result<(), ClientError> {
    use std::io::Write;
    stream
        .write_all(&frame(&protocol::encode(value)?)?)
        .map_err(|err| ClientError::net("sending a join frame", err))
}

/// Reads one join frame from a blocking stream.
pub fn receive_frame<T: BorshDeserialize>(
    stream: &mut std::net::TcpStream,
) -> Result<T, ClientError> {
    receive_frame_of_at_most(stream, MAX_JOIN_FRAME_BYTES)
}

/// [`receive_frame`] for a frame of at most `max` bytes.
pub fn receive_frame_of_at_most<T: BorshDeserialize>(
    stream: &mut std::net::TcpStream,
    max: usize,
) -> Result<T, ClientError> {
    use std::io::Read;
    let mut header = [0u8; 2];
    stream
        .read_exact(&mut header)
        .map_err(|err| ClientError::net("reading a join frame", err))?;
    let mut frame = vec![0u8; frame_len_at_most(header, max)?];
    stream
        .read_exact(&mut frame)
        .map_err(|err| ClientError::net("reading a join frame", err))?;
    Ok(protocol::decode(&frame, max)?)
}

/// A join done from the player's side. Its `Debug` output leaves out the
/// token, which holds the session's keys.
pub struct Joined {
    /// The connect token, opened.
    pub token: ConnectToken,
    /// The network.
    pub chain_id: ChainId,
    /// The host's address, whose key signed the challenge.
    pub host: Address,
    /// The world the session is for.
    pub world: String,
}

impl std::fmt::Debug for Joined {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Joined")
            .field("client_id", &self.token.client_id)
            .field("chain_id", &self.chain_id)
            .field("host", &self.host)
            .field("world", &self.world)
            .finish_non_exhaustive()
    }
}

/// Whether `signature` over `message` is by `signer`'s key.
pub fn signed_by(signer: &Address, message: &[u8], signature: &Signature) -> bool {
    signer
        .verifying_key()
        .is_ok_and(|key| key.verify_strict(message, &signature.to_dalek()).is_ok())
}

/// The host's next reply, a refusal as an error.
fn read_reply(stream: &mut std::net::TcpStream) -> Result<JoinReply, ClientError> {
    match receive_frame(stream)? {
        JoinReply::Refused { code, message } => Err(ProtocolError::new(code, message).into()),
        reply => Ok(reply),
    }
}

/// The first half of a join from the player's side: says hello as
/// `account` with the X25519 key share `share`, for `world` (the host's
/// first when `None`), and reads the host's challenge. Returns the
/// transcript both sides sign and the host's signature of it, which is
/// not checked here.
pub fn ask_challenge(
    stream: &mut std::net::TcpStream,
    account: Address,
    world: Option<&str>,
    share: [u8; 32],
) -> Result<(Transcript, Signature), ClientError> {
    send_frame(
        stream,
        &JoinRequest::Hello {
            version: JOIN_VERSION,
            account,
            world: world.map(str::to_owned),
            key_share: share,
        },
    )?;
    let JoinReply::Challenge {
        chain_id,
        host,
        world,
        challenge,
        key_share,
        signature,
    } = read_reply(stream)?
    else {
        return Err(ProtocolError::new(ErrorCode::Malformed, "expected a challenge").into());
    };
    let transcript = Transcript {
        chain_id: ChainId::new(chain_id).map_err(|err| {
            ProtocolError::new(
                ErrorCode::Malformed,
                format!("the challenge's network: {err}"),
            )
        })?,
        host,
        world,
        challenge,
        account,
        player_share: share,
        host_share: key_share,
    };
    Ok((transcript, signature))
}

/// Joins the host whose join endpoint is `addr` as `key`'s account, for
/// `world` (the host's first when `None`).
pub fn join_host(
    addr: SocketAddr,
    key: &Keypair,
    world: Option<&str>,
) -> Result<Joined, ClientError> {
    use std::net::TcpStream;

    if let Some(world) = world
        && world.len() > MAX_WORLD_NAME_BYTES
    {
        return Err(ProtocolError::new(ErrorCode::Invalid, "a world name over 64 bytes").into());
    }
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|err| ClientError::net(format!("connecting to the join endpoint {addr}"), err))?;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = stream.set_nodelay(true);
    let share = KeyShare::new();
    let (transcript, signature) = ask_challenge(&mut stream, key.address(), world, share.public())?;
    let host = transcript.host;
    if !signed_by(&host, &transcript.host_message(), &signature) {
        return Err(ProtocolError::new(
            ErrorCode::BadSignature,
            format!("the challenge is not signed by the host it names ({host})"),
        )
        .into());
    }
    let shared = share.shared(&transcript.host_share)?;
    let now = u64::try_from(unix_time().as_millis()).unwrap_or(u64::MAX);
    send_frame(
        &mut stream,
        &JoinRequest::Prove {
            signature: key.sign(&transcript.player_message()),
            pass: Pass::sign(key, &transcript.chain_id, &host, now),
        },
    )?;
    let JoinReply::Token { sealed, .. } = read_reply(&mut stream)? else {
        return Err(ProtocolError::new(ErrorCode::Malformed, "expected a token").into());
    };
    let token = open(&transcript.token_key(&shared), &sealed)?;
    let token = ConnectToken::read(&mut token.as_slice())
        .map_err(|err| ProtocolError::new(ErrorCode::Malformed, format!("connect token: {err}")))?;
    Ok(Joined {
        token,
        chain_id: transcript.chain_id,
        host,
        world: transcript.world,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn transcript() -> Transcript {
        Transcript {
            chain_id: ChainId::new("plaza-test").unwrap(),
            host: Keypair::from_seed([1; 32]).address(),
            world: "Plaza Square".into(),
            challenge: [2; 32],
            account: Keypair::from_seed([3; 32]).address(),
            player_share: [4; 32],
            host_share: [5; 32],
        }
    }

    #[test]
    fn both_sides_derive_one_key_and_only_that_key_opens_the_token() {
        let (player, host) = (KeyShare::new(), KeyShare::new());
        let on_host = host.shared(&player.public()).unwrap();
        let on_player = player.shared(&host.public()).unwrap();
        assert_eq!(*on_host, *on_player);
        let transcript = transcript();
        let sealed = seal(&transcript.token_key(&on_host), b"a connect token").unwrap();
        let opened = open(&transcript.token_key(&on_player), &sealed).unwrap();
        assert_eq!(opened.as_slice(), b"a connect token");
        // Anyone else's share, or another exchange, opens nothing.
        let eavesdropper = KeyShare::new().shared(&host.public()).unwrap();
        assert!(open(&transcript.token_key(&eavesdropper), &sealed).is_err());
        let mut other = transcript.clone();
        other.world = "Harbour Market".into();
        assert!(open(&other.token_key(&on_player), &sealed).is_err());
        assert!(open(&transcript.token_key(&on_player), &sealed[..20]).is_err());
    }

    #[test]
    fn the_two_signatures_cover_different_bytes_and_every_field() {
        let transcript = transcript();
        assert_ne!(transcript.host_message(), transcript.player_message());
        let mut other = transcript.clone();
        other.host = Keypair::from_seed([9; 32]).address();
        assert_ne!(other.player_message(), transcript.player_message());
        let mut other = transcript.clone();
        other.host_share = [6; 32];
        assert_ne!(other.player_message(), transcript.player_message());
    }

    #[test]
    fn small_order_key_shares_are_refused() {
        let share = KeyShare::new();
        assert!(share.shared(&[0; 32]).is_err());
        let mut one = [0u8; 32];
        one[0] = 1;
        assert!(share.shared(&one).is_err());
    }

    #[test]
    fn frames_over_the_limit_are_refused_both_ways() {
        assert!(frame(&vec![0; MAX_JOIN_FRAME_BYTES + 1]).is_err());
        assert_eq!(frame(&[1, 2]).unwrap(), vec![0, 2, 1, 2]);
        assert!(frame_len([0xff, 0xff]).is_err());
        assert_eq!(frame_len([0, 3]).unwrap(), 3);
    }

    #[test]
    fn a_pass_is_its_accounts_word_for_one_host_of_one_network_at_one_time() {
        let chain = ChainId::new("plaza-test").unwrap();
        let (ada, host) = (Keypair::from_seed([3; 32]), Keypair::from_seed([1; 32]));
        let pass = Pass::sign(&ada, &chain, &host.address(), 1_000);
        assert!(pass.is_for(&chain, &host.address(), &ada.address()));
        // Another host, network or account, or another date: not this pass.
        let other = Keypair::from_seed([9; 32]).address();
        assert!(!pass.is_for(&chain, &other, &ada.address()));
        assert!(!pass.is_for(
            &ChainId::new("plaza-other").unwrap(),
            &host.address(),
            &ada.address()
        ));
        assert!(!pass.is_for(&chain, &host.address(), &other));
        let redated = Pass {
            since: 2_000,
            ..pass
        };
        assert!(!redated.is_for(&chain, &host.address(), &ada.address()));
        // A host signing for the account makes no pass of it.
        let forged = Pass::sign(&host, &chain, &host.address(), 1_000);
        assert!(!forged.is_for(&chain, &host.address(), &ada.address()));
    }
}
