//! Calls between hosts about their players: one host asks another
//! directly (a libp2p request and its answer, on the connection the noise
//! handshake authenticated, so the called host knows which host asks).
//!
//! A player may say a line to one player of another host: its host
//! passes it on, and the other host gives it to its player, unless that
//! player blocks the speaker.
//!
//! A trade between players of two hosts of one world lives at the
//! inviter's host, its *home*: the home invites the other host's player
//! and tells that host each change of the window; the other host relays
//! its player's actions to the home and the home's answers back. Nothing
//! a host says here moves an asset: a trade is final only once both
//! players have signed its terms, each in their own client, and the
//! ledger checks both signatures.

use borsh::{BorshDeserialize, BorshSerialize};
use ledger::Address;
use market::trade::Action;
use plaza_client::protocol::{ErrorCode, TradeView};
use tokio::sync::oneshot;

/// The largest call or answer, bytes.
pub const MAX_CALL_BYTES: usize = 32 * 1024;

/// What one host asks of another.
#[derive(Clone, Debug, PartialEq, BorshSerialize, BorshDeserialize)]
pub enum HostCall {
    /// A player of the calling host invites the called host's player
    /// `player` (its number there) in `world` to trade: the window, at
    /// the calling host, as it opens.
    TradeInvite {
        /// The world both are in.
        world: String,
        /// The invitee, by its number at the called host.
        player: u16,
        /// The window.
        view: TradeView,
    },
    /// A trade window at the calling host changed: for the called host's
    /// player in it.
    TradeView {
        /// Counts up with each view of this window the calling host
        /// sends (news or answers): news arriving after a newer view is
        /// dropped.
        seq: u64,
        /// The window as it stands now.
        view: TradeView,
    },
    /// The calling host's player acts on trade window `trade` at the
    /// called host, its home.
    TradeAct {
        /// The window, by its home's id.
        trade: u64,
        /// What the player does.
        action: Action,
    },
    /// The calling host's player `from` says `text` to the called host's
    /// player `player` (its number there) in `world`, alone.
    Tell {
        /// The world both are in.
        world: String,
        /// The player told, by its number at the called host.
        player: u16,
        /// The speaker's account.
        from: Address,
        /// The line.
        text: String,
    },
}

/// What the called host answers.
#[derive(Clone, Debug, PartialEq, BorshSerialize, BorshDeserialize)]
pub enum CallAnswer {
    /// Done.
    Done,
    /// The window after the action, numbered as news is.
    Trade {
        /// The view's number among the window's views.
        seq: u64,
        /// The window.
        view: Box<TradeView>,
    },
    /// Not done, and why.
    Refused {
        /// What kind of refusal, as a player would be told it.
        code: ErrorCode,
        /// Why, in words.
        message: String,
    },
}

impl CallAnswer {
    /// A refusal.
    pub fn refused(code: ErrorCode, message: impl Into<String>) -> Self {
        CallAnswer::Refused {
            code,
            message: message.into(),
        }
    }
}

/// Encodes `value`, refusing one over [`MAX_CALL_BYTES`].
pub fn encode<T: BorshSerialize>(value: &T) -> Result<Vec<u8>, String> {
    let bytes = borsh::to_vec(value).map_err(|err| format!("cannot encode: {err}"))?;
    if bytes.len() > MAX_CALL_BYTES {
        return Err(format!(
            "{} bytes, the most is {MAX_CALL_BYTES}",
            bytes.len()
        ));
    }
    Ok(bytes)
}

/// Decodes a call or answer: at most [`MAX_CALL_BYTES`], every byte
/// used.
pub fn decode<T: BorshDeserialize>(bytes: &[u8]) -> Result<T, String> {
    if bytes.len() > MAX_CALL_BYTES {
        return Err(format!(
            "{} bytes, the most is {MAX_CALL_BYTES}",
            bytes.len()
        ));
    }
    borsh::from_slice(bytes).map_err(|err| format!("cannot decode: {err}"))
}

/// A call this host makes: to `host`, and where its answer goes (or why
/// none came: the host unreachable, the call timed out or was refused
/// unread).
pub struct OutCall {
    /// The host called, by its key.
    pub host: Address,
    /// What is asked.
    pub call: HostCall,
    /// Where the answer goes.
    pub answer: oneshot::Sender<Result<CallAnswer, String>>,
}

/// A call another host made of this one: from `host` (as its connection
/// proved), and where the answer goes.
pub struct InCall {
    /// The calling host, by its key.
    pub host: Address,
    /// What it asks.
    pub call: HostCall,
    /// Where the answer goes; dropped unanswered, the caller is told the
    /// host could not answer.
    pub answer: oneshot::Sender<CallAnswer>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger::ChainId;
    use market::TradeWindow;

    #[test]
    fn calls_read_back_as_written_and_oversized_or_trailing_bytes_are_refused() {
        let (ada, bo) = (Address::from_bytes([1; 32]), Address::from_bytes([2; 32]));
        let window = TradeWindow::invite(ChainId::new("plaza-test").unwrap(), ada, bo, 1_000)
            .unwrap_or_else(|err| panic!("{err}"));
        let view = TradeView {
            trade: 7,
            inviter: window.player(market::trade::Party::Inviter),
            invitee: window.player(market::trade::Party::Invitee),
            stage: window.stage().clone(),
            revision: window.revision(),
            offers: Default::default(),
            confirmed: [false; 2],
            signed: [false; 2],
            terms: None,
            signatures: None,
        };
        for call in [
            HostCall::TradeInvite {
                world: "Plaza Square".into(),
                player: 3,
                view: view.clone(),
            },
            HostCall::TradeView {
                seq: 2,
                view: view.clone(),
            },
            HostCall::TradeAct {
                trade: 7,
                action: Action::Accept,
            },
            HostCall::Tell {
                world: "Plaza Square".into(),
                player: 3,
                from: ada,
                text: "over here".into(),
            },
        ] {
            let bytes = encode(&call).unwrap();
            assert_eq!(decode::<HostCall>(&bytes).unwrap(), call);
            let mut longer = bytes.clone();
            longer.push(0);
            assert!(decode::<HostCall>(&longer).is_err());
        }
        let answer = CallAnswer::refused(ErrorCode::Busy, "later");
        assert_eq!(
            decode::<CallAnswer>(&encode(&answer).unwrap()).unwrap(),
            answer
        );
        let huge = vec![0u8; MAX_CALL_BYTES + 1];
        assert!(decode::<HostCall>(&huge).unwrap_err().contains("the most"));
    }
}
