//! Other players, from this side: a line said to one of them alone, and
//! the accounts this player blocks (whose lines and trade invitations the
//! host no longer delivers).

use std::collections::HashSet;

use ledger::Address;
use plaza_client::client::Session;
use plaza_client::protocol::{ClientMessage, MAX_CHAT_BYTES, check_line};

use super::{Asked, Marketplace, Refusal};

/// What is known of talking to and blocking other players.
#[derive(Clone, Debug, Default)]
pub struct People {
    /// The accounts this player blocks, as the host last said.
    pub blocked: HashSet<Address>,
    /// The last line said to one player: to whom it went, or why not.
    pub told: Option<Result<u16, String>>,
}

impl Marketplace {
    /// Says `text` to player `player` alone (wherever in this world it
    /// plays); the answer goes in [`People::told`].
    pub fn tell(
        &mut self,
        client: &mut Session<'_>,
        player: u16,
        text: &str,
    ) -> Result<(), Refusal> {
        let text = text.trim();
        check_line(text)
            .map_err(|err| Refusal(format!("{} (at most {MAX_CHAT_BYTES} bytes)", err.message)))?;
        self.people.told = None;
        let text = text.to_owned();
        self.ask(client, Asked::Tell(player), |request| ClientMessage::Tell {
            request,
            player,
            text,
        });
        Ok(())
    }

    /// Blocks `account` (or no longer does); the host's list of blocked
    /// accounts comes back into [`People::blocked`].
    pub fn block(&mut self, client: &mut Session<'_>, account: Address, blocked: bool) {
        self.ask(client, Asked::Block, |request| ClientMessage::Block {
            request,
            account,
            blocked,
        });
    }

    /// At a new host (which knows nothing of this player's blocks), asks
    /// it to block again every account blocked here.
    pub fn block_again(&mut self, client: &mut Session<'_>) {
        let blocked: Vec<Address> = self.people.blocked.iter().copied().collect();
        for account in blocked {
            self.block(client, account, true);
        }
    }
}
