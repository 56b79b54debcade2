//! The wire protocol between a world client and a host, shared by both.
//!
//! Two exchanges:
//! - **Join**, over a small TCP endpoint ([`crate::join`]): the client
//!   names its account, signs the host's challenge (which names the host
//!   and the world) with its wallet key, and gets a netcode connect token,
//!   sealed to key shares of that exchange, whose private part carries the
//!   proven account. Frames are a 2-byte length and a borsh value.
//! - **Session**, over renet with netcode's secure mode: reliable ordered
//!   messages for everything but movement ([`ClientMessage`],
//!   [`ServerMessage`]), unreliable ones for avatar state at
//!   [`TICK_HZ`] ([`Move`], [`Avatars`]), and a reliable channel of its own
//!   for blobs (the host's chunks of a fetch, a client's [`Upload`]s) so
//!   that a model moving never holds up a trade. A netcode datagram
//!   carries every renet packet one side has for the other in an update,
//!   each framed by a 2-byte length (Plaza's own transport on both ends,
//!   not renet_netcode's).
//!
//! Every message is borsh, refused if longer than its channel's limit or
//! if bytes are left over, and checked field by field
//! ([`ClientMessage::decode`]); a [`SessionState`] says which messages may
//! arrive when.

mod avatar;
mod replies;
mod requests;

use std::time::Duration;

pub use self::avatar::{AvatarState, Avatars, Gait, Move, heading_towards};
pub use self::replies::{
    Card, Event, Holding, MAX_PROP_BLOCKS, MAX_SCENERY, MAX_WORN, ParcelInfo, PathInfo, PlayerInfo,
    Prop, ServerMessage, Shown, StallInfo, TradeView, TxState, WorldEntry, WorldInfo, Worn,
};
pub use self::requests::{Browse, ClientMessage, Quote, QuoteAsk, Upload, check_line};
use borsh::{BorshDeserialize, BorshSerialize};
use ledger::ChainId;
pub use market::wear::Slot;
use renet::{ChannelConfig, ConnectionConfig, SendType};

/// The protocol's version. It is part of the netcode protocol id, so a
/// client of another version cannot connect; one that does is refused at
/// hello with [`ErrorCode::WrongVersion`]. Version 2: uploads, quotes,
/// bundled datagrams. Version 3: the join names the host and the world,
/// and the connect token travels sealed ([`crate::join`]). Version 4: a
/// trade's stage is the market's `Stage`, and its actions the market's
/// `Action`. Version 5: what avatars wear ([`ClientMessage::Wear`],
/// [`ServerMessage::Appearance`], [`PlayerInfo::worn`]). Version 6:
/// blocking ([`ClientMessage::Block`], [`ServerMessage::Blocked`]) and the
/// world's other hosts ([`ServerMessage::Hosts`]), new variants last.
/// Version 7: the worlds the network knows and how many are in each
/// ([`ServerMessage::Worlds`]). Version 8: direct messages
/// ([`ClientMessage::Tell`], [`ServerMessage::Told`],
/// [`ServerMessage::Delivered`]); every new variant last. Version 9: the
/// player's proof of a join carries its [`crate::join::Pass`], the
/// welcome says where the player is, and a block's event whether the
/// world's stalls show other listings. Version 10: parcels have deeds
/// and holders ([`ParcelInfo::deed`], [`ServerMessage::Parcel`]) and show
/// what their holder put down ([`ClientMessage::Arrange`],
/// [`ServerMessage::Arranged`]); a world has paths and things of its own
/// ([`WorldInfo::paths`], [`WorldInfo::props`]). Version 11: a player
/// appears as an avatar model it holds, worn in [`Slot::Avatar`].
pub const VERSION: u16 = 11;

/// Avatar updates per second, both ways.
pub const TICK_HZ: u32 = 20;

/// Reliable ordered channel: requests, answers, events, trades.
pub const CHANNEL_RELIABLE: u8 = 0;

/// Unreliable channel: avatar state.
pub const CHANNEL_AVATAR: u8 = 1;

/// Reliable ordered channel for blobs: the host's [`ServerMessage::Chunk`]s
/// of a fetch, and a client's [`Upload`]s.
pub const CHANNEL_ASSETS: u8 = 2;

