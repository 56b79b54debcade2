//! The player's wallet: opened (or made, the first time) from
//! `<data>/wallets`, sealed with the player's passphrase; and, on a
//! network this process made for itself, a first grant of tokens from a
//! demo account so that a new player can rent at once.

use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use ledger::{Amount, Keypair, Operation};
use rand::rngs::OsRng;
use server_less::client::Client;
use server_less::protocol::TxState;
use server_less::wallet::{self, Wallet};
use zeroize::Zeroizing;

use crate::embedded::Embedded;

/// The wallet `plaza` plays with when none is named.
pub const DEFAULT_WALLET: &str = "player";
/// Tokens a new player's wallet is given on an embedded network.
pub const WELCOME_GRANT: Amount = 100_000;
/// The demo account the grant comes from.
const GRANTER: &str = "ada";

/// The passphrase for wallet `name`: `$PLAZA_PASSPHRASE`, or asked on the
/// terminal (twice for a new wallet).
pub fn passphrase(name: &str, new: bool) -> anyhow::Result<Zeroizing<String>> {
    if let Ok(passphrase) = std::env::var("PLAZA_PASSPHRASE") {
        return Ok(Zeroizing::new(passphrase));
    }
    if !std::io::stdin().is_terminal() {
        bail!(
            "wallet {name:?} needs its passphrase and there is no terminal to ask on: set PLAZA_PASSPHRASE (or play a demo account with --demo ada)"
        );
    }
    let prompt = if new {
        format!(
            "a new wallet {name:?} for you: choose a passphrase (at least {} characters): ",
            wallet::MIN_PASSPHRASE
        )
    } else {
        format!("passphrase for wallet {name:?}: ")
    };
    let first =
        Zeroizing::new(rpassword::prompt_password(prompt).context("reading the passphrase")?);
    if new {
        let again = Zeroizing::new(
            rpassword::prompt_password("the same again: ").context("reading the passphrase")?,
        );
        if first != again {
            bail!("the two passphrases differ; no wallet was made");
        }
    }
    Ok(first)
}

/// Opens wallet `name` in `dir`, or, with `make` and no such wallet yet,
/// makes it; the key, and whether it is new.
pub fn open_or_make(dir: &Path, name: &str, make: bool) -> anyhow::Result<(Keypair, bool)> {
    let path = wallet::path_of(dir, name)?;
    if path.exists() {
        let sealed = Wallet::read(&path)?;
        let key = sealed.open(&passphrase(name, false)?)?;
        return Ok((key, false));
    }
    if !make {
        bail!(
            "no wallet {name:?} in {}: make one with `plaza-host wallet new --wallets {} --wallet {name}`",
            dir.display(),
            dir.display()
        );
    }
    let passphrase = passphrase(name, true)?;
    let key = Keypair::generate(&mut OsRng);
    let made = Wallet::create(&path, &key, &passphrase)?;
    tracing::info!(wallet = %made.path().display(), address = %key.address(), "made your wallet");
    Ok((key, true))
}

/// Pays [`WELCOME_GRANT`] tokens to `to` from the embedded network's demo
/// account, and waits until it is final.
pub fn grant(embedded: &Embedded, to: &Keypair, world: &str) -> anyhow::Result<()> {
    let wait = Duration::from_secs(20);
    let granter = embedded.home().load_demo_key(GRANTER)?;
    let mut client = Client::connect(embedded.join_addr(), &granter, wait)?;
    client.enter(world, wait)?;
    let (_, state) = client.act(
        Operation::Pay {
            to: to.address(),
            amount: WELCOME_GRANT,
        },
        wait,
    )?;
    client.disconnect();
    match state {
        TxState::Applied { height } => {
            tracing::info!(
                tokens = WELCOME_GRANT,
                height,
                "your wallet was given its first tokens"
            );
            Ok(())
        }
        other => bail!("the first tokens for your wallet did not arrive: {other:?}"),
    }
}
