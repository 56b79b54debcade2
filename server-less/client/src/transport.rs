//! The session socket: netcode (renetcode) over UDP, with the tick's
//! datagrams written to the socket by a thread of their own.
//!
//! Both ends bundle: the renet packets one side has for the other in one
//! update (a tick's avatars, renet's ack, reliable messages) travel
//! together in as few netcode payloads as fit, each packet framed by a
//! 2-byte length. Sealing a datagram costs about the same whether it
//! carries 20 bytes or 600, so this halves the sealing and the system
//! calls of a tick, and the datagrams on the wire.
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
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use renet::{ClientId, RenetClient, RenetServer};
use renetcode::{
    ClientAuthentication, NETCODE_MAX_PACKET_BYTES, NETCODE_MAX_PAYLOAD_BYTES,
    NETCODE_USER_DATA_BYTES, NetcodeClient, NetcodeError, NetcodeServer, ServerConfig,
    ServerResult,
};
use tracing::{debug, warn};

/// Batches waiting for the sender thread.
const OUTBOX_BATCHES: usize = 4;
/// How often refused datagrams are summed up in the log.
const REFUSALS_LOGGED_EVERY: Duration = Duration::from_secs(10);

/// Datagrams netcode refused: anyone can send one, so each is counted, and
/// the log gets one line per [`REFUSALS_LOGGED_EVERY`] with the count and
/// one of them as a sample, never a line each.
struct Refusals {
    /// Refused since the host started, for its operator and tests.
    total: Arc<AtomicU64>,
    /// Refused since the last line, and one of them.
    recent: u64,
    sample: Option<(SocketAddr, &'static str)>,
    logged: Instant,
}

impl Refusals {
    fn new(total: Arc<AtomicU64>) -> Self {
        Refusals {
            total,
            recent: 0,
            sample: None,
            logged: Instant::now(),
        }
    }

    fn refused(&mut self, addr: SocketAddr, err: &NetcodeError) {
        self.total.fetch_add(1, Ordering::Relaxed);
        self.recent += 1;
        if self.sample.is_none() {
            self.sample = Some((addr, refusal_reason(err)));
        }
    }

    fn log_now_and_then(&mut self) {
        if self.logged.elapsed() < REFUSALS_LOGGED_EVERY {
            return;
        }
        self.logged = Instant::now();
        if let Some((addr, reason)) = self.sample.take() {
            warn!(
                refused = self.recent,
                seconds = REFUSALS_LOGGED_EVERY.as_secs(),
                sample_from = %addr,
                sample_reason = reason,
                "session datagrams refused"
            );
        }
        self.recent = 0;
    }
}

/// Why netcode refused a datagram, in a few words.
fn refusal_reason(err: &NetcodeError) -> &'static str {
    match err {
        NetcodeError::PacketTooSmall => "too short",
        NetcodeError::InvalidPacketType => "not a netcode packet",
        NetcodeError::InvalidProtocolID => "another network or protocol version",
        NetcodeError::InvalidVersion => "another netcode version",
        NetcodeError::Expired => "an expired connect token",
        NetcodeError::DuplicatedSequence => "a replayed packet",
        NetcodeError::CryptoError => "does not decrypt",
        NetcodeError::NotInHostList => "a token for another host",
        NetcodeError::UnavailablePrivateKey => "no session from its address",
        _ => "refused",
    }
}

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
pub struct Transport {
    socket: UdpSocket,
    netcode: NetcodeServer,
    refusals: Refusals,
    buffer: Box<[u8; NETCODE_MAX_PACKET_BYTES]>,
    outbox: Option<SyncSender<Batch>>,
    sender: Option<JoinHandle<()>>,
    /// Datagram buffers the sender gave back, reused by the next ticks.
    spare: std::sync::mpsc::Receiver<Batch>,
}

