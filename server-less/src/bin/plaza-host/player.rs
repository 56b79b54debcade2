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
use ledger::{
    Address, Amount, AssetId, Keypair, ListingId, ListingTerms, ManifestBytes, Operation,
    RentTerms, RentalId, Timestamp,
};
use plaza_client::client::Client;
use plaza_client::protocol::{
    Browse, Card, Holding, MAX_PAGE_HITS, MAX_UPLOAD_BYTES, Quote, QuoteAsk, TxState,
};
use plaza_client::wallet::{self, Wallet};
use zeroize::Zeroizing;

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

/// `plaza-host market …`
#[derive(Subcommand, Debug)]
pub(crate) enum MarketCommand {
    /// Search the catalogue.
    Browse {
        /// Words each listing's text must have a word beginning with.
        text: Vec<String>,
        /// Only this kind (wearable, furniture, decoration, lighting,
        /// plant, vehicle, art, building, other).
        #[arg(long)]
        kind: Option<String>,
        /// Only listings for rent.
        #[arg(long, conflicts_with = "sale")]
        rent: bool,
        /// Only listings for sale.
        #[arg(long)]
        sale: bool,
        /// Only prices at most this (per period for rent).
        #[arg(long)]
        max_price: Option<Amount>,
        /// Only listings shown in this world.
        #[arg(long = "in")]
        in_world: Option<String>,
        /// Only listings by this owner.
        #[arg(long)]
        owner: Option<Address>,
        /// Cheapest first (newest first otherwise).
        #[arg(long)]
        cheapest: bool,
        /// Hits per page.
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u16).range(1..=i64::from(MAX_PAGE_HITS)))]
        page_size: u16,
        /// The cursor a previous page printed, for the page after it.
        #[arg(long)]
        after: Option<String>,
    },
    /// List an asset you own for rent.
    ListRent {
        /// The asset's id.
        asset: AssetId,
        /// Price of one period.
        #[arg(long)]
        price: Amount,
        /// Length of one period: seconds, or a number with s, m, h or d.
        #[arg(long, default_value = "1h", value_parser = parse_duration)]
        period: u64,
        /// Fewest periods a renter may take.
        #[arg(long, default_value_t = 1)]
        min_periods: u32,
        /// Most periods a renter may take.
        #[arg(long, default_value_t = 24)]
        max_periods: u32,
        /// Tokens the renter leaves in escrow, returned at the end.
        #[arg(long, default_value_t = 0)]
        deposit: Amount,
        /// How long the listing stays open: seconds, or s, m, h or d.
        #[arg(long, default_value = "30d", value_parser = parse_duration)]
        open_for: u64,
        /// Only this account may rent.
        #[arg(long)]
        reserved_for: Option<Address>,
    },
    /// List an asset you own for sale.
    ListSale {
        /// The asset's id.
        asset: AssetId,
        /// The price.
        #[arg(long)]
        price: Amount,
        /// How long the listing stays open: seconds, or s, m, h or d.
        #[arg(long, default_value = "30d", value_parser = parse_duration)]
        open_for: u64,
    },
    /// Rent a listing: shows the quote, then pays rent and deposit into
    /// escrow.
    Rent {
        /// The listing's number (as `market browse` shows it).
        #[arg(value_parser = parse_number)]
        listing: u64,
        /// How many periods.
        #[arg(long, default_value_t = 1)]
        periods: u32,
        /// Show the quote and stop.
        #[arg(long)]
        quote: bool,
    },
    /// Buy a listing: shows the quote, then pays the price.
    Buy {
        /// The listing's number.
        #[arg(value_parser = parse_number)]
        listing: u64,
        /// Show the quote and stop.
        #[arg(long)]
        quote: bool,
    },
    /// Hand a rented asset back early: shows the refund, then returns it.
    Return {
        /// The rental's number (as `wallet inventory` shows it).
        #[arg(value_parser = parse_number)]
        rental: u64,
        /// Show the quote and stop.
        #[arg(long)]
        quote: bool,
    },
    /// Withdraw one of your listings.
    Cancel {
        /// The listing's number.
        #[arg(value_parser = parse_number)]
        listing: u64,
    },
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

pub(crate) fn market(args: &PlayerArgs, command: MarketCommand) -> anyhow::Result<()> {
    let mut client = args.connect()?;
    let outcome = market_with(&mut client, command);
    client.disconnect();
    outcome
}

