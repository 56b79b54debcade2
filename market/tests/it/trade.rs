//! The trade window against the real ledger: two players swap assets and
//! tokens atomically; every rule refuses at once, with its reason, and a
//! refused action changes nothing.

use assets::AssetKind;
use ledger::testkit::chain_id;
use ledger::{AssetId, Keypair, LedgerError, Operation, TradeSide};
use market::trade::{Action, IDLE_SECS, INVITE_SECS, Party, SIGN_SECS, Stage};
use market::{MarketError, TradeWindow, build};
use proptest::prelude::*;

use crate::common::{Net, hourly, manifest};

struct Table {
    net: Net,
    alice: Keypair,
    bob: Keypair,
    /// Alice's hat and lamp, Bob's chair and fern.
    hat: AssetId,
    lamp: AssetId,
    chair: AssetId,
    fern: AssetId,
}

fn table() -> Table {
    let mut net = Net::new(100);
    let (alice, bob) = (net.players[3].clone(), net.players[4].clone());
    let hat = net.mint(
        &alice,
        manifest("Straw hat", AssetKind::Wearable, "", "gold"),
    );
    let lamp = net.mint(
        &alice,
        manifest("Brass lamp", AssetKind::Lighting, "", "gold"),
    );
    let chair = net.mint(
        &bob,
        manifest("Oak chair", AssetKind::Furniture, "", "brown"),
    );
    let fern = net.mint(&bob, manifest("Tall fern", AssetKind::Plant, "", "green"));
    Table {
        net,
        alice,
        bob,
        hat,
        lamp,
        chair,
        fern,
    }
}

impl Table {
    fn open(&self) -> TradeWindow {
        let now = self.net.time;
        let mut window =
            TradeWindow::invite(chain_id(), self.alice.address(), self.bob.address(), now).unwrap();
        window
            .act(&self.bob.address(), Action::Accept, now, &self.net.ledger)
            .unwrap();
        window
    }

    fn act(
        &self,
        window: &mut TradeWindow,
        who: &Keypair,
        action: Action,
    ) -> Result<(), MarketError> {
        let before = window.clone();
        let result = window.act(&who.address(), action, self.net.time, &self.net.ledger);
        if result.is_err() {
            assert_eq!(*window, before, "a refused action changed the window");
        }
        result
    }

    fn add(
        &self,
        window: &mut TradeWindow,
        who: &Keypair,
        asset: AssetId,
    ) -> Result<(), MarketError> {
        let revision = window.revision();
        self.act(window, who, Action::AddAsset { asset, revision })
    }

    fn tokens(
        &self,
        window: &mut TradeWindow,
        who: &Keypair,
        amount: u64,
    ) -> Result<(), MarketError> {
        let revision = window.revision();
        self.act(window, who, Action::SetTokens { amount, revision })
    }

    fn confirm(&self, window: &mut TradeWindow, who: &Keypair) -> Result<(), MarketError> {
        let revision = window.revision();
        self.act(window, who, Action::Confirm { revision })
    }

    fn sign(&self, window: &mut TradeWindow, who: &Keypair) -> Result<(), MarketError> {
        let signature = window.terms().unwrap().sign(&chain_id(), who);
        self.act(window, who, Action::Sign(signature))
    }
}

