//! Checking and applying one transaction. Every check runs before the
//! write it guards; the caller undoes the writes of a transaction that
//! fails part-way (a trade's later leg, say).

use crate::error::LedgerError;
use crate::evidence::{EVIDENCE_WINDOW, Equivocation, SLASH_BPS};
use crate::execute::overlay::Overlay;
use crate::execute::{
    MAX_VALIDATOR_CHANGES, MAX_VALIDATORS, MIN_STAKE, MINT_FEE, StateReader, VALIDATOR_CHANGE_DELAY,
};
use crate::ids::{Amount, AssetId, BasisPoints, ChainId, Height, ListingId, RentalId, Timestamp};
use crate::keys::Address;
use crate::rules::{self, RentCosts};
use crate::settle::{self, Settlement, Split};
use crate::state::{
    ActiveRental, Asset, ChainParams, Listing, ListingStatus, ListingTerms, RentTerms, Rental,
    RentalStatus, Slash, ValidatorChange,
};
use crate::tx::{MAX_TRADE_ASSETS, ManifestBytes, Operation, Trade, Transaction};

/// What every transaction of a block shares.
pub(crate) struct Context<'a> {
    pub(crate) chain_id: &'a ChainId,
    pub(crate) params: ChainParams,
    pub(crate) height: Height,
    pub(crate) time: Timestamp,
    pub(crate) proposer: Address,
}

/// Checks and applies `tx`, whose signature check came out as
/// `signature`. Returns the settlement of an early return.
pub(crate) fn apply_tx<R: StateReader>(
    overlay: &mut Overlay<'_, R>,
    context: &Context<'_>,
    tx: &Transaction,
    signature: &Result<(), LedgerError>,
) -> Result<Option<Settlement>, LedgerError> {
    spend_nonce(overlay, context, tx, signature)?;
    overlay.keep();
    apply_op(overlay, context, tx)
}

/// Checks that `tx` is signed (as `signature` came out), for this chain,
/// in time and in turn, and spends the signer's nonce. A transaction that
/// gets past this is final whatever its operation comes to: it can never
/// be replayed later, and the signer's next ones follow it.
pub(crate) fn spend_nonce<R: StateReader>(
    overlay: &mut Overlay<'_, R>,
    context: &Context<'_>,
    tx: &Transaction,
    signature: &Result<(), LedgerError>,
) -> Result<(), LedgerError> {
    if &tx.chain_id != context.chain_id {
        return Err(LedgerError::WrongChain {
            expected: context.chain_id.clone(),
            got: tx.chain_id.clone(),
        });
    }
    signature.clone()?;
    if tx.valid_until < context.time {
        return Err(LedgerError::Expired {
            valid_until: tx.valid_until,
            now: context.time,
        });
    }
    let signer = tx.signer;
    let mut account = overlay.account(signer)?;
    check_nonce(signer, account.nonce, tx.nonce)?;
    account.nonce = account
        .nonce
        .checked_add(1)
        .ok_or(LedgerError::Overflow { what: "a nonce" })?;
    overlay.set_account(signer, account);
    Ok(())
}

/// Applies the operation of `tx`, whose nonce [`spend_nonce`] spent.
/// Returns the settlement of an early return.
pub(crate) fn apply_op<R: StateReader>(
    overlay: &mut Overlay<'_, R>,
    context: &Context<'_>,
    tx: &Transaction,
) -> Result<Option<Settlement>, LedgerError> {
    let mut ops = Ops {
        overlay,
        context,
        signer: tx.signer,
    };
    match &tx.op {
        Operation::Mint {
            manifest,
            royalty_bps,
        } => ops.mint(manifest, *royalty_bps)?,
        Operation::TransferAsset { asset, to } => ops.transfer(*asset, *to)?,
        Operation::Pay { to, amount } => ops.pay(*to, *amount)?,
        Operation::ListForRent {
            asset,
            terms,
            expires_at,
        } => ops.list(*asset, ListingTerms::Rent(*terms), *expires_at)?,
        Operation::ListForSale {
            asset,
            price,
            expires_at,
        } => ops.list(*asset, ListingTerms::Sale { price: *price }, *expires_at)?,
        Operation::CancelListing { listing } => ops.cancel(*listing)?,
        Operation::Rent { listing, periods } => ops.rent(*listing, *periods)?,
        Operation::Buy { listing } => ops.buy(*listing)?,
        Operation::ReturnRental { rental } => return ops.return_rental(*rental).map(Some),
        Operation::Trade(trade) => ops.trade(trade, tx.nonce)?,
        Operation::Stake { amount } => ops.stake(*amount)?,
        Operation::Unstake { amount } => ops.unstake(*amount)?,
        Operation::ReportEquivocation(evidence) => ops.report_equivocation(evidence)?,
    }
    Ok(None)
}

