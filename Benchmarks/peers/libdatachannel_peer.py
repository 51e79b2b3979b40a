"""A libdatachannel peer speaking the `rtc peer` JSON-lines protocol (docs/rtc-peer.md).

Usage (Python >= 3.12 with the PyPI wheel `aiolibdatachannel`):
    python3.12 libdatachannel_peer.py --role offerer|answerer [--mode echo|ping|source|sink]
        [--bytes N] [--msg N] [--count N] [--label L] [--trickle true|false] [--timeout S]

Same flags, lines, result line and exit status (0 ok, 1 error, 2 timeout) as
`rtc peer`, so it pairs with `rtc peer`, with another copy of itself, or with
any other peer of the protocol. On loopback libdatachannel gathers no
candidate, so the peer announces 127.0.0.1 on its one pinned port itself:
inside its description with `--trickle false`, as the first candidate line
with `--trickle true` (see libdatachannel_loopback.py). Logs (libdatachannel's
warnings included) go to standard error.
"""
import argparse
import asyncio
import json
import logging
import os
import struct
import sys
import time

import aiolibdatachannel as ldc

from libdatachannel_loopback import ChannelClosed, LoopbackPeer, free_udp_ports, media_id, sdp_with_candidate

# How long a sink waits, after `done`, for the source to close the channel
# (closing first could lose `done` in flight), as `rtc peer` does.
SINK_LINGER = 10