#[test]
fn two_players_swap_two_assets_and_tokens_at_once() {
    let mut t = table();
    let (alice, bob) = (t.alice.clone(), t.bob.clone());
    let mut window = t.open();
    t.add(&mut window, &alice, t.hat).unwrap();
    t.add(&mut window, &alice, t.lamp).unwrap();
    t.add(&mut window, &bob, t.chair).unwrap();
    t.tokens(&mut window, &bob, 250).unwrap();
    assert_eq!(window.revision(), 4);
    t.confirm(&mut window, &bob).unwrap();
    t.confirm(&mut window, &alice).unwrap();
    assert_eq!(*window.stage(), Stage::Signing);
    let terms = window.terms().unwrap().clone();
    assert_eq!(terms.revision, 4);
    assert_eq!(terms.offers_hash, terms.hash_offers());
    assert_eq!(terms.a_gives.assets, [t.hat, t.lamp]);
    assert_eq!(
        terms.b_gives,
        TradeSide {
            assets: vec![t.chair],
            tokens: 250
        }
    );
    // Bob signing Alice's side is refused; each signs their own.
    let forged = terms.sign(&chain_id(), &alice);
    assert!(matches!(
        t.act(&mut window, &bob, Action::Sign(forged)),
        Err(MarketError::Refused(LedgerError::BadTradeSignature { .. }))
    ));
    t.sign(&mut window, &alice).unwrap();
    t.sign(&mut window, &bob).unwrap();
    assert_eq!(*window.stage(), Stage::Signed);

    let (alice_before, bob_before) = (
        t.net.balance(&alice.address()),
        t.net.balance(&bob.address()),
    );
    let trade = window.trade().unwrap();
    let chain = t.net.ledger.chain().clone();
    let tx = build(
        &t.net.ledger,
        &chain,
        bob.address(),
        0,
        Operation::Trade(Box::new(trade)),
        t.net.time + 1,
    )
    .unwrap();
    let time = t.net.time + 1;
    let committed = t.net.commit_at(time, vec![tx.sign(&bob)]);
    assert_eq!(committed.results[0].outcome, Ok(()));
    let owner = |asset: &AssetId| t.net.ledger.asset(asset).unwrap().unwrap().owner;
    assert_eq!(owner(&t.hat), bob.address());
    assert_eq!(owner(&t.lamp), bob.address());
    assert_eq!(owner(&t.chair), alice.address());
    assert_eq!(owner(&t.fern), bob.address());
    assert_eq!(t.net.balance(&alice.address()), alice_before + 250);
    assert_eq!(t.net.balance(&bob.address()), bob_before - 250);
    // The window is done: nothing more is taken.
    assert!(matches!(
        t.tokens(&mut window, &bob, 1),
        Err(MarketError::TradeStage { .. })
    ));
}

#[test]
fn a_change_after_a_confirmation_clears_both_and_bumps_the_revision() {
    let t = table();
    let (alice, bob) = (t.alice.clone(), t.bob.clone());
    let mut window = t.open();
    t.add(&mut window, &alice, t.hat).unwrap();
    t.add(&mut window, &bob, t.chair).unwrap();
    t.confirm(&mut window, &bob).unwrap();
    assert!(window.confirmed(Party::Invitee));
    // Bob confirmed, so he must withdraw before changing his own offer.
    assert_eq!(
        t.tokens(&mut window, &bob, 5),
        Err(MarketError::ConfirmedAlready)
    );
    // Alice changes hers: both confirmations go, the revision moves on.
    let revision = window.revision();
    t.add(&mut window, &alice, t.lamp).unwrap();
    assert_eq!(window.revision(), revision + 1);
    assert!(!window.confirmed(Party::Invitee) && !window.confirmed(Party::Inviter));
    // A confirmation of what Bob saw before is refused.
    assert_eq!(
        t.act(&mut window, &bob, Action::Confirm { revision }),
        Err(MarketError::StaleRevision {
            seen: revision,
            current: revision + 1
        })
    );
    t.confirm(&mut window, &alice).unwrap();
    t.act(&mut window, &alice, Action::Unconfirm).unwrap();
    let revision = window.revision();
    t.act(
        &mut window,
        &alice,
        Action::RemoveAsset {
            asset: t.lamp,
            revision,
        },
    )
    .unwrap();
    assert_eq!(window.offer(Party::Inviter).assets, [t.hat]);
}

