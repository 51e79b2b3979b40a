// The mesh overlay of docs/mesh.md, in two parts:
//
// - `createMeshCore`: the protocol itself as a state machine, with no DOM and
//   no RTCPeerConnection, so Node runs it unchanged
//   (Tests/interop/mesh-core.test.mjs loads this file with `require`);
// - the page's mesh mode (`/?mesh=1&room=R`, optional `mode=full|partial`,
//   `id=NODEID`, `signal=ws://HOST:PORT/ws`): one RTCPeerConnection per link,
//   entered through the signaling server (docs/signaling.md), every later link
//   brokered through the overlay.
//
// `window.mesh` (mesh mode only) is the automation surface for tests driving
// the page through the DevTools protocol; the UI calls the very same functions.
'use strict';
(() => {
  // Defaults of docs/mesh.md, "Limits".
  const LIMITS = {
    maxNeighbours: 32,
    signalRate: 50,             // relayed `signal` per second and neighbour...
    signalBurst: 256,           // ...with bursts of this many
    idCache: 8192,              // message ids remembered
    knownIds: 1024,
    routes: 1024,               // not in the document: bounded like the known set
    messageBytes: 65536,
    attempts: { full: 4, partial: 2 },
    answerMs: 3000,             // a brokered offer waits this long for its answer...
    attemptMs: 10000,           // ...and a link this long to come up after it
    gossipMs: 1000,
    gossipIds: { full: 64, partial: 8 },
    ttl: 16,
    maxTtl: 64,
    entranceLinks: 2,           // not in the table: "Entering" links to 2 peers present
  };
  const VERSION = 1;

  // ================================================================ the core

  const NODE_ID = /^[A-Za-z0-9._-]{1,64}$/;
  const HEX16 = /^[0-9a-f]{16}$/;
  const isNodeId = (v) => typeof v === 'string' && NODE_ID.test(v);
  const isHex16 = (v) => typeof v === 'string' && HEX16.test(v);
  const isTtl = (v) => Number.isInteger(v) && v >= 1 && v <= LIMITS.maxTtl;
  const isObject = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);
  const has = (object, key) => Object.hasOwn(object, key);
  const optional = (v, test) => v === undefined || v === null || test(v);

  // Message ids and attempt ids: 16 lower-case hex digits of a random 64-bit number.
  function randomHex16() {
    const words = crypto.getRandomValues(new Uint32Array(2));
    return Array.from(words, (w) => w.toString(16).padStart(8, '0')).join('');
  }

  function utf8Length(text) {
    // Every UTF-16 unit is at most 3 bytes of UTF-8: skip the encoding when it cannot matter.
    if (text.length * 3 <= LIMITS.messageBytes) return text.length;
    return new TextEncoder().encode(text).length;
  }

  // Members every routed message carries ("Messages": `id`, `from`, `ttl`).
  const routed = (m) => isHex16(m.id) && isNodeId(m.from) && isTtl(m.ttl);

  // Per-kind members of `signal`; a kind not listed is malformed ("Messages").
  const SIGNAL_KINDS = new Map([
    ['offer', (m) => typeof m.sdp === 'string'],
    ['answer', (m) => typeof m.sdp === 'string'],
    ['candidate', (m) => typeof m.candidate === 'string' &&
      optional(m.sdpMid, (v) => typeof v === 'string') &&
      optional(m.sdpMLineIndex, Number.isInteger)],
    ['end', () => true],
    ['refuse', (m) => typeof m.reason === 'string'],
  ]);

  // The type check of every `t` ("Messages"); a `t` not in here is unknown.
  const MESSAGE_TYPES = new Map([
    ['hello', (m) => Number.isInteger(m.v) && typeof m.id === 'string' && typeof m.mode === 'string'],
    ['peers', (m) => Array.isArray(m.ids) && m.ids.every(isNodeId)],
    ['signal', (m) => routed(m) && isNodeId(m.to) && isHex16(m.conn) && typeof m.kind === 'string' &&
      (SIGNAL_KINDS.get(m.kind)?.(m) ?? false)],
    ['bcast', (m) => routed(m) && has(m, 'data')],
    ['direct', (m) => routed(m) && isNodeId(m.to) && has(m, 'data')],
    ['bye', () => true],
  ]);

  const MALFORMED = 'malformed';
  const UNKNOWN = 'unknown';

  // Returns the message object, MALFORMED or UNKNOWN ("Nodes and links", last item).
  function parseMessage(text) {
    if (typeof text !== 'string' || utf8Length(text) > LIMITS.messageBytes) return MALFORMED;
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      return MALFORMED;
    }
    if (!isObject(message) || typeof message.t !== 'string') return MALFORMED;
    const check = MESSAGE_TYPES.get(message.t);
    if (!check) return UNKNOWN;
    return check(message) ? message : MALFORMED;
  }

  function shuffled(items, random) {
    const copy = [...items];
    for (let i = copy.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [copy[i], copy[j]] = [copy[j], copy[i]];
    }
    return copy;
  }

  // Adds `key` as the newest entry of an insertion-ordered Map or Set and
  // drops the oldest entries above `limit`.
  function touch(collection, limit, key, value) {
    collection.delete(key);
    if (collection instanceof Set) collection.add(key);
    else collection.set(key, value);
    while (collection.size > limit) collection.delete(collection.keys().next().value);
  }

  // One node of the overlay. `effects` are the driver's hands:
  //   send(neighbour, text)      a text message on that link's channel
  //   connect(node, conn)        make a peer connection to `node` and offer it: through
  //                              the overlay (core.signal), or through the server when
  //                              `conn` is null (the entrance)
  //   offer(node, conn, sdp)     answer this offer from `node` on a new peer connection
  //   signal(node, message)      an `answer`, `candidate` or `end` for that attempt
  //   close(node, why)           close and forget the peer connection to `node`
  //   deliver({kind, id, from, data})   a broadcast or direct message for this node
  //   changed()                  the view or the counters changed (optional)
  // `now` returns milliseconds; `random` returns [0, 1).
  function createMeshCore({ id, mode = 'full', effects, now, random = Math.random, maxNeighbours = LIMITS.maxNeighbours }) {
    if (!isNodeId(id)) throw new RangeError(`not a node id: ${id}`);
    if (mode !== 'full' && mode !== 'partial') throw new RangeError(`mode must be full or partial: ${mode}`);

    // Node id -> {direction: 'in'|'out', conn (null: made through the server),
    // since, opened (channel open), up (hello received), tokens, refilled}.
    const links = new Map();
    const known = new Map();    // node id -> the neighbour it is known through, oldest first
    const routes = new Map();   // node id -> the neighbour its last routed message came through
    const seen = new Set();     // the last message ids, oldest first
    let entrance = [];          // peers present, in random order, not yet asked ("Entering")
    const stats = {
      malformed: 0, unknown: 0, duplicates: 0, expired: 0,
      relayedSignals: 0, droppedSignals: 0, forwarded: 0, delivered: 0,
      attempts: 0, timeouts: 0, refusalsSent: 0, refusalsReceived: 0,
      linksUp: 0, linksDown: 0,
    };
    let nextGossip = 0;

    const isUp = (node) => links.get(node)?.up === true;
    const upIds = () => [...links.keys()].filter(isUp);
    const changed = () => effects.changed?.();

    // ------------------------------------------------------------ links

    function addLink(node, direction, conn) {
      links.set(node, {
        direction, conn, since: now(), opened: false, up: false, answered: false,
        tokens: LIMITS.signalBurst, refilled: now(),
      });
      changed();
    }

    // Removes a link and everything learned about its node ("Churn"); `bye`
    // tells the other side it was on purpose. A link through the server that
    // never came up (refused, failed, timed out) is replaced by the next peer
    // present ("Entering").
    function dropLink(node, why, bye) {
      const link = links.get(node);
      if (!link) return;
      if (bye && link.opened) sendTo(node, { t: 'bye' });
      links.delete(node);
      known.delete(node);
      routes.delete(node);
      if (link.up) stats.linksDown++;
      effects.close(node, why);
      if (!link.up && link.conn === null) continueEntrance();
      changed();
    }

    // "Entering": asks the next peers present through the server until 2
    // entrance links are up or on their way, or nobody is left to ask; with 2
    // neighbours the entrance is over.
    function continueEntrance() {
      if (upIds().length >= LIMITS.entranceLinks) entrance = [];
      while (entrance.length && upIds().length + entranceAttempts() < LIMITS.entranceLinks) {
        const node = entrance.pop();
        if (links.has(node)) continue;
        addLink(node, 'out', null);
        effects.connect(node, null);
      }
    }

    // Our offers through the server still on their way up.
    function entranceAttempts() {
      return [...links.values()].filter((l) => l.conn === null && l.direction === 'out' && !l.up).length;
    }

    // The acceptance limit of "Membership" and "Entering": in partial mode up
    // to twice the target (and the maximum), for brokered offers and offers
    // through the server alike.
    function hasRoomForOffer() {
      const limit = mode === 'partial' ? Math.min(2 * target(), maxNeighbours) : maxNeighbours;
      return links.size < limit;
    }

    // The partial-mode view size: log2(N) + 1 rounded up, N = 1 + neighbours + known ids.
    function target() {
      const n = 1 + upIds().length + known.size;
      return Math.min(maxNeighbours, Math.max(3, Math.ceil(Math.log2(n)) + 1));
    }

    function sendTo(node, message) {
      effects.send(node, JSON.stringify(message));
    }

    function sendToAll(message, except) {
      const text = JSON.stringify(message);
      for (const node of upIds()) if (node !== except) effects.send(node, text);
    }

    // ------------------------------------------------------------ receiving

    function receive(node, text) {
      const link = links.get(node);
      if (!link) return;
      const message = parseMessage(text);
      if (message === MALFORMED || message === UNKNOWN) {
        stats[message]++;
        changed();
        return;
      }
      if (message.t === 'hello') return onHello(node, link, message);
      // Only `hello` may come first ("Link start").
      if (!link.up) {
        stats.malformed++;
        return;
      }
      if (message.t === 'peers') onPeers(node, message.ids);
      else if (message.t === 'bye') dropLink(node, 'said bye', false);
      else if (message.t === 'bcast') onBroadcast(node, message);
      else onRouted(node, message);
    }

    // "Link start": the expected id and version, once.
    function onHello(node, link, message) {
      if (link.up || message.v !== VERSION || message.id !== node) {
        dropLink(node, `bad hello (${link.up ? 'second' : `v ${message.v}, id ${message.id}`})`, true);
        return;
      }
      link.up = true;
      stats.linksUp++;
      known.delete(node);
      sendTo(node, peersFor(node));
      // "Membership", full: the other neighbours hear of the new one at once, not at their next gossip.
      if (mode === 'full') sendToAll({ t: 'peers', ids: [node] }, node);
      changed();
    }

    // "Knowing other nodes": each listed id is now known through `node`.
    function onPeers(node, ids) {
      for (const listed of ids) {
        if (listed !== id && !isUp(listed)) touch(known, LIMITS.knownIds, listed, node);
      }
    }

    // Up to 8 (full: 64) random neighbours, leaving out the receiver, who cannot use itself.
    function peersFor(receiver) {
      const ids = shuffled(upIds().filter((n) => n !== receiver), random);
      return { t: 'peers', ids: ids.slice(0, LIMITS.gossipIds[mode]) };
    }

    // Step 1 of "Routing": false for a message id seen before.
    function firstSight(messageId) {
      if (seen.has(messageId)) {
        stats.duplicates++;
        return false;
      }
      touch(seen, LIMITS.idCache, messageId);
      return true;
    }

    // Step 2 of "Routing".
    function noteRoute(from, neighbour) {
      if (from !== id && from !== neighbour) touch(routes, LIMITS.routes, from, neighbour);
    }

    // "Broadcast".
    function onBroadcast(node, message) {
      if (!firstSight(message.id)) return changed();
      noteRoute(message.from, node);
      deliver('bcast', message);
      if (message.ttl - 1 > 0) {
        stats.forwarded++;
        sendToAll({ ...message, ttl: message.ttl - 1 }, node);
      }
    }

    // "Routing `signal` and `direct`", steps 1 to 4, and the relay rate limit.
    function onRouted(node, message) {
      if (!firstSight(message.id)) return changed();
      noteRoute(message.from, node);
      if (message.to === id) {
        if (message.t === 'direct') deliver('direct', message);
        else onSignal(message);
        return;
      }
      if (message.ttl === 1) {
        stats.expired++;
        return;
      }
      if (message.t === 'signal') {
        if (!takeToken(links.get(node))) {
          stats.droppedSignals++;
          changed();
          return;
        }
        stats.relayedSignals++;
      }
      stats.forwarded++;
      forward({ ...message, ttl: message.ttl - 1 }, node);
    }

    // Step 4: to `to` itself, else along what we know of it, else everywhere
    // but back. A route pointing back where the message came from would bounce
    // it into the sender's id cache, so that case floods as well.
    function forward(message, cameFrom) {
      const hop = nextHop(message.to);
      if (hop && hop !== cameFrom) sendTo(hop, message);
      else sendToAll(message, cameFrom);
    }

    // A peers list names a neighbour of `to` (so the first hop of an offer is
    // a broker, "Brokered connections"); a routed message names a path back.
    function nextHop(to) {
      if (isUp(to)) return to;
      for (const via of [known.get(to), routes.get(to)]) if (via && isUp(via)) return via;
      return null;
    }

    // The token bucket of "Limits": 50 per second, bursts of 256.
    function takeToken(link) {
      const t = now();
      link.tokens = Math.min(LIMITS.signalBurst, link.tokens + ((t - link.refilled) * LIMITS.signalRate) / 1000);
      link.refilled = t;
      if (link.tokens < 1) return false;
      link.tokens -= 1;
      return true;
    }

    function deliver(kind, { id: messageId, from, data }) {
      stats.delivered++;
      effects.deliver({ kind, id: messageId, from, data });
      changed();
    }

    // ------------------------------------------------------------ brokered connections

    // A signal addressed to this node ("Brokered connections").
    function onSignal(message) {
      const { from, conn, kind } = message;
      const link = links.get(from);
      const ours = link?.conn === conn;
      if (kind === 'offer') onOffer(message, link);
      else if (kind === 'refuse') {
        if (!ours || link.up) return;
        stats.refusalsReceived++;
        dropLink(from, `refused: ${message.reason}`, false);
      } else if (ours) {
        if (kind === 'answer' && !link.answered) {
          link.answered = true;          // the 10 s to come up start now ("Brokered connections")
          link.since = now();
        }
        effects.signal(from, message);   // signals of another attempt are ignored
      }
    }

    function onOffer({ from, conn, sdp }, link) {
      if (link) {
        if (link.conn === conn) return;
        if (link.up) return refuse(from, conn, 'connected');
        // Glare: the smaller id's offer wins; the larger drops its own attempt.
        if (link.direction === 'out' && id < from) return refuse(from, conn, 'glare');
        dropLink(from, 'replaced by their new attempt', true);
      }
      if (!hasRoomForOffer()) return refuse(from, conn, 'full');
      addLink(from, 'in', conn);
      effects.offer(from, conn, sdp);
    }

    function refuse(to, conn, reason) {
      stats.refusalsSent++;
      originate({ t: 'signal', to, conn, kind: 'refuse', reason });
    }

    // Sends a routed message of our own: remembered, so that its echoes are
    // dropped, and sent with the full ttl (signal, direct) or to everyone (bcast).
    function originate({ t, ...members }) {
      const message = { t, id: randomHex16(), from: id, ttl: LIMITS.ttl, ...members };
      const text = JSON.stringify(message);
      if (utf8Length(text) > LIMITS.messageBytes) throw new RangeError('message larger than 65 536 bytes');
      touch(seen, LIMITS.idCache, message.id);
      if (t === 'bcast') sendToAll(message, null);
      else forward(message, null);
      return message.id;
    }

    // ------------------------------------------------------------ membership

    function tick() {
      expireAttempts();
      if (now() >= nextGossip) {
        nextGossip = now() + LIMITS.gossipMs;
        gossip();
      }
      connectMore();
    }

    // "Brokered connections": a brokered offer without an answer within 3 s,
    // or a link not up within 10 s (of the answer, or of its start when made
    // through the server), is dropped and its target forgotten. Collected
    // first: dropping an entrance attempt starts the next one.
    function expireAttempts() {
      const awaitingAnswer = (link) => link.conn !== null && link.direction === 'out' && !link.answered;
      const expired = [...links].filter(([, link]) =>
        !link.up && now() - link.since > (awaitingAnswer(link) ? LIMITS.answerMs : LIMITS.attemptMs));
      for (const [node] of expired) {
        stats.timeouts++;
        dropLink(node, 'timed out', true);
      }
    }

    function gossip() {
      const [to] = shuffled(upIds(), random);
      if (to) sendTo(to, peersFor(to));
    }

    // "Membership": full mode links to every known larger id; partial mode
    // fills the view up to its target with random known nodes.
    function connectMore() {
      const underWay = [...links.values()].filter((l) => l.direction === 'out' && !l.up).length;
      const wanted = (mode === 'full' ? maxNeighbours : target()) - links.size;
      const count = Math.min(LIMITS.attempts[mode] - underWay, wanted);
      if (count <= 0) return;
      const candidates = [...known.keys()].filter((n) => !links.has(n) && (mode === 'partial' || n > id));
      for (const node of shuffled(candidates, random).slice(0, count)) {
        const conn = randomHex16();
        stats.attempts++;
        addLink(node, 'out', conn);
        effects.connect(node, conn);
      }
    }

    // ------------------------------------------------------------ the driver's side

    return {
      id,
      // We joined the signaling room where `present` are ("Entering").
      enter(present) {
        entrance = shuffled(present.filter((node) => node !== id), random);
        continueEntrance();
      },
      // An offer came through the signaling server: true to answer it, false
      // when there is a link to `node` already or no room under the
      // acceptance limit (the driver then sends `bye` through the server).
      admit(node) {
        if (node === id || links.has(node) || !hasRoomForOffer()) {
          stats.refusalsSent++;
          changed();
          return false;
        }
        addLink(node, 'in', null);
        return true;
      },
      // The link's channel is open: say hello ("Link start").
      opened(node) {
        const link = links.get(node);
        if (!link || link.opened) return;
        link.opened = true;
        sendTo(node, { t: 'hello', v: VERSION, id, mode });
      },
      receive,
      // The channel closed or the peer connection failed or closed.
      closed(node) {
        dropLink(node, 'closed', false);
      },
      // Closes a link on purpose (bye), or every link when `node` is omitted;
      // a node closing every link is leaving, so it asks no one else in.
      disconnect(node) {
        if (node === undefined) entrance = [];
        for (const n of node === undefined ? [...links.keys()] : [node]) dropLink(n, 'disconnected', true);
      },
      // Our own offer, answer or candidate of attempt `conn` to `node`; false
      // if that attempt is gone.
      signal(node, conn, kind, fields = {}) {
        if (links.get(node)?.conn !== conn || conn === null) return false;
        originate({ t: 'signal', to: node, conn, kind, ...fields });
        return true;
      },
      broadcast(data) {
        return originate({ t: 'bcast', data });
      },
      send(to, data) {
        if (!isNodeId(to)) throw new RangeError(`not a node id: ${to}`);
        return originate({ t: 'direct', to, data });
      },
      tick,
      neighbours: () => upIds().map((n) => ({ id: n, direction: links.get(n).direction })),
      stats: () => ({
        ...stats,
        neighbours: upIds().length,
        pending: links.size - upIds().length,
        known: known.size,
        routes: routes.size,
        target: mode === 'partial' ? target() : null,
      }),
    };
  }

  if (typeof module !== 'undefined') {
    module.exports = { createMeshCore, LIMITS };
    return;
  }
  if (new URLSearchParams(location.search).get('mesh') !== '1') return;

  // ================================================================ the page

  const PING_MS = 20000;     // the server idles connections out after 60 s
  const TICK_MS = 250;       // how often the core expires attempts, gossips and connects
  const RENDER_MS = 100;     // the views are redrawn at most this often

  const params = new URLSearchParams(location.search);
  const room = params.get('room') || 'lobby';
  const requestedId = params.get('id');
  const mode = params.get('mode') === 'partial' ? 'partial' : 'full';
  const token = params.get('token');
  const signalUrl = params.get('signal') ||
    `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws`;

  const { $, el, logger } = window.pageKit;

  // Node id -> {pc, channel, conn, pendingCandidates, queue}; `conn` is null
  // for a link made through the signaling server.
  const links = new Map();
  let core = null;
  let socket = null;
  let joined;

  const mesh = {
    get id() { return core?.id ?? null; },
    room,
    mode,
    ready: new Promise((resolve) => { joined = resolve; }),
    received: [],
    log: [],
    neighbours: () => core?.neighbours() ?? [],
    broadcast,
    send: sendDirect,
    disconnect: (node) => core?.disconnect(node),
    stats: () => core?.stats() ?? {},
    signalingOpen: () => socket?.readyState === WebSocket.OPEN,
  };
  window.mesh = mesh;

  // ---------------------------------------------------------------- helpers

  const note = logger('mesh', mesh.log, 'mesh-log');

  // ---------------------------------------------------------------- signaling server

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
    socket = new WebSocket(signalUrl);
    $('signaling').textContent = 'connecting';
    let pinger = null;
    socket.onopen = () => {
      $('signaling').textContent = 'open';
      join(requestedId);
      pinger = setInterval(() => signal({ type: 'ping' }), PING_MS);
    };
    socket.onmessage = ({ data }) => {
      try {
        onServerMessage(JSON.parse(data));
      } catch (err) {
        note(`signaling: ${err}`);
      }
    };
    // "When the server goes away, nothing changes for the overlay."
    socket.onclose = ({ code }) => {
      clearInterval(pinger);
      $('signaling').textContent = `closed (${code})`;
      note('signaling closed; the overlay carries on without it');
    };
  }

  function onServerMessage(message) {
    switch (message.type) {
      case 'welcome':
        onWelcome(message);
        break;
      case 'offer':
        // "Entering": answer an offer through the server while there is room, else say bye.
        if (!core) break;
        if (core.admit(message.from)) answer(message.from, null, message.sdp);
        else signal({ type: 'bye', to: message.from });
        break;
      case 'answer':
      case 'candidate':
      case 'end-of-candidates': {
        const link = links.get(message.from);
        if (link?.conn === null) applyRemote(message.from, link, fromServer(message));
        break;
      }
      case 'bye':
        // Also a refused entrance offer: the core then asks the next peer present.
        core?.closed(message.from);
        break;
      case 'error':
        note(`server error ${message.code}: ${message.message}`);
        // The requested id is in use: take one from the server instead.
        if (message.code === 'peer-id-taken') join(null);
        break;
      // The overlay does not follow the room's presence: a node that left the
      // server may still be linked, so peer-joined and peer-left change nothing.
      case 'peer-joined':
      case 'peer-left':
      case 'pong':
        break;
      default:
        note(`signaling: ignored ${message.type}`);
    }
  }

  // Our peer id on the server is our node id ("Nodes and links").
  function onWelcome({ peer, peers }) {
    if (core) return;
    core = createMeshCore({ id: peer, mode, effects, now: () => performance.now() });
    setInterval(() => core.tick(), TICK_MS);
    $('self').textContent = peer;
    $('signaling').textContent = 'joined';
    note(`joined ${room} as ${peer} (${mode}); ${peers.length} node(s) present`);
    core.enter(peers);
    joined();
  }

  // A server message in the shape of the overlay's `signal` kinds.
  function fromServer({ type, sdp, candidate, sdpMid, sdpMLineIndex }) {
    if (type === 'end-of-candidates') return { kind: 'end' };
    return { kind: type, sdp, candidate, sdpMid, sdpMLineIndex };
  }

  // Our side of a link's negotiation: through the overlay for a brokered
  // link ("Brokered connections"), else through the server.
  function sendSignal(node, link, kind, fields = {}) {
    if (link.conn !== null) core.signal(node, link.conn, kind, fields);
    else if (kind === 'end') signal({ type: 'end-of-candidates', to: node });
    else signal({ type: kind, to: node, ...fields });
  }

  // ---------------------------------------------------------------- peer connections

  // What the core asks of the page (see createMeshCore).
  const effects = {
    send(node, text) {
      const link = links.get(node);
      if (link?.channel.readyState !== 'open') return;
      try {
        link.channel.send(text);
      } catch (err) {
        // The send buffer is full: the link is stuck, so let the overlay replace it.
        note(`${node}: send failed (${err}); closing the link`);
        core.closed(node);
      }
    },
    connect: (node, conn) => connect(node, conn),
    offer: (node, conn, sdp) => answer(node, conn, sdp),
    signal: (node, message) => applyRemote(node, links.get(node), message),
    close: closeLink,
    deliver: ({ kind, from, data }) => addMessage(kind, from, data),
    changed: scheduleRender,
  };

  function createLink(node, conn) {
    const pc = new RTCPeerConnection({ iceServers: [] });
    // "Nodes and links": one channel, negotiated with id 0 on both sides
    // before the offer or answer, so there is no DCEP round trip.
    const channel = pc.createDataChannel('mesh', { negotiated: true, id: 0, ordered: true });
    const link = { pc, channel, conn, pendingCandidates: [], queue: Promise.resolve() };
    links.set(node, link);
    // Events of a link that was closed and replaced are stale.
    const current = () => links.get(node) === link;
    channel.onopen = () => current() && core.opened(node);
    channel.onmessage = ({ data }) => current() && core.receive(node, data);
    channel.onclose = () => current() && core.closed(node);
    pc.onconnectionstatechange = () => {
      if (current() && (pc.connectionState === 'failed' || pc.connectionState === 'closed')) core.closed(node);
    };
    pc.onicecandidate = ({ candidate }) => {
      if (!current()) return;
      if (!candidate) sendSignal(node, link, 'end');
      else if (candidate.candidate) {
        sendSignal(node, link, 'candidate', {
          candidate: candidate.candidate, sdpMid: candidate.sdpMid, sdpMLineIndex: candidate.sdpMLineIndex,
        });
      }
    };
    return link;
  }

  // Runs one negotiation step after the link's previous ones. A failure
  // closes the link (the core then replaces it) unless it was closed already.
  function enqueue(node, link, step) {
    link.queue = link.queue.then(step).catch((err) => {
      if (links.get(node) !== link) return;
      note(`${node}: negotiation failed: ${err}`);
      core.closed(node);
    });
  }

  function connect(node, conn) {
    const link = createLink(node, conn);
    enqueue(node, link, async () => {
      await link.pc.setLocalDescription();
      sendSignal(node, link, 'offer', { sdp: link.pc.localDescription.sdp });
    });
  }

  function answer(node, conn, sdp) {
    const link = createLink(node, conn);
    enqueue(node, link, async () => {
      await link.pc.setRemoteDescription({ type: 'offer', sdp });
      await link.pc.setLocalDescription();
      sendSignal(node, link, 'answer', { sdp: link.pc.localDescription.sdp });
    });
  }

  // The other side's answer, candidate or end of candidates.
  function applyRemote(node, link, { kind, sdp, candidate, sdpMid, sdpMLineIndex }) {
    enqueue(node, link, async () => {
      if (kind === 'answer') {
        await link.pc.setRemoteDescription({ type: 'answer', sdp });
        for (const pending of link.pendingCandidates.splice(0)) await addCandidate(node, link, pending);
        return;
      }
      // `null` stands for the end of candidates; an empty `candidate` means the same.
      const init = kind === 'candidate' && candidate ? { candidate, sdpMid, sdpMLineIndex } : null;
      if (link.pc.remoteDescription) await addCandidate(node, link, init);
      else link.pendingCandidates.push(init);
    });
  }

  async function addCandidate(node, link, init) {
    try {
      if (init) await link.pc.addIceCandidate(init);
      else await link.pc.addIceCandidate();
    } catch (err) {
      note(`${node}: addIceCandidate failed: ${err}`);
    }
  }

  function closeLink(node, why) {
    const link = links.get(node);
    if (!link) return;
    links.delete(node);
    link.pc.close();
    note(`${node}: link closed (${why})`);
  }

  // ---------------------------------------------------------------- messages

  function broadcast(data) {
    const id = core.broadcast(data);
    addLine('bcast', core.id, data, true);
    return id;
  }

  function sendDirect(to, data) {
    const id = core.send(to, data);
    addLine('direct', `→ ${to}`, data, true);
    return id;
  }

  function addMessage(kind, from, data) {
    mesh.received.push({ kind, from, data, at: performance.now() });
    addLine(kind, from, data, false);
  }

  function addLine(kind, from, data, own) {
    const log = $('mesh-messages');
    const text = typeof data === 'string' ? data : JSON.stringify(data);
    log.append(el('div', { className: own ? 'line own' : 'line' },
      el('span', { className: 'from', textContent: from }), ' ',
      kind === 'direct' ? el('span', { className: 'kind', textContent: '(direct) ' }) : '', text));
    log.scrollTop = log.scrollHeight;
  }

  // ---------------------------------------------------------------- views

  let renderTimer = null;

  function scheduleRender() {
    renderTimer ??= setTimeout(render, RENDER_MS);
  }

  function render() {
    renderTimer = null;
    const rows = mesh.neighbours().map(({ id, direction }) => {
      const drop = el('button', { type: 'button', textContent: 'Drop' });
      drop.onclick = () => core.disconnect(id);
      return el('li', {},
        el('span', { className: 'peer-id', textContent: id }),
        el('span', { className: 'state', textContent: direction === 'out' ? 'out (we offered)' : 'in (they offered)' }),
        el('span', { className: 'send' }, drop));
    });
    $('mesh-neighbours').replaceChildren(...rows);
    $('mesh-no-neighbours').hidden = rows.length > 0;
    const counters = Object.entries(mesh.stats()).filter(([, value]) => value !== null);
    $('mesh-stats').replaceChildren(...counters.flatMap(([name, value]) =>
      [el('dt', { textContent: name }), el('dd', { textContent: String(value) })]));
  }

  // ---------------------------------------------------------------- start

  $('room-app').hidden = true;
  $('mesh-app').hidden = false;
  $('title').textContent = 'Mesh';
  $('room').textContent = `${room} (${mode})`;
  $('mode-link').href = `?room=${encodeURIComponent(room)}`;
  $('mode-link').textContent = 'Room view';
  $('mesh-form').onsubmit = (event) => {
    event.preventDefault();
    const to = $('mesh-to').value.trim();
    const text = $('mesh-input').value;
    if (!text || !core) return;
    try {
      if (to) sendDirect(to, text);
      else broadcast(text);
      $('mesh-input').value = '';
    } catch (err) {
      note(`not sent: ${err.message}`);
    }
  };
  // Say bye on every link and leave the room rather than leaving the others to time out.
  addEventListener('pagehide', () => {
    core?.disconnect();
    signal({ type: 'leave' });
  });
  render();
  connectSignaling();
})();
