"""libdatachannel on loopback, through the PyPI wheel `aiolibdatachannel` (Python >= 3.12).

What libdatachannel_peer.py and inprocess_bench.py share:

* Loopback. libdatachannel's ICE agent (libjuice) never gathers loopback
  addresses, and the wheel does not expose its `bindAddress`. So every peer
  connection gets a port range of exactly one free UDP port (libjuice binds it
  on every address, 127.0.0.1 included) and we announce the host candidate
  127.0.0.1:PORT ourselves (/work/shared/FACTS.md). This is scaffolding around
  the stack under test, not a change to it.
* Channels on the wheel's thin native layer. The wheel's asyncio `DataChannel`
  queues every incoming message for the event loop (one loop wake-up per
  message) and drops the oldest beyond 1024 queued messages; a benchmark must
  neither lose messages nor measure that queue. `Channel` uses the handle
  layer under it (`aiolibdatachannel._core`), so a message is handled on the
  libdatachannel thread that delivers it. Until a channel has a message
  handler, libdatachannel itself holds its incoming messages and delivers them,
  in order, when one is set. Peer connections use the wheel's asyncio
  `PeerConnection`, except for incoming channels, which `LoopbackPeer` takes
  from its native callback for the same reason.
"""
import asyncio
import socket

import aiolibdatachannel as ldc
from aiolibdatachannel import _core

# Flow control of `Channel.send`: it waits while more than HIGH_WATER bytes are
# queued (the same bound as our stack's `send`), and resumes when
# libdatachannel reports that the queue fell to LOW_WATER.
HIGH_WATER = 1 << 20
LOW_WATER = 256 << 10

# RFC 8445 §5.1.2.1 priority of a host candidate: type preference 126, local
# preference 65535, component 1.
HOST_PRIORITY = (126 << 24) | (65535 << 8) | (256 - 1)

# Seconds a peer connection may take to close before we give up on it.
CLOSE_TIMEOUT = 5


def free_udp_ports(count):
    """`count` distinct UDP ports that are free on 127.0.0.1 now."""
    sockets = []
    try:
        for _ in range(count):
            probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sockets.append(probe)
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in sockets]
    finally:
        for probe in sockets:
            probe.close()


def sdp_with_candidate(sdp, candidate):
    """`sdp` with `a=<candidate>` in its (single) media section, before any end-of-candidates."""
    newline = "\r\n" if "\r\n" in sdp else "\n"
    lines = sdp.rstrip("\r\n").split(newline)
    line = "a=" + candidate
    if "a=end-of-candidates" in lines:
        lines.insert(lines.index("a=end-of-candidates"), line)
    else:
        lines.append(line)
    return newline.join(lines) + newline


def media_id(sdp):
    """The `a=mid` of the media section (what a trickled candidate's sdpMid names)."""
    for line in sdp.splitlines():
        if line.startswith("a=mid:"):
            return line[len("a=mid:"):].strip()
    return "0"


class ChannelClosed(Exception):
    """The channel closed before what was awaited happened."""


def _settle(future, value=None):
    if not future.done():
        future.set_result(value)


class Channel:
    """A data channel whose messages are handled on libdatachannel's callback thread.

    `on_message(handler)` installs `handler(data)` (`bytes`, or `str` for a
    text message). It runs on a libdatachannel thread with the GIL held, so it
    must be short and may touch asyncio objects only through
    `loop.call_soon_threadsafe`. An exception it raises fails `failed`, as
    does a channel error.
    """

    def __init__(self, handle):
        self.loop = asyncio.get_running_loop()
        self.opened = self.loop.create_future()
        self.closed = self.loop.create_future()
        self.failed = self.loop.create_future()
        self._native = _core.DataChannel(handle)
        self._drained = asyncio.Event()
        call = self.loop.call_soon_threadsafe
        self._native.set_on_open(lambda: call(_settle, self.opened))
        self._native.set_on_closed(lambda: call(_settle, self.closed))
        self._native.set_on_error(lambda message: call(self._fail, RuntimeError(f"channel error: {message}")))
        self._native.set_buffered_amount_low_threshold(LOW_WATER)
        self._native.set_on_buffered_amount_low(lambda: call(self._drained.set))
        # An incoming channel is open before we get it: its open callback has fired already.
        if self._native.is_open():
            _settle(self.opened)

    @property
    def label(self):
        return self._native.label() or ""

    def on_message(self, handler):
        def guarded(data):
            try:
                handler(data)
            except Exception as error:  # a handler failure ends the run; it is never lost
                self.loop.call_soon_threadsafe(self._fail, error)

        self._native.set_on_message(guarded)

    def _fail(self, error):
        if not self.failed.done():
            self.failed.set_exception(error)

    def send_now(self, data):
        """Sends at once, without flow control (safe from a message handler)."""
        if isinstance(data, str):
            self._native.send_text(data)
        else:
            self._native.send_bytes(data)

    async def send(self, data):
        """Sends, first waiting while more than HIGH_WATER bytes are queued."""
        if self._native.buffered_amount() > HIGH_WATER:
            self._drained.clear()
            # Checked again after clearing: the queue may have drained in between.
            while self._native.buffered_amount() > HIGH_WATER:
                await self._drained.wait()
                self._drained.clear()
        self.send_now(data)

    async def until(self, future, closing_fails=False):
        """The result of `future`, once done.

        Raises the channel's failure if it fails first; with `closing_fails`,
        raises `ChannelClosed` if the channel closes first.
        """
        waits = {future, self.failed, self.closed} if closing_fails else {future, self.failed}
        done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        if future in done:
            return future.result()
        if self.failed in done:
            self.failed.result()
        raise ChannelClosed("the channel closed")

    def is_open(self):
        return self._native.is_open()

    def close(self):
        self._native.close()

    def destroy(self):
        self._native.destroy()


class LoopbackPeer:
    """One libdatachannel peer connection on loopback UDP `port`, with no STUN or TURN servers.

    `candidate` is the host candidate to give the other peer (in the SDP, or
    trickled); libdatachannel gathers none of its own on loopback.
    """

    def __init__(self, port):
        loop = asyncio.get_running_loop()
        configuration = ldc.RTCConfiguration(ice_servers=[], port_range_begin=port, port_range_end=port)
        self.connection = ldc.PeerConnection(configuration)
        self.candidate = f"candidate:1 1 UDP {HOST_PRIORITY} 127.0.0.1 {port} typ host"
        self._incoming = asyncio.Queue()
        self._channels = []
        # Channels the other peer opens: handles, made into `Channel`s by accept_channel().
        self.connection._native.set_on_data_channel(lambda handle: loop.call_soon_threadsafe(self._incoming.put_nowait, handle))

    def create_channel(self, label):
        """A reliable ordered channel (it opens once the connection is up)."""
        return self._adopt(self.connection._native.create_data_channel(label))

    async def accept_channel(self):
        """The next channel the other peer opened."""
        return self._adopt(await self._incoming.get())

    def _adopt(self, handle):
        channel = Channel(handle)
        self._channels.append(channel)
        return channel

    async def close(self):
        """Releases the channels and the connection (bounded by CLOSE_TIMEOUT)."""
        for channel in self._channels:
            channel.destroy()
        await asyncio.wait_for(self.connection.aclose(), CLOSE_TIMEOUT)
