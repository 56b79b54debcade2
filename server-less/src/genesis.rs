//! A network's genesis as hosts hand it to one another: block 0's
//! specification, the blocks `init` made before consensus began (the
//! sample pack minted and dealt, the worlds' deeds), and the founder every
//! host names. Written by `init` into the home as `genesis.plaza`, served
//! by every host to hosts that join, and checked by them against the hash
//! their operator trusts.
//!
//! The hash ([`NetworkHash`]) covers everything: each block names its
//! parent, block 0 names the specification's hash, so the last block's
//! hash commits to every block and the specification; the founder is
//! hashed beside it. A joining host replays the blocks into its own ledger
//! (every signature and rule checked) and compares the head it reaches.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use borsh::{BorshDeserialize, BorshSerialize};
use ledger::{Address, Block, BlockHash, Genesis, Ledger, MAX_BLOCK_BYTES};

use crate::error::HostError;
use crate::home::HomeError;

/// The most bytes of a genesis a host reads or fetches.
pub const MAX_GENESIS_BYTES: usize = plaza_client::network::MAX_GENESIS_BYTES as usize;

/// The most blocks made before consensus began.
const MAX_GENESIS_BLOCKS: usize = 64;

/// The hash that names a network's start: what an operator trusts when a
/// host joins. `plaza-host status` prints it on any host of the network.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct NetworkHash(pub [u8; 32]);

impl fmt::Display for NetworkHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::home::hex(&self.0))
    }
}

impl fmt::Debug for NetworkHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NetworkHash({self})")
    }
}

impl FromStr for NetworkHash {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        crate::home::unhex32(text.trim())
            .map(NetworkHash)
            .map_err(|reason| format!("{text:?} is not a genesis hash (64 hex digits): {reason}"))
    }
}

/// The encoded form: blocks as the ledger writes them.
#[derive(BorshSerialize, BorshDeserialize)]
struct Encoded {
    version: u16,
    genesis: Genesis,
    blocks: Vec<Vec<u8>>,
    founder: Option<Address>,
}

/// The format's version.
const VERSION: u16 = 1;

/// A network's start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkGenesis {
    /// Block 0's specification.
    pub genesis: Genesis,
    /// The blocks made at `init`, from height 1, before consensus began.
    pub blocks: Vec<Block>,
    /// The founder every host of the network names.
    pub founder: Option<Address>,
}

impl NetworkGenesis {
    /// The hash that names it.
    pub fn hash(&self) -> NetworkHash {
        let head = self
            .blocks
            .last()
            .map_or_else(|| self.genesis.block().hash(), Block::hash);
        network_hash(head, self.founder.as_ref())
    }

    /// The manifests of the assets its blocks mint: a host that joined the
    /// network fetches their files from the others.
    pub fn minted(&self) -> Vec<assets::ContentId> {
        self.blocks
            .iter()
            .flat_map(|block| &block.txs)
            .filter_map(|tx| match &tx.tx.op {
                ledger::Operation::Mint { manifest, .. } => Some(manifest.asset_id().content_id()),
                _ => None,
            })
            .collect()
    }

    /// Its bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let encoded = Encoded {
            version: VERSION,
            genesis: self.genesis.clone(),
            blocks: self.blocks.iter().map(Block::to_bytes).collect(),
            founder: self.founder,
        };
        borsh::to_vec(&encoded).unwrap_or_default()
    }

    /// Reads bytes a peer may have made: bounded, every block checked for
    /// its shape, nothing left over.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() > MAX_GENESIS_BYTES {
            return Err(format!(
                "{} bytes, more than the {MAX_GENESIS_BYTES} a genesis may have",
                bytes.len()
            ));
        }
        let encoded = Encoded::try_from_slice(bytes).map_err(|err| err.to_string())?;
        if encoded.version != VERSION {
            return Err(format!(
                "format {} where this host reads {VERSION}",
                encoded.version
            ));
        }
        if encoded.blocks.len() > MAX_GENESIS_BLOCKS {
            return Err(format!(
                "{} blocks before consensus, more than {MAX_GENESIS_BLOCKS}",
                encoded.blocks.len()
            ));
        }
        let blocks = encoded
            .blocks
            .iter()
            .enumerate()
            .map(|(index, block)| {
                if block.len() > MAX_BLOCK_BYTES {
                    return Err(format!("block {} is too large", index + 1));
                }
                Block::from_bytes(block).map_err(|err| format!("block {}: {err}", index + 1))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(NetworkGenesis {
            genesis: encoded.genesis,
            blocks,
            founder: encoded.founder,
        })
    }

    /// Makes the ledger at `path` from it: block 0, then every block
    /// replayed with its signatures and rules checked, each following the
    /// last (so the head reached is the one [`NetworkGenesis::hash`]
    /// covers). On an error the reason is given; what was written at
    /// `path` is the caller's to remove.
    pub fn replay(&self, path: &Path) -> Result<Ledger, HostError> {
        self.genesis.validate()?;
        let mut ledger = Ledger::create(path, &self.genesis)?;
        for block in &self.blocks {
            let expected = ledger.height().saturating_add(1);
            if block.header.height != expected || block.header.parent != ledger.chain().last_block {
                return Err(bad(format!(
                    "block {} does not follow block {}",
                    block.header.height,
                    ledger.height()
                )));
            }
            ledger.commit_block(block.clone())?;
        }
        Ok(ledger)
    }

    /// Writes it into a home being made.
    pub fn write(&self, path: &Path) -> Result<(), HostError> {
        crate::home::write_file(path, &self.to_bytes(), false)
    }

    /// Reads a home's.
    pub fn load(path: &Path) -> Result<Self, HostError> {
        let bytes = read_bounded(path)?;
        Self::from_bytes(&bytes).map_err(|reason| {
            HomeError::Genesis {
                path: path.to_owned(),
                reason,
            }
            .into()
        })
    }
}

