//! Property tests: random sequences of operations, valid and invalid, by
//! five players over ten assets, in blocks at random times. After every
//! block the ledger's invariants must hold, and the same sequence must give
//! the same state roots when run again.

use std::collections::{HashMap, HashSet};

use proptest::prelude::*;

use ledger::testkit::{chain_id, keypair, manifest, mint_op};
use ledger::{
    Address, AssetId, CommittedBlock, Genesis, Keypair, Ledger, ListingId, Operation, RentTerms,
    RentalId, RentalStatus, SignedTransaction, StateRoot, Trade, TradeSide, TradeTerms,
    Transaction, Validator,
};

const PLAYERS: usize = 5;
const ASSETS: usize = 10;
const START: u64 = 50_000;
const T0: u64 = 1_000;

#[derive(Clone, Debug)]
enum Action {
    Mint {
        who: usize,
        asset: usize,
        royalty: u16,
    },
    Pay {
        from: usize,
        to: usize,
        amount: u64,
    },
    Transfer {
        who: usize,
        asset: usize,
        to: usize,
    },
    ListRent {
        who: usize,
        asset: usize,
        price: u64,
        period: u64,
        max: u32,
        deposit: u64,
        reserve: Option<usize>,
        expires_in: u64,
    },
    ListSale {
        who: usize,
        asset: usize,
        price: u64,
        expires_in: u64,
    },
    Cancel {
        who: usize,
        listing: usize,
    },
    Rent {
        who: usize,
        listing: usize,
        periods: u32,
    },
    Buy {
        who: usize,
        listing: usize,
    },
    Return {
        who: usize,
        rental: usize,
    },
    Trade {
        a: usize,
        b: usize,
        a_gives: Vec<usize>,
        b_gives: Vec<usize>,
        a_tokens: u64,
        b_tokens: u64,
        forge: bool,
    },
}

#[derive(Clone, Debug)]
struct Step {
    after: u64,
    actions: Vec<Action>,
}

fn player() -> impl Strategy<Value = usize> {
    0..PLAYERS
}

fn asset() -> impl Strategy<Value = usize> {
    0..ASSETS
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        1 => (player(), asset(), 0u16..3_000).prop_map(|(who, asset, royalty)| Action::Mint { who, asset, royalty }),
        3 => (player(), player(), 0u64..20_000).prop_map(|(from, to, amount)| Action::Pay { from, to, amount }),
        3 => (player(), asset(), player()).prop_map(|(who, asset, to)| Action::Transfer { who, asset, to }),
        4 => (player(), asset(), 1u64..3_000, 1u64..120, 1u32..5, 0u64..500, proptest::option::of(player()), 1u64..400)
            .prop_map(|(who, asset, price, period, max, deposit, reserve, expires_in)| Action::ListRent {
                who, asset, price, period, max, deposit, reserve, expires_in,
            }),
        2 => (player(), asset(), 1u64..30_000, 1u64..400)
            .prop_map(|(who, asset, price, expires_in)| Action::ListSale { who, asset, price, expires_in }),
        1 => (player(), any::<usize>()).prop_map(|(who, listing)| Action::Cancel { who, listing }),
        5 => (player(), any::<usize>(), 0u32..6).prop_map(|(who, listing, periods)| Action::Rent { who, listing, periods }),
        2 => (player(), any::<usize>()).prop_map(|(who, listing)| Action::Buy { who, listing }),
        2 => (player(), any::<usize>()).prop_map(|(who, rental)| Action::Return { who, rental }),
        2 => (player(), player(), proptest::collection::vec(asset(), 0..3), proptest::collection::vec(asset(), 0..3),
              0u64..5_000, 0u64..5_000, proptest::bool::weighted(0.1))
            .prop_map(|(a, b, a_gives, b_gives, a_tokens, b_tokens, forge)| Action::Trade {
                a, b, a_gives, b_gives, a_tokens, b_tokens, forge,
            }),
    ]
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    // The first block mints every asset, each by a random creator.
    let mints =
        proptest::collection::vec((player(), 0u16..2_600), ASSETS).prop_map(|creators| Step {
            after: 1,
            actions: creators
                .into_iter()
                .enumerate()
                .map(|(asset, (who, royalty))| Action::Mint {
                    who,
                    asset,
                    royalty,
                })
                .collect(),
        });
    let later = proptest::collection::vec(
        (0u64..150, proptest::collection::vec(action(), 0..12))
            .prop_map(|(after, actions)| Step { after, actions }),
        2..9,
    );
    (mints, later).prop_map(|(first, mut rest)| {
        rest.insert(0, first);
        rest
    })
}

