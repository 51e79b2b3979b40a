// The browser side of the interop suite. It joins a room of `rtc signal`
// (docs/signaling.md), connects to the one Swift peer there by the newcomer-offers
// rule with trickled candidates, and serves channels by their label:
//   echo*                  every message is sent back unchanged (text stays text);
//   sink:<bytes>           counts and keeps the bytes; at <bytes> answers "sha256:<hex>";
//   source:<bytes>:<size>  (created by the page) sends <bytes> of random data in
//                          <size>-byte messages, then "sha256:<hex>" of all of it.
// The suite calls window.interop.* through Runtime.evaluate.
"use strict";

const params = new URLSearchParams(location.search);
const log = [];
const note = (text) => { log.push(text); console.log("interop: " + text); };

const channels = new Map();   // label -> RTCDataChannel (latest with that label)
let pc = null;
let remote = null;
let ws = null;
const pendingCandidates = [];
let joined;
const joinedPromise = new Promise((resolve) => { joined = resolve; });

function send(message) { ws.send(JSON.stringify(message)); }

function hex(buffer) {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function sha256(chunks) {
  return hex(await crypto.subtle.digest("SHA-256", await new Blob(chunks).arrayBuffer()));
}

function serve(channel) {
  channels.set(channel.label, channel);
  channel.binaryType = "arraybuffer";
  const label = channel.label;
  if (label.startsWith("echo")) {
    channel.onmessage = (event) => channel.send(event.data);
  } else if (label.startsWith("sink:")) {
    const expected = Number(label.split(":")[1]);
    const chunks = [];
    let received = 0;
    channel.onmessage = async (event) => {
      if (typeof event.data === "string") return;
      chunks.push(event.data);
      received += event.data.byteLength;
      if (received === expected) channel.send("sha256:" + await sha256(chunks));
      else if (received > expected) channel.send("error:more than " + expected + " bytes");
    };
  }
  channel.onopen = () => note("channel open: " + label);
  channel.onclose = () => note("channel closed: " + label);
}

// Sends <bytes> of random data with flow control, then the digest.
async function runSource(channel, bytes, size) {
  channel.bufferedAmountLowThreshold = 256 * 1024;
  const chunks = [];
  let sent = 0;
  while (sent < bytes) {
    const chunk = new Uint8Array(Math.min(size, bytes - sent));
    for (let offset = 0; offset < chunk.length; offset += 65536) {
      crypto.getRandomValues(chunk.subarray(offset, Math.min(offset + 65536, chunk.length)));
    }
    if (channel.bufferedAmount > 1024 * 1024) {
      await new Promise((resolve) => { channel.onbufferedamountlow = resolve; });
    }
    channel.send(chunk);
    chunks.push(chunk);
    sent += chunk.length;
  }
  channel.send("sha256:" + await sha256(chunks));
}

function createPeerConnection(peer) {
  remote = peer;
  pc = new RTCPeerConnection({ iceServers: [] });
  pc.onicecandidate = ({ candidate }) => {
    if (candidate) {
      send({ type: "candidate", to: remote, candidate: candidate.candidate,
             sdpMid: candidate.sdpMid, sdpMLineIndex: candidate.sdpMLineIndex });
    } else {
      send({ type: "end-of-candidates", to: remote });
    }
  };
  pc.ondatachannel = ({ channel }) => serve(channel);
  pc.onconnectionstatechange = () => note("connection: " + pc.connectionState);
}

async function addRemoteCandidate(candidate) {
  if (!pc || !pc.remoteDescription) { pendingCandidates.push(candidate); return; }
  try { await pc.addIceCandidate(candidate); } catch (error) { note("addIceCandidate: " + error); }
}

async function onSignal(message) {
  switch (message.type) {
    case "welcome":
      joined(message.peer);
      if (message.peers.length > 0) {
        // The newcomer offers; a channel first, so the offer has the data section.
        createPeerConnection(message.peers[0]);
        serve(pc.createDataChannel("echo-browser"));
        await pc.setLocalDescription();
        send({ type: "offer", to: remote, sdp: pc.localDescription.sdp });
      }
      break;
    case "peer-joined":
      createPeerConnection(message.peer);
      break;
    case "offer":
      await pc.setRemoteDescription({ type: "offer", sdp: message.sdp });
      await pc.setLocalDescription();
      send({ type: "answer", to: remote, sdp: pc.localDescription.sdp });
      for (const candidate of pendingCandidates.splice(0)) await addRemoteCandidate(candidate);
      break;
    case "answer":
      await pc.setRemoteDescription({ type: "answer", sdp: message.sdp });
      for (const candidate of pendingCandidates.splice(0)) await addRemoteCandidate(candidate);
      break;
    case "candidate":
      await addRemoteCandidate(message.candidate ? message : null);
      break;
    case "end-of-candidates":
      await addRemoteCandidate(null);
      break;
    case "error":
      note("signaling error: " + message.code + ": " + message.message);
      break;
  }
}

ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
ws.onopen = () => send({ type: "join", room: params.get("room"), peer: params.get("peer") });
// One message at a time, in order: each step may await the previous one's descriptions.
let queue = Promise.resolve();
ws.onmessage = (event) => {
  queue = queue.then(() => onSignal(JSON.parse(event.data))).catch((error) => note("signal: " + error));
};

window.interop = {
  log,
  joined: () => joinedPromise,
  connectionState: () => (pc ? pc.connectionState : "none"),
  channelState: (label) => (channels.has(label) ? channels.get(label).readyState : "none"),
  // Creates a channel on the page's side; resolves when it is open.
  createChannel: (label, options = {}) => new Promise((resolve, reject) => {
    const channel = pc.createDataChannel(label, options);
    serve(channel);
    const opened = () => {
      if (label.startsWith("source:")) {
        const [, bytes, size] = label.split(":");
        runSource(channel, Number(bytes), Number(size)).catch((error) => note("source: " + error));
      }
      resolve(channel.readyState);
    };
    if (channel.readyState === "open") opened();
    else channel.addEventListener("open", opened, { once: true });
    channel.addEventListener("error", (event) => reject(String(event.error || "channel error")), { once: true });
  }),
  sendOn: (label, text) => { channels.get(label).send(text); return true; },
  closeChannel: (label) => { channels.get(label).close(); return true; },
  closePeer: () => { pc.close(); return pc.connectionState; },
};
