//! The market from the terminal: browse, quote, list, rent, return, buy
//! and trade, as a world client asks its host.

use anyhow::bail;
use clap::Subcommand;
use ledger::{
    Address, Amount, AssetId, ListingId, ListingTerms, Operation, RentTerms, RentalId, Timestamp,
};
use plaza_client::client::Client;
use plaza_client::protocol::{Browse, Card, Holding, MAX_PAGE_HITS, Quote, QuoteAsk};

use super::{PlayerArgs, WAIT, act, parse_duration, parse_number};

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

pub(super) fn describe_owned(holding: &Holding) -> String {
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
