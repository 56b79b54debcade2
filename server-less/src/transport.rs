//! The session socket: netcode (renetcode) over UDP, with the tick's
//! datagrams written to the socket by a thread of their own.
//!
//! A tick builds and encrypts every client's packets, then hands them over
//! in one batch; the sender thread makes the system calls (on loopback a
//! `send_to` also delivers the datagram, which costs more than building
//! it). The hand-over queue is bounded: a sender that falls behind holds up
//! the next tick rather than letting memory grow. Connection handshakes,
//! keep-alives and disconnections are rare and small, and are sent at once
//! from the tick thread.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::Duration;

use renet::{ClientId, RenetServer};
use renetcode::{
    NETCODE_MAX_PACKET_BYTES, NETCODE_USER_DATA_BYTES, NetcodeServer, ServerConfig, ServerResult,
};
use tracing::{debug, warn};

/// Batches waiting for the sender thread.
const OUTBOX_BATCHES: usize = 4;

/// One tick's datagrams, end to end in one buffer.
#[derive(Default)]
struct Batch {
    bytes: Vec<u8>,
    /// Each datagram's address and end in `bytes`.
    datagrams: Vec<(SocketAddr, usize)>,
}

impl Batch {
    fn push(&mut self, addr: SocketAddr, datagram: &[u8]) {
        self.bytes.extend_from_slice(datagram);
        self.datagrams.push((addr, self.bytes.len()));
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.datagrams.clear();
    }
}

/// The server's side of the session socket.
pub(crate) struct Transport {
    socket: UdpSocket,
    netcode: NetcodeServer,
    buffer: Box<[u8; NETCODE_MAX_PACKET_BYTES]>,
    outbox: Option<SyncSender<Batch>>,
    sender: Option<JoinHandle<()>>,
    /// Datagram buffers the sender gave back, reused by the next ticks.
    spare: std::sync::mpsc::Receiver<Batch>,
}

impl Transport {
    /// Netcode with `config` on `socket`, and the sender thread.
    pub(crate) fn new(config: ServerConfig, socket: UdpSocket) -> io::Result<Self> {
        socket.set_nonblocking(true)?;
        let out = socket.try_clone()?;
        let (outbox, batches) = sync_channel::<Batch>(OUTBOX_BATCHES);
        let (give_back, spare) = sync_channel::<Batch>(OUTBOX_BATCHES);
        let sender = std::thread::Builder::new()
            .name("plaza-send".into())
            .spawn(move || {
                for mut batch in batches {
                    let mut start = 0;
                    for &(addr, end) in &batch.datagrams {
                        send(&out, &batch.bytes[start..end], addr);
                        start = end;
                    }
                    batch.clear();
                    // Dropped when the tick has enough spares.
                    let _ = give_back.try_send(batch);
                }
            })?;
        Ok(Transport {
            socket,
            netcode: NetcodeServer::new(config),
            buffer: Box::new([0; NETCODE_MAX_PACKET_BYTES]),
            outbox: Some(outbox),
            sender: Some(sender),
            spare,
        })
    }

    /// The netcode user data of a connected client (its proven account).
    pub(crate) fn user_data(&self, client: ClientId) -> Option<[u8; NETCODE_USER_DATA_BYTES]> {
        self.netcode.user_data(client)
    }

    /// Advances netcode by `duration` and reads every datagram waiting.
    pub(crate) fn update(&mut self, duration: Duration, server: &mut RenetServer) {
        self.netcode.update(duration);
        loop {
            match self.socket.recv_from(&mut self.buffer[..]) {
                Ok((len, addr)) => {
                    let result = self.netcode.process_packet(addr, &mut self.buffer[..len]);
                    handle(result, &self.socket, server);
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => break,
                Err(err) if err.kind() == io::ErrorKind::ConnectionReset => continue,
                Err(err) => {
                    warn!(%err, "session socket");
                    break;
                }
            }
        }
        for client in self.netcode.clients_id() {
            let result = self.netcode.update_client(client);
            handle(result, &self.socket, server);
        }
        for client in server.disconnections_id() {
            let result = self.netcode.disconnect(client);
            handle(result, &self.socket, server);
        }
    }

    /// Encrypts every client's packets and hands them to the sender.
    pub(crate) fn send_packets(&mut self, server: &mut RenetServer) {
        let mut batch = self.spare.try_recv().unwrap_or_default();
        for client in server.clients_id() {
            let Ok(packets) = server.get_packets_to_send(client) else {
                continue;
            };
            for packet in packets {
                match self.netcode.generate_payload_packet(client, &packet) {
                    Ok((addr, datagram)) => batch.push(addr, datagram),
                    Err(err) => {
                        debug!(client, %err, "a packet could not be sealed");
                        break;
                    }
                }
            }
        }
        if batch.datagrams.is_empty() {
            return;
        }
        if let Some(outbox) = &self.outbox
            && outbox.send(batch).is_err()
        {
            warn!("the session sender has stopped");
        }
    }

    /// Tells every client the session is over, at once.
    pub(crate) fn disconnect_all(&mut self, server: &mut RenetServer) {
        for client in self.netcode.clients_id() {
            let result = self.netcode.disconnect(client);
            handle(result, &self.socket, server);
        }
    }
}

impl Drop for Transport {
    fn drop(&mut self) {
        // The sender ends once its queue is closed and drained.
        self.outbox.take();
        if let Some(sender) = self.sender.take() {
            let _ = sender.join();
        }
    }
}

fn send(socket: &UdpSocket, datagram: &[u8], addr: SocketAddr) {
    // The socket is non-blocking: a full send buffer is waited out briefly,
    // then the datagram is dropped as the network would (reliable
    // messages are sent again).
    for _ in 0..100 {
        match socket.send_to(datagram, addr) {
            Ok(_) => return,
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_micros(50));
            }
            Err(err) => {
                debug!(%addr, %err, "a datagram was not sent");
                return;
            }
        }
    }
    debug!(%addr, "send buffer full: a datagram was dropped");
}

fn handle(result: ServerResult<'_, '_>, socket: &UdpSocket, server: &mut RenetServer) {
    match result {
        ServerResult::None => {}
        ServerResult::PacketToSend { payload, addr } => send(socket, payload, addr),
        ServerResult::Payload { client_id, payload } => {
            if let Err(err) = server.process_packet_from(payload, client_id) {
                debug!(client_id, %err, "a packet renet could not read");
            }
        }
        ServerResult::ClientConnected {
            client_id,
            addr,
            payload,
            ..
        } => {
            server.add_connection(client_id);
            send(socket, payload, addr);
        }
        ServerResult::ClientDisconnected {
            client_id,
            addr,
            payload,
        } => {
            server.remove_connection(client_id);
            if let Some(payload) = payload {
                send(socket, payload, addr);
            }
        }
    }
}
