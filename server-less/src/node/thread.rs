//! The ledger thread itself: it owns the ledger, the mempool and the
//! catalogue, and applies one command at a time, the block engine's before
//! players' requests.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use assets::{BlobStore, Manifest};
use ledger::{
    Address, Asset, AssetId, Block, CommittedBlock, Height, Ledger, LedgerError, Listing,
    ListingId, MAX_BLOCK_BYTES, ManifestBytes, Operation, SignedTransaction, Timestamp, TxId,
};
use market::Catalogue;
use market::catalogue::{Changes, Manifests, WorldLayout};
use market::wear::Slot;
use tokio::sync::{broadcast, watch};
use tracing::{debug, warn};

use super::{
    Backlog, BlockEvent, Command, Inventory, NodeSettings, NodeStatus, PREPARED_KEPT, TxStatus,
};
use crate::error::HostError;
use crate::mempool::{Added, Mempool, SignatureChecked};
use plaza_client::protocol::{Quote, QuoteAsk};

/// The manifests in the blob store, read and checked on demand.
pub(super) struct StoredManifests<'a>(&'a BlobStore);

impl Manifests for StoredManifests<'_> {
    fn manifest(&self, asset: &AssetId) -> Option<Arc<Manifest>> {
        let bytes = self.0.get(&asset.0).ok()?;
        Manifest::from_json(&bytes).ok().map(Arc::new)
    }
}

/// The catalogue of the ledger's committed state, placing listings in
/// `worlds`, with the parcels `founder`'s deeds make them.
pub(super) fn catalogue_of(
    ledger: &Ledger,
    blobs: &BlobStore,
    worlds: &[WorldLayout],
    founder: Option<Address>,
) -> Result<Catalogue, HostError> {
    let assets = ledger.assets()?;
    let mut catalogue = Catalogue::build(
        &ledger.listings()?,
        &assets,
        ledger.chain().time,
        &StoredManifests(blobs),
    )?;
    for world in worlds {
        catalogue.add_world(world.clone())?;
    }
    if let Some(founder) = founder {
        catalogue.set_founder(founder, &assets, &StoredManifests(blobs));
    }
    // Placing what was there is no change: a world's players read its
    // stalls and parcels when they enter.
    catalogue.take_changed_worlds();
    catalogue.take_changed_parcels();
    Ok(catalogue)
}

/// Who owns and who rents each asset, by account: the ledger keys assets
/// by id only.
#[derive(Default)]
pub(super) struct Holdings {
    pub(super) owned: HashMap<Address, BTreeSet<AssetId>>,
    pub(super) renting: HashMap<Address, BTreeSet<AssetId>>,
    pub(super) holders: HashMap<AssetId, (Address, Option<Address>)>,
}

impl Holdings {
    pub(super) fn of(assets: &[Asset]) -> Self {
        let mut holdings = Holdings::default();
        holdings.update(assets);
        holdings
    }

    pub(super) fn update(&mut self, assets: &[Asset]) {
        for asset in assets {
            let renter = asset.rental.map(|rental| rental.renter);
            if let Some((owner, old_renter)) = self.holders.insert(asset.id, (asset.owner, renter))
            {
                remove(&mut self.owned, &owner, &asset.id);
                if let Some(old) = old_renter {
                    remove(&mut self.renting, &old, &asset.id);
                }
            }
            self.owned.entry(asset.owner).or_default().insert(asset.id);
            if let Some(renter) = renter {
                self.renting.entry(renter).or_default().insert(asset.id);
            }
        }
    }

    pub(super) fn ids(map: &HashMap<Address, BTreeSet<AssetId>>, who: &Address) -> Vec<AssetId> {
        map.get(who)
            .map(|ids| ids.iter().copied().collect())
            .unwrap_or_default()
    }
}

pub(super) fn remove(map: &mut HashMap<Address, BTreeSet<AssetId>>, who: &Address, id: &AssetId) {
    if let Some(ids) = map.get_mut(who) {
        ids.remove(id);
        if ids.is_empty() {
            map.remove(who);
        }
    }
}