fn market_with(client: &mut Client, command: MarketCommand) -> anyhow::Result<()> {
    match command {
        MarketCommand::Browse {
            text,
            kind,
            rent,
            sale,
            max_price,
            in_world,
            owner,
            cheapest,
            page_size,
            after,
        } => {
            let query = Browse {
                text: text.join(" "),
                kind,
                rent: match (rent, sale) {
                    (true, _) => Some(true),
                    (_, true) => Some(false),
                    _ => None,
                },
                max_price,
                owner,
                world: in_world,
                cheapest_first: cheapest,
                page_size,
                after,
            };
            let (hits, next) = client.browse(query, WAIT)?;
            if hits.is_empty() {
                println!("no listings match");
            }
            for card in &hits {
                println!("{}", describe_card(card));
            }
            if let Some(next) = next {
                println!("more: --after {next}");
            }
        }
        MarketCommand::ListRent {
            asset,
            price,
            period,
            min_periods,
            max_periods,
            deposit,
            open_for,
            reserved_for,
        } => {
            let now = host_now(client)?;
            let op = Operation::ListForRent {
                asset,
                terms: RentTerms {
                    price_per_period: price,
                    period_secs: period,
                    min_periods,
                    max_periods,
                    deposit,
                    reserved_for,
                },
                expires_at: expiry(now, open_for)?,
            };
            act(client, op, "listed for rent")?;
        }
        MarketCommand::ListSale {
            asset,
            price,
            open_for,
        } => {
            let now = host_now(client)?;
            let op = Operation::ListForSale {
                asset,
                price,
                expires_at: expiry(now, open_for)?,
            };
            act(client, op, "listed for sale")?;
        }
        MarketCommand::Rent {
            listing,
            periods,
            quote,
        } => {
            let listing = ListingId(listing);
            let figures = client.quote(QuoteAsk::Rent { listing, periods }, WAIT)?;
            print_quote(&figures, "rent");
            if !quote {
                act(client, Operation::Rent { listing, periods }, "rented")?;
            }
        }
        MarketCommand::Buy { listing, quote } => {
            let listing = ListingId(listing);
            let figures = client.quote(QuoteAsk::Buy { listing }, WAIT)?;
            print_quote(&figures, "price");
            if !quote {
                act(client, Operation::Buy { listing }, "bought")?;
            }
        }
        MarketCommand::Return { rental, quote } => {
            let rental = RentalId(rental);
            let figures = client.quote(QuoteAsk::Return { rental }, WAIT)?;
            print_quote(&figures, "rent paid");
            if !quote {
                act(client, Operation::ReturnRental { rental }, "returned")?;
            }
        }
        MarketCommand::Cancel { listing } => {
            act(
                client,
                Operation::CancelListing {
                    listing: ListingId(listing),
                },
                "listing withdrawn",
            )?;
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

/// When a listing made at `now` and open for `open_for` seconds expires.
fn expiry(now: Timestamp, open_for: u64) -> anyhow::Result<Timestamp> {
    match now.checked_add(open_for) {
        Some(at) => Ok(at),
        None => bail!("--open-for {open_for} s is past the end of time"),
    }
}

/// The host's time, which listings' expiry counts from.
fn host_now(client: &mut Client) -> anyhow::Result<Timestamp> {
    Ok(client.account_now(WAIT)?.1)
}

fn print_quote(quote: &Quote, amount: &str) {
    println!("  {amount:<10} {}", quote.amount);
    if quote.deposit > 0 && quote.to_renter == 0 {
        println!("  deposit    {} (returned at the end)", quote.deposit);
    } else if quote.deposit > 0 {
        println!("  deposit    {} (returned now)", quote.deposit);
    }
    println!("  royalty    {} (to the creator)", quote.royalty);
    println!("  fee        {} (to the network)", quote.fee);
    println!("  to owner   {}", quote.to_lessor);
    if quote.pay_now > 0 {
        println!("  pay now    {}", quote.pay_now);
    }
    if quote.to_renter > 0 {
        println!("  back to you {}", quote.to_renter);
    }
    if let Some(ends_at) = quote.ends_at {
        println!("  ends at    {ends_at} (unix time)");
    }
}

fn describe_card(card: &Card) -> String {
    let listing = &card.listing;
    let terms = match listing.terms {
        ListingTerms::Rent(terms) => format!(
            "rent {} per {} ({}-{} periods, deposit {})",
            terms.price_per_period,
            show_duration(terms.period_secs),
            terms.min_periods,
            terms.max_periods,
            terms.deposit
        ),
        ListingTerms::Sale { price } => format!("sale {price}"),
    };
    let rented = card
        .rented_until
        .map(|until| format!(", rented until {until}"))
        .unwrap_or_default();
    let shown = card
        .shown
        .iter()
        .map(|shown| {
            format!(
                "{} {} {}",
                shown.world,
                if shown.stall { "stall" } else { "parcel" },
                shown.index
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    format!(
        "#{:<6} {:<28} {:<10} {terms}{rented}\n        asset {}  owner {}  shown: {}",
        listing.id.0,
        card.name.as_deref().unwrap_or("(manifest not here)"),
        card.kind.as_deref().unwrap_or("?"),
        listing.asset,
        listing.lister,
        if shown.is_empty() { "nowhere" } else { &shown }
    )
}

fn describe_owned(holding: &Holding) -> String {
    let mut out = holding.asset.to_string();
    if let Some(listing) = holding.listing {
        out.push_str(&format!("  listed #{listing}"));
    }
    if let Some(rental) = holding.rented {
        out.push_str(&format!(
            "  rented out to {} until {} (rental {})",
            rental.renter, rental.ends_at, rental.id.0
        ));
    }
    out
}

fn show_duration(secs: u64) -> String {
    match secs {
        s if s % 86_400 == 0 => format!("{} d", s / 86_400),
        s if s % 3_600 == 0 => format!("{} h", s / 3_600),
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
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
