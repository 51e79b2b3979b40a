// The room page: joins a room on the signaling server (docs/signaling.md),
// opens one RTCPeerConnection to every other peer in it, and runs the room
// application on their data channels: a `chat` channel per pair and one
// `file` channel per file transfer ("The room application" in the same doc).
//
// `window.app` (below) is the automation surface for tests driving the page
// through the DevTools protocol; the UI calls the very same functions.
'use strict';
(() => {
  const CHUNK_BYTES = 16384;              // largest binary message of a file
  const HIGH_WATER = 1024 * 1024;         // pause sending above this bufferedAmount
  const LOW_WATER = 256 * 1024;           // ...and resume at bufferedamountlow
  const MAX_FILE_BYTES = 512 * 1024 * 1024;
  const PING_MS = 20000;                  // the server idles connections out after 60 s

  const params = new URLSearchParams(location.search);
  // In mesh mode mesh.js runs the page instead.
  if (params.get('mesh') === '1') return;
  const room = params.get('room') || 'lobby';
  const requestedId = params.get('peer');
  const token = params.get('token');

  const { $, el, logger } = window.pageKit;

  // Peer id -> connection state (see addPeer).
  const connections = new Map();
  // Bytes of app.receivedFiles[i], kept apart so that the public entries stay plain data.
  const receivedData = [];

  const app = {
    id: null,
    room,
    chatLog: [],
    receivedFiles: [],
    log: [],
    peers: peerList,
    sendChat,
    sendFile,
    receivedBytes: (index) => receivedData[index],
  };
  window.app = app;

  // ---------------------------------------------------------------- helpers

  const note = logger('room', app.log, 'log');

  function formatBytes(n) {
    if (n < 1024) return `${n} B`;
    if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
    return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  }

  function nextEvent(target, type) {
    return new Promise((resolve) => target.addEventListener(type, resolve, { once: true }));
  }

  function delay(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  function toHex(buffer) {
    return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, '0')).join('');
  }

  async function sha256Hex(bytes) {
    // crypto.subtle exists only in secure contexts: https, or http from
    // localhost/127.0.0.1. A page served over plain http from a LAN address
    // has none, so it hashes in JavaScript instead.
    if (globalThis.crypto?.subtle) return toHex(await crypto.subtle.digest('SHA-256', bytes));
    return sha256Js(bytes);
  }

  // SHA-256 (FIPS 180-4) in plain JavaScript, for insecure contexts only.
  function sha256Js(bytes) {
    const primes = [];
    for (let n = 2; primes.length < 64; n++) if (primes.every((p) => n % p)) primes.push(n);
    // Initial hash: fractional parts of the square roots of the first 8 primes;
    // round constants: of the cube roots of the first 64 (exact in doubles).
    const frac = (x) => ((x - Math.floor(x)) * 2 ** 32) >>> 0;
    const H = Uint32Array.from(primes.slice(0, 8), (p) => frac(Math.sqrt(p)));
    const K = Uint32Array.from(primes, (p) => frac(Math.cbrt(p)));
    const W = new Uint32Array(64);
    const ror = (x, n) => (x >>> n) | (x << (32 - n));

    const compress = (view, offset) => {
      for (let i = 0; i < 16; i++) W[i] = view.getUint32(offset + 4 * i);
      for (let i = 16; i < 64; i++) {
        const w15 = W[i - 15], w2 = W[i - 2];
        W[i] = W[i - 16] + (ror(w15, 7) ^ ror(w15, 18) ^ (w15 >>> 3)) +
          W[i - 7] + (ror(w2, 17) ^ ror(w2, 19) ^ (w2 >>> 10));
      }
      let [a, b, c, d, e, f, g, h] = H;
      for (let i = 0; i < 64; i++) {
        const t1 = (h + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + W[i]) | 0;
        const t2 = ((ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
        h = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
      }
      H[0] += a; H[1] += b; H[2] += c; H[3] += d; H[4] += e; H[5] += f; H[6] += g; H[7] += h;
    };

    // Whole blocks straight from the input (no padded copy of a large file),
    // then the padded tail: 0x80, zeros, the length in bits as 64-bit big-endian.
    const whole = bytes.length - (bytes.length % 64);
    const input = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let offset = 0; offset < whole; offset += 64) compress(input, offset);
    const rest = bytes.length - whole;
    const tail = new Uint8Array(rest + 9 <= 64 ? 64 : 128);
    tail.set(bytes.subarray(whole));
    tail[rest] = 0x80;
    const tailView = new DataView(tail.buffer);
    tailView.setUint32(tail.length - 8, Math.floor(bytes.length / 2 ** 29));
    tailView.setUint32(tail.length - 4, (bytes.length * 8) >>> 0);
    for (let offset = 0; offset < tail.length; offset += 64) compress(tailView, offset);
    return Array.from(H, (word) => word.toString(16).padStart(8, '0')).join('');
  }

  // ---------------------------------------------------------------- signaling

  let socket = null;

  function setSignalingState(text) {
    $('signaling').textContent = text;
  }

  function signal(message) {
    if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
    else note(`signaling is not open; dropped ${message.type}`);
  }

  function join(peerId) {
    const message = { type: 'join', room };
    if (peerId) message.peer = peerId;
    if (token) message.token = token;
    signal(message);
  }

  function connectSignaling() {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    socket = new WebSocket(`${scheme}//${location.host}/ws`);
    setSignalingState('connecting');
    let pinger = null;
    socket.onopen = () => {
      setSignalingState('open');
      join(requestedId);
      pinger = setInterval(() => signal({ type: 'ping' }), PING_MS);
    };
    socket.onmessage = ({ data }) => {
      let message;
      try {
        message = JSON.parse(data);
      } catch {
        note('signaling: a message that is not JSON');
        return;
      }
      onSignal(message);
    };
    // Closing the signaling socket leaves the peer connections up: data
    // channels do not need the server once they are open.
    socket.onclose = ({ code, reason }) => {
      clearInterval(pinger);
      setSignalingState(`closed (${code}${reason ? `: ${reason}` : ''})`);
    };
  }

  function onSignal(message) {
    switch (message.type) {
      case 'welcome':
        app.id = message.peer;
        $('self').textContent = app.id;
        setSignalingState('joined');
        note(`joined ${message.room} as ${app.id}; ${message.peers.length} peer(s) present`);
        // The newcomer offers to everyone already present.
        for (const id of message.peers) addPeer(id, true);
        break;
      case 'peer-joined':
        note(`${message.peer} joined`);
        addPeer(message.peer, false);
        break;
      case 'peer-left':
        removePeer(message.peer, 'left');
        break;
      case 'bye':
        removePeer(message.from, 'said bye');
        break;
      case 'offer':
      case 'answer':
      case 'candidate':
      case 'end-of-candidates': {
        // An offer from an unknown sender comes from a newcomer whose
        // peer-joined we have not seen; answer it all the same.
        const peer = connections.get(message.from) ??
          (message.type === 'offer' ? addPeer(message.from, false) : null);
        if (!peer) {
          note(`${message.type} from unknown peer ${message.from}; ignored`);
          return;
        }
        // Handle one peer's messages strictly in order, each after the
        // previous one's asynchronous WebRTC calls have finished.
        peer.queue = peer.queue
          .then(() => onPeerSignal(peer, message))
          .catch((err) => note(`${peer.id}: ${message.type}: ${err}`));
        break;
      }
      case 'pong':
        break;
      case 'error':
        note(`server error ${message.code}: ${message.message}`);
        // The requested id is in use: take one from the server instead.
        if (message.code === 'peer-id-taken') join(null);
        break;
      default:
        note(`signaling: ignored ${message.type}`);
    }
  }

  // ---------------------------------------------------------------- peer connections

  // `newcomer`: we joined after this peer, so we offer, create the chat
  // channel, and are the polite side of perfect negotiation.
  function addPeer(id, newcomer) {
    removePeer(id, 'replaced');
    const pc = new RTCPeerConnection({ iceServers: [] });
    const peer = {
      id,
      pc,
      polite: newcomer,
      makingOffer: false,
      ignoreOffer: false,
      pendingCandidates: [],   // remote candidates that came before the remote description
      queue: Promise.resolve(),
      chat: null,
      aborts: new Set(),       // one per running transfer, called if the peer goes away
      view: null,
    };
    connections.set(id, peer);

    // W3C "perfect negotiation": whoever needs (re)negotiation offers. Only
    // the newcomer creates a channel up front, so it makes the initial offer.
    pc.onnegotiationneeded = async () => {
      try {
        peer.makingOffer = true;
        await pc.setLocalDescription();
        signal({ type: pc.localDescription.type, to: id, sdp: pc.localDescription.sdp });
      } catch (err) {
        note(`${id}: creating an offer failed: ${err}`);
      } finally {
        peer.makingOffer = false;
      }
    };
    pc.onicecandidate = ({ candidate }) => {
      if (!candidate) {
        signal({ type: 'end-of-candidates', to: id });
      } else if (candidate.candidate) {
        signal({
          type: 'candidate', to: id, candidate: candidate.candidate,
          sdpMid: candidate.sdpMid, sdpMLineIndex: candidate.sdpMLineIndex,
        });
      }
    };
    pc.onconnectionstatechange = () => renderPeer(peer);
    pc.oniceconnectionstatechange = () => renderPeer(peer);
    pc.ondatachannel = ({ channel }) => {
      if (channel.label === 'chat') setUpChat(peer, channel);
      else if (channel.label === 'file') receiveFile(peer, channel);
      else note(`${id}: ignored data channel "${channel.label}"`);
    };

    if (newcomer) setUpChat(peer, pc.createDataChannel('chat', { ordered: true }));
    renderPeer(peer);
    return peer;
  }

  function removePeer(id, why) {
    const peer = connections.get(id);
    if (!peer) return;
    connections.delete(id);
    // pc.close() closes the data channels without firing their close events,
    // so running transfers are told here.
    for (const abort of peer.aborts) abort(`peer ${why}`);
    peer.pc.close();
    peer.view.row.remove();
    $('no-peers').hidden = connections.size > 0;
    note(`${id} ${why}; connection closed`);
  }

  async function onPeerSignal(peer, message) {
    const { pc } = peer;
    if (pc.signalingState === 'closed') return;
    if (message.type === 'offer' || message.type === 'answer') {
      const offerCollision = message.type === 'offer' &&
        (peer.makingOffer || pc.signalingState !== 'stable');
      peer.ignoreOffer = !peer.polite && offerCollision;
      if (peer.ignoreOffer) {
        note(`${peer.id}: offers collided; ignoring theirs (we are the impolite side)`);
        return;
      }
      // Chromium (156, measured) sometimes never gathers a candidate for the
      // answer when the offer it rolls back had not finished gathering: about
      // one glare in ten wedged. Host-only gathering takes a few hundred ms at
      // most, so let it finish first (bounded, in case it does not).
      if (offerCollision) await gatheringComplete(pc, 1000);
      // On a collision the polite side's setRemoteDescription rolls its own offer back.
      await pc.setRemoteDescription({ type: message.type, sdp: message.sdp });
      if (message.type === 'offer') {
        await pc.setLocalDescription();
        signal({ type: 'answer', to: peer.id, sdp: pc.localDescription.sdp });
      }
      const pending = peer.pendingCandidates.splice(0);
      for (const candidate of pending) await addCandidate(peer, candidate);
    } else {
      // `null` stands for end of candidates: an empty `candidate` means the same.
      const candidate = message.type === 'candidate' && message.candidate
        ? { candidate: message.candidate, sdpMid: message.sdpMid, sdpMLineIndex: message.sdpMLineIndex }
        : null;
      if (pc.remoteDescription) await addCandidate(peer, candidate);
      else peer.pendingCandidates.push(candidate);
    }
  }

  // Resolves when pc's ICE gathering is complete, or after `ms` at the latest.
  async function gatheringComplete(pc, ms) {
    const timeout = delay(ms).then(() => 'timeout');
    while (pc.iceGatheringState !== 'complete') {
      if (await Promise.race([nextEvent(pc, 'icegatheringstatechange'), timeout]) === 'timeout') return;
    }
  }

  async function addCandidate(peer, candidate) {
    try {
      if (candidate) await peer.pc.addIceCandidate(candidate);
      else await peer.pc.addIceCandidate();
    } catch (err) {
      // Candidates belonging to an offer we ignored are expected to fail.
      if (!peer.ignoreOffer) note(`${peer.id}: addIceCandidate failed: ${err}`);
    }
  }

  function peerInfo({ id, pc, chat }) {
    return {
      id,
      connectionState: pc.connectionState,
      iceConnectionState: pc.iceConnectionState,
      chatOpen: chat?.readyState === 'open',
    };
  }

  function peerList() {
    return [...connections.values()].map(peerInfo);
  }

  // ---------------------------------------------------------------- chat

  function setUpChat(peer, channel) {
    peer.chat = channel;
    channel.binaryType = 'arraybuffer';
    channel.onopen = () => renderPeer(peer);
    channel.onclose = () => renderPeer(peer);
    channel.onmessage = ({ data }) => {
      if (typeof data === 'string') addChatLine(peer.id, data);
    };
  }

  // Sends one line to every peer whose chat channel is open; returns how many.
  function sendChat(text) {
    let sent = 0;
    for (const peer of connections.values()) {
      if (peer.chat?.readyState === 'open') {
        peer.chat.send(text);
        sent++;
      }
    }
    addChatLine(app.id, text);
    return sent;
  }

  function addChatLine(from, text) {
    app.chatLog.push({ from, text });
    const log = $('chat-log');
    log.append(el('div', { className: from === app.id ? 'line own' : 'line' },
      el('span', { className: 'from', textContent: from ?? '(not joined)' }), ' ', text));
    log.scrollTop = log.scrollHeight;
  }

  // ---------------------------------------------------------------- files

  // Sends `bytes` to `peerId` on a new `file` channel and resolves to
  // {ok, sha256, error?} once the receiver has replied (or the transfer failed).
  async function sendFile(peerId, name, bytes) {
    const data = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
    const view = transferView(`→ ${peerId}: ${name}`, data.length);
    const fail = (error) => {
      view.finish(false, error);
      note(`sending ${name} to ${peerId} failed: ${error}`);
      return { ok: false, sha256: null, error };
    };
    const peer = connections.get(peerId);
    if (!peer) return fail('no such peer');
    if (data.length > MAX_FILE_BYTES) return fail('larger than receivers accept (512 MiB)');

    // `ended` settles with the receiver's reply, which may come early (an
    // error), or fails when the channel or the peer goes away first; every
    // wait below is cut short by it.
    let reply = null;
    let end;
    const ended = new Promise((resolve, reject) => { end = { resolve, reject }; });
    ended.catch(() => {});   // observed through the awaits below
    const abort = (why) => end.reject(new Error(why));
    peer.aborts.add(abort);
    const untilEnded = (promise) => Promise.race([promise, ended]);
    let channel = null;
    try {
      const sha256 = await sha256Hex(data);
      // A channel created before the pair's first negotiation would make this
      // side offer too (glare, against the newcomer rule): wait for it.
      while (!peer.pc.sctp) await untilEnded(nextEvent(peer.pc, 'signalingstatechange'));
      channel = peer.pc.createDataChannel('file', { ordered: true });
      channel.binaryType = 'arraybuffer';
      channel.bufferedAmountLowThreshold = LOW_WATER;
      channel.onmessage = ({ data: message }) => {
        reply = parseReply(message);
        end.resolve(reply);
      };
      channel.onclose = () => end.reject(new Error('channel closed before the receiver replied'));

      await untilEnded(nextEvent(channel, 'open'));
      channel.send(JSON.stringify({ name, size: data.length, sha256 }));
      for (let offset = 0; offset < data.length; offset += CHUNK_BYTES) {
        if (channel.bufferedAmount > HIGH_WATER) await untilEnded(nextEvent(channel, 'bufferedamountlow'));
        // Stop at an early reply (an error) or when the receiver closes the
        // channel; `ended` then says which.
        if (reply || channel.readyState !== 'open') break;
        const chunk = data.subarray(offset, offset + CHUNK_BYTES);
        channel.send(chunk);
        // Progress counts what has left our send buffer, not what we queued.
        view.progress(Math.max(0, offset + chunk.length - channel.bufferedAmount));
      }
      const { ok, sha256: theirs, error } = await ended;
      if (!ok) return fail(error);
      if (theirs !== sha256) return fail(`receiver computed a different SHA-256 ${theirs}`);
      view.finish(true, `delivered, SHA-256 ${sha256.slice(0, 16)}… verified`);
      note(`sent ${name} (${data.length} bytes) to ${peerId}`);
      return { ok: true, sha256 };
    } catch (err) {
      return fail(err.message ?? String(err));
    } finally {
      peer.aborts.delete(abort);
      channel?.close();
    }
  }


  function parseReply(message) {
    try {
      const reply = JSON.parse(message);
      if (reply?.ok === true) return { ok: true, sha256: reply.sha256 };
      return { ok: false, error: `receiver: ${reply?.error ?? 'malformed reply'}` };
    } catch {
      return { ok: false, error: 'receiver sent a reply that is not JSON' };
    }
  }

  // Returns the header {name, size, sha256}, or a string saying what is wrong with it.
  function parseHeader(message) {
    if (typeof message !== 'string') return 'bad header: binary message before the header';
    let header;
    try {
      header = JSON.parse(message);
    } catch {
      return 'bad header: not JSON';
    }
    const { name, size, sha256 } = header ?? {};
    if (typeof name !== 'string' || !name) return 'bad header: name';
    if (!Number.isSafeInteger(size) || size < 0) return 'bad header: size';
    if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256)) return 'bad header: sha256';
    if (size > MAX_FILE_BYTES) return `file too large (${size} bytes; the limit is ${MAX_FILE_BYTES})`;
    return { name, size, sha256 };
  }

  function receiveFile(peer, channel) {
    channel.binaryType = 'arraybuffer';
    const view = transferView(`← ${peer.id}`, 0);
    let header = null;
    let buffer = null;
    let received = 0;
    let finished = false;

    const reply = (message) => {
      if (channel.readyState === 'open') channel.send(JSON.stringify(message));
    };
    const fail = (error) => {
      finished = true;
      reply({ ok: false, error });
      view.finish(false, error);
      note(`receiving from ${peer.id} failed: ${error}`);
    };
    const complete = async () => {
      finished = true;
      const sha256 = await sha256Hex(buffer);
      const ok = sha256 === header.sha256;
      app.receivedFiles.push({ from: peer.id, name: header.name, size: header.size, sha256, ok });
      receivedData.push(buffer);
      reply(ok ? { ok, sha256 } : { ok, error: `digest mismatch: received data hashes to ${sha256}` });
      const link = el('a', {
        href: URL.createObjectURL(new Blob([buffer])),
        download: header.name,
        textContent: `${header.name} (${formatBytes(header.size)})`,
      });
      view.finish(ok, ok ? 'integrity verified' : 'integrity check FAILED', link);
      note(`received ${header.name} (${header.size} bytes) from ${peer.id}: ${ok ? 'ok' : 'digest mismatch'}`);
    };
    const abort = (why) => {
      if (!finished) {
        finished = true;
        view.finish(false, why);
      }
    };
    peer.aborts.add(abort);

    channel.onmessage = ({ data }) => {
      if (finished) return;
      if (!header) {
        const parsed = parseHeader(data);
        if (typeof parsed === 'string') return fail(parsed);
        header = parsed;
        // Allocated once the size is known (and within the limit), so chunks
        // are copied straight into place.
        buffer = new Uint8Array(header.size);
        view.start(`← ${peer.id}: ${header.name}`, header.size);
        if (header.size === 0) complete().catch((err) => fail(String(err)));
        return;
      }
      if (typeof data === 'string') return fail('text message in the middle of the file');
      if (received + data.byteLength > header.size) return fail('size exceeded');
      buffer.set(new Uint8Array(data), received);
      received += data.byteLength;
      view.progress(received);
      if (received === header.size) complete().catch((err) => fail(String(err)));
    };
    channel.onclose = () => {
      peer.aborts.delete(abort);
      abort('channel closed before the whole file arrived');
    };
  }

  // ---------------------------------------------------------------- views

  function renderPeer(peer) {
    if (connections.get(peer.id) !== peer) return;   // a late event from a removed connection
    if (!peer.view) {
      const input = el('input', { type: 'file' });
      const button = el('button', { type: 'button', textContent: 'Send file' });
      button.onclick = () => {
        const file = input.files[0];
        if (!file) return note('choose a file to send first');
        input.value = '';
        // Checked before reading the whole file into memory.
        if (file.size > MAX_FILE_BYTES) return note(`${file.name} is larger than receivers accept (512 MiB)`);
        file.arrayBuffer()
          .then((buffer) => sendFile(peer.id, file.name, new Uint8Array(buffer)))
          .catch((err) => note(`reading ${file.name} failed: ${err}`));
      };
      const state = el('span', { className: 'state' });
      const detail = el('span', { className: 'detail' });
      peer.view = {
        row: el('li', {}, el('span', { className: 'peer-id', textContent: peer.id }), state, detail,
          el('span', { className: 'send' }, input, button)),
        state,
        detail,
      };
      $('peers').append(peer.view.row);
      $('no-peers').hidden = true;
    }
    const { connectionState, iceConnectionState, chatOpen } = peerInfo(peer);
    peer.view.state.textContent = connectionState;
    peer.view.state.dataset.state = connectionState;   // colours it (style.css)
    peer.view.detail.textContent = `ICE ${iceConnectionState} · chat ${chatOpen ? 'open' : 'closed'} · ` +
      (peer.polite ? 'we offered' : 'they offered');
  }

  // One row in the transfer list: a title, a progress bar and a status line.
  function transferView(title, size) {
    const label = el('span', { className: 'title', textContent: title });
    const bar = el('progress', { max: Math.max(size, 1), value: 0 });
    const status = el('span', { className: 'status', textContent: size ? formatBytes(size) : '' });
    const row = el('li', {}, label, bar, status);
    $('transfers').prepend(row);
    return {
      start(newTitle, newSize) {
        label.textContent = newTitle;
        bar.max = Math.max(newSize, 1);
        status.textContent = formatBytes(newSize);
      },
      progress(bytes) {
        bar.value = bytes;
        status.textContent = `${formatBytes(bytes)} of ${formatBytes(bar.max)}`;
      },
      finish(ok, text, ...extra) {
        if (ok) bar.value = bar.max;
        row.classList.add(ok ? 'ok' : 'failed');
        status.replaceChildren(...extra, extra.length ? ' — ' : '', text);
      },
    };
  }

  // ---------------------------------------------------------------- start

  $('room').textContent = room;
  $('mode-link').href = `?mesh=1&room=${encodeURIComponent(room)}`;
  $('chat-form').onsubmit = (event) => {
    event.preventDefault();
    const input = $('chat-input');
    if (!input.value) return;
    sendChat(input.value);
    input.value = '';
  };
  // Tell the server at once rather than leaving the others to wait for the socket to drop.
  addEventListener('pagehide', () => signal({ type: 'leave' }));
  connectSignaling();
})();