fn check_nonce(account: Address, expected: u64, got: u64) -> Result<(), LedgerError> {
    if got < expected {
        Err(LedgerError::StaleNonce {
            account,
            expected,
            got,
        })
    } else if got > expected {
        Err(LedgerError::FutureNonce {
            account,
            expected,
            got,
        })
    } else {
        Ok(())
    }
}

struct Ops<'o, 'r, 'c, R> {
    overlay: &'o mut Overlay<'r, R>,
    context: &'c Context<'c>,
    signer: Address,
}

impl<R: StateReader> Ops<'_, '_, '_, R> {
    fn time(&self) -> Timestamp {
        self.context.time
    }

    /// The asset, checked to be owned by `owner` and not rented out.
    fn owned_and_free(
        &mut self,
        id: AssetId,
        owner: Address,
        action: &'static str,
    ) -> Result<Asset, LedgerError> {
        let asset = self.overlay.require_asset(id)?;
        rules::check_owned_and_free(&asset, &owner, action)?;
        Ok(asset)
    }

    /// Hands title to `to`: any open listing of the asset lapses.
    fn change_owner(&mut self, mut asset: Asset, to: Address) -> Result<(), LedgerError> {
        asset.owner = to;
        asset.owner_seq = asset
            .owner_seq
            .checked_add(1)
            .ok_or(LedgerError::Overflow {
                what: "an owner sequence",
            })?;
        asset.listing = None;
        self.overlay.set_asset(asset);
        Ok(())
    }

    /// Moves `amount` from `from` to `to`.
    fn pay_from(&mut self, from: Address, to: Address, amount: Amount) -> Result<(), LedgerError> {
        if amount == 0 {
            return Ok(());
        }
        self.overlay.debit(from, amount)?;
        self.overlay.credit(to, amount)
    }

    /// Pays `amount` out of `payer` for `asset`, divided between creator,
    /// proposer and `seller`.
    fn pay_split(
        &mut self,
        payer: Address,
        seller: Address,
        asset: &Asset,
        amount: Amount,
    ) -> Result<Split, LedgerError> {
        let split = Split::of(
            amount,
            asset.royalty_bps,
            self.context.params.network_fee_bps,
        )?;
        self.overlay.debit(payer, amount)?;
        self.overlay.credit(asset.creator, split.royalty)?;
        self.overlay.credit(self.context.proposer, split.fee)?;
        self.overlay.credit(seller, split.to_lessor)?;
        Ok(split)
    }

    fn mint(
        &mut self,
        manifest: &ManifestBytes,
        royalty_bps: BasisPoints,
    ) -> Result<(), LedgerError> {
        let max = self.context.params.max_royalty_bps;
        if royalty_bps > max {
            return Err(LedgerError::RoyaltyTooHigh {
                bps: royalty_bps,
                max,
            });
        }
        let read = assets::Manifest::from_json(&manifest.0)
            .map_err(|err| LedgerError::BadManifest(err.to_string()))?;
        if read.creator != self.signer.to_string() {
            return Err(LedgerError::NotTheCreator {
                signer: self.signer,
                creator: read.creator,
            });
        }
        let id = manifest.asset_id();
        if self.overlay.asset(id)?.is_some() {
            return Err(LedgerError::AssetExists(id));
        }
        self.pay_from(self.signer, self.context.proposer, MINT_FEE)?;
        self.overlay.set_asset(Asset {
            id,
            creator: self.signer,
            owner: self.signer,
            royalty_bps,
            minted_at: self.context.height,
            owner_seq: 0,
            listing: None,
            rental: None,
        });
        Ok(())
    }

    fn transfer(&mut self, id: AssetId, to: Address) -> Result<(), LedgerError> {
        let asset = self.owned_and_free(id, self.signer, "transfer")?;
        if to == self.signer {
            return Err(LedgerError::SelfDealing {
                what: "transfer",
                address: to,
            });
        }
        self.change_owner(asset, to)
    }

    fn pay(&mut self, to: Address, amount: Amount) -> Result<(), LedgerError> {
        if amount == 0 {
            return Err(LedgerError::ZeroAmount { what: "a payment" });
        }
        if to == self.signer {
            return Err(LedgerError::SelfDealing {
                what: "pay",
                address: to,
            });
        }
        self.pay_from(self.signer, to, amount)
    }

    /// Bonds `amount` of the signer's tokens; its power grows from
    /// [`VALIDATOR_CHANGE_DELAY`] heights on.
    fn stake(&mut self, amount: Amount) -> Result<(), LedgerError> {
        if amount == 0 {
            return Err(LedgerError::ZeroAmount { what: "a stake" });
        }
        let planned = self.overlay.planned_validators()?;
        let bonded = planned.get(&self.signer).copied().unwrap_or(0);
        if bonded == 0 && planned.len() >= MAX_VALIDATORS {
            return Err(LedgerError::TooManyValidators(self.signer));
        }
        let power = bonded.checked_add(amount).ok_or(LedgerError::Overflow {
            what: "a validator's power",
        })?;
        self.check_stake(power)?;
        self.overlay.debit(self.signer, amount)?;
        let mut counters = self.overlay.counters();
        counters.staked = counters
            .staked
            .checked_add(amount)
            .ok_or(LedgerError::Overflow { what: "the stake" })?;
        self.overlay.set_counters(counters);
        self.change_validator(power, 0)
    }

    /// Unbonds `amount` of the signer's stake; its power shrinks and the
    /// tokens come back [`VALIDATOR_CHANGE_DELAY`] heights on.
    fn unstake(&mut self, amount: Amount) -> Result<(), LedgerError> {
        if amount == 0 {
            return Err(LedgerError::ZeroAmount { what: "an unstake" });
        }
        let planned = self.overlay.planned_validators()?;
        let bonded = planned.get(&self.signer).copied().unwrap_or(0);
        let power = bonded
            .checked_sub(amount)
            .ok_or(LedgerError::NotEnoughStake {
                validator: self.signer,
                bonded,
                asked: amount,
            })?;
        if power == 0 && planned.len() == 1 {
            return Err(LedgerError::LastValidator(self.signer));
        }
        if power > 0 {
            self.check_stake(power)?;
        }
        self.change_validator(power, amount)
    }

    /// An error if the signer would hold less than [`MIN_STAKE`].
    fn check_stake(&self, power: u64) -> Result<(), LedgerError> {
        if power < MIN_STAKE {
            return Err(LedgerError::StakeTooSmall {
                validator: self.signer,
                power,
            });
        }
        Ok(())
    }

    /// Records that the signer's power becomes `power`, and `release`
    /// tokens return to it, from [`VALIDATOR_CHANGE_DELAY`] heights on.
    fn change_validator(&mut self, power: u64, release: Amount) -> Result<(), LedgerError> {
        let waiting = self.overlay.validator_changes();
        if let Some(change) = waiting
            .iter()
            .find(|change| change.validator == self.signer)
        {
            return Err(LedgerError::ValidatorChangeWaiting {
                validator: self.signer,
                from: change.from,
            });
        }
        if waiting.len() >= MAX_VALIDATOR_CHANGES {
            return Err(LedgerError::ValidatorChangesFull);
        }
        let from = self
            .context
            .height
            .checked_add(VALIDATOR_CHANGE_DELAY)
            .ok_or(LedgerError::Overflow { what: "a height" })?;
        self.overlay.add_validator_change(ValidatorChange {
            validator: self.signer,
            power,
            release,
            from,
        });
        Ok(())
    }

    /// Slashes the validator `evidence` shows signing two different
    /// messages for one height and round: [`SLASH_BPS`] of its stake is
    /// burnt, and it leaves the set [`VALIDATOR_CHANGE_DELAY`] heights on
    /// with the rest returned, whatever change of its own was waiting.
    /// The last validator is slashed but stays, lest the chain stop.
    fn report_equivocation(&mut self, evidence: &Equivocation) -> Result<(), LedgerError> {
        let now = self.context.height;
        if evidence.height > now || evidence.height.saturating_add(EVIDENCE_WINDOW) < now {
            return Err(LedgerError::EvidenceOutOfWindow {
                height: evidence.height,
                now,
            });
        }
        evidence.check(self.context.chain_id)?;
        let offender = evidence.validator;
        // Evidence of an offence already punished (this evidence, or any
        // older) is spent: a validator is slashed once for it.
        if self
            .overlay
            .slashed()
            .iter()
            .any(|slash| slash.validator == offender && evidence.height <= slash.evidence_height)
        {
            return Err(LedgerError::AlreadySlashed(offender));
        }
        // What it has bonded: its power now, or what a waiting change
        // makes it if larger (a stake is bonded when made; an unstake's
        // tokens stay bonded until it takes effect). All of it is slashed.
        let planned = self.overlay.planned_validators()?;
        let stake = self
            .overlay
            .validator_power(offender)?
            .max(planned.get(&offender).copied().unwrap_or(0));
        if stake == 0 {
            return Err(LedgerError::NotAValidator(offender));
        }
        let burnt = settle::share(stake, SLASH_BPS)?;
        let kept = stake
            .checked_sub(burnt)
            .ok_or(LedgerError::Overflow { what: "a stake" })?;
        let mut counters = self.overlay.counters();
        counters.staked = counters.staked.checked_sub(burnt).ok_or_else(|| {
            LedgerError::Corrupt(format!(
                "{offender} is slashed {burnt} of {} staked",
                counters.staked
            ))
        })?;
        counters.supply = counters.supply.checked_sub(burnt).ok_or_else(|| {
            LedgerError::Corrupt(format!("{burnt} burnt of a supply of {}", counters.supply))
        })?;
        self.overlay.set_counters(counters);
        let last = planned
            .iter()
            .all(|(address, power)| *address == offender || *power == 0);
        let (power, release) = if last { (kept, 0) } else { (0, kept) };
        let from = now
            .checked_add(VALIDATOR_CHANGE_DELAY)
            .ok_or(LedgerError::Overflow { what: "a height" })?;
        self.overlay.replace_validator_change(ValidatorChange {
            validator: offender,
            power,
            release,
            from,
        });
        self.overlay.record_slash(
            Slash {
                validator: offender,
                evidence_height: evidence.height,
                at: now,
            },
            now,
            EVIDENCE_WINDOW,
        );
        Ok(())
    }

    fn list(
        &mut self,
        id: AssetId,
        terms: ListingTerms,
        expires_at: Timestamp,
    ) -> Result<(), LedgerError> {
        let action = match terms {
            ListingTerms::Rent(_) => "list",
            ListingTerms::Sale { .. } => "sell",
        };
        let mut asset = self.owned_and_free(id, self.signer, action)?;
        if let Some(open) = asset.listing {
            let listing = self.overlay.require_listing(open)?;
            if listing.status == ListingStatus::Open && self.time() < listing.expires_at {
                return Err(LedgerError::AlreadyListed {
                    asset: id,
                    listing: open,
                });
            }
        }
        if expires_at <= self.time() {
            return Err(LedgerError::InvalidTerms(
                "the listing would expire before it could be filled",
            ));
        }
        match terms {
            ListingTerms::Rent(rent) => self.check_rent_terms(&rent)?,
            ListingTerms::Sale { price } => {
                if price == 0 {
                    return Err(LedgerError::ZeroAmount { what: "a price" });
                }
            }
        }
        let mut counters = self.overlay.counters();
        let listing_id = ListingId(take_next(&mut counters.next_listing, "a listing id")?);
        self.overlay.set_counters(counters);
        self.overlay.set_listing(Listing {
            id: listing_id,
            asset: id,
            lister: self.signer,
            owner_seq: asset.owner_seq,
            terms,
            expires_at,
            created_at: self.time(),
            status: ListingStatus::Open,
        });
        asset.listing = Some(listing_id);
        self.overlay.set_asset(asset);
        Ok(())
    }

    fn check_rent_terms(&self, terms: &RentTerms) -> Result<(), LedgerError> {
        terms.check(
            &self.signer,
            self.context.params.max_rental_periods,
            self.time(),
        )
    }

    fn cancel(&mut self, id: ListingId) -> Result<(), LedgerError> {
        let mut listing = self.overlay.require_listing(id)?;
        if listing.lister != self.signer {
            return Err(LedgerError::NotLister {
                listing: id,
                signer: self.signer,
                lister: listing.lister,
            });
        }
        rules::check_open(&listing)?;
        listing.status = ListingStatus::Cancelled { at: self.time() };
        let asset_id = listing.asset;
        self.overlay.set_listing(listing);
        let mut asset = self.overlay.require_asset(asset_id)?;
        if asset.listing == Some(id) {
            asset.listing = None;
            self.overlay.set_asset(asset);
        }
        Ok(())
    }

    /// The listing and its asset, checked to be fillable now by the signer.
    fn fillable(
        &mut self,
        id: ListingId,
        expected: &'static str,
    ) -> Result<(Listing, Asset), LedgerError> {
        let listing = self.overlay.require_listing(id)?;
        rules::check_listing_fillable(&listing, self.time(), expected)?;
        let asset = self.overlay.require_asset(listing.asset)?;
        rules::check_asset_fillable(&listing, &asset, &self.signer, expected)?;
        Ok((listing, asset))
    }

    fn rent(&mut self, id: ListingId, periods: u32) -> Result<(), LedgerError> {
        let (listing, mut asset) = self.fillable(id, "rent")?;
        let ListingTerms::Rent(terms) = listing.terms else {
            unreachable!("fillable checked the kind");
        };
        let RentCosts {
            escrow, ends_at, ..
        } = rules::rent_costs(id, &terms, &self.signer, periods, self.time())?;
        self.overlay.debit(self.signer, escrow)?;

        let mut counters = self.overlay.counters();
        let rental_id = RentalId(take_next(&mut counters.next_rental, "a rental id")?);
        counters.escrow = counters
            .escrow
            .checked_add(escrow)
            .ok_or(LedgerError::Overflow {
                what: "the escrow total",
            })?;
        self.overlay.set_counters(counters);

        self.overlay.set_rental(Rental {
            id: rental_id,
            asset: asset.id,
            listing: id,
            lessor: listing.lister,
            renter: self.signer,
            creator: asset.creator,
            royalty_bps: asset.royalty_bps,
            price_per_period: terms.price_per_period,
            period_secs: terms.period_secs,
            periods,
            deposit: terms.deposit,
            starts_at: self.time(),
            ends_at,
            status: RentalStatus::Active,
        });
        asset.rental = Some(ActiveRental {
            id: rental_id,
            renter: self.signer,
            ends_at,
        });
        self.overlay.set_asset(asset);
        Ok(())
    }

    fn buy(&mut self, id: ListingId) -> Result<(), LedgerError> {
        let (mut listing, asset) = self.fillable(id, "sale")?;
        let ListingTerms::Sale { price } = listing.terms else {
            unreachable!("fillable checked the kind");
        };
        self.pay_split(self.signer, listing.lister, &asset, price)?;
        listing.status = ListingStatus::Sold {
            buyer: self.signer,
            at: self.time(),
        };
        self.overlay.set_listing(listing);
        self.change_owner(asset, self.signer)
    }

    fn return_rental(&mut self, id: RentalId) -> Result<Settlement, LedgerError> {
        let rental = self.overlay.require_rental(id)?;
        if rental.renter != self.signer {
            return Err(LedgerError::NotRenter {
                rental: id,
                signer: self.signer,
                renter: rental.renter,
            });
        }
        match rental.status {
            RentalStatus::Active => {}
            RentalStatus::Settled { .. } => {
                return Err(LedgerError::RentalNotActive {
                    rental: id,
                    status: "settled at its end",
                });
            }
            RentalStatus::Returned { .. } => {
                return Err(LedgerError::RentalNotActive {
                    rental: id,
                    status: "returned early",
                });
            }
        }
        settle::settle(
            self.overlay,
            rental,
            settle::Ending::Returned,
            self.time(),
            self.context.proposer,
            self.context.params.network_fee_bps,
        )
    }

    fn trade(&mut self, trade: &Trade, tx_nonce: u64) -> Result<(), LedgerError> {
        let terms = &trade.terms;
        let (a, b) = (terms.a, terms.b);
        if a == b {
            return Err(LedgerError::SelfDealing {
                what: "trade",
                address: a,
            });
        }
        let (signer_nonce, counterparty, counterparty_nonce) = if self.signer == a {
            (terms.a_nonce, b, terms.b_nonce)
        } else if self.signer == b {
            (terms.b_nonce, a, terms.a_nonce)
        } else {
            return Err(LedgerError::NotTradeParty {
                signer: self.signer,
            });
        };
        if self.time() >= terms.expires_at {
            return Err(LedgerError::TradeExpired {
                expired_at: terms.expires_at,
                now: self.time(),
            });
        }
        for side in [&terms.a_gives, &terms.b_gives] {
            if side.assets.len() > MAX_TRADE_ASSETS {
                return Err(LedgerError::TooManyTradeAssets {
                    count: side.assets.len(),
                    max: MAX_TRADE_ASSETS,
                });
            }
        }
        if terms.offers_hash != terms.hash_offers() {
            return Err(LedgerError::TradeOffersHash);
        }
        if terms.a_gives.assets.is_empty()
            && terms.a_gives.tokens == 0
            && terms.b_gives.assets.is_empty()
            && terms.b_gives.tokens == 0
        {
            return Err(LedgerError::InvalidTrade("neither side gives anything"));
        }
        let mut all: Vec<&AssetId> = terms
            .a_gives
            .assets
            .iter()
            .chain(&terms.b_gives.assets)
            .collect();
        all.sort_unstable();
        if all.windows(2).any(|pair| pair[0] == pair[1]) {
            return Err(LedgerError::InvalidTrade("an asset appears twice"));
        }
        if signer_nonce != tx_nonce {
            return Err(LedgerError::TradeNonce {
                party: self.signer,
                expected: tx_nonce,
                got: signer_nonce,
            });
        }
        // The counterparty's nonce is consumed like the submitter's.
        let mut other = self.overlay.account(counterparty)?;
        if other.nonce != counterparty_nonce {
            return Err(LedgerError::TradeNonce {
                party: counterparty,
                expected: other.nonce,
                got: counterparty_nonce,
            });
        }
        other.nonce = other
            .nonce
            .checked_add(1)
            .ok_or(LedgerError::Overflow { what: "a nonce" })?;
        self.overlay.set_account(counterparty, other);

        let mut handovers = Vec::with_capacity(all.len());
        for (giver, receiver, side) in [(a, b, &terms.a_gives), (b, a, &terms.b_gives)] {
            for id in &side.assets {
                let asset = self.owned_and_free(*id, giver, "trade")?;
                handovers.push((asset, receiver));
            }
        }
        self.pay_from(a, b, terms.a_gives.tokens)?;
        self.pay_from(b, a, terms.b_gives.tokens)?;
        for (asset, receiver) in handovers {
            self.change_owner(asset, receiver)?;
        }
        Ok(())
    }
}

/// The counter's value, which the caller takes as a new id; the counter
/// moves on.
fn take_next(counter: &mut u64, what: &'static str) -> Result<u64, LedgerError> {
    let id = *counter;
    *counter = id.checked_add(1).ok_or(LedgerError::Overflow { what })?;
    Ok(id)
}
