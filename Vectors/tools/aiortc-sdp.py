"""Regenerates the aiortc vectors in Vectors/sdp (run inside `unshare -n`).

aioice never offers loopback addresses, so its host-address lookup is patched
to return 127.0.0.1 (see shared FACTS.md); iceServers=[] keeps it off any
public STUN server.
"""
import asyncio
import pathlib
import sys

import aioice.ice
import aiortc
from aiortc import RTCConfiguration, RTCPeerConnection

aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]
out = pathlib.Path(__file__).resolve().parent.parent / "sdp"


async def main() -> None:
    config = RTCConfiguration(iceServers=[])
    offerer, answerer = RTCPeerConnection(config), RTCPeerConnection(config)
    offerer.createDataChannel("chat")
    await offerer.setLocalDescription(await offerer.createOffer())
    await answerer.setRemoteDescription(offerer.localDescription)
    await answerer.setLocalDescription(await answerer.createAnswer())
    for name, description in [
        ("aiortc-datachannel-offer", offerer.localDescription),
        ("aiortc-datachannel-answer", answerer.localDescription),
    ]:
        (out / f"{name}.sdp").write_bytes(description.sdp.encode())
        print(f"wrote {name}.sdp (aiortc {aiortc.__version__})")
    await offerer.close()
    await answerer.close()


asyncio.run(asyncio.wait_for(main(), timeout=30))
sys.exit(0)
