//! The face-to-face trade window: a state machine both players (and the
//! host that relays between them) run on the same actions.
//!
//! invite → accept → both add and remove assets and tokens → each
//! confirms → the final terms are fixed → both sign them. Any change by
//! either side clears both confirmations and bumps the revision; a
//! confirmation names the revision it confirms, and the final terms carry
//! that revision and a hash of both offers, so what a player confirmed is
//! exactly what they sign.

use borsh::{BorshDeserialize, BorshSerialize};
use ledger::{
    Address, Amount, AssetId, ChainId, LedgerError, MAX_TRADE_ASSETS, Signature, StateReader,
    Timestamp, Trade, TradeSide, TradeTerms,
};

use crate::error::MarketError;

/// How long an invitation waits for an answer, in seconds.
pub const INVITE_SECS: u64 = 60;
/// How long an open window waits for anyone to do anything, in seconds.
pub const IDLE_SECS: u64 = 300;
/// How long both players have to sign the final terms, in seconds.
pub const SIGN_SECS: u64 = 120;
/// How long signed terms stay valid on the ledger, in seconds.
pub const TERMS_SECS: u64 = 600;

/// Which side of the window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Party {
    /// The player who invited: the ledger's party `a`.
    Inviter,
    /// The player who was invited: the ledger's party `b`.
    Invitee,
}

impl Party {
    fn index(self) -> usize {
        match self {
            Party::Inviter => 0,
            Party::Invitee => 1,
        }
    }
}

/// Where the window stands (as a host tells its players, too).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Stage {
    /// Waiting for the invitee to accept.
    Invited,
    /// Both sides may change their offers and confirm.
    Open,
    /// Both confirmed: the final terms are fixed and wait for signatures.
    Signing,
    /// Both signed: the trade can be submitted to the ledger.
    Signed,
    /// A player cancelled (or declined the invitation).
    Cancelled {
        /// Who cancelled.
        by: Address,
    },
    /// Nobody acted in time.
    TimedOut,
}

impl Stage {
    /// Whether the window is over: signed, cancelled or timed out.
    pub fn is_closed(&self) -> bool {
        matches!(
            self,
            Stage::Signed | Stage::Cancelled { .. } | Stage::TimedOut
        )
    }

    /// The stage's name, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Stage::Invited => "invited",
            Stage::Open => "open",
            Stage::Signing => "signing",
            Stage::Signed => "signed",
            Stage::Cancelled { .. } => "cancelled",
            Stage::TimedOut => "timed out",
        }
    }
}

/// Something a player does in the window. Changes and confirmations name
/// the revision the player was looking at. Players send these to a host
/// as they are.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Action {
    /// The invitee accepts the invitation.
    Accept,
    /// Put one of your assets into your offer.
    AddAsset {
        /// The asset.
        asset: AssetId,
        /// The revision you saw.
        revision: u64,
    },
    /// Take one of your assets out of your offer.
    RemoveAsset {
        /// The asset.
        asset: AssetId,
        /// The revision you saw.
        revision: u64,
    },
    /// Set the tokens you offer.
    SetTokens {
        /// How many.
        amount: Amount,
        /// The revision you saw.
        revision: u64,
    },
    /// Agree to both offers as they stand at `revision`.
    Confirm {
        /// The revision you agree to.
        revision: u64,
    },
    /// Withdraw your confirmation, so that you can change your offer.
    Unconfirm,
    /// Your signature over the final terms.
    Sign(Signature),
    /// Close the window (an invitee declining does this too).
    Cancel,
}

impl Action {
    fn name(&self) -> &'static str {
        match self {
            Action::Accept => "accept",
            Action::AddAsset { .. } => "add an asset",
            Action::RemoveAsset { .. } => "remove an asset",
            Action::SetTokens { .. } => "set tokens",
            Action::Confirm { .. } => "confirm",
            Action::Unconfirm => "withdraw a confirmation",
            Action::Sign(_) => "sign",
            Action::Cancel => "cancel",
        }
    }
}

/// One two-party trade window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TradeWindow {
    chain_id: ChainId,
    parties: [Address; 2],
    offers: [TradeSide; 2],
    confirmed: [bool; 2],
    revision: u64,
    stage: Stage,
    /// When the current stage times out.
    deadline: Timestamp,
    terms: Option<TradeTerms>,
    signatures: [Option<Signature>; 2],
}

