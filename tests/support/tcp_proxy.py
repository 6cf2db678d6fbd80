"""A loopback TCP proxy that can go silent without closing anything.

A leader whose network vanished (cable pulled, VM paused, partition) is not a
crashed leader: its sockets stay open, no FIN and no RST ever arrives, and a
client's read simply never returns. Killing or restarting PostgreSQL cannot
show that, because the kernel closes the server's sockets. Putting this proxy
between the client and the server and calling freeze() can:

    with TcpProxy("127.0.0.1", pg.port) as proxy:
        conn = psycopg.connect(f"postgresql://postgres@127.0.0.1:{proxy.port}/test")
        proxy.freeze()      # conn's next query hangs, nothing is closed
        proxy.thaw()        # ...and then completes: buffered bytes are delivered
        proxy.close()       # every connection gets a FIN

One thread runs a selector loop over all connections, so a whole SQLAlchemy
pool costs no extra threads; close() joins it.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
from types import TracebackType

_CHUNK = 65536
_MAX_BUFFERED = 1 << 20  # per direction; above it the proxy stops reading that side
_CONNECT_TIMEOUT = 5.0


class _Side:
    """One socket of a proxied connection and the bytes waiting to be written to it."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.outbox = bytearray()  # bytes read from the peer, not yet written here
        self.eof = False           # the peer of this socket will send nothing more
        self.shut_wr = False       # we have sent FIN on this socket
        self.peer: _Side


