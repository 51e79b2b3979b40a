"""Two peers of one foreign stack in this Python process, measured like `rtc bench`.

Usage:
    python3.12 inprocess_bench.py --stack libdatachannel --workload setup|throughput|messages|memory ...
    python3    inprocess_bench.py --stack aiortc         --workload setup|throughput|messages|memory ...

libdatachannel comes from the PyPI wheel `aiolibdatachannel` (Python >= 3.12),
aiortc from PyPI (`aiortc`); each stack's modules are imported only when it
runs. Loopback only, no STUN servers. One workload per run, one JSON line on
standard output:

  setup       --runs N: from creating the two peer connections to the channel
              open on both sides, N fresh pairs: median_ms, max_ms.
  throughput  --bytes B in --msg M messages on one reliable ordered channel:
              MB/s at the receiver (from the first send to the last byte
              received), cpu_s of the whole process for the run (setup
              included, as `rtc bench` counts it).
  messages    --count N messages of --size S bytes, the same way: messages_per_s.
  memory      --connections N peer connections (N/2 connected pairs, each with
              an open channel): resident memory after opening them minus before
              (after one warm-up pair), per connection in KiB.

Every message carries its little-endian sequence number in its first 8 bytes;
the receiver checks the order and counts messages and bytes. A failure prints
{"ok": false, "error": ...} and exits 1; a timeout exits 2.
"""
import argparse
import asyncio
import gc
import json
import statistics
import struct
import sys
import time


def settle(future, value=None):
    if not future.done():
        future.set_result(value)


def resident_bytes():
    """This process's resident set size (VmRSS)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


# MARK: - Stacks
# Each stack's `await connect()` returns a `Pair`.


class Pair:
    """Two connected peers of one stack and the channel between them, open on both sides.

    A channel offers `on_message(handler)` (the handler may run on another
    thread: it reaches the event loop only through call_soon_threadsafe),
    `await send(data)` with flow control, `await until(future)` (which raises
    if the channel failed first) and `is_open()`.
    """

    def __init__(self, offerer, answerer, sender, receiver):
        self.peers = (offerer, answerer)
        self.sender = sender
        self.receiver = receiver

    async def close(self):
        for peer in self.peers:
            await peer.close()


class Libdatachannel:
    """libdatachannel through the wheel, the loopback way of libdatachannel_loopback.py."""

    name = "libdatachannel"

    @staticmethod
    async def connect():
        from libdatachannel_loopback import LoopbackPeer, free_udp_ports, media_id

        offerer, answerer = (LoopbackPeer(port) for port in free_udp_ports(2))
        sender = offerer.create_channel("bench")
        offer = await offerer.connection.set_local_description("offer")
        await answerer.connection.set_remote_description(offer.sdp, "offer")
        answer = await answerer.connection.set_local_description("answer")
        await offerer.connection.set_remote_description(answer.sdp, "answer")
        # The candidates, trickled: libdatachannel gathers none on loopback.
        await offerer.connection.add_remote_candidate(answerer.candidate, media_id(answer.sdp))
        await answerer.connection.add_remote_candidate(offerer.candidate, media_id(offer.sdp))
        receiver = await answerer.accept_channel()
        await sender.until(sender.opened, closing_fails=True)
        await receiver.until(receiver.opened, closing_fails=True)
        return Pair(offerer, answerer, sender, receiver)


class Aiortc:
    """aiortc, with aioice's host addresses patched to 127.0.0.1 (as Tests/interop/aiortc_peer.py does)."""

    name = "aiortc"
    # Flow control of `send`, as libdatachannel_loopback.py does it: wait above
    # 1 MiB queued (our stack's bound), resume at 256 KiB.
    HIGH_WATER = 1 << 20
    LOW_WATER = 256 << 10

    class Channel:
        def __init__(self, channel):
            self.channel = channel
            self.loop = asyncio.get_running_loop()
            self.failed = self.loop.create_future()
            self.drained = asyncio.Event()
            channel.bufferedAmountLowThreshold = Aiortc.LOW_WATER
            channel.on("bufferedamountlow", self.drained.set)

        def on_message(self, handler):
            def guarded(data):
                try:
                    handler(data)
                except Exception as error:  # a handler failure ends the run; it is never lost
                    if not self.failed.done():
                        self.failed.set_exception(error)

            self.channel.on("message", guarded)

        async def send(self, data):
            if self.channel.bufferedAmount > Aiortc.HIGH_WATER:
                self.drained.clear()
                while self.channel.bufferedAmount > Aiortc.HIGH_WATER:
                    await self.drained.wait()
                    self.drained.clear()
            self.channel.send(data)

        async def until(self, future):
            done, _ = await asyncio.wait({future, self.failed}, return_when=asyncio.FIRST_COMPLETED)
            if self.failed in done:
                self.failed.result()
            return future.result()

        def is_open(self):
            return self.channel.readyState == "open"

    @staticmethod
    async def connect():
        import aioice.ice
        from aiortc import RTCConfiguration, RTCPeerConnection

        aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]
        loop = asyncio.get_running_loop()
        offerer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        answerer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        sender = offerer.createDataChannel("bench")
        opened, incoming = loop.create_future(), loop.create_future()
        sender.on("open", lambda: settle(opened))
        answerer.on("datachannel", lambda channel: settle(incoming, channel))
        # aiortc does not trickle: setLocalDescription gathers, and the description carries the candidates.
        await offerer.setLocalDescription(await offerer.createOffer())
        await answerer.setRemoteDescription(offerer.localDescription)
        await answerer.setLocalDescription(await answerer.createAnswer())
        await offerer.setRemoteDescription(answerer.localDescription)
        receiver = await incoming
        await opened
        return Pair(offerer, answerer, Aiortc.Channel(sender), Aiortc.Channel(receiver))