#[test]
fn offers_the_ledger_would_refuse_are_refused_at_once() {
    let mut t = table();
    let (alice, bob) = (t.alice.clone(), t.bob.clone());
    let carol = t.net.players[5].clone();
    // Bob rents Alice's lamp.
    let listing = t
        .net
        .list_for_rent(&alice, t.lamp, hourly(3), t.net.time + 10_000);
    t.net
        .run(
            &bob,
            Operation::Rent {
                listing,
                periods: 2,
            },
        )
        .unwrap();
    let mut window = t.open();
    // Alice cannot trade what is rented out, Bob cannot trade what he rents.
    assert!(matches!(
        t.add(&mut window, &alice, t.lamp),
        Err(MarketError::Refused(LedgerError::AssetLocked { .. }))
    ));
    assert!(matches!(
        t.add(&mut window, &bob, t.lamp),
        Err(MarketError::Refused(LedgerError::RenterCannot { .. }))
    ));
    assert!(matches!(
        t.add(&mut window, &alice, t.chair),
        Err(MarketError::Refused(LedgerError::NotOwner { .. }))
    ));
    let balance = t.net.balance(&alice.address());
    assert!(matches!(
        t.tokens(&mut window, &alice, balance + 1),
        Err(MarketError::Refused(LedgerError::InsufficientFunds { .. }))
    ));
    t.add(&mut window, &alice, t.hat).unwrap();
    assert_eq!(
        t.add(&mut window, &alice, t.hat),
        Err(MarketError::AssetInTrade(t.hat))
    );
    assert_eq!(
        t.act(&mut window, &carol, Action::Cancel),
        Err(MarketError::NotInTrade(carol.address()))
    );
    assert!(matches!(
        TradeWindow::invite(chain_id(), alice.address(), alice.address(), t.net.time),
        Err(MarketError::Refused(LedgerError::SelfDealing { .. }))
    ));
    // Sixteen assets a side at most.
    let mut many = t.open();
    for i in 0..17 {
        let asset = t.net.mint(
            &alice,
            manifest(&format!("Pebble {i}"), AssetKind::Decoration, "", "grey"),
        );
        let result = t.add(&mut many, &alice, asset);
        if i < 16 {
            result.unwrap();
        } else {
            assert!(matches!(
                result,
                Err(MarketError::Refused(LedgerError::TooManyTradeAssets { .. }))
            ));
        }
    }
    // An asset sold after it was offered is caught when confirming.
    let mut late = t.open();
    t.add(&mut late, &alice, t.hat).unwrap();
    let to = carol.address();
    t.net
        .run(&alice, Operation::TransferAsset { asset: t.hat, to })
        .unwrap();
    assert!(matches!(
        t.confirm(&mut late, &bob),
        Err(MarketError::Refused(LedgerError::NotOwner { .. }))
    ));
}

#[test]
fn windows_time_out_and_either_side_can_cancel() {
    let t = table();
    let (alice, bob) = (t.alice.clone(), t.bob.clone());
    let now = t.net.time;
    let mut unanswered =
        TradeWindow::invite(chain_id(), alice.address(), bob.address(), now).unwrap();
    assert!(matches!(
        unanswered.act(&alice.address(), Action::Accept, now, &t.net.ledger),
        Err(MarketError::TradeStage { .. })
    ));
    assert!(unanswered.tick(now + INVITE_SECS));
    assert_eq!(*unanswered.stage(), Stage::TimedOut);

    let mut idle = t.open();
    assert!(!idle.tick(now + IDLE_SECS - 1));
    assert!(matches!(
        idle.act(
            &alice.address(),
            Action::SetTokens {
                amount: 1,
                revision: 0
            },
            now + IDLE_SECS,
            &t.net.ledger
        ),
        Err(MarketError::TradeStage {
            stage: "timed out",
            ..
        })
    ));

    let mut unsigned = t.open();
    t.add(&mut unsigned, &alice, t.hat).unwrap();
    t.confirm(&mut unsigned, &alice).unwrap();
    t.confirm(&mut unsigned, &bob).unwrap();
    t.sign(&mut unsigned, &alice).unwrap();
    assert!(unsigned.tick(now + SIGN_SECS));
    assert!(unsigned.trade().is_none());

    for (canceller, stage_setup) in [(&alice, 0), (&bob, 1), (&bob, 2)] {
        let mut window =
            TradeWindow::invite(chain_id(), alice.address(), bob.address(), now).unwrap();
        if stage_setup >= 1 {
            window
                .act(&bob.address(), Action::Accept, now, &t.net.ledger)
                .unwrap();
        }
        if stage_setup >= 2 {
            t.add(&mut window, &alice, t.hat).unwrap();
            t.confirm(&mut window, &alice).unwrap();
            t.confirm(&mut window, &bob).unwrap();
        }
        t.act(&mut window, canceller, Action::Cancel).unwrap();
        assert_eq!(
            *window.stage(),
            Stage::Cancelled {
                by: canceller.address()
            }
        );
        assert!(window.is_closed());
    }
}

