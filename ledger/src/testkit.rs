//! Seeded workloads for tests, the crash test's child process and the
//! benchmark. Everything here is deterministic for a given seed.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use assets::{Codec, ContentId};

use crate::genesis::Genesis;
use crate::ids::{Amount, AssetId, ChainId, ListingId, Timestamp};
use crate::keys::{Address, Keypair};
use crate::state::{RentTerms, Validator};
use crate::tx::{ManifestBytes, Operation, SignedTransaction, Transaction};

/// The chain id tests use.
pub fn chain_id() -> ChainId {
    ChainId::new("plaza-test").expect("a valid chain id")
}

/// The `index`th test key of the key family `family`.
pub fn keypair(family: u64, index: u64) -> Keypair {
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&family.to_le_bytes());
    seed[8..16].copy_from_slice(&index.to_le_bytes());
    seed[16..].copy_from_slice(b"plaza test key!!");
    Keypair::from_seed(*blake3::hash(&seed).as_bytes())
}

/// Test manifest `index` of family `family`, naming `creator`: canonical,
/// so a mint by `creator` takes it.
pub fn manifest(creator: &Address, family: u64, index: u64) -> ManifestBytes {
    let tag = format!("{family}/{index}");
    let manifest = assets::Manifest {
        name: format!("test asset {tag}"),
        description: String::new(),
        kind: assets::AssetKind::Decoration,
        model: ContentId::of(Codec::Raw, format!("model {tag}").as_bytes()),
        preview: ContentId::of(Codec::Raw, format!("preview {tag}").as_bytes()),
        bounds: assets::Bounds {
            min: [-0.5, 0.0, -0.5],
            max: [0.5, 1.0, 0.5],
        },
        scale: 1.0,
        creator: creator.to_string(),
        attributes: Vec::new(),
        external_url: None,
    };
    ManifestBytes(manifest.to_json().expect("a test manifest is valid"))
}

/// A mint by `creator` of test manifest `index` of family `family`, and
/// the asset it makes.
pub fn mint_op(
    creator: &Address,
    family: u64,
    index: u64,
    royalty_bps: u16,
) -> (AssetId, Operation) {
    let manifest = manifest(creator, family, index);
    (
        manifest.asset_id(),
        Operation::Mint {
            manifest,
            royalty_bps,
        },
    )
}

/// A made-up asset id: the content id of a small manifest-like document.
pub fn asset_id(family: u64, index: u64) -> AssetId {
    let document = format!("{{\"name\":\"test asset {family}/{index}\"}}");
    AssetId(ContentId::of(Codec::Json, document.as_bytes()))
}

/// A transaction signed by `keypair`.
pub fn signed(
    keypair: &Keypair,
    nonce: u64,
    valid_until: Timestamp,
    op: Operation,
) -> SignedTransaction {
    Transaction {
        chain_id: chain_id(),
        signer: keypair.address(),
        nonce,
        valid_until,
        op,
    }
    .sign(keypair)
}

/// How the workload mixes operations, in relative weights.
#[derive(Clone, Copy, Debug)]
pub struct Mix {
    /// Token payments.
    pub pay: u32,
    /// Asset transfers.
    pub transfer: u32,
    /// New rent listings.
    pub list_for_rent: u32,
    /// Rentals through open listings.
    pub rent: u32,
}

impl Default for Mix {
    fn default() -> Self {
        Mix {
            pay: 40,
            transfer: 20,
            list_for_rent: 20,
            rent: 20,
        }
    }
}

struct AssetModel {
    id: AssetId,
    owner: usize,
    /// The open listing, with its period length.
    listing: Option<(ListingId, u64)>,
    rented_until: Timestamp,
}

/// A stream of valid blocks' worth of transactions over many accounts and
/// assets: payments, transfers, rent listings and rentals, with rentals
/// short enough that later blocks settle them.
///
/// The workload keeps its own model of nonces, owners, listings and
/// rentals, and assumes each transaction it made was applied.
pub struct Workload {
    rng: ChaCha8Rng,
    keys: Vec<Keypair>,
    addresses: Vec<Address>,
    nonces: Vec<u64>,
    assets: Vec<AssetModel>,
    next_listing: u64,
    mix: Mix,
    seed: u64,
    validator: Keypair,
    time: Timestamp,
    minted: usize,
}

/// Transactions per block of the soak workload.
pub const SOAK_BLOCK_TXS: usize = 150;

/// The soak workload: 200 accounts, 300 assets, blocks of
/// [`SOAK_BLOCK_TXS`]. `ledger-soak` runs it and the crash test replays it.
pub fn soak_workload(seed: u64) -> Workload {
    Workload::new(seed, 200, 300, Mix::default())
}

/// Starting balance of each workload account.
pub const WORKLOAD_BALANCE: Amount = 1_000_000_000_000;