struct World {
    _dir: tempfile::TempDir,
    ledger: Ledger,
    players: Vec<Keypair>,
    validator: Keypair,
    time: u64,
    /// Who made each asset: a manifest names its creator, so an asset's
    /// id depends on who the first block had mint it.
    creators: Vec<usize>,
}

impl World {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let players: Vec<Keypair> = (0..PLAYERS as u64).map(|i| keypair(11, i)).collect();
        let validator = keypair(12, 0);
        let mut genesis = Genesis::new(
            chain_id(),
            players.iter().map(|p| (p.address(), START)).collect(),
            vec![Validator {
                address: validator.address(),
                power: 1,
            }],
        );
        genesis.time = T0;
        let ledger = Ledger::create(dir.path(), &genesis).unwrap();
        World {
            _dir: dir,
            ledger,
            players,
            validator,
            time: T0,
            creators: (0..ASSETS).map(|asset| asset % PLAYERS).collect(),
        }
    }

    fn address(&self, player: usize) -> Address {
        self.players[player].address()
    }

    /// Test asset `index`, as its creator minted it.
    fn asset(&self, index: usize) -> AssetId {
        manifest(&self.address(self.creators[index]), 13, index as u64).asset_id()
    }

    /// Turns actions into signed transactions, each signer's nonces counted
    /// up from its committed nonce.
    fn transactions(&self, actions: &[Action]) -> Vec<SignedTransaction> {
        let listings = self.ledger.listings().unwrap();
        let rentals = self.ledger.rentals().unwrap();
        let pick_listing = |index: usize| {
            if listings.is_empty() {
                ListingId(index as u64 % 3)
            } else {
                listings[index % listings.len()].id
            }
        };
        let pick_rental = |index: usize| {
            if rentals.is_empty() {
                RentalId(index as u64 % 3)
            } else {
                rentals[index % rentals.len()].id
            }
        };
        let mut nonces: HashMap<usize, u64> = HashMap::new();
        let mut txs = Vec::new();
        for action in actions {
            let (signer, op) = match action.clone() {
                Action::Mint {
                    who,
                    asset,
                    royalty,
                } => (
                    who,
                    mint_op(&self.address(who), 13, asset as u64, royalty).1,
                ),
                Action::Pay { from, to, amount } => (
                    from,
                    Operation::Pay {
                        to: self.address(to),
                        amount,
                    },
                ),
                Action::Transfer { who, asset, to } => (
                    who,
                    Operation::TransferAsset {
                        asset: self.asset(asset),
                        to: self.address(to),
                    },
                ),
                Action::ListRent {
                    who,
                    asset,
                    price,
                    period,
                    max,
                    deposit,
                    reserve,
                    expires_in,
                } => (
                    who,
                    Operation::ListForRent {
                        asset: self.asset(asset),
                        terms: RentTerms {
                            price_per_period: price,
                            period_secs: period,
                            min_periods: 1,
                            max_periods: max,
                            deposit,
                            reserved_for: reserve.map(|p| self.address(p)),
                        },
                        expires_at: self.time + expires_in,
                    },
                ),
                Action::ListSale {
                    who,
                    asset,
                    price,
                    expires_in,
                } => (
                    who,
                    Operation::ListForSale {
                        asset: self.asset(asset),
                        price,
                        expires_at: self.time + expires_in,
                    },
                ),
                Action::Cancel { who, listing } => (
                    who,
                    Operation::CancelListing {
                        listing: pick_listing(listing),
                    },
                ),
                Action::Rent {
                    who,
                    listing,
                    periods,
                } => (
                    who,
                    Operation::Rent {
                        listing: pick_listing(listing),
                        periods,
                    },
                ),
                Action::Buy { who, listing } => (
                    who,
                    Operation::Buy {
                        listing: pick_listing(listing),
                    },
                ),
                Action::Return { who, rental } => (
                    who,
                    Operation::ReturnRental {
                        rental: pick_rental(rental),
                    },
                ),
                Action::Trade {
                    a,
                    b,
                    a_gives,
                    b_gives,
                    a_tokens,
                    b_tokens,
                    forge,
                } => {
                    let nonce_of = |p: usize, nonces: &HashMap<usize, u64>| {
                        self.ledger.account(&self.address(p)).unwrap().nonce
                            + nonces.get(&p).copied().unwrap_or(0)
                    };
                    let terms = TradeTerms {
                        a: self.address(a),
                        b: self.address(b),
                        a_gives: TradeSide {
                            assets: a_gives.iter().map(|i| self.asset(*i)).collect(),
                            tokens: a_tokens,
                        },
                        b_gives: TradeSide {
                            assets: b_gives.iter().map(|i| self.asset(*i)).collect(),
                            tokens: b_tokens,
                        },
                        a_nonce: nonce_of(a, &nonces),
                        b_nonce: nonce_of(b, &nonces),
                        expires_at: self.time + 1_000,
                        revision: 0,
                        offers_hash: [0; 32],
                    }
                    .with_offers_hash();
                    let mut b_signed = terms.clone();
                    if forge {
                        b_signed.b_gives.tokens = b_signed.b_gives.tokens.saturating_sub(1);
                    }
                    let trade = Trade {
                        a_signature: terms.sign(&chain_id(), &self.players[a]),
                        b_signature: b_signed.sign(&chain_id(), &self.players[b]),
                        terms,
                    };
                    (a, Operation::Trade(Box::new(trade)))
                }
            };
            let pending = nonces.entry(signer).or_insert(0);
            let nonce = self.ledger.account(&self.address(signer)).unwrap().nonce + *pending;
            *pending += 1;
            txs.push(
                Transaction {
                    chain_id: chain_id(),
                    signer: self.address(signer),
                    nonce,
                    valid_until: u64::MAX,
                    op,
                }
                .sign(&self.players[signer]),
            );
        }
        txs
    }

    fn commit(&mut self, after: u64, txs: Vec<SignedTransaction>) -> CommittedBlock {
        self.time += after;
        let block = self
            .ledger
            .next_block(self.time, self.validator.address(), txs)
            .unwrap();
        self.ledger.commit_block(block).unwrap()
    }
}

