//! Attacks on a host through its real interfaces, one test per attack,
//! each named after it: hand-written packets from a connected player,
//! forged joins, floods, cheating moves, spam uploads and mints, hostile
//! peers. Each checks that honest players and validators carry on and
//! that nothing final is lost.

mod consensus;
mod joins;
mod minting;
mod movement;
mod sessions;
