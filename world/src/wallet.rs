//! The player's wallet: opened (or made, the first time) from
//! `<data>/wallets`, sealed with the player's passphrase. On a network
//! this process made for itself, a new wallet is given its first tokens
//! (`Embedded::grant`, with the `embedded-host` feature).

use std::io::IsTerminal;
use std::path::Path;

use anyhow::{Context, bail};
use ledger::{Amount, Keypair};
use plaza_client::wallet::{self, Wallet};
use rand::rngs::OsRng;
use zeroize::Zeroizing;

/// The wallet `plaza` plays with when none is named.
pub const DEFAULT_WALLET: &str = "player";
/// Tokens a new player's wallet is given on an embedded network.
pub const WELCOME_GRANT: Amount = 100_000;

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