/// Longest client message, in bytes: a submitted transaction of the
/// largest size (a mint carrying its manifest) fits.
pub const MAX_CLIENT_MESSAGE_BYTES: usize = ledger::MAX_TX_BYTES + 1024;

/// Longest host message, in bytes.
pub const MAX_SERVER_MESSAGE_BYTES: usize = 64 * 1024;

/// Longest join frame, in bytes (a connect token is 2,048).
pub const MAX_JOIN_FRAME_BYTES: usize = 4 * 1024;

/// Bytes of an asset in one chunk.
pub const CHUNK_BYTES: usize = 16 * 1024;

/// Largest blob a client may upload (a model, its preview or its
/// manifest).
pub const MAX_UPLOAD_BYTES: u64 = 16 << 20;

/// Longest chat line, in bytes.
pub const MAX_CHAT_BYTES: usize = 280;

/// Accounts one player may block at once.
pub const MAX_BLOCKED: usize = 256;

/// Other hosts of a world a host tells its players of, at most.
pub const MAX_HOSTS_TOLD: usize = 8;

/// Worlds one [`ServerMessage::Worlds`] names at most.
pub const MAX_WORLDS_TOLD: usize = 32;

/// Longest world name, in bytes.
pub const MAX_WORLD_NAME_BYTES: usize = 64;

/// Longest catalogue search text, in bytes.
pub const MAX_SEARCH_BYTES: usize = 200;

/// Most hits on one catalogue page sent to a client.
pub const MAX_PAGE_HITS: u16 = 50;

/// Most avatars in one [`Avatars`] update.
pub const MAX_AVATARS_PER_UPDATE: usize = 48;

/// Requests one client may have waiting for an answer; more are refused
/// as busy.
pub const MAX_REQUESTS_WAITING: usize = 8;

/// Blob fetches one client may have queued; more are refused as busy.
pub const MAX_FETCHES_QUEUED: usize = 4;

/// Requests a client keeps waiting at most (the smaller of the two
/// limits above): [`crate::client::Client::ask`] holds the rest back
/// until answers come.
pub const CLIENT_REQUESTS_WAITING: usize = MAX_FETCHES_QUEUED;

/// Requests a second a client sends at most (burst twice that): under the
/// host's default of 30 reliable messages a second.
pub const CLIENT_REQUESTS_PER_SEC: f32 = 20.0;

/// Which end of a session a renet configuration is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// The host.
    Host,
    /// A player's client.
    Client,
}

/// The renet channels and their memory limits for one end.
///
/// Each end may have as many bytes unacknowledged on a channel as the
/// channel's limit; the other end takes in twice that. Acknowledgements go
/// out when an end reads its socket, so everything that arrives between
/// two reads (after a long frame, say) is within the sender's window, and
/// the receiver counts a message that arrives in slices at whole slices,
/// which can add a little to it: with room for twice the window a slow
/// reader is never dropped for it.
pub fn connection_config(end: End) -> ConnectionConfig {
    let mut config = base_config();
    let receiving = match end {
        End::Host => &mut config.client_channels_config,
        End::Client => &mut config.server_channels_config,
    };
    for channel in receiving {
        channel.max_memory_usage_bytes *= 2;
    }
    config
}

fn base_config() -> ConnectionConfig {
    let reliable = |channel_id, max_memory_usage_bytes| ChannelConfig {
        channel_id,
        max_memory_usage_bytes,
        send_type: SendType::ReliableOrdered {
            resend_time: Duration::from_millis(200),
        },
    };
    let avatar = |max_memory_usage_bytes| ChannelConfig {
        channel_id: CHANNEL_AVATAR,
        max_memory_usage_bytes,
        send_type: SendType::Unreliable,
    };
    ConnectionConfig {
        available_bytes_per_tick: 64 * 1024,
        server_channels_config: vec![
            reliable(CHANNEL_RELIABLE, 2 * 1024 * 1024),
            avatar(64 * 1024),
            reliable(CHANNEL_ASSETS, 256 * 1024),
        ],
        client_channels_config: vec![
            reliable(CHANNEL_RELIABLE, 256 * 1024),
            avatar(16 * 1024),
            reliable(CHANNEL_ASSETS, 256 * 1024),
        ],
    }
}