/// The assets an operation would move, list, sell or trade.
fn moved_assets(
    tx: &SignedTransaction,
    listing_asset: impl Fn(ListingId) -> Option<AssetId>,
) -> Vec<AssetId> {
    match &tx.tx.op {
        Operation::TransferAsset { asset, .. } => vec![*asset],
        Operation::ListForRent { asset, .. } | Operation::ListForSale { asset, .. } => vec![*asset],
        Operation::Buy { listing } => listing_asset(*listing).into_iter().collect(),
        Operation::Trade(trade) => trade
            .terms
            .a_gives
            .assets
            .iter()
            .chain(&trade.terms.b_gives.assets)
            .copied()
            .collect(),
        _ => Vec::new(),
    }
}

/// Runs `steps`, checking every invariant after each block; returns the
/// state root of every block.
fn run(steps: &[Step]) -> Result<Vec<StateRoot>, TestCaseError> {
    let mut world = World::new();
    let supply = world.ledger.chain().supply;
    let mut roots = Vec::new();
    // Who the test expects to own each minted asset.
    let mut owners: HashMap<AssetId, Address> = HashMap::new();
    if let Some(first) = steps.first() {
        for action in &first.actions {
            if let Action::Mint { who, asset, .. } = action {
                world.creators[*asset] = *who;
            }
        }
    }
    for step in steps {
        let previous_time = world.time;
        let txs = world.transactions(&step.actions);
        let before_rentals = world.ledger.rentals().unwrap();
        let block_time = previous_time + step.after;
        // Assets whose rentals still run during this block.
        let mut running: HashSet<AssetId> = before_rentals
            .iter()
            .filter(|r| r.status == RentalStatus::Active && r.ends_at > block_time)
            .map(|r| r.asset)
            .collect();
        let block = world.commit(step.after, txs.clone());
        prop_assert_eq!(block.results.len(), txs.len());
        // Listings never change asset, so the map after the block serves
        // those the block itself made too.
        let listing_assets: HashMap<ListingId, AssetId> = world
            .ledger
            .listings()
            .unwrap()
            .into_iter()
            .map(|l| (l.id, l.asset))
            .collect();

        // Replay the block's outcomes in order against the test's model.
        let mut next_rental = before_rentals.len() as u64;
        for (tx, result) in txs.iter().zip(&block.results) {
            let signer = tx.tx.signer;
            for asset in moved_assets(tx, |l| listing_assets.get(&l).copied()) {
                prop_assert!(
                    !running.contains(&asset) || result.outcome.is_err(),
                    "{} of rented asset {} went through",
                    tx.tx.op.name(),
                    asset
                );
            }
            if result.outcome.is_err() {
                continue;
            }
            match &tx.tx.op {
                Operation::Mint { manifest, .. } => {
                    prop_assert!(
                        owners.insert(manifest.asset_id(), signer).is_none(),
                        "minted twice"
                    );
                }
                Operation::TransferAsset { asset, to } => {
                    owners.insert(*asset, *to);
                }
                Operation::Buy { listing } => {
                    owners.insert(listing_assets[listing], signer);
                }
                Operation::Trade(trade) => {
                    for asset in &trade.terms.a_gives.assets {
                        owners.insert(*asset, trade.terms.b);
                    }
                    for asset in &trade.terms.b_gives.assets {
                        owners.insert(*asset, trade.terms.a);
                    }
                }
                Operation::Rent { listing, .. } => {
                    let asset = listing_assets[listing];
                    running.insert(asset);
                    next_rental += 1;
                }
                Operation::ReturnRental { rental } => {
                    let asset = world.ledger.rental(*rental).unwrap().unwrap().asset;
                    running.remove(&asset);
                }
                _ => {}
            }
        }

        // Tokens are neither made nor lost.
        let accounts = world.ledger.accounts().unwrap();
        let balances: u128 = accounts.iter().map(|(_, a)| u128::from(a.balance)).sum();
        let chain = world.ledger.chain().clone();
        prop_assert_eq!(
            balances + u128::from(chain.escrow) + u128::from(chain.staked),
            u128::from(supply)
        );
        prop_assert_eq!(chain.supply, supply);

        // Each minted asset has exactly the owner its history says.
        let assets = world.ledger.assets().unwrap();
        prop_assert_eq!(assets.len(), owners.len());
        for asset in &assets {
            prop_assert_eq!(
                Some(&asset.owner),
                owners.get(&asset.id),
                "owner of {}",
                asset.id
            );
        }

        // Escrow is exactly what the active rentals hold.
        let rentals = world.ledger.rentals().unwrap();
        prop_assert_eq!(rentals.len() as u64, next_rental);
        let held: u128 = rentals
            .iter()
            .filter(|r| r.status == RentalStatus::Active)
            .map(|r| u128::from(r.escrow()))
            .sum();
        prop_assert_eq!(held, u128::from(chain.escrow));

        for rental in &rentals {
            let asset = assets.iter().find(|a| a.id == rental.asset).unwrap();
            match rental.status {
                RentalStatus::Active => {
                    // Nothing is left running past its end.
                    prop_assert!(
                        rental.ends_at > world.time,
                        "{} should have settled",
                        rental.id
                    );
                    prop_assert_eq!(asset.rental.map(|r| r.id), Some(rental.id));
                    prop_assert_eq!(asset.owner, rental.lessor, "owner changed during a rental");
                }
                RentalStatus::Settled { at } => {
                    prop_assert!(rental.ends_at <= at);
                    let was_active_before = before_rentals
                        .iter()
                        .any(|r| r.id == rental.id && r.status == RentalStatus::Active);
                    if was_active_before && at == world.time {
                        // Settled in this block: the first one to reach its end.
                        prop_assert!(rental.ends_at > previous_time, "{} settled late", rental.id);
                    }
                    prop_assert_ne!(asset.rental.map(|r| r.id), Some(rental.id));
                }
                RentalStatus::Returned { at, .. } => {
                    prop_assert!(at < rental.ends_at);
                    prop_assert_ne!(asset.rental.map(|r| r.id), Some(rental.id));
                }
            }
        }
        for settlement in &block.settlements {
            let rental = rentals.iter().find(|r| r.id == settlement.rental).unwrap();
            if !settlement.early {
                prop_assert_eq!(rental.status, RentalStatus::Settled { at: world.time });
            }
        }
        roots.push(block.state_root);
    }
    Ok(roots)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 1_000,
        max_shrink_iters: 200,
        .. ProptestConfig::default()
    })]

    #[test]
    fn invariants_hold_and_the_same_blocks_give_the_same_roots(steps in steps()) {
        let first = run(&steps)?;
        let second = run(&steps)?;
        prop_assert_eq!(first, second);
    }
}