class TcpProxy:
    """A threaded TCP proxy on 127.0.0.1 that forwards to (target_host, target_port).

    freeze() stops all forwarding and accepting but keeps every socket open;
    thaw() resumes. Bytes sent while frozen are **delivered** after thaw, not
    dropped: the proxy simply stops reading, so they wait in the kernel's socket
    buffers (and the proxy's own small buffers) as they would wait in TCP
    retransmits on a network that heals. Connections attempted while frozen
    complete the TCP handshake (the listen backlog does that) and are accepted
    and connected upstream after thaw.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(128)
        self._listener.setblocking(False)
        self.port: int = self._listener.getsockname()[1]
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._sides: set[_Side] = set()
        self._lock = threading.Lock()  # guards _sides, read by connection_count
        self._frozen = False
        self._closing = False
        self._thread: threading.Thread | None = None
        self._rounds = 0  # loop iterations started; freeze() waits for the next one
        self._round_started = threading.Condition()
        self.accepted = 0  # connections accepted so far, for assertions

    # ------------------------------------------------------------------ control

    def start(self) -> None:
        """Start the forwarding thread (once)."""
        if self._thread is not None:
            return
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        self._thread = threading.Thread(target=self._loop, name=f"tcp-proxy-{self.port}",
                                        daemon=True)
        self._thread.start()

    def freeze(self, timeout: float = 5.0) -> None:
        """Stop forwarding bytes in both directions; nothing is closed, no RST, no FIN.

        Returns once the forwarding thread has seen the flag, so no byte passes
        after this call returns.
        """
        self._frozen = True
        self._wait_for_next_round(timeout)

    def thaw(self, timeout: float = 5.0) -> None:
        """Forward again; bytes sent while frozen are delivered now."""
        self._frozen = False
        self._wait_for_next_round(timeout)

    def _wait_for_next_round(self, timeout: float) -> None:
        """Wait until the loop starts an iteration, which then sees the current flags."""
        if self._thread is None:
            return
        with self._round_started:
            seen = self._rounds
            self._wake()
            if not self._round_started.wait_for(lambda: self._rounds > seen, timeout):
                raise RuntimeError(f"tcp proxy thread did not respond within {timeout}s")

    @property
    def frozen(self) -> bool:
        return self._frozen

    @property
    def connection_count(self) -> int:
        """Proxied connections currently open."""
        with self._lock:
            return len(self._sides) // 2

    def close(self, timeout: float = 5.0) -> None:
        """Close the listener and every connection (FIN to both ends) and join the thread."""
        self._closing = True
        if self._thread is not None:
            self._wake()
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise RuntimeError(f"tcp proxy thread did not stop within {timeout}s")
            self._thread = None
        with self._lock:
            sides, self._sides = list(self._sides), set()
        for side in sides:
            side.sock.close()
        self._listener.close()
        self._wake_r.close()
        self._wake_w.close()
        self._selector.close()

    def __enter__(self) -> TcpProxy:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # ------------------------------------------------------------------ the loop

    def _wake(self) -> None:
        with contextlib.suppress(OSError):  # a full wake pipe already wakes the loop
            self._wake_w.send(b"x")

    def _loop(self) -> None:
        self._selector.register(self._listener, selectors.EVENT_READ)
        listening = True
        while not self._closing:
            with self._round_started:
                self._rounds += 1
                self._round_started.notify_all()
            if listening and self._frozen:
                self._selector.unregister(self._listener)
                listening = False
            elif not listening and not self._frozen:
                self._selector.register(self._listener, selectors.EVENT_READ)
                listening = True
            with self._lock:
                sides = list(self._sides)
            for each in sides:
                self._update(each)
            for key, events in self._selector.select(timeout=1.0):
                if key.fileobj is self._wake_r:
                    with contextlib.suppress(BlockingIOError):
                        self._wake_r.recv(4096)
                elif key.fileobj is self._listener:
                    self._accept()
                else:
                    side: _Side = key.data
                    if side.sock.fileno() == -1:
                        continue  # closed earlier in this round
                    if events & selectors.EVENT_WRITE:
                        self._flush(side)
                    if events & selectors.EVENT_READ and side.sock.fileno() != -1:
                        self._read(side)

    def _accept(self) -> None:
        try:
            client, _ = self._listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        try:
            upstream = socket.create_connection(self.target, timeout=_CONNECT_TIMEOUT)
        except OSError:
            client.close()  # like a real proxy whose backend refuses: the client sees EOF
            return
        for s in (client, upstream):
            s.setblocking(False)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        a, b = _Side(client), _Side(upstream)
        a.peer, b.peer = b, a
        with self._lock:
            self._sides.update((a, b))
        self.accepted += 1

    def _update(self, side: _Side) -> None:
        """(Re)register a socket for what it can do now; frozen sockets are not watched."""
        events = 0
        if not self._frozen:
            if not side.peer.eof and len(side.peer.outbox) < _MAX_BUFFERED:
                # reading `side` fills the peer's outbox; `side.peer.eof` means we saw EOF
                events |= selectors.EVENT_READ
            if side.outbox:
                events |= selectors.EVENT_WRITE
        try:
            key = self._selector.get_map().get(side.sock)
        except (ValueError, KeyError):
            key = None
        if key is None and events:
            self._selector.register(side.sock, events, side)
        elif key is not None and not events:
            self._selector.unregister(side.sock)
        elif key is not None and key.events != events:
            self._selector.modify(side.sock, events, side)

    def _read(self, side: _Side) -> None:
        try:
            data = side.sock.recv(_CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._drop(side)
            return
        if not data:
            side.peer.eof = True  # nothing more will come for the peer
            self._flush(side.peer)
            return
        side.peer.outbox += data
        self._flush(side.peer)

    def _flush(self, side: _Side) -> None:
        """Write what is waiting for `side`; pass on a FIN once the outbox is empty."""
        if self._frozen:
            return
        if side.outbox:
            try:
                sent = side.sock.send(side.outbox)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self._drop(side)
                return
            del side.outbox[:sent]
        if not side.outbox and side.eof and not side.shut_wr:
            side.shut_wr = True
            with contextlib.suppress(OSError):
                side.sock.shutdown(socket.SHUT_WR)
        if side.shut_wr and side.peer.shut_wr:
            self._drop(side)

    def _drop(self, side: _Side) -> None:
        """Close both sockets of a connection (after an error, or both directions done)."""
        for s in (side, side.peer):
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(s.sock)
            s.sock.close()
        with self._lock:
            self._sides.discard(side)
            self._sides.discard(side.peer)
