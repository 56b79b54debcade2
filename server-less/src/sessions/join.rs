//! The join endpoint: a player proves its account and gets a netcode
//! connect token that only it can read. The exchange itself (frames,
//! transcript, sealing) is [`plaza_client::join`]; this is the host's
//! side of it.
//!
//! The endpoint bounds what strangers can hold: joins at once in all and
//! per address, joins per second per address, and how long one may take.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use borsh::BorshDeserialize;
use ledger::{Address, ChainId, Keypair, Signature};
use plaza_client::join::{
    JOIN_VERSION, JoinReply, JoinRequest, KeyShare, PASS_SKEW, Pass, Transcript, frame, frame_len,
    seal, signed_by,
};
use plaza_client::protocol::{self, ErrorCode, MAX_JOIN_FRAME_BYTES, ProtocolError};
use plaza_client::time::unix_time;
use rand::RngCore;
use renet_netcode::{ConnectToken, NETCODE_USER_DATA_BYTES};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tracing::{debug, warn};
use zeroize::Zeroizing;

use crate::error::HostError;
use crate::rate::Bucket;

/// How long a connect token can be used to connect.
const TOKEN_SECS: u64 = 30;
/// Seconds without packets after which netcode drops a connection.
pub(super) const TIMEOUT_SECS: i32 = 5;
/// How long a joining client has to say hello.
const HELLO_WAIT: Duration = Duration::from_secs(1);
/// Addresses whose join counts are kept at most; idle ones are forgotten
/// first.
const MAX_TRACKED_ADDRESSES: usize = 16_384;

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
pub(super) struct Issuer {
    pub(super) chain_id: ChainId,
    pub(super) protocol_id: u64,
    /// Netcode's key for connect tokens.
    pub(super) private_key: Zeroizing<[u8; 32]>,
    pub(super) udp_addr: SocketAddr,
    /// The addresses players reach the sessions at (see
    /// [`super::network::reach`]).
    pub(super) reach: Vec<IpAddr>,
    pub(super) next_client: AtomicU64,
    /// The host's key: it signs challenges and is what proofs must name.
    pub(super) identity: Keypair,
    /// The worlds this host serves, the first being the default.
    pub(super) worlds: Vec<String>,
    /// What hosts that join the network are told and given; `None` for a
    /// host that cannot be joined.
    pub(super) network: Option<Arc<super::network::NetworkOffer>>,
}

impl Issuer {
    fn token(
        &self,
        account: &Address,
        pass: &Pass,
        local: IpAddr,
    ) -> Result<(u64, Zeroizing<Vec<u8>>), ProtocolError> {
        let client_id = self.next_client.fetch_add(1, Ordering::Relaxed);
        let user_data = user_data(account, pass);
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
            super::network::token_addresses(local, &self.reach, self.udp_addr.port(), 32),
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

/// Whether `pass` is `account`'s for `host` of network `chain`, dated
/// within [`PASS_SKEW`] of `now` (the host's clock); at a join, and when a
/// player sends its pass again.
pub(super) fn check_pass(
    pass: &Pass,
    (chain, host): (&ChainId, &Address),
    account: &Address,
    now: Duration,
) -> Result<(), ProtocolError> {
    if !pass.is_for(chain, host, account) {
        return Err(ProtocolError::new(
            ErrorCode::BadSignature,
            format!("the pass is not signed by {account}'s key for this host and network"),
        ));
    }
    let now = u64::try_from(now.as_millis()).unwrap_or(u64::MAX);
    let off = pass.since.abs_diff(now);
    if u128::from(off) > PASS_SKEW.as_millis() {
        return Err(ProtocolError::new(
            ErrorCode::Invalid,
            format!(
                "the pass is dated {} s from this host's clock (at most {} s): set the clock",
                off / 1_000,
                PASS_SKEW.as_secs()
            ),
        ));
    }
    Ok(())
}

/// What a connect token tells the session server of its player: the
/// account (32 bytes), then its pass's date (8 bytes, little-endian) and
/// signature (64 bytes).
pub(super) fn user_data(account: &Address, pass: &Pass) -> [u8; NETCODE_USER_DATA_BYTES] {
    let mut data = [0u8; NETCODE_USER_DATA_BYTES];
    data[..32].copy_from_slice(account.as_bytes());
    data[32..40].copy_from_slice(&pass.since.to_le_bytes());
    data[40..104].copy_from_slice(&pass.signature.0);
    data
}

/// The account and pass a connect token's user data holds (this host
/// wrote it, and netcode checked the token it came in).
pub(super) fn from_user_data(data: &[u8; NETCODE_USER_DATA_BYTES]) -> (Address, Pass) {
    let mut account = [0u8; 32];
    account.copy_from_slice(&data[..32]);
    let mut since = [0u8; 8];
    since.copy_from_slice(&data[32..40]);
    let mut signature = [0u8; 64];
    signature.copy_from_slice(&data[40..104]);
    (
        Address::from_bytes(account),
        Pass {
            since: u64::from_le_bytes(since),
            signature: Signature(signature),
        },
    )
}

/// Serves the join endpoint on `listener` until the task is dropped.
pub(super) async fn serve(listener: TcpListener, issuer: Arc<Issuer>, limits: JoinLimits) {
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
            match join(stream, &issuer, limits.timeout).await {
                Ok(Some(account)) => debug!(%peer, %account, "joined"),
                Ok(None) => debug!(%peer, "told of the network"),
                Err(err) => debug!(%peer, %err, "join refused"),
            }
            drop((permit, pass));
        });
    }
}

