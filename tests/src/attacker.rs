//! A player who writes its own packets: it joins with a real account and
//! a real connect token, connects through netcode like any client, and
//! then sends whatever bytes it likes inside (or instead of) netcode's
//! sealed payloads.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant, SystemTime};

use ledger::Keypair;
use renetcode::{
    ClientAuthentication, NETCODE_MAX_PACKET_BYTES, NETCODE_MAX_PAYLOAD_BYTES, NetcodeClient,
};

use crate::wire;

/// A connected session whose renet packets are written by hand.
pub struct Attacker {
    socket: UdpSocket,
    netcode: NetcodeClient,
    last: Instant,
    buffer: Vec<u8>,
}

fn unix_time() -> Duration {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
}

impl Attacker {
    /// Joins the host at `join` as `key`'s account and connects.
    pub fn connect(join: SocketAddr, key: &Keypair) -> Attacker {
        let joined = server_less::join::join_host(join, key, None).unwrap();
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_nonblocking(true).unwrap();
        let netcode = NetcodeClient::new(
            unix_time(),
            ClientAuthentication::Secure {
                connect_token: joined.token,
            },
        )
        .unwrap();
        let mut attacker = Attacker {
            socket,
            netcode,
            last: Instant::now(),
            buffer: vec![0; NETCODE_MAX_PACKET_BYTES],
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !attacker.netcode.is_connected() {
            attacker.pump();
            assert!(Instant::now() < deadline, "the attacker never connected");
            std::thread::sleep(Duration::from_millis(5));
        }
        attacker
    }

    /// Reads what the host sent and keeps netcode's timers running.
    pub fn pump(&mut self) {
        let now = Instant::now();
        let elapsed = now - self.last;
        self.last = now;
        while let Ok((len, _)) = self.socket.recv_from(&mut self.buffer) {
            let mut packet = self.buffer[..len].to_vec();
            let _ = self.netcode.process_packet(&mut packet);
        }
        if let Some((packet, addr)) = self.netcode.update(elapsed) {
            let _ = self.socket.send_to(packet, addr);
        }
    }

    /// Whether netcode still counts the session as up (the host's
    /// disconnect packet ends it at once).
    pub fn is_connected(&self) -> bool {
        self.netcode.is_connected()
    }

    /// Sends renet packets, framed and sealed as a real client would: as
    /// many to a datagram as fit.
    pub fn send_renet(&mut self, packets: &[Vec<u8>]) {
        let mut start = 0;
        while start < packets.len() {
            let mut end = start + 1;
            while end < packets.len()
                && wire::bundle(&packets[start..=end]).len() <= NETCODE_MAX_PAYLOAD_BYTES
            {
                end += 1;
            }
            let payload = wire::bundle(&packets[start..end]);
            let (addr, datagram) = self.netcode.generate_payload_packet(&payload).unwrap();
            let _ = self.socket.send_to(datagram, addr);
            start = end;
        }
    }

    /// Sends `datagram` as it is, from the session's own address.
    pub fn send_raw(&self, datagram: &[u8]) {
        let _ = self.socket.send_to(datagram, self.netcode.server_addr());
    }
}