/// The netcode protocol id of a network: a hash of the protocol version
/// and the chain id, so that a token for one network or version is
/// refused by another.
pub fn protocol_id(chain_id: &ChainId) -> u64 {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"plaza/world-protocol");
    hasher.update(&VERSION.to_le_bytes());
    hasher.update(chain_id.as_str().as_bytes());
    let hash = hasher.finalize();
    let mut id = [0u8; 8];
    id.copy_from_slice(&hash.as_bytes()[..8]);
    u64::from_le_bytes(id)
}

/// Where a session stands; it decides which messages may arrive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionState {
    /// Connected with a proven account, not yet in a world: only
    /// [`ClientMessage::Hello`] is accepted.
    Connected,
    /// In a world: everything is accepted.
    InWorld,
}

/// Why the host refused something.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum ErrorCode {
    /// The bytes are not a message of this protocol.
    Malformed,
    /// The message is longer than its channel allows.
    TooLarge,
    /// Another protocol version.
    WrongVersion,
    /// Not allowed in the session's state (for example, before hello).
    WrongState,
    /// A field is out of range.
    Invalid,
    /// No such world, player, trade or blob.
    NotFound,
    /// Too many messages: slow down.
    RateLimited,
    /// Too many requests waiting: wait for answers.
    Busy,
    /// The join signature does not match the account.
    BadSignature,
    /// The ledger or market refused it; the message says why.
    Refused,
    /// The host cannot answer now.
    Unavailable,
    /// The host has just started and is catching up with the network:
    /// say hello again shortly.
    CatchingUp,
}

/// A message that broke the protocol.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct ProtocolError {
    /// What kind of breach.
    pub code: ErrorCode,
    /// In words.
    pub message: String,
}

impl ProtocolError {
    /// A breach of kind `code`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ProtocolError {
            code,
            message: message.into(),
        }
    }
}

impl From<market::MarketError> for ProtocolError {
    /// The market's refusal, told to the player as it is.
    fn from(err: market::MarketError) -> Self {
        ProtocolError::new(ErrorCode::Refused, err.to_string())
    }
}

/// Encodes a value; refused (never an empty message) if it cannot be,
/// which for these types means a collection past 4 GiB.
pub fn encode<T: BorshSerialize>(value: &T) -> Result<Vec<u8>, ProtocolError> {
    borsh::to_vec(value)
        .map_err(|err| ProtocolError::new(ErrorCode::TooLarge, format!("cannot encode: {err}")))
}

/// Decodes a value of at most `max` bytes with nothing left over.
pub fn decode<T: BorshDeserialize>(bytes: &[u8], max: usize) -> Result<T, ProtocolError> {
    if bytes.len() > max {
        return Err(ProtocolError::new(
            ErrorCode::TooLarge,
            format!("{} bytes, the most is {max}", bytes.len()),
        ));
    }
    borsh::from_slice(bytes)
        .map_err(|err| ProtocolError::new(ErrorCode::Malformed, format!("cannot decode: {err}")))
}

