//! The crate graph keeps its promises (read with `cargo tree`, offline,
//! from the lock file): the pure market links no RocksDB, and the world
//! client built without its embedded host links none of the host's
//! insides (the host crate, libp2p, malachite, RocksDB).

use std::path::Path;
use std::process::Command;

/// The packages `cargo tree` lists for `args`, normal dependencies only.
fn tree(args: &[&str]) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate is in the workspace");
    let output = Command::new(cargo)
        .current_dir(root)
        .args(["tree", "--offline", "-e", "normal", "--prefix", "none"])
        .args(args)
        .output()
        .expect("cargo tree runs");
    assert!(
        output.status.success(),
        "cargo tree {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("cargo tree prints text")
}

/// The names of the packages in `listing` that start with any of `banned`.
fn linked<'a>(listing: &'a str, banned: &[&str]) -> Vec<&'a str> {
    listing
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| banned.iter().any(|banned| name.starts_with(banned)))
        .collect()
}

#[test]
fn the_pure_market_links_no_rocksdb() {
    let market = tree(&["-p", "market"]);
    assert!(market.contains("ledger"), "{market}");
    assert_eq!(
        linked(&market, &["rocksdb", "librocksdb"]),
        Vec::<&str>::new()
    );
}

#[test]
fn the_world_client_without_its_embedded_host_links_none_of_the_hosts_insides() {
    let client = tree(&["-p", "world", "--no-default-features"]);
    assert!(client.contains("plaza-client"), "{client}");
    let banned = [
        "libp2p",
        "arc-malachitebft",
        "rocksdb",
        "librocksdb",
        "server-less",
    ];
    assert_eq!(linked(&client, &banned), Vec::<&str>::new());
    // With it (the default), the host is there.
    let whole = tree(&["-p", "world"]);
    assert!(!linked(&whole, &["server-less"]).is_empty());
}