impl Workload {
    /// A workload over `accounts` accounts and `assets` assets, seeded.
    pub fn new(seed: u64, accounts: usize, assets: usize, mix: Mix) -> Self {
        let keys: Vec<Keypair> = (0..accounts as u64)
            .into_par_iter()
            .map(|i| keypair(seed, i))
            .collect();
        let addresses = keys.iter().map(Keypair::address).collect();
        let assets = (0..assets)
            .map(|i| AssetModel {
                id: manifest(&keys[i % accounts].address(), seed, i as u64).asset_id(),
                owner: i % accounts,
                listing: None,
                rented_until: 0,
            })
            .collect();
        Workload {
            rng: ChaCha8Rng::seed_from_u64(seed),
            nonces: vec![0; accounts],
            keys,
            addresses,
            assets,
            next_listing: 0,
            mix,
            seed,
            validator: keypair(seed ^ 0x5eed, u64::MAX),
            time: 1_000_000,
            minted: 0,
        }
    }

    /// The genesis: every account funded, one validator.
    pub fn genesis(&self) -> Genesis {
        let mut genesis = Genesis::new(
            chain_id(),
            self.addresses
                .iter()
                .map(|address| (*address, WORKLOAD_BALANCE))
                .collect(),
            vec![Validator {
                address: self.validator.address(),
                power: 1,
            }],
        );
        genesis.time = self.time;
        genesis
    }

    /// The validator that proposes every block.
    pub fn proposer(&self) -> Address {
        self.validator.address()
    }

    /// The accounts' addresses.
    pub fn addresses(&self) -> &[Address] {
        &self.addresses
    }

    /// Whether every asset has been minted.
    pub fn minted(&self) -> bool {
        self.minted == self.assets.len()
    }

    /// The time of the next block and its transactions. The first blocks
    /// mint the assets, `txs` at a time; later ones follow the mix.
    pub fn next_block(&mut self, txs: usize) -> (Timestamp, Vec<SignedTransaction>) {
        self.time += self.rng.gen_range(1..=20);
        let time = self.time;
        let mut unsigned = Vec::with_capacity(txs);
        if !self.minted() {
            let end = (self.minted + txs).min(self.assets.len());
            for asset in self.minted..end {
                let owner = self.assets[asset].owner;
                let (_, op) = mint_op(&self.addresses[owner], self.seed, asset as u64, 250);
                unsigned.push(self.transaction(owner, op));
            }
            self.minted = end;
        } else {
            while unsigned.len() < txs {
                if let Some(tx) = self.pick(time) {
                    unsigned.push(tx);
                }
            }
        }
        let signed = unsigned
            .into_par_iter()
            .map(|(signer, tx)| tx.sign(&self.keys[signer]))
            .collect();
        (time, signed)
    }

    fn transaction(&mut self, signer: usize, op: Operation) -> (usize, Transaction) {
        let nonce = self.nonces[signer];
        self.nonces[signer] += 1;
        (
            signer,
            Transaction {
                chain_id: chain_id(),
                signer: self.addresses[signer],
                nonce,
                valid_until: self.time + 3_600,
                op,
            },
        )
    }

    fn pick(&mut self, time: Timestamp) -> Option<(usize, Transaction)> {
        let Mix {
            pay,
            transfer,
            list_for_rent,
            rent,
        } = self.mix;
        let roll = self.rng.gen_range(0..pay + transfer + list_for_rent + rent);
        let accounts = self.keys.len();
        if roll < pay {
            let from = self.rng.gen_range(0..accounts);
            let to = (from + self.rng.gen_range(1..accounts)) % accounts;
            let amount = self.rng.gen_range(1..=1_000);
            let op = Operation::Pay {
                to: self.addresses[to],
                amount,
            };
            return Some(self.transaction(from, op));
        }
        let asset = self.rng.gen_range(0..self.assets.len());
        let model = &self.assets[asset];
        if model.rented_until > time {
            return None;
        }
        let owner = model.owner;
        if roll < pay + transfer {
            let to = (owner + self.rng.gen_range(1..accounts)) % accounts;
            let op = Operation::TransferAsset {
                asset: model.id,
                to: self.addresses[to],
            };
            let model = &mut self.assets[asset];
            model.owner = to;
            model.listing = None;
            return Some(self.transaction(owner, op));
        }
        if roll < pay + transfer + list_for_rent {
            if model.listing.is_some() {
                return None;
            }
            let period_secs = *[5u64, 10, 30].choose(&mut self.rng).expect("non-empty");
            let terms = RentTerms {
                price_per_period: self.rng.gen_range(10..=500),
                period_secs,
                min_periods: 1,
                max_periods: 4,
                deposit: self.rng.gen_range(0..=100),
                reserved_for: None,
            };
            let op = Operation::ListForRent {
                asset: model.id,
                terms,
                expires_at: time + 1_000_000,
            };
            let listing = ListingId(self.next_listing);
            self.next_listing += 1;
            self.assets[asset].listing = Some((listing, period_secs));
            return Some(self.transaction(owner, op));
        }
        let (listing, period_secs) = model.listing?;
        let renter = (owner + self.rng.gen_range(1..accounts)) % accounts;
        let periods = self.rng.gen_range(1..=4u32);
        self.assets[asset].rented_until = time + period_secs * u64::from(periods);
        Some(self.transaction(renter, Operation::Rent { listing, periods }))
    }
}