#[derive(Clone, Debug)]
enum Step {
    Add(bool, usize),
    Remove(bool, usize),
    Tokens(bool, u64),
    Confirm(bool, bool),
    Unconfirm(bool),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (any::<bool>(), 0..4usize).prop_map(|(a, i)| Step::Add(a, i)),
        (any::<bool>(), 0..4usize).prop_map(|(a, i)| Step::Remove(a, i)),
        (any::<bool>(), 0..2_000u64).prop_map(|(a, n)| Step::Tokens(a, n)),
        (any::<bool>(), any::<bool>()).prop_map(|(a, stale)| Step::Confirm(a, stale)),
        any::<bool>().prop_map(Step::Unconfirm),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Whatever the players do, a refused action changes nothing, an
    /// accepted change bumps the revision and clears both confirmations,
    /// and terms appear only when both confirmed the same revision, with
    /// exactly the offers on the table.
    #[test]
    fn the_window_keeps_its_promises(steps in prop::collection::vec(step(), 1..40)) {
        let t = table();
        let (alice, bob) = (t.alice.clone(), t.bob.clone());
        let assets = [t.hat, t.lamp, t.chair, t.fern];
        let mut window = t.open();
        for step in steps {
            if window.is_closed() || window.terms().is_some() {
                break;
            }
            let before = window.clone();
            let who = |a: bool| if a { &alice } else { &bob };
            let (result, changes) = match step {
                Step::Add(a, i) => (t.add(&mut window, who(a), assets[i]), true),
                Step::Remove(a, i) => {
                    let revision = window.revision();
                    (t.act(&mut window, who(a), Action::RemoveAsset { asset: assets[i], revision }), true)
                }
                Step::Tokens(a, n) => (t.tokens(&mut window, who(a), n), true),
                Step::Confirm(a, stale) => {
                    let revision = if stale { window.revision().wrapping_sub(1) } else { window.revision() };
                    (t.act(&mut window, who(a), Action::Confirm { revision }), false)
                }
                Step::Unconfirm(a) => (t.act(&mut window, who(a), Action::Unconfirm), false),
            };
            match result {
                Err(_) => prop_assert_eq!(&window, &before),
                Ok(()) if changes => {
                    prop_assert_eq!(window.revision(), before.revision() + 1);
                    prop_assert!(!window.confirmed(Party::Inviter) && !window.confirmed(Party::Invitee));
                }
                Ok(()) => prop_assert_eq!(window.revision(), before.revision()),
            }
            if let Some(terms) = window.terms() {
                prop_assert!(before.confirmed(Party::Inviter) || before.confirmed(Party::Invitee));
                prop_assert_eq!(terms.revision, window.revision());
                prop_assert_eq!(&terms.a_gives, window.offer(Party::Inviter));
                prop_assert_eq!(&terms.b_gives, window.offer(Party::Invitee));
                prop_assert_eq!(terms.offers_hash, terms.hash_offers());
                prop_assert_eq!(window.stage(), &Stage::Signing);
            }
        }
    }
}
