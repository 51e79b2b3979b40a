#!/usr/bin/env python3
"""An aioice (0.13) ICE peer driven over JSON lines, for the Swift ICETransport interop tests.

Usage: aioice_peer.py --role controlling|controlled [--timeout SECONDS]

Writes to stdout, one JSON object a line:
  {"type": "credentials", "ufrag": ..., "pwd": ...}
  {"type": "candidate", "candidate": "candidate:..."}   (one per local candidate)
  {"type": "end-of-candidates"}
  {"type": "connected"}                                  (after Connection.connect() succeeds)
  {"type": "received", "hex": ...}                       (the first datagram from the peer)
  {"type": "error", "message": ...}                      (then exits with status 1)
Reads from stdin, one JSON object a line:
  {"type": "credentials", "ufrag": ..., "pwd": ...}
  {"type": "candidate", "candidate": "candidate:..."}
  {"type": "end-of-candidates"}
  {"type": "send", "hex": ...}                           (Connection.send over the selected pair)
  {"type": "close"}                                      (or end of input: close and exit 0)

aioice never offers loopback addresses, so this script (not the code under test) patches
aioice.ice.get_host_addresses to return only 127.0.0.1, and uses no STUN server: every packet
stays on the loopback interface.
"""

import argparse
import asyncio
import json
import sys

import aioice
import aioice.ice


def patched_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    return ["127.0.0.1"] if use_ipv4 else []


aioice.ice.get_host_addresses = patched_host_addresses


def emit(message: dict) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def read_lines(queue: asyncio.Queue) -> None:
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        await queue.put(json.loads(line) if line.strip() else None)
        if not line:
            return


async def run(role: str, timeout: float) -> None:
    connection = aioice.Connection(ice_controlling=(role == "controlling"), stun_server=None, use_ipv6=False)
    await connection.gather_candidates()
    emit({"type": "credentials", "ufrag": connection.local_username, "pwd": connection.local_password})
    for candidate in connection.local_candidates:
        emit({"type": "candidate", "candidate": "candidate:" + candidate.to_sdp()})
    emit({"type": "end-of-candidates"})

    commands: asyncio.Queue = asyncio.Queue()
    reader = asyncio.ensure_future(read_lines(commands))
    connect_task = None
    try:
        while True:
            waiters = [asyncio.ensure_future(commands.get())]
            done, _ = await asyncio.wait(waiters, timeout=timeout)
            if not done:
                raise TimeoutError("no command within %s s" % timeout)
            command = waiters[0].result()
            if command is None or command["type"] == "close":
                break
            kind = command["type"]
            if kind == "credentials":
                connection.remote_username = command["ufrag"]
                connection.remote_password = command["pwd"]
                if connect_task is None:
                    connect_task = asyncio.ensure_future(connect_and_receive(connection, timeout))
            elif kind == "candidate":
                await connection.add_remote_candidate(aioice.Candidate.from_sdp(command["candidate"].removeprefix("candidate:")))
            elif kind == "end-of-candidates":
                await connection.add_remote_candidate(None)
            elif kind == "send":
                await connection.send(bytes.fromhex(command["hex"]))
            else:
                raise ValueError("unknown command %r" % kind)
            if connect_task is not None and connect_task.done():
                connect_task.result()  # re-raises a failed connect
    finally:
        reader.cancel()
        if connect_task is not None:
            connect_task.cancel()
        await connection.close()


async def connect_and_receive(connection: aioice.Connection, timeout: float) -> None:
    try:
        await asyncio.wait_for(connection.connect(), timeout)
        emit({"type": "connected"})
        data = await asyncio.wait_for(connection.recv(), timeout)
        emit({"type": "received", "hex": data.hex()})
    except Exception as error:  # reported to the test, which fails with the message
        emit({"type": "error", "message": "%s: %s" % (type(error).__name__, error)})
        raise


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--role", choices=["controlling", "controlled"], required=True)
    parser.add_argument("--timeout", type=float, default=20.0)
    arguments = parser.parse_args()
    try:
        asyncio.run(run(arguments.role, arguments.timeout))
    except Exception as error:
        emit({"type": "error", "message": "%s: %s" % (type(error).__name__, error)})
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