/// The ledger thread's state.
pub(super) struct Node {
    pub(super) ledger: Ledger,
    pub(super) blobs: Arc<BlobStore>,
    pub(super) mempool: Mempool,
    pub(super) catalogue: Catalogue,
    pub(super) worlds: Vec<WorldLayout>,
    pub(super) holdings: Holdings,
    pub(super) address: Address,
    pub(super) settings: NodeSettings,
    pub(super) events: broadcast::Sender<Arc<BlockEvent>>,
    pub(super) accepted: broadcast::Sender<SignedTransaction>,
    pub(super) work: watch::Sender<Backlog>,
    pub(super) clock: Arc<dyn crate::clock::Clock>,
    /// Blocks checked for consensus, kept for their commit.
    pub(super) prepared: Vec<ledger::PreparedBlock>,
    /// The earliest end of an active rental, as of the last commit.
    pub(super) next_due: Option<Timestamp>,
    /// The worlds' layouts with their parcels' deeds, holders and
    /// tenures, as of the last block that changed one.
    pub(super) lands: watch::Sender<Arc<super::Lands>>,
    /// The state snapshots taken for joining hosts, if any.
    pub(super) snapshots: Option<crate::snapshots::Snapshots>,
}

impl Node {
    pub(super) fn handle(&mut self, command: Command) {
        // A listener that has gone away does not stop the thread.
        match command {
            Command::Submit(tx, reply) => {
                let now = self.clock.now().max(self.ledger.chain().time);
                let spread = (*tx).clone();
                // The handle checked the signature before sending it.
                let added = self
                    .mempool
                    .add(*tx, &self.ledger, now, SignatureChecked::Yes)
                    .map_err(HostError::from);
                if matches!(added, Ok(Added::New(_))) {
                    // Nobody listening (a host alone) is fine.
                    let _ = self.accepted.send(spread);
                    self.publish_work(false);
                }
                let _ = reply.send(added);
            }
            Command::SubmitGossiped(txs, reply) => {
                let now = self.clock.now().max(self.ledger.chain().time);
                let results: Vec<Result<Added, HostError>> = txs
                    .into_iter()
                    .map(|tx| {
                        self.mempool
                            .add(tx, &self.ledger, now, SignatureChecked::Yes)
                            .map_err(HostError::from)
                    })
                    .collect();
                if results
                    .iter()
                    .any(|added| matches!(added, Ok(Added::New(_))))
                {
                    self.publish_work(false);
                }
                let _ = reply.send(results);
            }
            Command::TxStatus(id, reply) => {
                let _ = reply.send(self.tx_status(&id));
            }
            Command::Status(reply) => {
                let _ = reply.send(NodeStatus {
                    chain_id: self.ledger.chain().chain_id.clone(),
                    address: self.address,
                    height: self.ledger.height(),
                    time: self.ledger.chain().time,
                    state_root: self.ledger.state_root(),
                    pending: self.mempool.len(),
                    listings: self.catalogue.len(),
                    finality: self.mempool.last_finality(),
                });
            }
            Command::Account(address, reply) => {
                let _ = reply.send(self.ledger.account(&address).map_err(Into::into));
            }
            Command::Wear(who, asset, slot, reply) => {
                let now = self.clock.now().max(self.ledger.chain().time);
                let _ = reply.send(self.may_wear(&who, &asset, slot, now));
            }
            Command::Placeable(ask, reply) => {
                let now = self.clock.now().max(self.ledger.chain().time);
                let verdict =
                    |checked: Result<(), HostError>| checked.err().map(|err| err.for_player());
                let parcel = verdict(self.holds_parcel(&ask, now));
                let verdicts = ask
                    .things
                    .iter()
                    .map(|asset| verdict(self.may_place(&ask.holder, asset, now)))
                    .collect();
                let _ = reply.send(Ok(super::Placeable {
                    height: self.ledger.chain().height,
                    parcel,
                    verdicts,
                }));
            }
            Command::Browse(query, reply) => {
                let now = self.clock.now().max(self.ledger.chain().time);
                let _ = reply.send(self.catalogue.search(&query, now).map_err(Into::into));
            }
            Command::Quote(address, ask, reply) => {
                let now = self.clock.now().max(self.ledger.chain().time);
                let _ = reply.send(self.quote(&address, ask, now));
            }
            Command::Inventory(address, reply) => {
                let now = self.clock.now().max(self.ledger.chain().time);
                let _ = reply.send(self.inventory(&address, now));
            }
            Command::TradeAct(mut window, who, action, reply) => {
                let now = self.clock.now().max(self.ledger.chain().time);
                let before = window.clone();
                let outcome = window.act(&who, *action, now, &self.ledger);
                let window = if outcome.is_ok() { window } else { before };
                let _ = reply.send((window, outcome));
            }
            Command::Propose(time, reply) => {
                let time = time.max(self.ledger.chain().time);
                // Half the block's byte limit for transactions leaves ample
                // room for the header and the encoding's length prefixes.
                let txs = self
                    .mempool
                    .propose(self.settings.block_max_txs, MAX_BLOCK_BYTES / 2);
                let _ = reply.send(
                    self.ledger
                        .next_block(time, self.address, txs)
                        .map_err(Into::into),
                );
            }
            Command::Check(block, reply) => {
                let _ = reply.send(self.check(*block));
            }
            Command::Commit(block, certificate, reply) => {
                let _ = reply.send(self.commit(*block, certificate.as_deref()));
            }
            Command::Certificate(height, reply) => {
                let _ = reply.send(self.ledger.certificate(height).map_err(Into::into));
            }
            Command::Validators(reply) => {
                let _ = reply.send(self.ledger.validators().map_err(Into::into));
            }
            Command::UnfetchedAssets(reply) => {
                let restored = self.ledger.height() > 0 && self.ledger.block(1).is_err();
                let _ = reply.send(if restored {
                    self.ledger
                        .assets()
                        .map(|assets| assets.iter().map(|asset| asset.id.0).collect())
                        .map_err(Into::into)
                } else {
                    Ok(Vec::new())
                });
            }
            Command::Block(height, reply) => {
                let _ = reply.send(
                    self.ledger
                        .block(height)
                        .map(|stored| stored.block)
                        .map_err(Into::into),
                );
            }
            Command::ValidatorsAt(height, reply) => {
                let _ = reply.send(self.ledger.validators_at(height).map_err(Into::into));
            }
            Command::StateRoot(height, reply) => {
                let _ = reply.send(self.ledger.state_root_at(height).map_err(Into::into));
            }
            Command::Shutdown => {}
        }
    }

