//! Conversion between the ledger's and market's types and the wire's.

use std::str::FromStr;

use assets::AssetKind;
use ledger::Address;
use market::TradeWindow;
use market::catalogue::{Cursor, Page, PriceBasis, PriceRange, Query, Range, Side, Sort};
use market::trade::Party;

use crate::node::TxStatus;
use plaza_client::protocol::{
    Browse, Card, ErrorCode, ProtocolError, ServerMessage, Shown, TradeView, TxState,
};

pub(super) fn tx_state(status: TxStatus) -> TxState {
    match status {
        TxStatus::Pending => TxState::Pending,
        TxStatus::Final {
            height,
            rejection: None,
        } => TxState::Applied { height },
        TxStatus::Final {
            height,
            rejection: Some(reason),
        } => TxState::Rejected {
            height: Some(height),
            reason,
        },
        TxStatus::Unknown => TxState::Unknown,
    }
}

/// The market's query for a client's browse request.
pub(super) fn query_of(browse: &Browse, viewer: Address) -> Result<Query, ProtocolError> {
    let invalid = |message: String| ProtocolError::new(ErrorCode::Invalid, message);
    let kind = browse
        .kind
        .as_deref()
        .map(AssetKind::from_str)
        .transpose()
        .map_err(|err| invalid(format!("kind: {err}")))?;
    let after = browse
        .after
        .as_deref()
        .map(Cursor::from_str)
        .transpose()
        .map_err(|err| invalid(format!("cursor: {err}")))?;
    Ok(Query {
        kind,
        side: browse
            .rent
            .map(|rent| if rent { Side::Rent } else { Side::Sale }),
        price: browse.max_price.map(|max| PriceRange {
            range: Range { min: 0, max },
            basis: PriceBasis::PerPeriod,
        }),
        owner: browse.owner,
        world: browse.world.clone(),
        text: browse.text.clone(),
        viewer: Some(viewer),
        sort: if browse.cheapest_first {
            Sort::PriceLow
        } else {
            Sort::Newest
        },
        page_size: usize::from(browse.page_size),
        after,
        ..Query::default()
    })
}

pub(super) fn page_message(request: u32, page: Page) -> ServerMessage {
    let hits = page
        .hits
        .into_iter()
        .map(|hit| Card {
            creator: hit.creator,
            rented_until: hit.rented_until,
            name: hit.manifest.as_ref().map(|m| m.name.clone()),
            kind: hit.manifest.as_ref().map(|m| m.kind.as_str().to_owned()),
            preview: hit.manifest.as_ref().map(|m| m.preview.to_bytes()),
            shown: hit
                .places
                .into_iter()
                .map(|(world, place)| match place {
                    market::catalogue::Place::Stall(index) => Shown {
                        world,
                        stall: true,
                        index,
                    },
                    market::catalogue::Place::Parcel(index) => Shown {
                        world,
                        stall: false,
                        index,
                    },
                })
                .collect(),
            listing: hit.listing,
        })
        .collect();
    ServerMessage::Page {
        request,
        hits,
        next: page.next.map(|cursor| cursor.to_string()),
    }
}

pub(super) fn trade_view(trade: u64, window: &TradeWindow) -> TradeView {
    let parties = [Party::Inviter, Party::Invitee];
    TradeView {
        trade,
        inviter: window.player(Party::Inviter),
        invitee: window.player(Party::Invitee),
        stage: window.stage().clone(),
        revision: window.revision(),
        offers: parties.map(|party| window.offer(party).clone()),
        confirmed: parties.map(|party| window.confirmed(party)),
        signed: parties.map(|party| window.signed(party)),
        terms: window.terms().cloned(),
        signatures: window
            .trade()
            .map(|trade| [trade.a_signature, trade.b_signature]),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn viewer() -> Address {
        Address::from_bytes([7; 32])
    }

    #[test]
    fn a_transactions_status_reads_the_same_on_the_wire() {
        assert_eq!(tx_state(TxStatus::Pending), TxState::Pending);
        assert_eq!(tx_state(TxStatus::Unknown), TxState::Unknown);
        assert_eq!(
            tx_state(TxStatus::Final {
                height: 9,
                rejection: None
            }),
            TxState::Applied { height: 9 }
        );
        assert_eq!(
            tx_state(TxStatus::Final {
                height: 9,
                rejection: Some("stale nonce".into())
            }),
            TxState::Rejected {
                height: Some(9),
                reason: "stale nonce".into()
            }
        );
    }

    #[test]
    fn a_browse_request_becomes_the_markets_query_or_a_precise_refusal() {
        let browse = Browse {
            text: "lamp".into(),
            kind: Some("lighting".into()),
            rent: Some(true),
            max_price: Some(500),
            cheapest_first: true,
            page_size: 20,
            ..Browse::default()
        };
        let query = query_of(&browse, viewer()).unwrap();
        assert_eq!(query.side, Some(Side::Rent));
        assert_eq!(query.sort, Sort::PriceLow);
        assert_eq!(query.page_size, 20);
        assert_eq!(query.viewer, Some(viewer()));
        assert_eq!(query.kind, Some(AssetKind::from_str("lighting").unwrap()));
        assert_eq!(
            query.price.map(|price| (price.range.min, price.range.max)),
            Some((0, 500))
        );
        let sale = query_of(
            &Browse {
                rent: Some(false),
                ..Browse::default()
            },
            viewer(),
        )
        .unwrap();
        assert_eq!((sale.side, sale.sort), (Some(Side::Sale), Sort::Newest));

        let bad_kind = query_of(
            &Browse {
                kind: Some("no such kind".into()),
                ..Browse::default()
            },
            viewer(),
        )
        .unwrap_err();
        assert_eq!(bad_kind.code, ErrorCode::Invalid);
        assert!(
            bad_kind.message.starts_with("kind:"),
            "{}",
            bad_kind.message
        );
        let bad_cursor = query_of(
            &Browse {
                after: Some("not a cursor".into()),
                ..Browse::default()
            },
            viewer(),
        )
        .unwrap_err();
        assert!(
            bad_cursor.message.starts_with("cursor:"),
            "{}",
            bad_cursor.message
        );
    }
}
