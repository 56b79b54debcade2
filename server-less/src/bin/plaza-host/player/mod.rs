//! Terminal commands for a player without the 3D client: the wallet, the
//! market and asset import, each talking to a running host as a world
//! client does (join with the wallet's key, enter a world, ask).

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use assets::{AssetKind, Attribute, AttributeValue, Codec, ImportLimits, ImportRequest};
use clap::{Args, Subcommand};
use ledger::{Keypair, ManifestBytes, Operation};
use plaza_client::client::Client;
use plaza_client::protocol::{MAX_UPLOAD_BYTES, TxState};
use plaza_client::wallet::{self, Wallet};
use zeroize::Zeroizing;

mod market;

use self::market::describe_owned;
pub(crate) use self::market::{MarketCommand, market};

/// How long one exchange with the host may take.
pub(crate) const WAIT: Duration = Duration::from_secs(30);
/// Largest key file read by `wallet import`.
const MAX_KEY_FILE: u64 = 16 * 1024;

/// Which wallet, and which host.
#[derive(Args, Clone, Debug)]
pub(crate) struct PlayerArgs {
    /// The wallet: a name in the wallet directory.
    #[arg(long, global = true, env = "PLAZA_WALLET", default_value = "default")]
    wallet: String,
    /// The wallet directory [default: $XDG_DATA_HOME/plaza/wallets, or
    /// ~/.local/share/plaza/wallets].
    #[arg(long, global = true, env = "PLAZA_WALLETS")]
    wallets: Option<PathBuf>,
    /// Read the passphrase from the first line of this file; without it,
    /// from $PLAZA_PASSPHRASE, or else it is asked for on the terminal.
    #[arg(long, global = true, env = "PLAZA_PASSPHRASE_FILE")]
    passphrase_file: Option<PathBuf>,
    /// The host's join endpoint.
    #[arg(
        long,
        global = true,
        env = "PLAZA_JOIN",
        default_value = "127.0.0.1:7480"
    )]
    join: SocketAddr,
    /// The world to enter while talking to the host.
    #[arg(long, global = true, default_value = "Plaza Square")]
    world: String,
}

/// `plaza-host wallet …`
#[derive(Subcommand, Debug)]
pub(crate) enum WalletCommand {
    /// Make a new key, sealed with a passphrase you choose.
    New,
    /// Seal an existing key into a new wallet: a PKCS#8 PEM file (as
    /// `wallet export` writes) or 64 hex digits (a host's demo keys, in
    /// <home>/demo/<name>.key).
    Import {
        /// The key file.
        file: PathBuf,
    },
    /// Write the key as an unencrypted PKCS#8 PEM file (standard ed25519
    /// form), to --out or to standard output. Keep it secret.
    Export {
        /// The file to write (never over an existing one).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// The wallets in the wallet directory and their addresses.
    List,
    /// The wallet's address (no passphrase needed).
    Address,
    /// The account's balance and next nonce, from the host.
    Balance,
    /// What the account owns, has listed, rents out and rents.
    Inventory,
}

/// `plaza-host asset …`
#[derive(Subcommand, Debug)]
pub(crate) enum AssetCommand {
    /// Check a .glb model, render its preview, upload model, preview and
    /// manifest to the host, and mint the asset to your account.
    Import {
        /// The model, binary glTF.
        file: PathBuf,
        /// Its name (defaults to the file's name).
        #[arg(long)]
        name: Option<String>,
        /// A description.
        #[arg(long, default_value = "")]
        description: String,
        /// What sort of thing it is.
        #[arg(long, default_value = "decoration")]
        kind: AssetKind,
        /// Your share of every rent and sale, in basis points (500 = 5%).
        #[arg(long, default_value_t = 500)]
        royalty_bps: u16,
        /// The scale to place it at by default.
        #[arg(long, default_value_t = 1.0)]
        scale: f32,
        /// A trait, as name=value (repeat for more).
        #[arg(long = "trait", value_parser = parse_trait)]
        traits: Vec<Attribute>,
    },
}

impl PlayerArgs {
    fn dir(&self) -> anyhow::Result<PathBuf> {
        match &self.wallets {
            Some(dir) => Ok(dir.clone()),
            None => super::data_dir("wallets"),
        }
    }

    fn path(&self) -> anyhow::Result<PathBuf> {
        Ok(wallet::path_of(&self.dir()?, &self.wallet)?)
    }

