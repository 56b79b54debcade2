//! Renet packets written byte by byte, as an attacker would: renet's own
//! encoder never writes the malformed ones these suites send.
//!
//! A renet packet is a type byte, then QUIC-style variable-length
//! integers and bytes; inside a netcode payload, Plaza's transport frames
//! each packet with a 2-byte little-endian length.

/// Writes `value` as a QUIC variable-length integer.
pub fn varint(out: &mut Vec<u8>, value: u64) {
    if value < 1 << 6 {
        out.push(value as u8);
    } else if value < 1 << 14 {
        out.extend_from_slice(&(value as u16 | 0x4000).to_be_bytes());
    } else if value < 1 << 30 {
        out.extend_from_slice(&(value as u32 | 0x8000_0000).to_be_bytes());
    } else {
        out.extend_from_slice(&(value | 0xc000_0000_0000_0000).to_be_bytes());
    }
}

/// A slice of a sliced message: reliable (type 2) or unreliable (type 3).
pub fn slice(
    reliable: bool,
    sequence: u64,
    channel: u8,
    message_id: u64,
    index: u64,
    count: u64,
    payload: &[u8],
) -> Vec<u8> {
    let mut out = vec![if reliable { 2 } else { 3 }];
    varint(&mut out, sequence);
    out.push(channel);
    varint(&mut out, message_id);
    varint(&mut out, index);
    varint(&mut out, count);
    varint(&mut out, payload.len() as u64);
    out.extend_from_slice(payload);
    out
}

/// Small reliable messages in one packet (type 0): (message id, bytes).
pub fn small_reliable(sequence: u64, channel: u8, messages: &[(u64, &[u8])]) -> Vec<u8> {
    let mut out = vec![0];
    varint(&mut out, sequence);
    out.push(channel);
    out.extend_from_slice(&(messages.len() as u16).to_be_bytes());
    for (id, bytes) in messages {
        varint(&mut out, *id);
        varint(&mut out, bytes.len() as u64);
        out.extend_from_slice(bytes);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_take_the_shortest_form() {
        let mut out = Vec::new();
        varint(&mut out, 37);
        varint(&mut out, 15_293);
        varint(&mut out, 494_878_333);
        assert_eq!(out, [0x25, 0x7b, 0xbd, 0x9d, 0x7f, 0x3e, 0x7d]);
    }
}