pub(super) async fn read_frame<T: BorshDeserialize>(
    stream: &mut TcpStream,
) -> Result<T, HostError> {
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
        .write_all(&frame(&protocol::encode(reply)?)?)
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

/// One connection at the endpoint: a player's join, done within
/// `timeout`, or a host asking about the network, within the time the
/// genesis takes to send (see [`super::network::wait`]). The account
/// joined, or `None` for a question about the network. Whoever is at fault
/// is told why before the connection closes.
async fn join(
    mut stream: TcpStream,
    issuer: &Issuer,
    timeout: Duration,
) -> Result<Option<Address>, HostError> {
    // A client that says nothing at once gives its place back soon.
    let hello = tokio::time::timeout(HELLO_WAIT, read_frame::<JoinRequest>(&mut stream))
        .await
        .map_err(|_| HostError::Timeout {
            what: "a joining client's hello",
            secs: HELLO_WAIT.as_secs(),
        })
        .and_then(|read| read);
    let done = match hello {
        Ok(JoinRequest::Network { version }) => {
            let offer = issuer.network.as_deref();
            let wait = super::network::wait(offer).await;
            tokio::time::timeout(wait, super::network::answer(&mut stream, offer, version))
                .await
                .unwrap_or(Err(HostError::Timeout {
                    what: "a host fetching the genesis",
                    secs: wait.as_secs(),
                }))
                .map(|()| None)
        }
        Ok(hello) => tokio::time::timeout(timeout, exchange(&mut stream, issuer, hello))
            .await
            .unwrap_or(Err(HostError::Timeout {
                what: "a join",
                secs: timeout.as_secs(),
            }))
            .map(Some),
        Err(err) => Err(err),
    };
    match done {
        Err(HostError::Protocol(err)) => Err(refuse(&mut stream, err).await),
        done => done,
    }
}

/// The host's side of a player's join after its `hello`: challenge,
/// proof, token; the account joined.
async fn exchange(
    stream: &mut TcpStream,
    issuer: &Issuer,
    hello: JoinRequest,
) -> Result<Address, HostError> {
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
        JoinRequest::Network { .. }
        | JoinRequest::GenesisPart { .. }
        | JoinRequest::SnapshotPart { .. } => {
            return Err(ProtocolError::new(
                ErrorCode::WrongState,
                "a genesis part before the network was asked",
            )
            .into());
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
    let JoinRequest::Prove { signature, pass } = read_frame::<JoinRequest>(stream).await? else {
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
    check_pass(
        &pass,
        (&issuer.chain_id, &issuer.identity.address()),
        &account,
        unix_time(),
    )?;
    let local = stream
        .local_addr()
        .map_err(|err| HostError::net("reading the join connection's address", err))?
        .ip()
        .to_canonical();
    let (client_id, token) = issuer.token(&account, &pass, local)?;
    let sealed = seal(&transcript.token_key(&shared), &token)?;
    write_frame(stream, &JoinReply::Token { client_id, sealed }).await?;
    Ok(account)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

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
