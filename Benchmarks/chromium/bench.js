// Chromium's figures for `make bench`: two RTCPeerConnections in this one page, connected
// over loopback (no ICE servers) with their candidates trickled to each other in memory,
// measured the way `rtc bench` measures our stack in one process. `rtc-interop
// chromium-bench` loads the page over http://127.0.0.1 (Chromium gathers a 127.0.0.1
// candidate only in a secure context) and calls, through Runtime.evaluate:
//
//   bench.setup(runs)            from creating the two connections to the channel open
//                                on both sides, `runs` fresh pairs: median_ms, max_ms
//   bench.throughput(bytes, msg) `bytes` in `msg`-byte messages on one reliable ordered
//                                channel: MBps at the receiver, from the first send to
//                                the last byte received
//   bench.messages(count, size)  `count` messages of `size` bytes, the same way:
//                                messages_per_s
//
// Every message starts with its little-endian sequence number (8 bytes); the receiver
// checks the order and counts messages and bytes. Each function resolves to a plain
// object, or rejects with the reason.
"use strict";

// Flow control of the sender, as in our stack's `send`: pause above 1 MiB queued, resume
// when bufferedamountlow says the queue fell to 256 KiB.
const HIGH_WATER = 1 << 20;
const LOW_WATER = 256 << 10;
// How long a pair may take to connect, and a transfer to finish, before the page gives up.
const CONNECT_TIMEOUT_MS = 20000;
const TRANSFER_TIMEOUT_MS = 600000;

// `promise`, or a rejection naming `what` after `ms` milliseconds.
function within(ms, what, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// Resolves when `channel` is open; rejects if it closes or fails first.
function opened(channel) {
  if (channel.readyState === "open") return Promise.resolve();
  return new Promise((resolve, reject) => {
    channel.addEventListener("open", resolve, { once: true });
    channel.addEventListener("close", () => reject(new Error(`channel ${channel.label} closed`)), { once: true });
    channel.addEventListener("error", (event) => reject(event.error || new Error("channel error")), { once: true });
  });
}

// Sends each local candidate of `from` to `to` once `to` has its remote description.
function trickle(from, to, remoteDescriptionSet) {
  from.onicecandidate = ({ candidate }) => {
    if (candidate) remoteDescriptionSet.then(() => to.addIceCandidate(candidate)).catch((error) => console.error(error));
  };
}

// A connected pair with one reliable ordered channel, open on both sides.
async function connect() {
  const started = performance.now();
  const offerer = new RTCPeerConnection({ iceServers: [] });
  const answerer = new RTCPeerConnection({ iceServers: [] });
  let answererReady, offererReady;
  trickle(offerer, answerer, new Promise((resolve) => { answererReady = resolve; }));
  trickle(answerer, offerer, new Promise((resolve) => { offererReady = resolve; }));
  const incoming = new Promise((resolve) => { answerer.ondatachannel = ({ channel }) => resolve(channel); });
  const sender = offerer.createDataChannel("bench");
  try {
    await offerer.setLocalDescription();
    await answerer.setRemoteDescription(offerer.localDescription);
    answererReady();
    await answerer.setLocalDescription();
    await offerer.setRemoteDescription(answerer.localDescription);
    offererReady();
    const receiver = await within(CONNECT_TIMEOUT_MS, "the incoming channel", incoming);
    await within(CONNECT_TIMEOUT_MS, "both channels open", Promise.all([opened(sender), opened(receiver)]));
    receiver.binaryType = "arraybuffer";
    return { offerer, answerer, sender, receiver, setupMs: performance.now() - started };
  } catch (error) {
    offerer.close();
    answerer.close();
    throw error;
  }
}

function close(pair) {
  pair.offerer.close();
  pair.answerer.close();
}

async function setup(runs) {
  const times = [];
  for (let run = 0; run < runs; run++) {
    const pair = await connect();
    times.push(pair.setupMs);
    close(pair);
  }
  times.sort((a, b) => a - b);
  return { workload: "setup", runs, median_ms: times[Math.floor(runs / 2)], max_ms: times[runs - 1] };
}

// `total` bytes in `size`-byte messages, every one checked at the receiver.
async function transfer(total, size) {
  const pair = await connect();
  const { sender, receiver } = pair;
  try {
    let bytes = 0;
    let messages = 0;
    const done = new Promise((resolve, reject) => {
      receiver.onmessage = ({ data }) => {
        if (typeof data === "string") return reject(new Error("unexpected text message"));
        if (data.byteLength >= 8) {
          const sequence = new DataView(data).getBigUint64(0, true);
          if (sequence !== BigInt(messages)) return reject(new Error(`message ${messages} arrived as ${sequence}`));
        }
        messages += 1;
        bytes += data.byteLength;
        if (bytes === total) resolve(performance.now());
      };
      receiver.onclose = () => reject(new Error(`the channel closed after ${bytes} of ${total} bytes`));
    });
    // A failure seen while still sending is reported by the await below.
    done.catch(() => {});

    sender.bufferedAmountLowThreshold = LOW_WATER;
    const template = new Uint8Array(size).fill(0xa5);
    const sequenceBytes = new DataView(new ArrayBuffer(8));
    let sent = 0;
    let sequence = 0;
    const started = performance.now();
    while (sent < total) {
      while (sender.bufferedAmount > HIGH_WATER) {
        await new Promise((resolve) => { sender.onbufferedamountlow = resolve; });
      }
      const message = template.slice(0, Math.min(size, total - sent));
      sequenceBytes.setBigUint64(0, BigInt(sequence), true);
      message.set(new Uint8Array(sequenceBytes.buffer, 0, Math.min(8, message.length)));
      sender.send(message);
      sequence += 1;
      sent += message.length;
    }
    const finished = await within(TRANSFER_TIMEOUT_MS, `${total} bytes received`, done);
    if (messages !== sequence) throw new Error(`received ${messages} messages, sent ${sequence}`);
    const seconds = (finished - started) / 1000;
    return { bytes: total, msg: size, messages: sequence, seconds, MBps: total / seconds / 1e6, messages_per_s: sequence / seconds };
  } finally {
    close(pair);
  }
}

window.bench = {
  setup,
  throughput: async (bytes, msg) => ({ workload: "throughput", ...(await transfer(bytes, msg)) }),
  messages: async (count, size) => ({ workload: "messages", ...(await transfer(count * size, size)) }),
};