    pub(super) fn tx_status(&self, id: &TxId) -> Result<TxStatus, HostError> {
        if self.mempool.contains(id) {
            return Ok(TxStatus::Pending);
        }
        let Some(location) = self.ledger.transaction(id)? else {
            return Ok(TxStatus::Unknown);
        };
        let stored = self.ledger.block(location.height)?;
        let rejection = stored
            .results
            .get(location.index as usize)
            .and_then(|result| result.rejection.clone());
        Ok(TxStatus::Final {
            height: location.height,
            rejection,
        })
    }

    /// An asset's record on the ledger and its kind (from its manifest).
    fn asset_and_kind(&self, id: &AssetId) -> Result<(Asset, assets::AssetKind), HostError> {
        let asset = self
            .ledger
            .asset(id)?
            .ok_or(LedgerError::AssetNotFound(*id))?;
        let manifest = Manifest::from_json(&self.blobs.get(&id.0)?)?;
        Ok((asset, manifest.kind))
    }

    /// Whether `who` may wear `id` in `slot` at `now`; the height checked
    /// at.
    pub(super) fn may_wear(
        &self,
        who: &Address,
        id: &AssetId,
        slot: Slot,
        now: Timestamp,
    ) -> Result<Height, HostError> {
        let (asset, kind) = self.asset_and_kind(id)?;
        market::wear::may_wear(&asset, kind, who, slot, now)?;
        Ok(self.ledger.chain().height)
    }

