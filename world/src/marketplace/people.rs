//! Other players, from this side: a line said to one of them alone, the
//! accounts this player blocks (whose lines and trade invitations the
//! host no longer delivers) and those it mutes (whose lines this client
//! does not show). Blocks and mutes are kept in a file of the player's,
//! so that they outlive the client: read at start, the blocks asked of
//! the host again.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use ledger::Address;
use plaza_client::client::Session;
use plaza_client::protocol::{ClientMessage, MAX_CHAT_BYTES, check_line};
use tracing::warn;

use super::{Asked, Marketplace, Refusal, kept};

/// The most of a people file that is read, bytes: a line per account,
/// well over the host's 256 blocks and as many mutes.
const MAX_FILE_BYTES: u64 = 64 * 1024;

/// What is known of talking to, blocking and muting other players.
#[derive(Clone, Debug, Default)]
pub struct People {
    /// The accounts this player blocks, as the host last said.
    pub blocked: HashSet<Address>,
    /// The accounts this player mutes: their lines are not shown.
    pub muted: HashSet<Address>,
    /// The last line said to one player: to whom it went, or why not.
    pub told: Option<Result<u16, String>>,
    /// Where blocks and mutes are kept, if anywhere.
    file: Option<PathBuf>,
    /// Blocks read from the file and not yet asked of the host.
    to_ask: bool,
    /// Blocks asked of the host again and not yet answered: until all
    /// are, its answers add to what is blocked and nothing is written.
    pub(super) reasking: usize,
}

impl People {
    /// Blocks and mutes kept in `file`: what it holds now (a line
    /// `block <account>` or `mute <account>`; one that does not read is
    /// skipped), the blocks to be asked of the host once the session is
    /// up.
    pub fn kept_in(file: PathBuf) -> People {
        let mut people = People::default();
        let Ok(text) = kept::read(&file, MAX_FILE_BYTES, "blocks and mutes") else {
            // Not written over either: it stays as the player left it.
            return people;
        };
        for line in text.iter().flat_map(|text| text.lines()) {
            if line.trim().is_empty() {
                continue;
            }
            let mut words = line.split_whitespace();
            let what = words.next();
            let account = words.next().and_then(|word| word.parse::<Address>().ok());
            match (what, account) {
                (Some("block"), Some(account)) => {
                    people.blocked.insert(account);
                }
                (Some("mute"), Some(account)) => {
                    people.muted.insert(account);
                }
                _ => warn!(file = %file.display(), %line, "a line that does not read: skipped"),
            }
        }
        people.to_ask = !people.blocked.is_empty();
        people.file = Some(file);
        people
    }

    /// Writes the blocks and mutes to the file, whole (if there is one).
    fn keep(&self) {
        let Some(file) = &self.file else {
            return;
        };
        let mut lines: Vec<String> = self
            .blocked
            .iter()
            .map(|account| format!("block {account}"))
            .chain(self.muted.iter().map(|account| format!("mute {account}")))
            .collect();
        lines.sort();
        kept::write(file, &lines, "blocks and mutes");
    }

    /// The host's word on what this player blocks now: kept.
    pub(super) fn blocked_now(&mut self, blocked: HashSet<Address>) {
        self.blocked = blocked;
        if self.reasking == 0 {
            self.keep();
        }
    }

    /// The host's answer to a block asked again (what it blocks so far,
    /// or nothing when it refused): what is blocked only grows, and is
    /// written once every one is answered.
    pub(super) fn blocked_again(&mut self, blocked: Vec<Address>) {
        self.blocked.extend(blocked);
        self.reasking = self.reasking.saturating_sub(1);
        if self.reasking == 0 {
            self.keep();
        }
    }
}

/// Where the player `account` keeps its blocks and mutes, under the
/// client's data directory.
pub fn people_file(data: &Path, account: &Address) -> PathBuf {
    data.join("people").join(format!("{account}.txt"))
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

    /// Mutes `account` (or no longer does): its lines are not shown. Kept
    /// in the file.
    pub fn mute(&mut self, account: Address, muted: bool) {
        if muted {
            self.people.muted.insert(account);
        } else {
            self.people.muted.remove(&account);
        }
        self.people.keep();
    }

    /// Whether lines of `account` are shown.
    pub fn hears(&self, account: &Address) -> bool {
        !self.people.muted.contains(account)
    }

    /// Asks the host to block what the file kept, once the session is up.
    pub(super) fn ask_kept_blocks(&mut self, client: &mut Session<'_>) {
        if std::mem::take(&mut self.people.to_ask) {
            self.block_again(client);
        }
    }

    /// At a new host (which knows nothing of this player's blocks), asks
    /// it to block again every account blocked here.
    pub fn block_again(&mut self, client: &mut Session<'_>) {
        let blocked: Vec<Address> = self.people.blocked.iter().copied().collect();
        for account in blocked {
            self.people.reasking += 1;
            self.ask(client, Asked::BlockAgain, |request| ClientMessage::Block {
                request,
                account,
                blocked: true,
            });
        }
    }
}