    /// The passphrase: the file's first line, $PLAZA_PASSPHRASE, or the
    /// terminal (asked twice for a new wallet).
    fn passphrase(&self, new: bool) -> anyhow::Result<Zeroizing<String>> {
        if let Some(file) = &self.passphrase_file {
            let text = Zeroizing::new(
                std::fs::read_to_string(file)
                    .with_context(|| format!("passphrase file {}", file.display()))?,
            );
            return Ok(Zeroizing::new(
                text.lines().next().unwrap_or_default().to_owned(),
            ));
        }
        if let Ok(passphrase) = std::env::var("PLAZA_PASSPHRASE") {
            return Ok(Zeroizing::new(passphrase));
        }
        if !std::io::stdin().is_terminal() {
            bail!(
                "a passphrase is needed and there is no terminal to ask on: pass --passphrase-file <file> or set PLAZA_PASSPHRASE"
            );
        }
        let prompt = format!("passphrase for wallet {:?}: ", self.wallet);
        let first = Zeroizing::new(rpassword::prompt_password(&prompt)?);
        if new {
            let again = Zeroizing::new(rpassword::prompt_password("the same again: ")?);
            if first != again {
                bail!("the two passphrases differ; nothing was written");
            }
        }
        Ok(first)
    }

    fn open(&self) -> anyhow::Result<Keypair> {
        let wallet = Wallet::read(&self.path()?)?;
        let passphrase = self.passphrase(false)?;
        Ok(wallet.open(&passphrase)?)
    }

