//! A small network for the market's tests: a real ledger on RocksDB,
//! a handful of players, and a catalogue kept current block by block.

use std::collections::HashMap;
use std::sync::Arc;

use assets::{AssetKind, Attribute, AttributeValue, Bounds, Codec, ContentId, Manifest};
use ledger::testkit::{chain_id, keypair};
use ledger::{
    Address, AssetId, ChainParams, CommittedBlock, Genesis, Keypair, Ledger, LedgerError,
    ListingId, Operation, RentTerms, SignedTransaction, Transaction, Validator,
};
use market::Catalogue;

pub(crate) const START: u64 = 10_000_000_000;
pub(crate) const T0: u64 = 1_700_000_000;

pub(crate) struct Net {
    _dir: tempfile::TempDir,
    pub(crate) ledger: Ledger,
    pub(crate) players: Vec<Keypair>,
    pub(crate) validator: Keypair,
    pub(crate) time: u64,
    pub(crate) manifests: HashMap<AssetId, Arc<Manifest>>,
    pub(crate) catalogue: Catalogue,
}

impl Net {
    /// Six players with `START` tokens each, one validator.
    pub(crate) fn new(fee_bps: u16) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let players: Vec<Keypair> = (0..6).map(|i| keypair(3, i)).collect();
        let validator = keypair(4, 0);
        let mut genesis = Genesis::new(
            chain_id(),
            players.iter().map(|k| (k.address(), START)).collect(),
            vec![Validator {
                address: validator.address(),
                power: 1,
            }],
        );
        genesis.time = T0;
        genesis.params = ChainParams {
            network_fee_bps: fee_bps,
            ..ChainParams::default()
        };
        let ledger = Ledger::create(dir.path(), &genesis).unwrap();
        Net {
            _dir: dir,
            ledger,
            players,
            validator,
            time: T0,
            manifests: HashMap::new(),
            catalogue: Catalogue::new(),
        }
    }

    pub(crate) fn creator(&self) -> Keypair {
        self.players[0].clone()
    }

    pub(crate) fn owner(&self) -> Keypair {
        self.players[1].clone()
    }

    pub(crate) fn renter(&self) -> Keypair {
        self.players[2].clone()
    }

    /// `signer`'s transaction doing `op`, with its next nonce.
    pub(crate) fn tx(&self, signer: &Keypair, op: Operation) -> SignedTransaction {
        let nonce = self.ledger.account(&signer.address()).unwrap().nonce;
        Transaction {
            chain_id: chain_id(),
            signer: signer.address(),
            nonce,
            valid_until: u64::MAX,
            op,
        }
        .sign(signer)
    }

    /// Commits `txs` in a block at `time` and brings the catalogue up to
    /// date with it.
    pub(crate) fn commit_at(&mut self, time: u64, txs: Vec<SignedTransaction>) -> CommittedBlock {
        self.time = time;
        let block = self
            .ledger
            .next_block(time, self.validator.address(), txs)
            .unwrap();
        let committed = self.ledger.commit_block(block).unwrap();
        self.catalogue
            .apply((&committed).into(), &self.manifests)
            .unwrap();
        committed
    }

    pub(crate) fn run_at(
        &mut self,
        time: u64,
        signer: &Keypair,
        op: Operation,
    ) -> Result<(), LedgerError> {
        let tx = self.tx(signer, op);
        self.commit_at(time, vec![tx]).results[0].outcome.clone()
    }

    pub(crate) fn run(&mut self, signer: &Keypair, op: Operation) -> Result<(), LedgerError> {
        self.run_at(self.time + 1, signer, op)
    }

    pub(crate) fn balance(&self, who: &Address) -> u64 {
        self.ledger.account(who).unwrap().balance
    }

    /// Balances of creator, owner, renter and validator.
    pub(crate) fn balances(&self) -> [u64; 4] {
        [
            self.creator().address(),
            self.owner().address(),
            self.renter().address(),
            self.validator.address(),
        ]
        .map(|address| self.balance(&address))
    }

    /// The creator mints an asset with `royalty_bps` and gives it to the
    /// owner, so that royalty and proceeds land in different accounts.
    pub(crate) fn asset(&mut self, royalty_bps: u16) -> AssetId {
        let creator = self.creator();
        let (id, op) = ledger::testkit::mint_op(&creator.address(), 5, 0, royalty_bps);
        self.run(&creator, op).unwrap();
        let to = self.owner().address();
        self.run(&creator, Operation::TransferAsset { asset: id, to })
            .unwrap();
        id
    }

    /// `creator` mints the asset `manifest` describes, named as its
    /// creator; the manifest is then at hand for the catalogue.
    pub(crate) fn mint(&mut self, creator: &Keypair, mut manifest: Manifest) -> AssetId {
        manifest.creator = creator.address().to_string();
        let bytes = manifest.to_json().unwrap();
        let id = AssetId(ContentId::of(Codec::Json, &bytes));
        self.manifests.insert(id, Arc::new(manifest));
        self.run(
            creator,
            Operation::Mint {
                manifest: ledger::ManifestBytes(bytes),
                royalty_bps: 300,
            },
        )
        .unwrap();
        id
    }

    /// The listing `asset` is listed under now.
    pub(crate) fn listing_of(&self, asset: &AssetId) -> ListingId {
        self.ledger.asset(asset).unwrap().unwrap().listing.unwrap()
    }

    pub(crate) fn list_for_rent(
        &mut self,
        owner: &Keypair,
        asset: AssetId,
        terms: RentTerms,
        expires_at: u64,
    ) -> ListingId {
        self.run(
            owner,
            Operation::ListForRent {
                asset,
                terms,
                expires_at,
            },
        )
        .unwrap();
        self.listing_of(&asset)
    }

    pub(crate) fn list_for_sale(
        &mut self,
        owner: &Keypair,
        asset: AssetId,
        price: u64,
        expires_at: u64,
    ) -> ListingId {
        self.run(
            owner,
            Operation::ListForSale {
                asset,
                price,
                expires_at,
            },
        )
        .unwrap();
        self.listing_of(&asset)
    }
}

/// Rent terms: `price` an hour, one to ten hours, a deposit of `price`.
pub(crate) fn hourly(price: u64) -> RentTerms {
    RentTerms {
        price_per_period: price,
        period_secs: 3_600,
        min_periods: 1,
        max_periods: 10,
        deposit: price,
        reserved_for: None,
    }
}

/// A manifest for a test asset.
pub(crate) fn manifest(name: &str, kind: AssetKind, description: &str, colour: &str) -> Manifest {
    Manifest {
        name: name.to_string(),
        description: description.to_string(),
        kind,
        model: ContentId::of(Codec::Raw, format!("model of {name}").as_bytes()),
        preview: ContentId::of(Codec::Raw, format!("preview of {name}").as_bytes()),
        bounds: Bounds {
            min: [-0.5, 0.0, -0.5],
            max: [0.5, 1.0, 0.5],
        },
        scale: 1.0,
        creator: "plaza1test".to_string(),
        attributes: vec![Attribute {
            trait_type: "colour".to_string(),
            value: AttributeValue::Text(colour.to_string()),
        }],
        external_url: None,
    }
}