def emit(message):
    """Writes one protocol line to standard output."""
    try:
        sys.stdout.write(json.dumps(message, separators=(",", ":")) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        # The other peer has gone; point stdout at /dev/null so exiting does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def log(text):
    sys.stderr.write(f"libdatachannel peer: {text}\n")


def sequence_number(payload):
    return struct.unpack_from("<Q", payload)[0]


class Session:
    """One run: signaling over JSON lines, then the mode's traffic on the channel."""

    def __init__(self, args, report):
        self.args = args
        self.report = report
        self.started = time.monotonic()
        self.peer = LoopbackPeer(free_udp_ports(1)[0])
        self.trickling = None

    async def run(self):
        """Reads the other peer's lines while the traffic runs; a signaling failure ends the run."""
        reader = asyncio.ensure_future(self.read_signaling())
        traffic = asyncio.ensure_future(self.traffic())
        try:
            await asyncio.wait({reader, traffic}, return_when=asyncio.FIRST_COMPLETED)
            if reader.done():
                reader.result()  # raises a signaling failure; the end of input is not one
            await traffic
            self.report["ok"] = True
        finally:
            for task in (reader, traffic, self.trickling):
                if task:
                    task.cancel()
            await self.peer.close()

    async def traffic(self):
        """The channel (ours as offerer, the other peer's as answerer), open; then the mode's traffic."""
        args = self.args
        if args.role == "offerer":
            channel = self.peer.create_channel(args.label)
            await self.send_description("offer")
        else:
            channel = await self.accept(args.label)
        try:
            await channel.until(channel.opened, closing_fails=True)
        except ChannelClosed:
            raise RuntimeError(f"the channel '{args.label}' closed before opening") from None
        self.report["open_s"] = time.monotonic() - self.started
        log(f"channel '{args.label}' open after {self.report['open_s']:.3f} s")
        mode = {"echo": self.echo, "ping": self.ping, "source": self.source, "sink": self.sink}[args.mode]
        await mode(channel)

    async def accept(self, label):
        """The first channel the other peer opens with our label."""
        while True:
            channel = await self.peer.accept_channel()
            if channel.label == label:
                return channel

    # MARK: Signaling

    async def send_description(self, kind):
        """Our description: at once with trickle (candidates follow as lines), else once gathered."""
        connection = self.peer.connection
        if self.args.trickle:
            description = await connection.set_local_description(kind)
            emit({"type": kind, "sdp": description.sdp})
            self.trickling = asyncio.ensure_future(self.trickle(media_id(description.sdp)))
        else:
            description = await (connection.create_offer() if kind == "offer" else connection.create_answer())
            emit({"type": kind, "sdp": sdp_with_candidate(description.sdp, self.peer.candidate)})

    async def trickle(self, mid):
        """Our loopback candidate, then any libdatachannel gathers, then end-of-candidates."""
        emit({"type": "candidate", "candidate": self.peer.candidate, "sdpMid": mid, "sdpMLineIndex": 0})
        async for candidate in self.peer.connection.ice_candidates():
            text = candidate.candidate.removeprefix("a=")
            emit({"type": "candidate", "candidate": text, "sdpMid": candidate.mid or mid, "sdpMLineIndex": 0})
        emit({"type": "end-of-candidates"})

    async def read_signaling(self):
        """Applies the other peer's lines until standard input ends (which is not an error)."""
        reader = asyncio.StreamReader(limit=1 << 20)
        loop = asyncio.get_running_loop()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        connection = self.peer.connection
        while line := await reader.readline():
            try:
                message = json.loads(line)
            except ValueError:
                continue
            kind = message.get("type") if isinstance(message, dict) else None
            if kind in ("offer", "answer") and isinstance(message.get("sdp"), str):
                await connection.set_remote_description(message["sdp"], kind)
                if kind == "offer":
                    await self.send_description("answer")
            elif kind == "candidate" and message.get("candidate"):
                # libdatachannel needs no end-of-candidates, so an empty candidate is skipped.
                try:
                    await connection.add_remote_candidate(message["candidate"], message.get("sdpMid") or "0")
                except Exception as error:
                    log(f"ignored candidate: {error}")

    # MARK: Modes

    async def echo(self, channel):
        """Sends every message back unchanged (text stays text) until the channel closes."""
        report = self.report
        begin = time.monotonic()

        def echo(data):
            channel.send_now(data)
            report["messages"] += 1
            report["bytes"] += len(data)

        channel.on_message(echo)
        await channel.until(channel.closed)
        report["seconds"] = time.monotonic() - begin

    async def ping(self, channel):
        """`--count` round trips of `--msg` bytes, the first as text; checks each echo."""
        args, report = self.args, self.report
        loop = asyncio.get_running_loop()
        replies = asyncio.Queue()
        channel.on_message(lambda data: loop.call_soon_threadsafe(replies.put_nowait, data))
        round_trips = []
        begin = time.monotonic()
        for index in range(args.count):
            payload = "p" * args.msg if index == 0 else bytes((i + index) % 256 for i in range(args.msg))
            sent = time.monotonic()
            channel.send_now(payload)
            try:
                reply = await channel.until(asyncio.ensure_future(replies.get()), closing_fails=True)
            except ChannelClosed:
                raise RuntimeError(f"the channel closed during ping {index}") from None
            if reply != payload:
                raise RuntimeError(f"ping {index}: the echo differs from what was sent")
            round_trips.append((time.monotonic() - sent) * 1000)
            report["messages"] += 1
            report["bytes"] += len(payload)
        report["seconds"] = time.monotonic() - begin
        round_trips.sort()
        report["rtt_ms"] = {"min": round_trips[0], "median": round_trips[len(round_trips) // 2], "max": round_trips[-1]}
        channel.close()

    async def source(self, channel):
        """`--bytes` in `--msg`-byte messages led by their sequence number; then waits for `done`."""
        args, report = self.args, self.report
        loop = asyncio.get_running_loop()
        done = loop.create_future()

        def on_message(data):
            if isinstance(data, str) and data.startswith("done "):
                loop.call_soon_threadsafe(lambda: done.done() or done.set_result(data))

        channel.on_message(on_message)
        body = b"\xa5" * (args.msg - 8)
        begin = time.monotonic()
        sequence = 0
        while report["bytes"] < args.bytes:
            size = min(args.msg, args.bytes - report["bytes"])
            await channel.send(struct.pack("<Q", sequence)[:size] + body[:max(0, size - 8)])
            sequence += 1
            report["messages"] += 1
            report["bytes"] += size
        try:
            verdict = await channel.until(done, closing_fails=True)
        except ChannelClosed:
            raise RuntimeError("the channel closed before the sink said done") from None
        if verdict != f"done {report['bytes']}":
            raise RuntimeError(f"the sink reports {verdict}, the source sent {report['bytes']} bytes")
        report["seconds"] = time.monotonic() - begin

    async def sink(self, channel):
        """Counts `--bytes`, checking sequence numbers, then says `done <bytes>`."""
        args, report = self.args, self.report
        loop = asyncio.get_running_loop()
        complete = loop.create_future()
        state = {"begin": None, "end": None}

        def on_message(data):
            if isinstance(data, str) or state["end"] is not None:
                return
            now = time.monotonic()
            state["begin"] = state["begin"] or now
            if len(data) >= 8 and sequence_number(data) != report["messages"]:
                raise RuntimeError(f"message {report['messages']} arrived as sequence number {sequence_number(data)}")
            report["messages"] += 1
            report["bytes"] += len(data)
            if report["bytes"] >= args.bytes:
                state["end"] = now
                loop.call_soon_threadsafe(complete.set_result, None)

        channel.on_message(on_message)
        try:
            await channel.until(complete, closing_fails=True)
        except ChannelClosed:
            raise RuntimeError(f"the channel closed after {report['bytes']} of {args.bytes} bytes") from None
        report["seconds"] = state["end"] - state["begin"]
        channel.send_now(f"done {report['bytes']}")
        try:
            await asyncio.wait_for(asyncio.shield(channel.closed), SINK_LINGER)
        except asyncio.TimeoutError:
            pass


class ArgumentParser(argparse.ArgumentParser):
    def error(self, message):
        # One line, and status 1: the protocol keeps status 2 for timeouts.
        self.exit(1, f"{self.prog}: {message}\n")


def parse_arguments():
    parser = ArgumentParser(description="A libdatachannel peer for the rtc peer protocol (docs/rtc-peer.md).")
    parser.add_argument("--role", required=True, choices=["offerer", "answerer"])
    parser.add_argument("--mode", default="echo", choices=["echo", "ping", "source", "sink"])
    parser.add_argument("--bytes", type=int, default=64 << 20)
    parser.add_argument("--msg", type=int, default=16384)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--label", default="bench")
    parser.add_argument("--trickle", default="true", choices=["true", "false"])
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args()
    args.trickle = args.trickle == "true"
    if args.mode != "echo" and args.msg < 8:
        parser.error("--msg must be at least 8 (the sequence number)")
    if args.msg > 262144:
        parser.error("--msg must be at most 262144 (the max-message-size browsers accept)")
    if args.bytes < 0 or args.count <= 0 or args.timeout <= 0:
        parser.error("--bytes, --count and --timeout must be positive")
    return args


def main():
    args = parse_arguments()
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    ldc.install_python_logger()
    report = {"type": "result", "ok": False, "role": args.role, "mode": args.mode,
              "bytes": 0, "messages": 0, "seconds": 0.0, "MBps": 0.0}

    async def run():
        await asyncio.wait_for(Session(args, report).run(), args.timeout)

    status = 0
    try:
        asyncio.run(run())
    except asyncio.TimeoutError:
        report["error"] = f"timeout after {args.timeout} s"
        status = 2
    except Exception as error:  # every failure ends in a result line, as the protocol says
        report["error"] = str(error) or type(error).__name__
        status = 1
    if report["seconds"] > 0:
        report["MBps"] = report["bytes"] / report["seconds"] / 1e6
    report["cpu_s"] = time.process_time()
    emit(report)
    sys.exit(status)


if __name__ == "__main__":
    main()
