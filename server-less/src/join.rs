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
//! 4. The host checks that the signature is the account's and names this
//!    host, a world it serves, its challenge and both key shares, then
//!    sends the connect token sealed (XChaCha20-Poly1305) under a key
//!    derived from both key shares and the transcript.
//!
//! A proof names one host, one world and one exchange, so a host that
//! relays it to another gains nothing: the other host seals the token to
//! key shares only the player holds. The token's private part and the
//! session keys inside it never cross the network in clear text, so
//! nobody who watches a join can take over the session.
//!
//! The endpoint bounds what strangers can hold: joins at once in all and
//! per address, joins per second per address, and how long one may take.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use borsh::{BorshDeserialize, BorshSerialize};
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use curve25519_dalek::montgomery::MontgomeryPoint;
use ledger::{Address, ChainId, Keypair, Signature};
use rand::RngCore;
use renet_netcode::{ConnectToken, NETCODE_USER_DATA_BYTES};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tracing::{debug, warn};
use zeroize::Zeroizing;

use crate::clock::unix_time;
use crate::error::HostError;
use crate::protocol::{self, ErrorCode, MAX_JOIN_FRAME_BYTES, MAX_WORLD_NAME_BYTES, ProtocolError};
use crate::rate::Bucket;

/// The join protocol's version; a client of another is refused with
/// [`ErrorCode::WrongVersion`]. It follows the session protocol's.
pub const JOIN_VERSION: u16 = protocol::VERSION;

/// How long a connect token can be used to connect.
const TOKEN_SECS: u64 = 30;
/// Seconds without packets after which netcode drops a connection.
pub(crate) const TIMEOUT_SECS: i32 = 5;
/// How long a joining client has to say hello.
const HELLO_WAIT: Duration = Duration::from_secs(1);
/// Addresses whose join counts are kept at most; idle ones are forgotten
/// first.
const MAX_TRACKED_ADDRESSES: usize = 16_384;

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
    /// The account's signature of [`Transcript::player_message`].
    Prove {
        /// The signature.
        signature: Signature,
    },
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
    /// Not joined, and why.
    Refused {
        /// What went wrong.
        code: ErrorCode,
        /// In words.
        message: String,
    },
}

