//! The attacks a host must withstand, as a hostile player makes them: for
//! the hostile benchmark (`plaza-host bench hostile`) and the adversarial
//! suite (`plaza-tests`).
//!
//! An [`Attacker`] joins with a real account and a real connect token,
//! connects through netcode like any client, and then sends whatever
//! bytes it likes inside (or instead of) netcode's sealed payloads; the
//! renet packets it sends are written byte by byte ([`wire`]).

pub mod wire;

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use ledger::Keypair;

use crate::clock::unix_time;
use plaza_client::ClientError;

use crate::error::HostError;
use renetcode::{ClientAuthentication, NETCODE_MAX_PACKET_BYTES, NetcodeClient};

/// A connected session whose renet packets are written by hand.
pub struct Attacker {
    socket: UdpSocket,
    netcode: NetcodeClient,
    last: Instant,
    buffer: Vec<u8>,
}

impl Attacker {
    /// Joins the host at `join` as `key`'s account and connects.
    pub fn connect(join: SocketAddr, key: &Keypair) -> Result<Attacker, HostError> {
        let joined = plaza_client::join::join_host(join, key, None)?;
        let socket = UdpSocket::bind("127.0.0.1:0")
            .map_err(|err| HostError::net("binding an attacker's socket", err))?;
        socket
            .set_nonblocking(true)
            .map_err(|err| HostError::net("setting up an attacker's socket", err))?;
        let netcode = NetcodeClient::new(
            unix_time(),
            ClientAuthentication::Secure {
                connect_token: joined.token,
            },
        )
        .map_err(|err| HostError::Client(ClientError::Disconnected(err.to_string())))?;
        let mut attacker = Attacker {
            socket,
            netcode,
            last: Instant::now(),
            buffer: vec![0; NETCODE_MAX_PACKET_BYTES],
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !attacker.netcode.is_connected() {
            attacker.pump();
            if Instant::now() >= deadline {
                return Err(HostError::Timeout {
                    what: "an attacker's session to connect",
                    secs: 10,
                });
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(attacker)
    }

    /// Reads what the host sent and keeps netcode's timers running.
    pub fn pump(&mut self) {
        let now = Instant::now();
        let elapsed = now - self.last;
        self.last = now;
        while let Ok((len, _)) = self.socket.recv_from(&mut self.buffer) {
            let _ = self.netcode.process_packet(&mut self.buffer[..len]);
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
        let (netcode, socket) = (&mut self.netcode, &self.socket);
        let mut bundle = Vec::new();
        let _ = plaza_client::transport::bundles(packets, &mut bundle, |payload| {
            // One that netcode will not seal is left out, and the rest go.
            if let Ok((addr, datagram)) = netcode.generate_payload_packet(payload) {
                let _ = socket.send_to(datagram, addr);
            }
            Ok(())
        });
    }

    /// The host's session address.
    pub fn server_addr(&self) -> SocketAddr {
        self.netcode.server_addr()
    }

    /// Sends `datagram` as it is, from the session's own address.
    pub fn send_raw(&self, datagram: &[u8]) {
        let _ = self.socket.send_to(datagram, self.netcode.server_addr());
    }
}