impl Transport {
    /// Netcode with `config` on `socket`, and the sender thread; each
    /// datagram netcode refuses is counted in `refused`.
    pub fn new(
        config: ServerConfig,
        socket: UdpSocket,
        refused: Arc<AtomicU64>,
    ) -> io::Result<Self> {
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
            refusals: Refusals::new(refused),
            buffer: Box::new([0; NETCODE_MAX_PACKET_BYTES]),
            outbox: Some(outbox),
            sender: Some(sender),
            spare,
        })
    }

    /// The netcode user data of a connected client (its proven account).
    pub fn user_data(&self, client: ClientId) -> Option<[u8; NETCODE_USER_DATA_BYTES]> {
        self.netcode.user_data(client)
    }

    /// Advances netcode by `duration` and reads every datagram waiting.
    pub fn update(&mut self, duration: Duration, server: &mut RenetServer) {
        self.netcode.update(duration);
        loop {
            match self.socket.recv_from(&mut self.buffer[..]) {
                Ok((len, addr)) => {
                    match self
                        .netcode
                        .try_process_packet(addr, &mut self.buffer[..len])
                    {
                        Ok(result) => handle(result, &self.socket, server),
                        Err(err) => self.refusals.refused(addr, &err),
                    }
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
        self.refusals.log_now_and_then();
    }

    /// Bundles and seals every client's packets and hands them to the
    /// sender.
    pub fn send_packets(&mut self, server: &mut RenetServer) {
        let mut batch = self.spare.try_recv().unwrap_or_default();
        let mut bundle = Vec::with_capacity(NETCODE_MAX_PAYLOAD_BYTES);
        for client in server.clients_id() {
            let Ok(packets) = server.get_packets_to_send(client) else {
                continue;
            };
            let netcode = &mut self.netcode;
            let sealed = bundles(&packets, &mut bundle, |payload| {
                let (addr, datagram) = netcode.generate_payload_packet(client, payload)?;
                batch.push(addr, datagram);
                Ok(())
            });
            if let Err(err) = sealed {
                debug!(client, %err, "a packet could not be sealed");
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
    pub fn disconnect_all(&mut self, server: &mut RenetServer) {
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
            let read = unbundle(payload, |packet| {
                if let Err(err) = server.process_packet_from(packet, client_id) {
                    debug!(client_id, %err, "a packet renet could not read");
                }
            });
            if read.is_err() {
                debug!(client_id, "a payload with broken framing was dropped");
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

/// Packs `packets` into payloads of at most [`NETCODE_MAX_PAYLOAD_BYTES`],
/// each packet framed by its length (2 bytes, little-endian), and hands
/// each payload to `seal`.
pub fn bundles(
    packets: &[Vec<u8>],
    bundle: &mut Vec<u8>,
    mut seal: impl FnMut(&[u8]) -> Result<(), renetcode::NetcodeError>,
) -> Result<(), renetcode::NetcodeError> {
    bundle.clear();
    for packet in packets {
        if !bundle.is_empty() && bundle.len() + 2 + packet.len() > NETCODE_MAX_PAYLOAD_BYTES {
            seal(bundle)?;
            bundle.clear();
        }
        let len =
            u16::try_from(packet.len()).map_err(|_| renetcode::NetcodeError::PayloadAboveLimit)?;
        bundle.extend_from_slice(&len.to_le_bytes());
        bundle.extend_from_slice(packet);
    }
    if !bundle.is_empty() {
        seal(bundle)?;
    }
    Ok(())
}

/// Hands each framed packet of `payload` to `each`; an error (and nothing
/// more handed over) at the first frame that runs past the end.
fn unbundle(payload: &[u8], mut each: impl FnMut(&[u8])) -> Result<(), ()> {
    let mut rest = payload;
    while !rest.is_empty() {
        let [low, high, tail @ ..] = rest else {
            return Err(());
        };
        let len = usize::from(u16::from_le_bytes([*low, *high]));
        if len == 0 || len > tail.len() {
            return Err(());
        }
        let (packet, after) = tail.split_at(len);
        each(packet);
        rest = after;
    }
    Ok(())
}

/// The client's side of the session socket: netcode over UDP, bundled as
/// the server's side is.
pub struct ClientTransport {
    socket: UdpSocket,
    netcode: NetcodeClient,
    buffer: Box<[u8; NETCODE_MAX_PACKET_BYTES]>,
    bundle: Vec<u8>,
    /// When the host's last datagram arrived (netcode's keep-alives
    /// count: a quiet host is heard several times a second).
    heard: std::time::Instant,
}

impl ClientTransport {
    /// A client of the host named in `authentication`'s token, on `socket`.
    pub fn new(
        now: Duration,
        authentication: ClientAuthentication,
        socket: UdpSocket,
    ) -> Result<Self, renetcode::NetcodeError> {
        socket.set_nonblocking(true)?;
        Ok(ClientTransport {
            socket,
            netcode: NetcodeClient::new(now, authentication)?,
            buffer: Box::new([0; NETCODE_MAX_PACKET_BYTES]),
            bundle: Vec::with_capacity(NETCODE_MAX_PAYLOAD_BYTES),
            heard: std::time::Instant::now(),
        })
    }

    /// How long since the host's last datagram arrived.
    pub fn silent_for(&self) -> Duration {
        self.heard.elapsed()
    }

    /// Advances netcode by `duration` and reads every datagram waiting;
    /// the reason if the session is over.
    pub fn update(&mut self, duration: Duration, client: &mut RenetClient) -> Result<(), String> {
        if let Some(reason) = self.netcode.disconnect_reason() {
            client.disconnect_due_to_transport();
            return Err(reason.to_string());
        }
        if let Some(reason) = client.disconnect_reason() {
            self.disconnect();
            return Err(reason.to_string());
        }
        if self.netcode.is_connected() {
            client.set_connected();
        } else if self.netcode.is_connecting() {
            client.set_connecting();
        }
        loop {
            match self.socket.recv_from(&mut self.buffer[..]) {
                Ok((len, addr)) => {
                    if addr != self.netcode.server_addr() {
                        continue;
                    }
                    self.heard = std::time::Instant::now();
                    if let Some(payload) = self.netcode.process_packet(&mut self.buffer[..len])
                        && unbundle(payload, |packet| client.process_packet(packet)).is_err()
                    {
                        debug!("a payload with broken framing from the host was dropped");
                    }
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => break,
                Err(err) if err.kind() == io::ErrorKind::ConnectionReset => continue,
                Err(err) => return Err(err.to_string()),
            }
        }
        if let Some((packet, addr)) = self.netcode.update(duration) {
            send(&self.socket, packet, addr);
        }
        Ok(())
    }

    /// Bundles, seals and sends what renet has queued.
    pub fn send_packets(&mut self, client: &mut RenetClient) -> Result<(), String> {
        if let Some(reason) = self.netcode.disconnect_reason() {
            return Err(reason.to_string());
        }
        let packets = client.get_packets_to_send();
        let (netcode, socket) = (&mut self.netcode, &self.socket);
        bundles(&packets, &mut self.bundle, |payload| {
            let (addr, datagram) = netcode.generate_payload_packet(payload)?;
            send(socket, datagram, addr);
            Ok(())
        })
        .map_err(|err| err.to_string())
    }

    /// Tells the host the session is over.
    pub fn disconnect(&mut self) {
        if self.netcode.is_disconnected() {
            return;
        }
        match self.netcode.disconnect() {
            Ok((addr, packet)) => send(&self.socket, packet, addr),
            Err(err) => debug!(%err, "no disconnect packet"),
        }
    }
}

impl Drop for ClientTransport {
    /// A session dropped while connected tells the host at once, rather
    /// than leave it to time out.
    fn drop(&mut self) {
        if self.netcode.is_connected() {
            self.disconnect();
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn bundles_frame_and_split_back() {
        let packets: Vec<Vec<u8>> = vec![vec![1; 600], vec![2; 20], vec![3; 1200], vec![4; 5]];
        let mut payloads = Vec::new();
        let mut bundle = Vec::new();
        bundles(&packets, &mut bundle, |payload| {
            assert!(payload.len() <= NETCODE_MAX_PAYLOAD_BYTES);
            payloads.push(payload.to_vec());
            Ok(())
        })
        .unwrap();
        // 600 and 20 together; 1200 and 5 together.
        assert_eq!(payloads.len(), 2);
        let mut back = Vec::new();
        for payload in &payloads {
            unbundle(payload, |packet| back.push(packet.to_vec())).unwrap();
        }
        assert_eq!(back, packets);
        // Broken framing is refused.
        assert!(unbundle(&[10, 0, 1, 2], |_| {}).is_err());
        assert!(unbundle(&[0, 0], |_| {}).is_err());
        assert!(unbundle(&[1], |_| {}).is_err());
    }
}