/// Everything one join exchange names; both sides sign it, and the token
/// is sealed under a key bound to it.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize)]
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
    fn with_domain(&self, domain: &[u8]) -> Vec<u8> {
        let mut out = domain.to_vec();
        out.extend_from_slice(&protocol::encode(self));
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
    fn token_key(&self, shared: &[u8; 32]) -> Zeroizing<[u8; 32]> {
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
    fn shared(&self, theirs: &[u8; 32]) -> Result<Zeroizing<[u8; 32]>, ProtocolError> {
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

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn seal(key: &[u8; 32], plaintext: &[u8]) -> Result<Vec<u8>, ProtocolError> {
    let mut nonce = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let sealed = XChaCha20Poly1305::new(key.into())
        .encrypt(XNonce::from_slice(&nonce), plaintext)
        .map_err(|_| ProtocolError::new(ErrorCode::Unavailable, "the token could not be sealed"))?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    Ok(out)
}

fn open(key: &[u8; 32], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, ProtocolError> {
    let bad = || ProtocolError::new(ErrorCode::Malformed, "the sealed token does not open");
    let (nonce, ciphertext) = sealed.split_at_checked(24).ok_or_else(bad)?;
    XChaCha20Poly1305::new(key.into())
        .decrypt(XNonce::from_slice(nonce), ciphertext)
        .map(Zeroizing::new)
        .map_err(|_| bad())
}

/// A frame's bytes: a 2-byte big-endian length, then `bytes`.
fn frame(bytes: &[u8]) -> Result<Vec<u8>, ProtocolError> {
    let len = u16::try_from(bytes.len())
        .ok()
        .filter(|len| usize::from(*len) <= MAX_JOIN_FRAME_BYTES)
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
fn frame_len(header: [u8; 2]) -> Result<usize, ProtocolError> {
    let len = usize::from(u16::from_be_bytes(header));
    if len > MAX_JOIN_FRAME_BYTES {
        return Err(ProtocolError::new(
            ErrorCode::TooLarge,
            format!("a join frame of {len} bytes, the most is {MAX_JOIN_FRAME_BYTES}"),
        ));
    }
    Ok(len)
}

/// Bounds on the join endpoint.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct JoinLimits {
    /// Joins handled at once, from everyone.
    pub at_once: usize,
    /// Joins handled at once from one address.
    pub at_once_per_address: usize,
    /// Joins one address may begin per second, on average.
    pub per_address_per_sec: f32,
    /// Joins one address may begin at once after a quiet spell.
    pub per_address_burst: f32,
    /// How long a join may take from connection to token; a slot held by
    /// a client that never finishes is free again after this.
    pub timeout: Duration,
}

impl Default for JoinLimits {
    fn default() -> Self {
        JoinLimits {
            at_once: 64,
            at_once_per_address: 4,
            per_address_per_sec: 5.0,
            per_address_burst: 20.0,
            timeout: Duration::from_secs(3),
        }
    }
}

/// Joins under way and recent, per address.
struct AddressJoins {
    at_once: usize,
    bucket: Bucket,
    seen: Instant,
}

/// The per-address counts of the join endpoint.
struct Gate {
    limits: JoinLimits,
    addresses: Mutex<HashMap<IpAddr, AddressJoins>>,
}

impl Gate {
    /// Takes a place for a join from `ip`; the refusal if it has too many
    /// under way or began too many lately. IPv6 addresses count by their
    /// /64, which one machine is usually given whole.
    fn enter(self: &Arc<Self>, ip: IpAddr) -> Result<GatePass, &'static str> {
        let ip = match ip.to_canonical() {
            IpAddr::V6(v6) => {
                let mut octets = v6.octets();
                octets[8..].fill(0);
                IpAddr::from(octets)
            }
            v4 => v4,
        };
        let mut addresses = self
            .addresses
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if addresses.len() >= MAX_TRACKED_ADDRESSES && !addresses.contains_key(&ip) {
            // Forget addresses with nothing under way; their buckets have
            // long refilled if they were quiet.
            addresses.retain(|_, joins| {
                joins.at_once > 0 || joins.seen.elapsed() < Duration::from_secs(60)
            });
            if addresses.len() >= MAX_TRACKED_ADDRESSES {
                return Err("too many addresses are joining");
            }
        }
        let limits = self.limits;
        let joins = addresses.entry(ip).or_insert_with(|| AddressJoins {
            at_once: 0,
            bucket: Bucket::new(limits.per_address_per_sec, limits.per_address_burst),
            seen: Instant::now(),
        });
        joins.bucket.refill(joins.seen.elapsed().as_secs_f32());
        joins.seen = Instant::now();
        if joins.at_once >= limits.at_once_per_address {
            return Err("too many joins under way from this address");
        }
        if !joins.bucket.take() {
            return Err("too many joins from this address lately");
        }
        joins.at_once += 1;
        Ok(GatePass {
            gate: self.clone(),
            ip,
        })
    }
}

/// A join's place at the gate, given back when dropped.
struct GatePass {
    gate: Arc<Gate>,
    ip: IpAddr,
}

impl Drop for GatePass {
    fn drop(&mut self) {
        let mut addresses = self
            .gate
            .addresses
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(joins) = addresses.get_mut(&self.ip) {
            joins.at_once = joins.at_once.saturating_sub(1);
        }
    }
}

/// Hands out connect tokens to players who proved their account.
pub(crate) struct Issuer {
    pub(crate) chain_id: ChainId,
    pub(crate) protocol_id: u64,
    /// Netcode's key for connect tokens.
    pub(crate) private_key: Zeroizing<[u8; 32]>,
    pub(crate) udp_addr: SocketAddr,
    pub(crate) next_client: AtomicU64,
    /// The host's key: it signs challenges and is what proofs must name.
    pub(crate) identity: Keypair,
    /// The worlds this host serves, the first being the default.
    pub(crate) worlds: Vec<String>,
}

impl Issuer {
    fn token(&self, account: &Address) -> Result<(u64, Zeroizing<Vec<u8>>), ProtocolError> {
        let client_id = self.next_client.fetch_add(1, Ordering::Relaxed);
        let mut user_data = [0u8; NETCODE_USER_DATA_BYTES];
        user_data[..32].copy_from_slice(account.as_bytes());
        let unavailable = |what: &str, err: &dyn std::fmt::Display| {
            warn!(%err, "{what}");
            ProtocolError::new(ErrorCode::Unavailable, "the host cannot open a session now")
        };
        let token = ConnectToken::generate(
            unix_time(),
            self.protocol_id,
            TOKEN_SECS,
            client_id,
            TIMEOUT_SECS,
            vec![self.udp_addr],
            Some(&user_data),
            &self.private_key,
        )
        .map_err(|err| unavailable("a connect token could not be made", &err))?;
        let mut bytes = Zeroizing::new(Vec::with_capacity(2_048));
        token
            .write(&mut *bytes)
            .map_err(|err| unavailable("a connect token could not be written", &err))?;
        Ok((client_id, bytes))
    }
}

/// Serves the join endpoint on `listener` until the task is dropped.
pub(crate) async fn serve(listener: TcpListener, issuer: Arc<Issuer>, limits: JoinLimits) {
    let permits = Arc::new(Semaphore::new(limits.at_once.max(1)));
    let gate = Arc::new(Gate {
        limits,
        addresses: Mutex::new(HashMap::new()),
    });
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                debug!(%err, "join endpoint: accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Over a limit the connection is closed at once: nothing waits on
        // a stranger's behalf.
        let pass = match gate.enter(peer.ip()) {
            Ok(pass) => pass,
            Err(reason) => {
                debug!(%peer, reason, "join refused at the door");
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            debug!(%peer, "join refused: the endpoint is full");
            continue;
        };
        let issuer = issuer.clone();
        tokio::spawn(async move {
            let outcome = tokio::time::timeout(limits.timeout, join(stream, &issuer)).await;
            match outcome {
                Ok(Ok(account)) => debug!(%peer, %account, "joined"),
                Ok(Err(err)) => debug!(%peer, %err, "join refused"),
                Err(_) => debug!(%peer, "join timed out"),
            }
            drop((permit, pass));
        });
    }
}

async fn read_frame<T: BorshDeserialize>(stream: &mut TcpStream) -> Result<T, HostError> {
    let mut header = [0u8; 2];
    stream
        .read_exact(&mut header)
        .await
        .map_err(|err| HostError::net("reading a join frame", err))?;
    let mut frame = vec![0u8; frame_len(header)?];
    stream
        .read_exact(&mut frame)
        .await
        .map_err(|err| HostError::net("reading a join frame", err))?;
    Ok(protocol::decode(&frame, MAX_JOIN_FRAME_BYTES)?)
}

async fn write_frame(stream: &mut TcpStream, reply: &JoinReply) -> Result<(), HostError> {
    stream
        .write_all(&frame(&protocol::encode(reply))?)
        .await
        .map_err(|err| HostError::net("writing a join frame", err))
}

/// Tells the player why it was refused, and gives the reason back.
async fn refuse(stream: &mut TcpStream, err: ProtocolError) -> HostError {
    let reply = JoinReply::Refused {
        code: err.code,
        message: err.message.clone(),
    };
    // The refusal is what matters; a player that left does not hear it.
    let _ = write_frame(stream, &reply).await;
    err.into()
}

/// One join at the endpoint; a player whose request is at fault is told
/// why before the connection closes.
async fn join(mut stream: TcpStream, issuer: &Issuer) -> Result<Address, HostError> {
    match exchange(&mut stream, issuer).await {
        Err(HostError::Protocol(err)) => Err(refuse(&mut stream, err).await),
        done => done,
    }
}

/// The host's side of a join: hello, challenge, proof, token.
async fn exchange(stream: &mut TcpStream, issuer: &Issuer) -> Result<Address, HostError> {
    // A client that says nothing at once gives its place back soon.
    let hello = tokio::time::timeout(HELLO_WAIT, read_frame::<JoinRequest>(stream))
        .await
        .map_err(|_| HostError::Timeout {
            what: "a joining client's hello",
            secs: HELLO_WAIT.as_secs(),
        })??;
    let (account, world, player_share) = match hello {
        JoinRequest::Hello {
            version,
            account,
            world,
            key_share,
        } => {
            if version != JOIN_VERSION {
                return Err(ProtocolError::new(
                    ErrorCode::WrongVersion,
                    format!("this host speaks protocol {JOIN_VERSION}, the client {version}"),
                )
                .into());
            }
            (account, world, key_share)
        }
        JoinRequest::Prove { .. } => {
            return Err(ProtocolError::new(ErrorCode::WrongState, "a proof before hello").into());
        }
    };
    let world = match world {
        None => issuer.worlds.first().cloned(),
        Some(name) => issuer
            .worlds
            .iter()
            .find(|served| **served == name)
            .cloned(),
    };
    let Some(world) = world else {
        return Err(ProtocolError::new(
            ErrorCode::NotFound,
            format!(
                "no such world here; this host serves {}",
                issuer.worlds.join(", ")
            ),
        )
        .into());
    };
    let share = KeyShare::new();
    let mut challenge = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut challenge);
    let transcript = Transcript {
        chain_id: issuer.chain_id.clone(),
        host: issuer.identity.address(),
        world: world.clone(),
        challenge,
        account,
        player_share,
        host_share: share.public(),
    };
    let shared = share.shared(&player_share)?;
    let reply = JoinReply::Challenge {
        chain_id: issuer.chain_id.as_str().to_owned(),
        host: transcript.host,
        world,
        challenge,
        key_share: share.public(),
        signature: issuer.identity.sign(&transcript.host_message()),
    };
    write_frame(stream, &reply).await?;
    let JoinRequest::Prove { signature } = read_frame::<JoinRequest>(stream).await? else {
        return Err(
            ProtocolError::new(ErrorCode::WrongState, "hello twice: send the proof").into(),
        );
    };
    // The proof must be the account's over this very exchange: this
    // host, this world, this challenge, these key shares.
    if !signed_by(&account, &transcript.player_message(), &signature) {
        return Err(ProtocolError::new(
            ErrorCode::BadSignature,
            format!("the join was not signed by {account}'s key for this host and exchange"),
        )
        .into());
    }
    let (client_id, token) = issuer.token(&account)?;
    let sealed = seal(&transcript.token_key(&shared), &token)?;
    write_frame(stream, &JoinReply::Token { client_id, sealed }).await?;
    Ok(account)
}

/// Writes one join frame to a blocking stream.
pub fn send_frame<T: BorshSerialize>(
    stream: &mut std::net::TcpStream,
    value: &T,
) -> Result<(), HostError> {
    use std::io::Write;
    stream
        .write_all(&frame(&protocol::encode(value))?)
        .map_err(|err| HostError::net("sending a join frame", err))
}

/// Reads one join frame from a blocking stream.
pub fn receive_frame<T: BorshDeserialize>(
    stream: &mut std::net::TcpStream,
) -> Result<T, HostError> {
    use std::io::Read;
    let mut header = [0u8; 2];
    stream
        .read_exact(&mut header)
        .map_err(|err| HostError::net("reading a join frame", err))?;
    let mut frame = vec![0u8; frame_len(header)?];
    stream
        .read_exact(&mut frame)
        .map_err(|err| HostError::net("reading a join frame", err))?;
    Ok(protocol::decode(&frame, MAX_JOIN_FRAME_BYTES)?)
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
fn signed_by(signer: &Address, message: &[u8], signature: &Signature) -> bool {
    signer
        .verifying_key()
        .is_ok_and(|key| key.verify_strict(message, &signature.to_dalek()).is_ok())
}

/// The host's next reply, a refusal as an error.
fn read_reply(stream: &mut std::net::TcpStream) -> Result<JoinReply, HostError> {
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
) -> Result<(Transcript, Signature), HostError> {
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
        chain_id: ChainId::new(chain_id)?,
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
) -> Result<Joined, HostError> {
    use std::net::TcpStream;

    if let Some(world) = world
        && world.len() > MAX_WORLD_NAME_BYTES
    {
        return Err(ProtocolError::new(ErrorCode::Invalid, "a world name over 64 bytes").into());
    }
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|err| HostError::net(format!("connecting to the join endpoint {addr}"), err))?;
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
    send_frame(
        &mut stream,
        &JoinRequest::Prove {
            signature: key.sign(&transcript.player_message()),
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
    fn the_gate_bounds_each_address_and_frees_slots() {
        let gate = Arc::new(Gate {
            limits: JoinLimits {
                at_once: 64,
                at_once_per_address: 2,
                per_address_per_sec: 1.0,
                per_address_burst: 3.0,
                timeout: Duration::from_secs(3),
            },
            addresses: Mutex::new(HashMap::new()),
        });
        let flood: IpAddr = [127, 0, 0, 2].into();
        let other: IpAddr = [127, 0, 0, 1].into();
        let first = gate.enter(flood).unwrap();
        let second = gate.enter(flood).unwrap();
        assert!(gate.enter(flood).is_err());
        // Others are not held up by it.
        let _elsewhere = gate.enter(other).unwrap();
        drop(first);
        // The burst is spent: two began, the third from the bucket.
        let third = gate.enter(flood).unwrap();
        drop((second, third));
        assert!(gate.enter(flood).is_err());
    }
}
