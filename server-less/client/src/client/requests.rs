//! The blocking client's request helpers, one per request: each sends its
//! request, pumps the session until the answer (or the timeout) and hands
//! back the answer's content, a refusal as an error.

use std::time::{Duration, Instant};

use assets::{Codec, ContentId};
use ledger::{AssetId, SignedTransaction, TxId};

use super::{Client, POLL};
use crate::error::ClientError;
use crate::protocol::{
    self, Browse, CHANNEL_ASSETS, CHUNK_BYTES, Card, ClientMessage, ErrorCode, Holding,
    MAX_UPLOAD_BYTES, ProtocolError, Quote, QuoteAsk, ServerMessage, Slot, TradeView, TxState,
    Upload, Worn,
};

impl Client {
    /// One page of the catalogue: hits and the next page's cursor.
    pub fn browse(
        &mut self,
        query: Browse,
        timeout: Duration,
    ) -> Result<(Vec<Card>, Option<String>), ClientError> {
        match self.request("a catalogue page", timeout, |request| {
            ClientMessage::Browse { request, query }
        })? {
            ServerMessage::Page { hits, next, .. } => Ok((hits, next)),
            other => Err(unexpected(&other)),
        }
    }

    /// The account's balance and nonce, what it owns and what it rents.
    pub fn inventory(
        &mut self,
        timeout: Duration,
    ) -> Result<(ledger::Account, Vec<Holding>, Vec<Holding>), ClientError> {
        match self.request("the inventory", timeout, |request| {
            ClientMessage::Inventory { request }
        })? {
            ServerMessage::Inventory {
                account,
                owned,
                renting,
                ..
            } => Ok((account, owned, renting)),
            other => Err(unexpected(&other)),
        }
    }

    /// Submits a signed transaction; its state on arrival (pending, or
    /// rejected with the reason).
    pub fn submit(
        &mut self,
        tx: SignedTransaction,
        timeout: Duration,
    ) -> Result<(TxId, TxState), ClientError> {
        match self.request("a submit answer", timeout, |request| {
            ClientMessage::Submit { request, tx }
        })? {
            ServerMessage::Tx { id, state, .. } => Ok((id, state)),
            other => Err(unexpected(&other)),
        }
    }

    /// Where a transaction is now.
    pub fn tx_status(&mut self, id: TxId, timeout: Duration) -> Result<TxState, ClientError> {
        match self.request("a transaction's status", timeout, |request| {
            ClientMessage::TxStatus { request, id }
        })? {
            ServerMessage::Tx { state, .. } => Ok(state),
            other => Err(unexpected(&other)),
        }
    }

    /// Waits for the final state of a transaction this client submitted.
    pub fn wait_final(&mut self, id: TxId, timeout: Duration) -> Result<TxState, ClientError> {
        self.wait_for(
            "a transaction to be final",
            timeout,
            |message| match message {
                ServerMessage::Tx {
                    request: None,
                    id: found,
                    state,
                } if *found == id => Some(state.clone()),
                _ => None,
            },
        )
    }

    /// Submits and waits until final.
    pub fn submit_final(
        &mut self,
        tx: SignedTransaction,
        timeout: Duration,
    ) -> Result<TxState, ClientError> {
        let (id, state) = self.submit(tx, timeout)?;
        match state {
            TxState::Pending => self.wait_final(id, timeout),
            done => Ok(done),
        }
    }

    /// Fetches a blob and checks it against its content id.
    pub fn fetch(&mut self, id: &ContentId, timeout: Duration) -> Result<Vec<u8>, ClientError> {
        let bytes = id.to_bytes();
        match self.request("a blob", timeout, |request| ClientMessage::Fetch {
            request,
            id: bytes,
        })? {
            ServerMessage::Chunk { bytes, .. } if id.matches(&bytes) => Ok(bytes),
            ServerMessage::Chunk { .. } => Err(ProtocolError::new(
                ErrorCode::Malformed,
                format!("the host sent bytes that are not {id}"),
            )
            .into()),
            other => Err(unexpected(&other)),
        }
    }

    /// The account's balance and nonce, and the host's time.
    pub fn account_now(
        &mut self,
        timeout: Duration,
    ) -> Result<(ledger::Account, ledger::Timestamp), ClientError> {
        match self.request("the inventory", timeout, |request| {
            ClientMessage::Inventory { request }
        })? {
            ServerMessage::Inventory { account, now, .. } => Ok((account, now)),
            other => Err(unexpected(&other)),
        }
    }

    /// What renting, buying or returning would cost and pay out now.
    pub fn quote(&mut self, ask: QuoteAsk, timeout: Duration) -> Result<Quote, ClientError> {
        match self.request("a quote", timeout, |request| ClientMessage::Quote {
            request,
            ask,
        })? {
            ServerMessage::Quote { quote, .. } => Ok(quote),
            other => Err(unexpected(&other)),
        }
    }

    /// Wears `asset` in `slot` (or takes off what is there, `asset`
    /// none) and waits for the host's word: what this player wears now,
    /// as the host checked it against the ledger, or its refusal.
    pub fn wear(
        &mut self,
        slot: Slot,
        asset: Option<AssetId>,
        timeout: Duration,
    ) -> Result<Worn, ClientError> {
        match self.request("wearing", timeout, |request| ClientMessage::Wear {
            request,
            slot,
            asset,
        })? {
            ServerMessage::Appearance { worn, .. } => Ok(worn),
            other => Err(unexpected(&other)),
        }
    }