/// The hash naming a network whose blocks before consensus end at `head`
/// and whose founder is `founder`.
pub fn network_hash(head: BlockHash, founder: Option<&Address>) -> NetworkHash {
    let mut hasher = blake3::Hasher::new_derive_key("plaza network genesis v1");
    hasher.update(&head.0);
    match founder {
        Some(founder) => {
            hasher.update(&[1]);
            hasher.update(founder.as_bytes());
        }
        None => {
            hasher.update(&[0]);
        }
    }
    NetworkHash(*hasher.finalize().as_bytes())
}

fn bad(reason: String) -> HostError {
    HostError::from(HomeError::Join(reason))
}

/// A file's bytes, refused past [`MAX_GENESIS_BYTES`].
fn read_bounded(path: &Path) -> Result<Vec<u8>, HostError> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|err| HostError::io(path, err))?;
    let mut bytes = Vec::new();
    file.take(MAX_GENESIS_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|err| HostError::io(path, err))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger::{ChainId, Keypair, Operation, Transaction, Validator};

    fn network() -> (NetworkGenesis, Keypair) {
        let ada = Keypair::from_seed([1; 32]);
        let host = Keypair::from_seed([2; 32]);
        let chain = ChainId::new("plaza-genesis").unwrap();
        let genesis = Genesis::new(
            chain.clone(),
            vec![(ada.address(), 1_000)],
            vec![Validator {
                address: host.address(),
                power: 10,
            }],
        );
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::create(dir.path(), &genesis).unwrap();
        let pay = Transaction {
            chain_id: chain,
            signer: ada.address(),
            nonce: 0,
            valid_until: 100,
            op: Operation::Pay {
                to: host.address(),
                amount: 5,
            },
        }
        .sign(&ada);
        let block = ledger.next_block(0, host.address(), vec![pay]).unwrap();
        ledger.commit_block(block.clone()).unwrap();
        (
            NetworkGenesis {
                genesis,
                blocks: vec![block],
                founder: Some(ada.address()),
            },
            ada,
        )
    }

    #[test]
    fn it_reads_back_replays_to_its_head_and_its_hash_covers_every_part() {
        let (network, ada) = network();
        let back = NetworkGenesis::from_bytes(&network.to_bytes()).unwrap();
        assert_eq!(back, network);
        let hash = network.hash();
        assert_eq!(hash.to_string().parse::<NetworkHash>().unwrap(), hash);

        let dir = tempfile::tempdir().unwrap();
        let ledger = network.replay(dir.path()).unwrap();
        assert_eq!(ledger.height(), 1);
        assert_eq!(
            network_hash(ledger.chain().last_block, Some(&ada.address())),
            hash
        );

        // Another founder, another block or another first balance: another
        // hash.
        let mut other = network.clone();
        other.founder = None;
        assert_ne!(other.hash(), hash);
        let mut other = network.clone();
        other.blocks.clear();
        assert_ne!(other.hash(), hash);
        let mut other = network.clone();
        other.genesis.balances[0].1 += 1;
        other.blocks.clear();
        let mut trimmed = network.clone();
        trimmed.blocks.clear();
        assert_ne!(other.hash(), trimmed.hash());
    }

    #[test]
    fn forged_or_broken_bytes_are_refused_with_the_reason() {
        let (network, _) = network();
        let bytes = network.to_bytes();
        assert!(NetworkGenesis::from_bytes(&bytes[..bytes.len() - 1]).is_err());
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(NetworkGenesis::from_bytes(&longer).is_err());
        assert!(NetworkGenesis::from_bytes(&[0xff; 16]).is_err());

        // A block whose transaction was changed no longer chains to the
        // head a replay reaches: the hash differs, and a replay of a block
        // that does not follow is refused.
        let mut forged = network.clone();
        forged.blocks[0].header.height = 2;
        let dir = tempfile::tempdir().unwrap();
        let err = forged
            .replay(dir.path())
            .err()
            .expect("refused")
            .to_string();
        assert!(err.contains("does not follow"), "{err}");
    }
}