    fn holds_parcel(&self, ask: &super::PlaceableAsk, now: Timestamp) -> Result<(), HostError> {
        let deed = self
            .ledger
            .asset(&ask.deed)?
            .ok_or(LedgerError::AssetNotFound(ask.deed))?;
        market::wear::holds_parcel(&deed, &ask.holder, ask.tenure, now)?;
        Ok(())
    }

    fn may_place(&self, who: &Address, id: &AssetId, now: Timestamp) -> Result<(), HostError> {
        let (asset, kind) = self.asset_and_kind(id)?;
        market::wear::may_place(&asset, kind, who, now)?;
        Ok(())
    }

    pub(super) fn inventory(
        &self,
        address: &Address,
        now: Timestamp,
    ) -> Result<Inventory, HostError> {
        let read = |ids: Vec<AssetId>| -> Result<Vec<Asset>, HostError> {
            let mut assets = Vec::with_capacity(ids.len());
            for id in ids {
                if let Some(asset) = self.ledger.asset(&id)? {
                    assets.push(asset);
                }
            }
            Ok(assets)
        };
        Ok(Inventory {
            account: self.ledger.account(address)?,
            owned: read(Holdings::ids(&self.holdings.owned, address))?,
            renting: read(Holdings::ids(&self.holdings.renting, address))?,
            now,
        })
    }

    pub(super) fn quote(
        &self,
        who: &Address,
        ask: QuoteAsk,
        now: Timestamp,
    ) -> Result<Quote, HostError> {
        let params = &self.ledger.chain().params;
        let listing_and_asset = |id: ListingId| -> Result<(Listing, Asset), HostError> {
            let listing = self
                .ledger
                .listing(id)?
                .ok_or(LedgerError::ListingNotFound(id))?;
            let asset = self
                .ledger
                .asset(&listing.asset)?
                .ok_or(LedgerError::AssetNotFound(listing.asset))?;
            Ok((listing, asset))
        };
        let balance = Some(self.ledger.account(who)?.balance);
        Ok(match ask {
            QuoteAsk::Rent { listing, periods } => {
                let (listing, asset) = listing_and_asset(listing)?;
                let quote =
                    market::rent_quote(&listing, &asset, params, who, periods, now, balance)?;
                Quote {
                    pay_now: quote.total_now,
                    amount: quote.rent,
                    deposit: quote.deposit,
                    royalty: quote.split.royalty,
                    fee: quote.split.fee,
                    to_lessor: quote.split.to_lessor,
                    to_renter: 0,
                    ends_at: Some(quote.ends_at),
                }
            }
            QuoteAsk::Buy { listing } => {
                let (listing, asset) = listing_and_asset(listing)?;
                let quote = market::sale_quote(&listing, &asset, params, who, now, balance)?;
                Quote {
                    pay_now: quote.price,
                    amount: quote.price,
                    royalty: quote.split.royalty,
                    fee: quote.split.fee,
                    to_lessor: quote.split.to_lessor,
                    ..Quote::default()
                }
            }
            QuoteAsk::Return { rental } => {
                let found = self
                    .ledger
                    .rental(rental)?
                    .ok_or(LedgerError::RentalNotFound(rental))?;
                let quote = market::return_quote(&found, params, who, now)?;
                Quote {
                    amount: quote.paid,
                    deposit: quote.deposit,
                    royalty: quote.split.royalty,
                    fee: quote.split.fee,
                    to_lessor: quote.split.to_lessor,
                    to_renter: quote.to_renter,
                    ..Quote::default()
                }
            }
        })
    }

    /// Verifies and applies `block` without writing; a valid one is kept
    /// so that committing it later writes what was worked out here.
    ///
    /// Every signature in the block is checked, those this host's mempool
    /// checked on arrival too: the block's signatures are checked in
    /// batches whose verdict on a malformed signature can depend on its
    /// batch, so every host must check the same batches to reach the same
    /// results.
    pub(super) fn check(&mut self, block: Block) -> Result<(), HostError> {
        let prepared = self.ledger.prepare(block)?;
        if self.prepared.len() == PREPARED_KEPT {
            self.prepared.remove(0);
        }
        self.prepared.push(prepared);
        Ok(())
    }