fn check_text(what: &str, text: &str, max: usize) -> Result<(), ProtocolError> {
    if text.len() > max {
        return Err(ProtocolError::new(
            ErrorCode::Invalid,
            format!("{what} is {} bytes, the most is {max}", text.len()),
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(ProtocolError::new(
            ErrorCode::Invalid,
            format!("{what} holds control characters"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::avatar::POSITION_STEP;
    use super::*;

    #[test]
    fn avatar_state_is_eight_bytes_and_round_trips_within_a_step() {
        let state = AvatarState::new([12.34, 0.5, -200.01], 1.0, Gait::Walk);
        assert_eq!(encode(&state).unwrap().len(), 8);
        let back = state.position();
        for (a, b) in back.iter().zip([12.34, 0.5, -200.01]) {
            assert!(
                (a - b).abs() <= POSITION_STEP / 2.0 + f32::EPSILON,
                "{a} vs {b}"
            );
        }
        assert!((state.yaw() - 1.0).abs() < std::f32::consts::TAU / 256.0);
        let far = AvatarState::new([10_000.0, -10_000.0, 0.0], -0.1, Gait::Idle);
        assert_eq!((far.x, far.y), (u16::MAX, 0));
        assert_eq!(encode(&Move { seq: 7, state }).unwrap().len(), 12);
    }

    #[test]
    fn messages_are_checked_for_size_fields_and_state() {
        let hello = ClientMessage::Hello {
            version: VERSION,
            world: "Plaza Square".into(),
        };
        assert_eq!(
            ClientMessage::decode(&encode(&hello).unwrap()),
            Ok(hello.clone())
        );
        let mut trailing = encode(&hello).unwrap();
        trailing.push(0);
        assert_eq!(
            ClientMessage::decode(&trailing).map_err(|e| e.code),
            Err(ErrorCode::Malformed)
        );
        assert_eq!(
            ClientMessage::decode(&[9, 1, 2]).map_err(|e| e.code),
            Err(ErrorCode::Malformed)
        );
        let long = ClientMessage::Chat {
            text: "a".repeat(MAX_CLIENT_MESSAGE_BYTES),
        };
        assert_eq!(
            ClientMessage::decode(&encode(&long).unwrap()).map_err(|e| e.code),
            Err(ErrorCode::TooLarge)
        );
        let shout = ClientMessage::Chat {
            text: "b".repeat(MAX_CHAT_BYTES + 1),
        };
        assert_eq!(
            ClientMessage::decode(&encode(&shout).unwrap()).map_err(|e| e.code),
            Err(ErrorCode::Invalid)
        );
        let browse = ClientMessage::Browse {
            request: 1,
            query: Browse {
                page_size: 0,
                ..Browse::default()
            },
        };
        assert_eq!(browse.check().map_err(|e| e.code), Err(ErrorCode::Invalid));
        assert_eq!(
            browse
                .allowed_in(SessionState::Connected)
                .map_err(|e| e.code),
            Err(ErrorCode::WrongState)
        );
        assert!(hello.allowed_in(SessionState::Connected).is_ok());
        assert!(browse.allowed_in(SessionState::InWorld).is_ok());
    }

    #[test]
    fn protocol_ids_differ_by_network() {
        let a = protocol_id(&ChainId::new("plaza-a").unwrap_or_else(|_| unreachable!()));
        let b = protocol_id(&ChainId::new("plaza-b").unwrap_or_else(|_| unreachable!()));
        assert_ne!(a, b);
    }

    #[test]
    fn a_hostile_hosts_world_is_drawn_only_finite_and_on_the_world() {
        let prop = |at: [f32; 2], blocks: f32| Prop {
            name: "tree".into(),
            model: vec![1, 2],
            at,
            turn: 0,
            blocks,
        };
        let world = WorldInfo {
            name: "Nowhere".into(),
            half_size: f32::INFINITY,
            spawn: [f32::NAN, 0.0, 1e30],
            stalls: vec![StallInfo {
                name: "a".into(),
                kinds: Vec::new(),
                position: [f32::NAN, 5.0],
            }],
            parcels: vec![ParcelInfo {
                name: "b".into(),
                holder: None,
                min: [f32::NEG_INFINITY, 0.0],
                max: [3e38, 2e38],
                deed: None,
                tenure: None,
            }],
            paths: vec![
                PathInfo {
                    from: [0.0, 0.0],
                    to: [f32::NAN, 1.0],
                    width: 2.0,
                },
                PathInfo {
                    from: [0.0, 0.0],
                    to: [10.0, 0.0],
                    width: 1e9,
                },
            ],
            props: vec![
                prop([f32::NAN, 0.0], 1.0),
                prop([1.0, 1.0], 1e9),
                prop([1e9, 0.0], 0.0),
            ],
        }
        .sanitized();
        let half = world.half_size;
        assert!(half.is_finite());
        let fine = |v: f32| v.is_finite() && v.abs() <= half;
        assert!(world.spawn.iter().all(|v| fine(*v)));
        assert!(world.stalls[0].position.iter().all(|v| fine(*v)));
        let parcel = &world.parcels[0];
        assert!(parcel.min.iter().chain(&parcel.max).all(|v| fine(*v)));
        assert!(parcel.centre().iter().all(|v| fine(*v)));
        assert_eq!(world.paths.len(), 1);
        assert!(world.paths[0].width <= half);
        assert_eq!(world.props.len(), 1);
        assert_eq!(world.props[0].blocks, MAX_PROP_BLOCKS);
    }
}
