//! A player without the 3D client: `plaza-host wallet`, `market` and
//! `asset`, run as a user runs them against a running host.

use std::path::Path;
use std::process::Output;

use plaza_tests::processes::{HostProcess, plaza_host, use_free_ports};

const PASSPHRASE: &str = "a long enough passphrase";

/// Runs a player command with the test's wallets and host.
fn player(home: &Path, wallets: &Path, join: &str, args: &[&str]) -> Output {
    plaza_host(home)
        .args(args)
        .env("PLAZA_WALLETS", wallets)
        .env("PLAZA_PASSPHRASE", PASSPHRASE)
        .env("PLAZA_JOIN", join)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

/// Standard output of a command that must succeed.
fn ok(output: Output) -> String {
    let (out, err) = (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    );
    assert!(output.status.success(), "failed:\n{out}\n{err}");
    out
}

/// Standard error of a command that must fail.
fn refused(output: Output) -> String {
    let (out, err) = (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    );
    assert!(!output.status.success(), "succeeded:\n{out}\n{err}");
    err
}

/// The word after `label` on the first line that has it.
fn after<'a>(text: &'a str, label: &str) -> &'a str {
    text.lines()
        .find_map(|line| {
            let at = line.find(label)?;
            line[at + label.len()..].split_whitespace().next()
        })
        .unwrap_or_else(|| panic!("no {label:?} in:\n{text}"))
}