impl TradeWindow {
    /// `from` invites `to` to trade, at `now`, on the network `chain_id`.
    pub fn invite(
        chain_id: ChainId,
        from: Address,
        to: Address,
        now: Timestamp,
    ) -> Result<Self, MarketError> {
        if from == to {
            return Err(LedgerError::SelfDealing {
                what: "trade",
                address: from,
            }
            .into());
        }
        Ok(TradeWindow {
            chain_id,
            parties: [from, to],
            offers: [TradeSide::default(), TradeSide::default()],
            confirmed: [false; 2],
            revision: 0,
            stage: Stage::Invited,
            deadline: now.saturating_add(INVITE_SECS),
            terms: None,
            signatures: [None, None],
        })
    }

    /// The stage.
    pub fn stage(&self) -> &Stage {
        &self.stage
    }

    /// The revision of the offers: it goes up with every change.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// The player on `party`'s side.
    pub fn player(&self, party: Party) -> Address {
        self.parties[party.index()]
    }

    /// Which side `who` is on, if either.
    pub fn party_of(&self, who: &Address) -> Option<Party> {
        if *who == self.parties[0] {
            Some(Party::Inviter)
        } else if *who == self.parties[1] {
            Some(Party::Invitee)
        } else {
            None
        }
    }

    /// What `party` offers.
    pub fn offer(&self, party: Party) -> &TradeSide {
        &self.offers[party.index()]
    }

    /// Whether `party` has confirmed the current revision.
    pub fn confirmed(&self, party: Party) -> bool {
        self.confirmed[party.index()]
    }

    /// When the current stage times out.
    pub fn deadline(&self) -> Timestamp {
        self.deadline
    }

    /// The final terms, once both confirmed.
    pub fn terms(&self) -> Option<&TradeTerms> {
        self.terms.as_ref()
    }

    /// Whether `party` has signed the final terms.
    pub fn signed(&self, party: Party) -> bool {
        self.signatures[party.index()].is_some()
    }

    /// The trade with both signatures, ready to submit, once both signed.
    pub fn trade(&self) -> Option<Trade> {
        match (&self.terms, &self.signatures) {
            (Some(terms), [Some(a), Some(b)]) => Some(Trade {
                terms: terms.clone(),
                a_signature: *a,
                b_signature: *b,
            }),
            _ => None,
        }
    }

    /// Whether the window is closed for good.
    pub fn is_closed(&self) -> bool {
        self.stage.is_closed()
    }

    /// Times the window out if its stage's deadline has passed by `now`.
    /// Returns whether it timed out now.
    pub fn tick(&mut self, now: Timestamp) -> bool {
        let waiting = matches!(self.stage, Stage::Invited | Stage::Open | Stage::Signing);
        if waiting && now >= self.deadline {
            self.stage = Stage::TimedOut;
            return true;
        }
        false
    }