STACKS = {stack.name: stack for stack in (Libdatachannel, Aiortc)}


# MARK: - Workloads


async def setup(stack, runs):
    times = []
    for _ in range(runs):
        started = time.monotonic()
        pair = await stack.connect()
        times.append((time.monotonic() - started) * 1000)
        await pair.close()
    return {"runs": runs, "median_ms": statistics.median(times), "max_ms": max(times)}


async def transfer(stack, total, size):
    """`total` bytes in `size`-byte messages from the sender to the receiver, every one checked."""
    cpu_start = time.process_time()
    pair = await stack.connect()
    loop = asyncio.get_running_loop()
    complete = loop.create_future()
    received = {"bytes": 0, "messages": 0}

    def on_message(data):
        if isinstance(data, str):
            raise RuntimeError("unexpected text message")
        if len(data) >= 8 and struct.unpack_from("<Q", data)[0] != received["messages"]:
            raise RuntimeError(f"message {received['messages']} arrived as {struct.unpack_from('<Q', data)[0]}")
        received["messages"] += 1
        received["bytes"] += len(data)
        if received["bytes"] == total:
            loop.call_soon_threadsafe(settle, complete, time.monotonic())

    pair.receiver.on_message(on_message)
    body = b"\xa5" * (size - 8)
    sent = sequence = 0
    started = time.monotonic()
    while sent < total:
        length = min(size, total - sent)
        await pair.sender.send(struct.pack("<Q", sequence)[:length] + body[:max(0, length - 8)])
        sequence += 1
        sent += length
    finished = await pair.receiver.until(complete)
    cpu = time.process_time() - cpu_start
    await pair.close()
    if received != {"bytes": total, "messages": sequence}:
        raise RuntimeError(f"received {received}, sent {total} bytes in {sequence} messages")
    seconds = finished - started
    return {"bytes": total, "msg": size, "messages": sequence, "seconds": seconds,
            "MBps": total / seconds / 1e6, "messages_per_s": sequence / seconds, "cpu_s": cpu}


async def memory(stack, connections):
    warm_up = await stack.connect()
    await warm_up.close()
    gc.collect()
    baseline = resident_bytes()
    pairs = []
    try:
        for _ in range(connections // 2):
            pairs.append(await stack.connect())
        gc.collect()
        loaded = resident_bytes()
        closed = sum(1 for pair in pairs for channel in (pair.sender, pair.receiver) if not channel.is_open())
        if closed:
            raise RuntimeError(f"{closed} channels closed with {connections} connections held")
    finally:
        for pair in pairs:
            await pair.close()
    return {"connections": connections, "rss_per_connection_kib": (loaded - baseline) / connections / 1024,
            "baseline_rss_mib": baseline / (1 << 20), "loaded_rss_mib": loaded / (1 << 20)}


def parse_arguments():
    parser = argparse.ArgumentParser(description="Two peers of one foreign stack in this process (see the module docstring).")
    parser.add_argument("--stack", required=True, choices=sorted(STACKS))
    parser.add_argument("--workload", required=True, choices=["setup", "throughput", "messages", "memory"])
    parser.add_argument("--runs", type=int, default=50, help="setup: pairs to connect")
    parser.add_argument("--bytes", type=int, default=64 << 20, help="throughput: bytes to send")
    parser.add_argument("--msg", type=int, default=16384, help="throughput: message size")
    parser.add_argument("--count", type=int, default=100_000, help="messages: how many")
    parser.add_argument("--size", type=int, default=100, help="messages: bytes each")
    parser.add_argument("--connections", type=int, default=1000, help="memory: peer connections (in pairs)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds before giving up (exit 2)")
    args = parser.parse_args()
    if min(args.msg, args.size) < 8 or max(args.msg, args.size) > 262144:
        parser.error("--msg and --size must be within 8...262144 (the sequence number; browsers' max-message-size)")
    if min(args.runs, args.bytes, args.count, args.timeout) <= 0 or args.connections < 2 or args.connections % 2:
        parser.error("--runs, --bytes, --count and --timeout must be positive, --connections even and at least 2")
    return args


def main():
    args = parse_arguments()
    stack = STACKS[args.stack]
    work = {
        "setup": lambda: setup(stack, args.runs),
        "throughput": lambda: transfer(stack, args.bytes, args.msg),
        "messages": lambda: transfer(stack, args.count * args.size, args.size),
        "memory": lambda: memory(stack, args.connections),
    }[args.workload]
    result = {"stack": args.stack, "workload": args.workload}
    status = 0
    try:
        result.update(asyncio.run(asyncio.wait_for(work(), args.timeout)), ok=True)
    except asyncio.TimeoutError:
        result.update(ok=False, error=f"timeout after {args.timeout} s")
        status = 2
    except Exception as error:
        result.update(ok=False, error=str(error) or type(error).__name__)
        status = 1
    print(json.dumps(result, separators=(",", ":")), flush=True)
    sys.exit(status)


if __name__ == "__main__":
    main()