#[test]
fn a_player_imports_a_model_lists_it_and_another_rents_and_returns_it_from_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("host");
    let wallets = dir.path().join("wallets");
    let init = plaza_host(&home)
        .args(["init", "--chain-id", "plaza-player"])
        .output()
        .unwrap();
    assert!(init.status.success());
    let join = use_free_ports(&home).to_string();
    let _host = HostProcess::start(&home, "players can join");
    let run = |args: &[&str]| player(&home, &wallets, &join, args);

    // Wallets: two demo keys sealed, one new key made, exported and
    // imported again under another name.
    let cy_key = home.join("demo/cy.key");
    let dee_key = home.join("demo/dee.key");
    let cy = ok(run(&[
        "wallet",
        "import",
        "--wallet",
        "cy",
        cy_key.to_str().unwrap(),
    ]));
    let cy_address = after(&cy, "address ").to_owned();
    ok(run(&[
        "wallet",
        "import",
        "--wallet",
        "dee",
        dee_key.to_str().unwrap(),
    ]));
    let zed = ok(run(&["wallet", "new", "--wallet", "zed"]));
    let zed_address = after(&zed, "address ").to_owned();
    let pem = dir.path().join("zed.pem");
    ok(run(&[
        "wallet",
        "export",
        "--wallet",
        "zed",
        "--out",
        pem.to_str().unwrap(),
    ]));
    assert!(
        std::fs::read_to_string(&pem)
            .unwrap()
            .starts_with("-----BEGIN PRIVATE KEY-----")
    );
    let zed2 = ok(run(&[
        "wallet",
        "import",
        "--wallet",
        "zed2",
        pem.to_str().unwrap(),
    ]));
    assert_eq!(after(&zed2, "address "), zed_address);
    let listed = ok(run(&["wallet", "list"]));
    let names: Vec<&str> = listed
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    assert_eq!(names, ["cy", "dee", "zed", "zed2"], "{listed}");
    // The key is nowhere in the wallet file; a wrong passphrase opens
    // nothing and says so; a wallet is never written over.
    let sealed = std::fs::read_to_string(wallets.join("cy.wallet")).unwrap();
    let seed = std::fs::read_to_string(&cy_key).unwrap();
    assert!(!sealed.contains(seed.trim()));
    let wrong = plaza_host(&home)
        .args(["wallet", "balance", "--wallet", "cy"])
        .env("PLAZA_WALLETS", &wallets)
        .env("PLAZA_PASSPHRASE", "not the passphrase")
        .env("PLAZA_JOIN", &join)
        .output()
        .unwrap();
    assert!(refused(wrong).contains("wrong passphrase"));
    let again = refused(run(&["wallet", "new", "--wallet", "zed"]));
    assert!(again.contains("already exists"), "{again}");
    let missing = refused(run(&["wallet", "balance", "--wallet", "nobody"]));
    assert!(missing.contains("plaza-host wallet new"), "{missing}");

    let balance = ok(run(&["wallet", "balance", "--wallet", "cy"]));
    assert_eq!(after(&balance, "address "), cy_address);
    let cy_balance: u64 = after(&balance, "balance ").parse().unwrap();
    assert!(cy_balance > 0);

    // Cy brings a model: checked, previewed, uploaded and minted.
    let model = dir.path().join("lamp.glb");
    let sample = assets::pack::sample_models().remove(0);
    std::fs::write(&model, &sample.glb).unwrap();
    let imported = ok(run(&[
        "asset",
        "import",
        model.to_str().unwrap(),
        "--wallet",
        "cy",
        "--name",
        "Harbour lantern",
        "--description",
        "A lantern from the terminal",
        "--kind",
        "lighting",
        "--trait",
        "style=nautical",
    ]));
    assert!(imported.contains("minted: transaction"), "{imported}");
    let asset = after(&imported, "asset ").to_owned();

    // Listed for rent; anyone browsing finds it, under its manifest's name.
    let listed = ok(run(&[
        "market",
        "list-rent",
        &asset,
        "--wallet",
        "cy",
        "--price",
        "40",
        "--period",
        "1h",
        "--max-periods",
        "4",
        "--deposit",
        "100",
    ]));
    assert!(listed.contains("listed for rent"), "{listed}");
    let found = ok(run(&[
        "market", "browse", "harbour", "lantern", "--rent", "--wallet", "zed",
    ]));
    assert!(found.contains("Harbour lantern"), "{found}");
    assert!(found.contains(&asset), "{found}");
    let listing = found
        .lines()
        .find(|line| line.contains("Harbour lantern"))
        .and_then(|line| line.split_whitespace().next())
        .unwrap()
        .trim_start_matches('#')
        .to_owned();

    // Zed has no money: the quote already says so, and nothing is sent.
    let broke = refused(run(&["market", "rent", &listing, "--wallet", "zed"]));
    assert!(broke.contains("insufficient funds"), "{broke}");

    // Dee sees the quote, rents two hours, holds the use right, and hands
    // it back early.
    let quote = ok(run(&[
        "market",
        "rent",
        &listing,
        "--periods",
        "2",
        "--quote",
        "--wallet",
        "dee",
    ]));
    assert_eq!(after(&quote, "rent "), "80", "{quote}");
    assert_eq!(after(&quote, "pay now "), "180", "{quote}");
    let rented = ok(run(&[
        "market",
        "rent",
        &listing,
        "--periods",
        "2",
        "--wallet",
        "dee",
    ]));
    assert!(rented.contains("rented: transaction"), "{rented}");
    let inventory = ok(run(&["wallet", "inventory", "--wallet", "dee"]));
    assert!(inventory.contains(&asset), "{inventory}");
    let rental = after(&inventory, "  rental ").to_owned();
    let owner_view = ok(run(&["wallet", "inventory", "--wallet", "cy"]));
    assert!(owner_view.contains("rented out to"), "{owner_view}");
    let returned = ok(run(&["market", "return", &rental, "--wallet", "dee"]));
    assert!(returned.contains("back to you"), "{returned}");
    assert!(returned.contains("returned: transaction"), "{returned}");
    let after_return = ok(run(&["wallet", "inventory", "--wallet", "dee"]));
    assert!(after_return.contains("renting (0)"), "{after_return}");

    // A rule the ledger enforces comes back as its reason.
    let twice = refused(run(&["market", "return", &rental, "--wallet", "dee"]));
    assert!(twice.contains("returned early"), "{twice}");
    let not_owner = refused(run(&["market", "cancel", &listing, "--wallet", "dee"]));
    assert!(not_owner.contains("cancel listing refused"), "{not_owner}");
    let cancelled = ok(run(&["market", "cancel", &listing, "--wallet", "cy"]));
    assert!(cancelled.contains("listing withdrawn"), "{cancelled}");

    // A file that is not a model is refused before the wallet is opened or
    // the host contacted.
    let junk = dir.path().join("junk.glb");
    std::fs::write(&junk, b"not a model").unwrap();
    let bad = refused(run(&[
        "asset",
        "import",
        junk.to_str().unwrap(),
        "--wallet",
        "cy",
    ]));
    assert!(bad.contains("not a model Plaza can use"), "{bad}");
}