    pub(super) fn commit(
        &mut self,
        block: Block,
        certificate: Option<&[u8]>,
    ) -> Result<Height, HostError> {
        let hash = block.hash();
        let prepared = match self
            .prepared
            .iter()
            .position(|prepared| prepared.block().hash() == hash)
        {
            Some(index) => self.prepared.swap_remove(index),
            None => self.ledger.prepare(block)?,
        };
        self.prepared.clear();
        let manifests: Vec<ManifestBytes> = prepared
            .block()
            .txs
            .iter()
            .filter_map(|tx| match &tx.tx.op {
                Operation::Mint { manifest, .. } => Some(manifest.clone()),
                _ => None,
            })
            .collect();
        let header = prepared.block().header.clone();
        let committed = self.ledger.commit_prepared(prepared, certificate)?;
        let height = committed.height;
        if let Some(snapshots) = &mut self.snapshots {
            snapshots.committed(&self.ledger, &header, certificate);
        }
        self.keep_manifests(&committed, manifests);
        let (restock, parcels) = match self
            .catalogue
            .apply(Changes::from(&committed), &StoredManifests(&self.blobs))
        {
            Ok(()) => (
                self.catalogue.take_changed_worlds(),
                self.catalogue.take_changed_parcels(),
            ),
            Err(err) => {
                // The ledger is the truth: rebuild the index from it, and
                // every world's stalls and parcels are read again.
                warn!(%err, height, "catalogue out of step with the ledger; rebuilding it");
                self.catalogue = catalogue_of(
                    &self.ledger,
                    &self.blobs,
                    &self.worlds,
                    self.settings.founder,
                )?;
                (
                    self.worlds.iter().map(|world| world.name.clone()).collect(),
                    super::parcels_of(self.catalogue.worlds()),
                )
            }
        };
        if !parcels.is_empty() {
            self.lands.send_replace(Arc::new(super::Lands {
                height,
                time: committed.time,
                worlds: self.catalogue.worlds().to_vec(),
            }));
        }
        self.holdings.update(&committed.assets);
        let dropped = self
            .mempool
            .on_block(&committed.results, committed.time, &self.ledger);
        debug!(
            height,
            txs = committed.results.len(),
            dropped = dropped.len(),
            "block applied"
        );
        self.publish_work(true);
        // Nobody listening is fine.
        let _ = self.events.send(Arc::new(BlockEvent {
            block: committed,
            dropped,
            restock,
            parcels,
        }));
        Ok(height)
    }

    /// Stores the manifests of the assets `committed` minted, which came
    /// in the block itself, so the catalogue and players have them at
    /// once. One that cannot be stored is fetched when asked for.
    pub(super) fn keep_manifests(&self, committed: &CommittedBlock, manifests: Vec<ManifestBytes>) {
        for manifest in manifests {
            let id = manifest.asset_id();
            // The block's changed assets are in id order.
            let minted = committed
                .assets
                .binary_search_by_key(&id, |asset| asset.id)
                .ok()
                .and_then(|at| committed.assets.get(at))
                .is_some_and(|asset| asset.minted_at == committed.height);
            if !minted {
                continue;
            }
            if let Err(err) = self.blobs.put(assets::Codec::Json, &manifest.0) {
                warn!(asset = %id, %err, "a minted asset's manifest could not be stored");
            }
        }
    }

    /// Tells the engine what waits. The next rental end is read from the
    /// ledger after a commit (`committed`), and otherwise kept: only a
    /// block changes it.
    pub(super) fn publish_work(&mut self, committed: bool) {
        if committed {
            self.next_due = match self.ledger.next_rental_due() {
                Ok(due) => due,
                Err(err) => {
                    warn!(%err, "cannot read the next rental end");
                    None
                }
            };
        }
        let work = Backlog {
            pending: self.mempool.len(),
            next_due: self.next_due,
            stake_changes: !self.ledger.chain().validator_changes.is_empty(),
            height: self.ledger.height(),
            time: self.ledger.chain().time,
        };
        self.work.send_if_modified(|old| {
            let changed = *old != work;
            *old = work;
            changed
        });
    }
}
