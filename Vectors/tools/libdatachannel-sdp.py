"""Regenerates the libdatachannel vectors in Vectors/sdp.

Uses libdatachannel as bundled in the `aiolibdatachannel` wheel (Python >= 3.12).
Run inside `unshare -n`. libdatachannel's ICE skips loopback, so these
descriptions carry no candidates of their own; that is what it emits here.
"""
import asyncio
import pathlib

import aiolibdatachannel as ldc

out = pathlib.Path(__file__).resolve().parent.parent / "sdp"


async def main() -> None:
    offerer = ldc.PeerConnection(ldc.RTCConfiguration(port_range_begin=50000, port_range_end=50000))
    answerer = ldc.PeerConnection(ldc.RTCConfiguration(port_range_begin=50001, port_range_end=50001))
    await offerer.create_data_channel("chat")
    offer = await offerer.create_offer()
    await answerer.set_remote_description(offer.sdp, "offer")
    answer = await answerer.create_answer()
    for name, description in [
        ("libdatachannel-datachannel-offer", offer),
        ("libdatachannel-datachannel-answer", answer),
    ]:
        (out / f"{name}.sdp").write_bytes(description.sdp.encode())
        print(f"wrote {name}.sdp (aiolibdatachannel {ldc.__version__})")
    await offerer.aclose()
    await answerer.aclose()


asyncio.run(asyncio.wait_for(main(), timeout=30))
