"""An aiortc peer speaking the `rtc peer` JSON-lines protocol (docs/rtc-peer.md).

Usage: python3 aiortc_peer.py --role offerer|answerer --mode echo|ping|source|sink
       [--bytes N] [--msg N] [--count N] [--label L] [--timeout S]

aiortc gathers all candidates before its description is ready, so it never
trickles (its description carries them); it accepts trickled candidates from
the other side. aioice never offers loopback addresses, so its host-address
lookup is patched to 127.0.0.1 here (test scaffolding, not the stack under
test); iceServers=[] keeps it off public STUN servers. AIORTC_PEER_DEBUG=1 sends
aiortc's debug log (ICE, DTLS, SCTP states) to stderr for diagnosing interop.
"""
import argparse
import asyncio
import json
import logging
import os
import struct
import sys
import time

import aioice.ice
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.sdp import candidate_from_sdp

aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]
if os.environ.get("AIORTC_PEER_DEBUG"):
    logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def log(text):
    sys.stderr.write(f"aiortc peer: {text}\n")


async def main(args):
    started = time.monotonic()
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    channel_ready = asyncio.get_running_loop().create_future()
    messages = asyncio.Queue()
    report = {"type": "result", "ok": False, "role": args.role, "mode": args.mode,
              "bytes": 0, "messages": 0, "seconds": 0.0, "MBps": 0.0}

    def attach(channel):
        channel.on("message", lambda message: messages.put_nowait(message))
        channel.on("close", lambda: messages.put_nowait(None))
        if channel.readyState == "open":
            if not channel_ready.done():
                channel_ready.set_result(channel)
        else:
            channel.on("open", lambda: channel_ready.done() or channel_ready.set_result(channel))

    if args.role == "offerer":
        attach(pc.createDataChannel(args.label))
        await pc.setLocalDescription(await pc.createOffer())
        emit({"type": "offer", "sdp": pc.localDescription.sdp})
    else:
        @pc.on("datachannel")
        def on_datachannel(channel):
            if channel.label == args.label:
                attach(channel)

    async def read_signaling():
        reader = asyncio.StreamReader()
        await asyncio.get_running_loop().connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := await reader.readline():
            try:
                message = json.loads(line)
            except ValueError:
                continue
            kind = message.get("type") if isinstance(message, dict) else None
            if kind in ("offer", "answer"):
                await pc.setRemoteDescription(RTCSessionDescription(sdp=message["sdp"], type=kind))
                if kind == "offer":
                    await pc.setLocalDescription(await pc.createAnswer())
                    emit({"type": "answer", "sdp": pc.localDescription.sdp})
            elif kind == "candidate" and message.get("candidate"):
                candidate = candidate_from_sdp(message["candidate"].split(":", 1)[1])
                candidate.sdpMid = message.get("sdpMid", "0")
                candidate.sdpMLineIndex = message.get("sdpMLineIndex", 0)
                await pc.addIceCandidate(candidate)

    signaling = asyncio.ensure_future(read_signaling())
    channel = await channel_ready
    report["open_s"] = time.monotonic() - started
    begin = time.monotonic()
    if args.mode == "echo":
        while (message := await messages.get()) is not None:
            channel.send(message)
            report["messages"] += 1
            report["bytes"] += len(message)
    elif args.mode == "ping":
        rtts = []
        for index in range(args.count):
            payload = "p" * args.msg if index == 0 else bytes((i + index) % 256 for i in range(args.msg))
            sent = time.monotonic()
            channel.send(payload)
            reply = await messages.get()
            if reply != payload:
                raise RuntimeError(f"ping {index}: the echo differs")
            rtts.append((time.monotonic() - sent) * 1000)
            report["messages"] += 1
            report["bytes"] += len(payload)
        rtts.sort()
        report["rtt_ms"] = {"min": rtts[0], "median": rtts[len(rtts) // 2], "max": rtts[-1]}
        channel.close()
    elif args.mode == "sink":
        expected = 0
        while report["bytes"] < args.bytes:
            message = await messages.get()
            if message is None:
                raise RuntimeError("the channel closed early")
            if isinstance(message, str):
                continue
            if len(message) >= 8 and struct.unpack("<Q", message[:8])[0] != expected:
                raise RuntimeError(f"sequence gap at {expected}")
            expected += 1
            report["messages"] += 1
            report["bytes"] += len(message)
        channel.send(f"done {report['bytes']}")
        # The source closes once it has read "done"; closing first could lose it in flight.
        try:
            while await asyncio.wait_for(messages.get(), 10) is not None:
                pass
        except asyncio.TimeoutError:
            pass
    elif args.mode == "source":
        sequence = 0
        while report["bytes"] < args.bytes:
            size = min(args.msg, args.bytes - report["bytes"])
            payload = struct.pack("<Q", sequence)[:size] + b"\xa5" * max(0, size - 8)
            while channel.bufferedAmount > 1 << 20:
                await asyncio.sleep(0.005)
            channel.send(payload)
            sequence += 1
            report["messages"] += 1
            report["bytes"] += size
        while True:
            message = await messages.get()
            if message is None:
                raise RuntimeError("the channel closed before done")
            if isinstance(message, str) and message.startswith("done "):
                if int(message[5:]) != report["bytes"]:
                    raise RuntimeError(f"sink reports {message}")
                break
    report["seconds"] = time.monotonic() - begin
    if report["seconds"] > 0:
        report["MBps"] = report["bytes"] / report["seconds"] / 1e6
    report["ok"] = True
    report["cpu_s"] = time.process_time()  # docs/rtc-peer.md: the CPU time of the process
    signaling.cancel()
    await pc.close()
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--role", required=True, choices=["offerer", "answerer"])
    parser.add_argument("--mode", default="echo", choices=["echo", "ping", "source", "sink"])
    parser.add_argument("--bytes", type=int, default=64 << 20)
    parser.add_argument("--msg", type=int, default=16384)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--label", default="bench")
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--trickle", default="true")
    args = parser.parse_args()
    try:
        result = asyncio.run(asyncio.wait_for(main(args), timeout=args.timeout))
    except asyncio.TimeoutError:
        emit({"type": "result", "ok": False, "role": args.role, "mode": args.mode, "error": "timeout"})
        sys.exit(2)
    except Exception as error:  # every failure ends in a result line, as the protocol says
        emit({"type": "result", "ok": False, "role": args.role, "mode": args.mode, "error": str(error)})
        sys.exit(1)
    emit(result)
