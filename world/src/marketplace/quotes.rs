//! Quotes: what an action costs and pays out, asked of the host and kept
//! fresh for a while.

use std::time::Instant;

use bevy::prelude::*;
use plaza_client::client::Session;
use plaza_client::protocol::{ClientMessage, Quote, QuoteAsk};

use super::{Asked, Marketplace, QUOTE_FRESH, QUOTES_KEPT, QuoteView};

impl Marketplace {
    /// What `ask` would cost and pay out now: the host's last answer (or
    /// `None` while it is asked); asked again when older than
    /// [`QUOTE_FRESH`].
    pub fn quote(
        &mut self,
        client: &mut Session<'_>,
        ask: QuoteAsk,
    ) -> Option<Result<Quote, String>> {
        let known = self.quotes.iter().rposition(|view| view.ask == ask);
        let stale = known.is_none_or(|at| {
            let view = &self.quotes[at];
            view.answer.is_some() && view.at.elapsed() > QUOTE_FRESH
        });
        // One quote at a time: a slider dragged asks for where it stops.
        let in_flight = self
            .asked
            .values()
            .any(|asked| matches!(asked, Asked::Quote(_)));
        if stale && !in_flight {
            if let Some(at) = known {
                // The old figures stay on screen until the new ones come.
                self.quotes[at].at = Instant::now();
            } else {
                if self.quotes.len() >= QUOTES_KEPT {
                    self.quotes.pop_front();
                }
                self.quotes.push_back(QuoteView {
                    ask,
                    answer: None,
                    at: Instant::now(),
                });
            }
            self.ask(client, Asked::Quote(ask), |request| ClientMessage::Quote {
                request,
                ask,
            });
        }
        self.quotes
            .iter()
            .rfind(|view| view.ask == ask)
            .and_then(|view| view.answer.clone())
    }

    pub(super) fn quoted(&mut self, ask: QuoteAsk, answer: Result<Quote, String>) {
        if let Some(view) = self.quotes.iter_mut().rev().find(|view| view.ask == ask) {
            view.answer = Some(answer);
        }
    }
}