    /// Opens the wallet, joins the host and enters the world.
    fn connect(&self) -> anyhow::Result<Client> {
        let key = self.open()?;
        let mut client = Client::connect(self.join, &key, Duration::from_secs(10))
            .with_context(|| format!("joining the host at {} (is `plaza-host run` running there? --join names another)", self.join))?;
        client.enter(&self.world, WAIT)?;
        Ok(client)
    }
}

pub(crate) fn wallet(args: &PlayerArgs, command: WalletCommand) -> anyhow::Result<()> {
    match command {
        WalletCommand::New => {
            let path = args.path()?;
            if path.exists() {
                bail!(
                    "{} already exists; pick another name with --wallet",
                    path.display()
                );
            }
            let key = Keypair::generate(&mut rand::rngs::OsRng);
            let wallet = Wallet::create(&path, &key, &args.passphrase(true)?)?;
            println!("wallet {} made: {}", args.wallet, path.display());
            println!("address {}", wallet.address());
        }
        WalletCommand::Import { file } => {
            let path = args.path()?;
            if path.exists() {
                bail!(
                    "{} already exists; pick another name with --wallet",
                    path.display()
                );
            }
            let key = wallet::import_key(&read_key_file(&file)?)?;
            let wallet = Wallet::create(&path, &key, &args.passphrase(true)?)?;
            println!("wallet {} made: {}", args.wallet, path.display());
            println!("address {}", wallet.address());
        }
        WalletCommand::Export { out } => {
            let pem = wallet::export_pkcs8(&args.open()?)?;
            match out {
                Some(out) => {
                    write_secret(&out, pem.as_bytes())?;
                    eprintln!(
                        "key written to {} (unencrypted: keep it secret)",
                        out.display()
                    );
                }
                None => print!("{}", pem.as_str()),
            }
        }
        WalletCommand::List => {
            let dir = args.dir()?;
            let names = wallet::list(&dir)?;
            if names.is_empty() {
                println!(
                    "no wallets in {}: make one with `plaza-host wallet new`",
                    dir.display()
                );
            }
            for name in names {
                let read = match wallet::path_of(&dir, &name) {
                    Ok(path) => Wallet::read(&path),
                    Err(err) => Err(err),
                };
                match read {
                    Ok(wallet) => println!("{name:<16} {}", wallet.address()),
                    Err(err) => println!("{name:<16} unusable: {err}"),
                }
            }
        }
        WalletCommand::Address => println!("{}", Wallet::read(&args.path()?)?.address()),
        WalletCommand::Balance => {
            let mut client = args.connect()?;
            let (account, _, _) = client.inventory(WAIT)?;
            println!("address {}", client.key().address());
            println!("balance {}", account.balance);
            println!("nonce   {}", account.nonce);
            client.disconnect();
        }
        WalletCommand::Inventory => {
            let mut client = args.connect()?;
            let (account, owned, renting) = client.inventory(WAIT)?;
            println!("{}  balance {}", client.key().address(), account.balance);
            println!("owned ({}):", owned.len());
            for holding in &owned {
                println!("  {}", describe_owned(holding));
            }
            println!("renting ({}):", renting.len());
            for holding in &renting {
                match holding.rented {
                    Some(rental) => println!(
                        "  {}  rental {}  ends at {}  (owner {})",
                        holding.asset, rental.id.0, rental.ends_at, holding.owner
                    ),
                    None => println!("  {}", holding.asset),
                }
            }
            client.disconnect();
        }
    }
    Ok(())
}

pub(crate) fn asset(args: &PlayerArgs, command: AssetCommand) -> anyhow::Result<()> {
    let AssetCommand::Import {
        file,
        name,
        description,
        kind,
        royalty_bps,
        scale,
        traits,
    } = command;
    let limits = ImportLimits::default();
    let most = limits.max_bytes.min(MAX_UPLOAD_BYTES);
    let size = std::fs::metadata(&file)
        .with_context(|| format!("{}", file.display()))?
        .len();
    if size > most {
        bail!(
            "{} is {size} bytes; a model may be at most {most} bytes",
            file.display()
        );
    }
    let glb = std::fs::read(&file).with_context(|| format!("{}", file.display()))?;
    let name = match name {
        Some(name) => name,
        None => file
            .file_stem()
            .and_then(|stem| stem.to_str())
            .unwrap_or("model")
            .to_owned(),
    };
    // Checked and previewed here first: a file Plaza cannot use is refused
    // before a passphrase is asked for or the host is contacted.
    let creator = Wallet::read(&args.path()?)?.address();
    let request = ImportRequest {
        name,
        description,
        kind,
        creator: creator.to_string(),
        attributes: traits,
        external_url: None,
        scale,
    };
    let prepared = assets::prepare(&glb, &request, &limits)
        .with_context(|| format!("{} is not a model Plaza can use", file.display()))?;
    let size = prepared.manifest.bounds.size();
    println!(
        "{}: {} triangles, {} textures, {:.2} × {:.2} × {:.2} m",
        prepared.manifest.name,
        prepared.facts.triangles,
        prepared.facts.textures,
        size[0],
        size[1],
        size[2],
    );
    let mut client = args.connect()?;
    let outcome = (|| -> anyhow::Result<()> {
        let upload_wait = Duration::from_secs(300);
        client.upload(Codec::Raw, &glb, upload_wait)?;
        client.upload(Codec::Raw, &prepared.preview, WAIT)?;
        println!("uploaded model and preview");
        // The mint carries the manifest itself: the ledger reads its
        // creator from it.
        let manifest = ManifestBytes(prepared.manifest_json.clone());
        let asset = manifest.asset_id();
        act(
            &mut client,
            Operation::Mint {
                manifest,
                royalty_bps,
            },
            "minted",
        )?;
        println!("asset {asset}");
        Ok(())
    })();
    client.disconnect();
    outcome
}

/// Signs, submits and waits for `op`; the block it is final in, or an
/// error with the ledger's reason if it is refused.
pub(crate) fn act(client: &mut Client, op: Operation, done: &str) -> anyhow::Result<u64> {
    let what = op.name();
    let (id, state) = client.act(op, WAIT)?;
    match state {
        TxState::Applied { height } => {
            println!("{done}: transaction {id} final in block {height}");
            Ok(height)
        }
        TxState::Rejected { reason, .. } => bail!("{what} refused: {reason}"),
        TxState::Pending => bail!(
            "{what}: transaction {id} still waiting after {} s",
            WAIT.as_secs()
        ),
        TxState::Unknown => bail!("{what}: the host lost transaction {id}; try again"),
    }
}

fn read_key_file(path: &Path) -> anyhow::Result<Zeroizing<String>> {
    let size = std::fs::metadata(path)
        .with_context(|| format!("{}", path.display()))?
        .len();
    if size > MAX_KEY_FILE {
        bail!("{} is {size} bytes: not a key file", path.display());
    }
    Ok(Zeroizing::new(
        std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?,
    ))
}

fn write_secret(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).with_context(|| {
        format!(
            "{} (an existing file is never written over)",
            path.display()
        )
    })?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}

/// Seconds, or a whole number with s, m, h or d.
fn parse_duration(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?}: write a whole number, then s, m, h or d"))?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        other => return Err(format!("{other:?} is not a unit: use s, m, h or d")),
    };
    number
        .checked_mul(scale)
        .filter(|secs| *secs > 0)
        .ok_or_else(|| format!("{text:?} is not a usable length"))
}

/// A listing or rental number, with or without a leading '#'.
fn parse_number(text: &str) -> Result<u64, String> {
    text.trim_start_matches('#')
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))
}

/// `name=value`: a number if it reads as one, text otherwise.
fn parse_trait(text: &str) -> Result<Attribute, String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?}: write a trait as name=value"))?;
    let value = match value.parse::<f64>() {
        Ok(number) if number.is_finite() => AttributeValue::Number(number),
        _ => AttributeValue::Text(value.to_owned()),
    };
    Ok(Attribute {
        trait_type: name.to_owned(),
        value,
    })
}