    /// Signs `op` with this client's key as [`market::transaction`] makes
    /// it (the account's next nonce, or a trade's own; valid for
    /// [`market::VALID_SECS`] from the host's time), submits it and waits until it is final; the transaction's id and
    /// its end (applied, or rejected with the ledger's reason).
    pub fn act(
        &mut self,
        op: ledger::Operation,
        timeout: Duration,
    ) -> Result<(TxId, TxState), ClientError> {
        let (account, now) = self.account_now(timeout)?;
        let chain_id = match &self.state.welcome {
            Some(welcome) => welcome.chain_id.clone(),
            None => {
                return Err(ProtocolError::new(
                    ErrorCode::WrongState,
                    "enter a world before acting",
                )
                .into());
            }
        };
        let signer = self.state.key.address();
        let tx =
            market::transaction(chain_id, signer, account.nonce, op, now).sign(&self.state.key);
        let id = tx.id();
        let state = self.submit_final(tx, timeout)?;
        Ok((id, state))
    }

    /// Uploads a blob (a model, preview or manifest) and waits until the
    /// host has checked and stored it; returns its content id.
    pub fn upload(
        &mut self,
        codec: Codec,
        bytes: &[u8],
        timeout: Duration,
    ) -> Result<ContentId, ClientError> {
        if bytes.is_empty() || bytes.len() as u64 > MAX_UPLOAD_BYTES {
            return Err(ProtocolError::new(
                ErrorCode::TooLarge,
                format!(
                    "{} bytes: a host takes uploads of 1 to {MAX_UPLOAD_BYTES} bytes",
                    bytes.len()
                ),
            )
            .into());
        }
        let id = ContentId::of(codec, bytes);
        let request = self.state.next_request;
        self.state.next_request = self.state.next_request.wrapping_add(1);
        self.renet.send_message(
            CHANNEL_ASSETS,
            protocol::encode(&Upload::Begin {
                request,
                id: id.to_bytes(),
                size: bytes.len() as u64,
            })?,
        );
        let deadline = Instant::now() + timeout;
        let mut offset = 0;
        loop {
            // As much as the channel takes now; the rest after a pump.
            while offset < bytes.len() {
                let end = (offset + CHUNK_BYTES).min(bytes.len());
                let piece = protocol::encode(&Upload::Bytes {
                    request,
                    offset: offset as u64,
                    bytes: bytes[offset..end].to_vec(),
                })?;
                if !self.renet.can_send_message(CHANNEL_ASSETS, piece.len()) {
                    break;
                }
                self.renet.send_message(CHANNEL_ASSETS, piece);
                offset = end;
            }
            self.pump()?;
            let answer = self.state.inbox.iter().position(|message| match message {
                ServerMessage::Stored { request: r, .. } => *r == request,
                ServerMessage::Error { request: r, .. } => *r == Some(request),
                _ => false,
            });
            if let Some(at) = answer {
                return match self.state.inbox.remove(at) {
                    Some(ServerMessage::Stored { id: stored, .. }) if stored == id.to_bytes() => {
                        Ok(id)
                    }
                    Some(ServerMessage::Error { code, message, .. }) => {
                        Err(ProtocolError::new(code, message).into())
                    }
                    other => Err(ProtocolError::new(
                        ErrorCode::Malformed,
                        format!("an upload answered with {other:?}"),
                    )
                    .into()),
                };
            }
            if Instant::now() >= deadline {
                return Err(ClientError::Timeout {
                    what: "an upload to be stored",
                    secs: timeout.as_secs(),
                });
            }
            std::thread::sleep(POLL);
        }
    }

    /// Invites `player` to trade and returns the new window.
    pub fn trade_invite(
        &mut self,
        player: u16,
        timeout: Duration,
    ) -> Result<TradeView, ClientError> {
        let id = self.ask(|request| ClientMessage::TradeInvite { request, player });
        self.trade_answer(id, timeout)
    }

    /// Acts in a trade window and returns the window as it is after.
    pub fn trade_act(
        &mut self,
        trade: u64,
        action: market::trade::Action,
        timeout: Duration,
    ) -> Result<TradeView, ClientError> {
        let id = self.ask(|request| ClientMessage::TradeAct {
            request,
            trade,
            action,
        });
        self.trade_answer(id, timeout)
    }

    fn trade_answer(&mut self, id: u32, timeout: Duration) -> Result<TradeView, ClientError> {
        let answer = self.wait_for("a trade window", timeout, |message| match message {
            ServerMessage::Trade {
                request: Some(request),
                view,
            } if *request == id => Some(Ok(view.clone())),
            ServerMessage::Error {
                request: Some(request),
                code,
                message,
            } if *request == id => Some(Err(ProtocolError::new(*code, message.clone()))),
            _ => None,
        })?;
        Ok(*answer?)
    }

    /// Waits for an update of a trade window that `wanted` accepts.
    pub fn wait_trade(
        &mut self,
        timeout: Duration,
        wanted: impl Fn(&TradeView) -> bool,
    ) -> Result<TradeView, ClientError> {
        self.wait_for("a trade window", timeout, |message| match message {
            ServerMessage::Trade { view, .. } if wanted(view) => Some((**view).clone()),
            _ => None,
        })
    }
}

/// An answer of a kind the request was not asking for.
fn unexpected(message: &ServerMessage) -> ClientError {
    let name = match message {
        ServerMessage::Welcome { .. } => "welcome",
        ServerMessage::Page { .. } => "page",
        ServerMessage::Inventory { .. } => "inventory",
        ServerMessage::Tx { .. } => "tx",
        ServerMessage::Chunk { .. } => "chunk",
        _ => "other",
    };
    ProtocolError::new(ErrorCode::Malformed, format!("an unexpected {name} answer")).into()
}
