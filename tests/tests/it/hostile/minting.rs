//! Spam and theft around minting: uploads past an account's quota,
//! uploads nobody mints, a mint copied from the mempool, a mint with no
//! money behind it, and a failed transaction sent again.

use std::time::Duration;

use assets::Codec;
use ledger::{ManifestBytes, Operation};
use plaza_tests::net::{TestHost, WAIT, enter};
use server_less::uploads::UploadLimits;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_past_an_accounts_quota_are_refused_and_unminted_ones_expire() {
    let limits = UploadLimits {
        bytes_per_account: 300_000,
        files_per_account: 3,
        total_bytes: 1 << 30,
        keep: Duration::from_secs(3),
    };
    let host = TestHost::start(limits, None).await;
    let join = host.join();
    let (ada, bo) = (host.key("ada"), host.key("bo"));
    let uploads = host.uploads.clone();
    let held = uploads.clone();
    tokio::task::spawn_blocking(move || {
        let mut spammer = enter(join, &ada);
        let mut other = enter(join, &bo);
        let blob = |n: u8| vec![n; 100_000];
        for n in 0..3 {
            spammer.upload(Codec::Raw, &blob(n), WAIT).unwrap();
        }
        // A fourth: over the account's count and bytes.
        let refused = spammer.upload(Codec::Raw, &blob(3), WAIT).unwrap_err();
        assert!(
            refused.to_string().contains("waiting to be minted"),
            "{refused}"
        );
        // Someone else is not held up by it.
        other.upload(Codec::Raw, &blob(9), WAIT).unwrap();
        assert_eq!(held.held_by(&ada.address()), (300_000, 3));
    })
    .await
    .unwrap();
    // Nobody minted them: after the keep time the collector deletes them
    // and the room comes back.
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    while uploads.held_by(&host.key("ada").address()) != (0, 0) {
        assert!(
            std::time::Instant::now() < deadline,
            "uploads never expired"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(std::fs::read_dir(host.home.uploads()).unwrap().count() <= 2);
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mint_copied_from_the_mempool_cannot_take_the_creators_asset() {
    let host = TestHost::default().await;
    let (ada, bo) = (host.key("ada"), host.key("bo"));
    let (asset, op) = ledger::testkit::mint_op(&ada.address(), 77, 1, 1_000);
    // Bo sees ada's mint waiting and sends it as his own first.
    let stolen = host.run(&bo, op.clone()).await.unwrap_err();
    assert!(stolen.contains("only the creator may mint it"), "{stolen}");
    host.run(&ada, op).await.unwrap();
    let minted = host.handle().inventory(ada.address()).await.unwrap();
    assert!(
        minted
            .owned
            .iter()
            .any(|held| held.id == asset && held.creator == ada.address())
    );
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mint_costs_its_fee_and_an_account_without_money_mints_nothing() {
    let host = TestHost::default().await;
    let ada = host.key("ada");
    let before = host.handle().account(ada.address()).await.unwrap().balance;
    let (_, op) = ledger::testkit::mint_op(&ada.address(), 78, 1, 0);
    host.run(&ada, op).await.unwrap();
    let after = host.handle().account(ada.address()).await.unwrap().balance;
    assert_eq!(before - after, ledger::MINT_FEE);
    let broke = ledger::Keypair::from_seed([42; 32]);
    let (_, op) = ledger::testkit::mint_op(&broke.address(), 78, 2, 0);
    let refused = host.run(&broke, op).await.unwrap_err();
    assert!(refused.contains("insufficient funds"), "{refused}");
    assert!(
        host.handle()
            .inventory(broke.address())
            .await
            .unwrap()
            .owned
            .is_empty()
    );
    // Nor does a manifest that is not canonical.
    let junk = Operation::Mint {
        manifest: ManifestBytes(b"{\"name\":\"spam\"}".to_vec()),
        royalty_bps: 0,
    };
    let refused = host.run(&ada, junk).await.unwrap_err();
    assert!(refused.contains("manifest"), "{refused}");
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_that_failed_in_a_block_cannot_be_replayed_and_strands_nothing() {
    // Blocks two seconds apart at least: what is sent just after one
    // waits for the next.
    let host = TestHost::start(UploadLimits::default(), Some(Duration::from_secs(2))).await;
    let (ada, cy) = (host.key("ada"), host.key("cy"));
    let gift = Operation::Pay {
        to: cy.address(),
        amount: 1,
    };
    host.run(&ada, gift).await.unwrap();
    let account = host.handle().account(cy.address()).await.unwrap();
    let sign = |nonce: u64, amount: u64| {
        ledger::Transaction {
            chain_id: ledger::ChainId::new(plaza_tests::net::CHAIN).unwrap(),
            signer: cy.address(),
            nonce,
            valid_until: u64::MAX,
            op: Operation::Pay {
                to: ada.address(),
                amount,
            },
        }
        .sign(&cy)
    };
    // Cy's next transaction pays almost everything; the one after it,
    // checked only by its block, pays more than is left and fails there.
    let first = sign(account.nonce, account.balance - 10);
    let overdraft = sign(account.nonce + 1, 100);
    let handle = host.handle();
    handle.submit(first.clone()).await.unwrap();
    handle.submit(overdraft.clone()).await.unwrap();
    let refused = host.run_tx(overdraft.clone()).await.unwrap_err();
    assert!(refused.contains("insufficient funds"), "{refused}");
    // Its nonce is spent: once cy can pay, the same signed bytes are
    // refused, and cy's next transaction is not stranded behind them.
    host.run(
        &ada,
        Operation::Pay {
            to: cy.address(),
            amount: 1_000,
        },
    )
    .await
    .unwrap();
    let replayed = host.run_tx(overdraft).await.unwrap_err();
    assert!(replayed.contains("nonce"), "{replayed}");
    host.run_tx(sign(account.nonce + 2, 5)).await.unwrap();
    host.stop().await;
}