    /// `who` does `action` at `now`, checked against the ledger `state`
    /// (ownership, rentals, balances, nonces). A refused action changes
    /// nothing and says why.
    pub fn act(
        &mut self,
        who: &Address,
        action: Action,
        now: Timestamp,
        state: &impl StateReader,
    ) -> Result<(), MarketError> {
        self.tick(now);
        let party = self.party_of(who).ok_or(MarketError::NotInTrade(*who))?;
        let mine = party.index();
        let refuse = |stage: &Stage, action: &Action| MarketError::TradeStage {
            action: action.name(),
            stage: stage.name(),
        };
        match (&self.stage, &action) {
            (Stage::Cancelled { .. } | Stage::TimedOut | Stage::Signed, _) => {
                Err(refuse(&self.stage, &action))
            }
            (_, Action::Cancel) => {
                self.stage = Stage::Cancelled { by: *who };
                Ok(())
            }
            (Stage::Invited, Action::Accept) if party == Party::Invitee => {
                self.stage = Stage::Open;
                self.deadline = now.saturating_add(IDLE_SECS);
                Ok(())
            }
            (Stage::Open, Action::AddAsset { asset, revision }) => {
                self.check_change(mine, *revision)?;
                let offer = &self.offers[mine];
                if self.offers.iter().any(|side| side.assets.contains(asset)) {
                    return Err(MarketError::AssetInTrade(*asset));
                }
                if offer.assets.len() >= MAX_TRADE_ASSETS {
                    return Err(LedgerError::TooManyTradeAssets {
                        count: offer.assets.len() + 1,
                        max: MAX_TRADE_ASSETS,
                    }
                    .into());
                }
                check_asset(state, asset, who)?;
                self.offers[mine].assets.push(*asset);
                self.changed(now);
                Ok(())
            }
            (Stage::Open, Action::RemoveAsset { asset, revision }) => {
                self.check_change(mine, *revision)?;
                let assets = &mut self.offers[mine].assets;
                let at = assets
                    .iter()
                    .position(|offered| offered == asset)
                    .ok_or(MarketError::AssetNotOffered(*asset))?;
                assets.remove(at);
                self.changed(now);
                Ok(())
            }
            (Stage::Open, Action::SetTokens { amount, revision }) => {
                self.check_change(mine, *revision)?;
                check_tokens(state, who, *amount)?;
                self.offers[mine].tokens = *amount;
                self.changed(now);
                Ok(())
            }
            (Stage::Open, Action::Confirm { revision }) => {
                self.check_revision(*revision)?;
                if self.offers.iter().all(|side| side == &TradeSide::default()) {
                    return Err(LedgerError::InvalidTrade("neither side gives anything").into());
                }
                // What each side offers is checked again: an asset may
                // have been sold or rented out since it was put in.
                for (player, offer) in self.parties.iter().zip(&self.offers) {
                    for asset in &offer.assets {
                        check_asset(state, asset, player)?;
                    }
                    check_tokens(state, player, offer.tokens)?;
                }
                let terms = if self.confirmed[1 - mine] {
                    Some(self.final_terms(state, now)?)
                } else {
                    None
                };
                self.confirmed[mine] = true;
                self.deadline = now.saturating_add(IDLE_SECS);
                if let Some(terms) = terms {
                    self.terms = Some(terms);
                    self.stage = Stage::Signing;
                    self.deadline = now.saturating_add(SIGN_SECS);
                }
                Ok(())
            }
            (Stage::Open, Action::Unconfirm) => {
                self.confirmed[mine] = false;
                self.deadline = now.saturating_add(IDLE_SECS);
                Ok(())
            }
            (Stage::Signing, Action::Sign(signature)) => {
                let terms = self.terms.as_ref().ok_or(MarketError::TradeStage {
                    action: "sign",
                    stage: "signing without terms",
                })?;
                terms.verify(&self.chain_id, who, signature)?;
                self.signatures[mine] = Some(*signature);
                if self.signatures.iter().all(Option::is_some) {
                    self.stage = Stage::Signed;
                }
                Ok(())
            }
            _ => Err(refuse(&self.stage, &action)),
        }
    }

    /// A change to `mine`'s offer is allowed only at the current revision
    /// and while that side has not confirmed.
    fn check_change(&self, mine: usize, revision: u64) -> Result<(), MarketError> {
        self.check_revision(revision)?;
        if self.confirmed[mine] {
            return Err(MarketError::ConfirmedAlready);
        }
        Ok(())
    }

    fn check_revision(&self, seen: u64) -> Result<(), MarketError> {
        if seen != self.revision {
            return Err(MarketError::StaleRevision {
                seen,
                current: self.revision,
            });
        }
        Ok(())
    }

    /// After any change: both confirmations cleared, a new revision.
    fn changed(&mut self, now: Timestamp) {
        self.confirmed = [false, false];
        self.revision = self.revision.saturating_add(1);
        self.deadline = now.saturating_add(IDLE_SECS);
    }

    /// The terms both will sign once both confirmed: the parties' next
    /// nonces, the revision and the hash of both offers.
    fn final_terms(
        &self,
        state: &impl StateReader,
        now: Timestamp,
    ) -> Result<TradeTerms, MarketError> {
        let nonce = |who: &Address| -> Result<u64, MarketError> {
            Ok(state.account(who)?.unwrap_or_default().nonce)
        };
        let [a, b] = self.parties;
        Ok(TradeTerms {
            a,
            b,
            a_gives: self.offers[0].clone(),
            b_gives: self.offers[1].clone(),
            a_nonce: nonce(&a)?,
            b_nonce: nonce(&b)?,
            expires_at: now.saturating_add(TERMS_SECS),
            revision: self.revision,
            offers_hash: [0; 32],
        }
        .with_offers_hash())
    }
}

/// The checks the ledger makes on an asset a trade hands over from
/// `giver`: it exists, `giver` owns it, no rental holds it.
fn check_asset(
    state: &impl StateReader,
    asset: &AssetId,
    giver: &Address,
) -> Result<(), MarketError> {
    let record = state
        .asset(asset)?
        .ok_or(LedgerError::AssetNotFound(*asset))?;
    ledger::check_owned_and_free(&record, giver, "trade")?;
    Ok(())
}

fn check_tokens(
    state: &impl StateReader,
    who: &Address,
    amount: Amount,
) -> Result<(), MarketError> {
    let available = state.account(who)?.unwrap_or_default().balance;
    if amount > available {
        return Err(LedgerError::InsufficientFunds {
            account: *who,
            needed: amount,
            available,
        }
        .into());
    }
    Ok(())
}
