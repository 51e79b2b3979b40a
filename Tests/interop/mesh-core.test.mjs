// The mesh overlay core of the browser page (Sources/SignalingServer/Web/mesh.js,
// docs/mesh.md) against itself: N cores on an in-memory network where a peer
// connection comes up as soon as its offer and answer have been routed
// through the overlay, on a simulated clock.
//
//   node Tests/interop/mesh-core.test.mjs
//
// Prints one line per check and `mesh-core: N passed, M failed`; exits 1 on a failure.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { createMeshCore, LIMITS } = require('../../Sources/SignalingServer/Web/mesh.js');

const TICK_MS = 100;

// A small seeded generator (mulberry32), so that a failure can be replayed.
function seeded(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

// ---------------------------------------------------------------- the network

// Cores and the peer connections between them. A "peer connection" is
// {conn, channel}; a channel joins two of them and is open until either
// side closes. Every delivery goes through one FIFO queue, as events would.
class Network {
  constructor(mode, seed = 1) {
    this.mode = mode;
    this.random = seeded(seed);
    this.clock = 0;
    this.nodes = new Map();
    this.queue = [];
  }

  // `options` go to createMeshCore (maxNeighbours, random).
  add(id, options = {}) {
    const node = { id, alive: true, pcs: new Map(), delivered: [], sent: [] };
    node.core = createMeshCore({
      id, mode: this.mode, now: () => this.clock, random: this.random, effects: this.effects(node), ...options,
    });
    this.nodes.set(id, node);
    return node;
  }

  // What a driver does for the core (see createMeshCore in mesh.js).
  effects(node) {
    const later = (fn) => this.queue.push(() => node.alive && fn());
    return {
      send: (peer, text) => {
        node.sent.push({ to: peer, text });
        const channel = node.pcs.get(peer)?.channel;
        if (channel?.open) later(() => channel.open && this.nodes.get(peer).alive && this.nodes.get(peer).core.receive(node.id, text));
      },
      connect: (peer, conn) => {
        node.pcs.set(peer, { conn, channel: null });
        if (conn === null) later(() => this.serverOffer(node, peer));
        else later(() => node.core.signal(peer, conn, 'offer', { sdp: `offer from ${node.id}` }));
      },
      offer: (peer, conn) => {
        node.pcs.set(peer, { conn, channel: null });
        later(() => {
          node.core.signal(peer, conn, 'answer', { sdp: `answer from ${node.id}` });
          node.core.signal(peer, conn, 'candidate', { candidate: 'candidate:1 1 udp 1 127.0.0.1 9 typ host', sdpMid: '0', sdpMLineIndex: 0 });
          node.core.signal(peer, conn, 'end');
        });
      },
      signal: (peer, message) => {
        if (message.kind !== 'answer') return;
        const other = this.nodes.get(peer);
        const theirs = other?.alive ? other.pcs.get(node.id) : null;
        if (theirs?.conn === message.conn) this.open(node, peer);
      },
      close: (peer) => this.closePc(node, peer),
      deliver: (event) => node.delivered.push(event),
    };
  }

  // Both sides' channel opens ("connect to X succeeds instantly").
  open(a, b) {
    const pcA = a.pcs.get(b), pcB = this.nodes.get(b).pcs.get(a.id);
    const channel = { open: true };
    pcA.channel = pcB.channel = channel;
    this.queue.push(() => a.alive && channel.open && a.core.opened(b));
    this.queue.push(() => this.nodes.get(b).alive && channel.open && this.nodes.get(b).core.opened(a.id));
  }

  closePc(node, peer) {
    const pc = node.pcs.get(peer);
    if (!pc) return;
    node.pcs.delete(peer);
    if (!pc.channel?.open) return;
    pc.channel.open = false;
    const other = this.nodes.get(peer);
    // The other side sees its channel close, if that peer connection is still its current one.
    this.queue.push(() => other.alive && other.pcs.get(node.id)?.channel === pc.channel && other.core.closed(node.id));
  }

  // "Entering": a newcomer that sees every alive node present.
  join(id, options) {
    const present = this.alive().map((n) => n.id);
    return this.enter(this.add(id, options), present);
  }

  enter(node, present) {
    node.core.enter(present);
    this.drain();
    return node;
  }

  // The signaling server relays `a`'s offer to `b`, which answers it or says
  // bye. An offer to a node that left goes nowhere: `a`'s attempt times out.
  serverOffer(a, b) {
    const other = this.nodes.get(b);
    if (!other.alive || a.pcs.get(b)?.conn !== null) return;
    if (!other.core.admit(a.id)) {
      this.queue.push(() => a.alive && a.core.closed(b));
      return;
    }
    other.pcs.set(a.id, { conn: null, channel: null });
    this.open(a, b);
  }

  kill(node) {
    for (const peer of [...node.pcs.keys()]) this.closePc(node, peer);
    node.alive = false;
  }

  alive() {
    return [...this.nodes.values()].filter((n) => n.alive);
  }

  drain() {
    for (let steps = 0; this.queue.length; steps++) {
      if (steps > 5e6) throw new Error('the network does not settle');
      this.queue.shift()();
    }
  }

  tick() {
    this.clock += TICK_MS;
    for (const node of this.alive()) node.core.tick();
    this.drain();
  }

  // Runs until `done()` or `ms` have passed; returns the simulated ms it took, or null.
  runUntil(done, ms) {
    const start = this.clock;
    while (this.clock - start < ms) {
      if (done()) return this.clock - start;
      this.tick();
    }
    return done() ? this.clock - start : null;
  }

  run(ms) {
    this.runUntil(() => false, ms);
  }

  neighbourIds(node) {
    return node.core.neighbours().map((n) => n.id);
  }

  // Every alive node reachable from the first one, through links both sides see as up.
  connected() {
    const nodes = this.alive();
    const reached = new Set([nodes[0].id]);
    const stack = [nodes[0]];
    while (stack.length) {
      const node = stack.pop();
      for (const id of this.neighbourIds(node)) {
        const other = this.nodes.get(id);
        if (other.alive && this.neighbourIds(other).includes(node.id) && !reached.has(id)) {
          reached.add(id);
          stack.push(other);
        }
      }
    }
    return reached.size === nodes.length;
  }

  // Broadcasts from `origin`; returns how often each alive node got it.
  broadcastCounts(origin, data) {
    const id = origin.core.broadcast(data);
    this.drain();
    return this.alive().map((n) => n.delivered.filter((e) => e.id === id).length);
  }
}

function shuffle(items, random) {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy;
}

const ids = (count, prefix = 'n') => Array.from({ length: count }, (_, i) => `${prefix}${String(i).padStart(3, '0')}`);

// ---------------------------------------------------------------- checks

let passed = 0;
let failed = 0;

function check(name, fn) {
  try {
    const detail = fn();
    passed++;
    console.log(`ok   ${name}${detail ? ` (${detail})` : ''}`);
  } catch (err) {
    failed++;
    console.log(`FAIL ${name}: ${err.message}`);
  }
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

// Every alive node but `origin` got the broadcast exactly once.
function assertReachesAllOnce(net, origin, data) {
  const counts = net.broadcastCounts(origin, data);
  const nodes = net.alive();
  const wrong = nodes.filter((n, i) => counts[i] !== (n === origin ? 0 : 1));
  assert(!wrong.length, `${wrong.length} of ${nodes.length} nodes got it a wrong number of times: ` +
    wrong.slice(0, 5).map((n) => `${n.id}×${counts[nodes.indexOf(n)]}`).join(', '));
}

// Two cores linked through the server, both up.
function pair(mode = 'full') {
  const net = new Network(mode);
  const a = net.add('A');
  const b = net.add('B');
  net.enter(a, ['B']);
  return { net, a, b };
}

// A full mesh of 30 ("Membership", full).
const full = new Network('full', 7);
check('full: 30 nodes converge to a full mesh', () => {
  for (const id of ids(30)) {
    full.join(id);
    full.run(200);
  }
  const took = full.runUntil(() => full.alive().every((n) => n.core.neighbours().length === 29), 60000);
  const degrees = full.alive().map((n) => n.core.neighbours().length);
  assert(took !== null, `degrees after 60 s: min ${Math.min(...degrees)}, max ${Math.max(...degrees)}`);
  return `after joining, ${took} ms simulated`;
});

check('full: a broadcast reaches every node exactly once', () => {
  assertReachesAllOnce(full, full.nodes.get('n017'), 'hello everyone');
  const duplicates = full.alive().reduce((sum, n) => sum + n.core.stats().duplicates, 0);
  return `${duplicates} duplicates dropped`;
});

check('full: after killing 9 of 30 the 21 left are a full mesh again', () => {
  for (const node of shuffle(full.alive(), full.random).slice(0, 9)) full.kill(node);
  const took = full.runUntil(() => full.alive().every((n) => n.core.neighbours().length === 20), 30000);
  assert(took !== null, 'not a full mesh after 30 s');
  assertReachesAllOnce(full, full.alive()[0], 'still here');
  return `${took} ms simulated`;
});

// 100 nodes, partial views ("Membership", partial). Offers, brokered or
// through the server, are accepted up to twice the target, so no view
// exceeds 2 × (ceil(log2 100) + 1) = 16.
const partial = new Network('partial', 11);
const PARTIAL_VIEW_BOUND = 2 * (Math.ceil(Math.log2(100)) + 1);
const largestView = (net) => Math.max(...net.alive().map((n) => n.core.neighbours().length));

function assertPartialHealthy(net) {
  const views = net.alive().map((n) => n.core.neighbours().length);
  assert(Math.max(...views) <= PARTIAL_VIEW_BOUND, `a view of ${Math.max(...views)}`);
  assert(Math.min(...views) > 0, 'a node is alone');
  assert(net.connected(), 'the overlay is not connected');
  return `views ${Math.min(...views)}..${Math.max(...views)}, mean ${(views.reduce((a, b) => a + b) / views.length).toFixed(1)}, ` +
    `target ${net.alive()[0].core.stats().target}`;
}

check(`partial: 100 nodes entering one by one keep views ≤ ${PARTIAL_VIEW_BOUND} and stay connected`, () => {
  let largest = 0;
  for (const id of ids(100)) {
    partial.join(id);   // every earlier node is present
    largest = Math.max(largest, largestView(partial));
    partial.run(100);
    largest = Math.max(largest, largestView(partial));
  }
  assert(largest <= PARTIAL_VIEW_BOUND, `a view of ${largest} while entering`);
  partial.run(20000);
  return `${assertPartialHealthy(partial)}; largest view while entering ${largest}`;
});

check('partial: a broadcast reaches every node exactly once', () => {
  assertReachesAllOnce(partial, partial.nodes.get('n042'), { any: ['JSON', 1] });
});

check('partial: a direct message reaches a non-neighbour once', () => {
  const from = partial.nodes.get('n003');
  const to = partial.alive().find((n) => n !== from && !partial.neighbourIds(from).includes(n.id) &&
    !partial.neighbourIds(n).some((id) => partial.neighbourIds(from).includes(id)));
  assert(to, 'every node is within two hops');
  const id = from.core.send(to.id, 'psst');
  partial.drain();
  const got = to.delivered.filter((e) => e.id === id);
  assert(got.length === 1 && got[0].kind === 'direct' && got[0].from === from.id && got[0].data === 'psst',
    `delivered ${got.length} times`);
  const others = partial.alive().filter((n) => n !== to && n.delivered.some((e) => e.id === id));
  assert(!others.length, `also delivered to ${others.length} others`);
  return `${from.id} → ${to.id}, more than two hops apart`;
});

check('partial: killing 30 % heals, broadcasts reach all 70 survivors', () => {
  for (const node of shuffle(partial.alive(), partial.random).slice(0, 30)) partial.kill(node);
  partial.run(15000);
  const detail = assertPartialHealthy(partial);
  assertReachesAllOnce(partial, partial.alive()[5], 'after the storm');
  return detail;
});

// "Entering": full peers refuse offers through the server with a bye; the
// newcomer asks the next peers present until it has 2 links.
check('entering: a newcomer refused by its first peers gets in through the next ones', () => {
  const net = new Network('full', 3);
  // Two pairs at a maximum of 1 neighbour: full.
  const crowded = ['F1', 'F2', 'F3', 'F4'].map((id) => net.add(id, { maxNeighbours: 1 }));
  net.enter(crowded[0], ['F2']);
  net.enter(crowded[2], ['F4']);
  assert(crowded.every((n) => n.core.neighbours().length === 1), 'the crowded pairs are not linked');
  ['O1', 'O2'].map((id) => net.add(id));
  // A `random` near 1 leaves the order as given, so whichever end the list
  // is asked from, the first two asked are full.
  const newcomer = net.enter(net.add('N', { random: () => 0.999 }), ['F1', 'F2', 'O1', 'O2', 'F3', 'F4']);
  const refusals = crowded.reduce((sum, n) => sum + n.core.stats().refusalsSent, 0);
  assert(refusals === 2, `${refusals} refusals`);
  const view = net.neighbourIds(newcomer).sort().join(',');
  assert(view === 'O1,O2', `the newcomer's view is ${view}`);
  return `${refusals} refused, in through ${view}`;
});

check('entering: an entrance attempt that times out is replaced by the next peer', () => {
  const net = new Network('partial', 5);
  const [, gone] = ['O1', 'G', 'O2'].map((id) => net.add(id));
  net.kill(gone);
  const newcomer = net.enter(net.add('N', { random: () => 0.999 }), ['O1', 'G', 'O2']);
  assert(net.neighbourIds(newcomer).length === 1, `${net.neighbourIds(newcomer).length} neighbours before the timeout`);
  net.run(LIMITS.attemptMs + 500);
  const view = net.neighbourIds(newcomer).sort().join(',');
  assert(view === 'O1,O2' && newcomer.core.stats().timeouts === 1, `view ${view}, ${newcomer.core.stats().timeouts} timeouts`);
});

// "Membership", full: a link coming up is announced at once to the other neighbours.
check('full: a new neighbour is announced at once to the other neighbours', () => {
  const { net, a, b } = pair();
  const c = net.enter(net.add('C'), ['A']);
  const toB = a.sent.filter((m) => m.to === 'B' && m.text === JSON.stringify({ t: 'peers', ids: ['C'] }));
  assert(toB.length === 1, `A announced C to B ${toB.length} times`);
  assert(b.core.stats().known === 1, `B knows ${b.core.stats().known} ids`);
  net.tick();
  assert(net.neighbourIds(b).includes('C') && net.neighbourIds(c).includes('B'), 'B and C did not link');
});

check('partial: a new neighbour is not announced', () => {
  const { net, a } = pair('partial');
  const before = a.sent.length;
  net.enter(net.add('C'), ['A']);
  const announced = a.sent.slice(before).filter((m) => m.to === 'B' && JSON.parse(m.text).t === 'peers');
  assert(!announced.length, `A sent B ${announced.length} peers messages`);
});

// "Nodes and links": malformed and unknown messages are counted, dropped, and close nothing.
check('malformed and unknown messages are counted and dropped', () => {
  const { net, a, b } = pair();
  const malformed = [
    'not json', '[1,2]', '"text"', 'null', '{}', '{"t":5}',
    '{"t":"hello","v":"1","id":"A","mode":"full"}',
    '{"t":"peers","ids":"B"}', '{"t":"peers","ids":["bad id!"]}',
    '{"t":"bcast","id":"XYZ","from":"A","ttl":16,"data":1}',
    '{"t":"bcast","id":"0123456789abcdef","from":"A","ttl":0,"data":1}',
    '{"t":"bcast","id":"0123456789abcdef","from":"A","ttl":16}',
    '{"t":"direct","id":"0123456789abcdef","from":"A","ttl":16,"data":1}',
    '{"t":"signal","id":"0123456789abcdef","from":"A","to":"B","ttl":16,"conn":"x","kind":"offer","sdp":""}',
    '{"t":"signal","id":"0123456789abcdef","from":"A","to":"B","ttl":16,"conn":"0123456789abcdef","kind":"offer"}',
    JSON.stringify({ t: 'bcast', id: '0123456789abcdef', from: 'A', ttl: 16, data: 'x'.repeat(LIMITS.messageBytes) }),
    new ArrayBuffer(8),
    '{"t":"signal","id":"1123456789abcdef","from":"A","to":"B","ttl":16,"conn":"0123456789abcdef","kind":"renegotiate"}',
  ];
  const unknown = ['{"t":"future"}', '{"t":"constructor"}'];
  for (const text of [...malformed, ...unknown]) b.core.receive('A', text);
  net.drain();
  const stats = b.core.stats();
  assert(stats.malformed === malformed.length, `malformed ${stats.malformed}, expected ${malformed.length}`);
  assert(stats.unknown === unknown.length, `unknown ${stats.unknown}, expected ${unknown.length}`);
  assert(stats.delivered === 0, 'something was delivered');
  assert(b.core.neighbours().length === 1, 'the link was closed');
  a.core.broadcast('still fine');
  net.drain();
  assert(b.delivered.length === 1, 'the link no longer carries messages');
  return `${stats.malformed} malformed, ${stats.unknown} unknown`;
});

// "Link start": a second hello, or one with another id, closes the link.
check('a second hello closes the link, with bye', () => {
  const { net, a, b } = pair();
  b.core.receive('A', JSON.stringify({ t: 'hello', v: 1, id: 'A', mode: 'full' }));
  net.drain();
  assert(!a.core.neighbours().length && !b.core.neighbours().length, 'still linked');
});

check('bye closes the link', () => {
  const { net, a, b } = pair();
  b.core.receive('A', '{"t":"bye"}');
  net.drain();
  assert(!b.core.neighbours().length, 'still linked');
  assert(!a.pcs.size && !b.pcs.size, 'a peer connection is still open');
});

// "Routing": at most 50 relayed signals per second from a neighbour, burst 256.
check('the relay drops signals above 50/s (burst 256) from one neighbour', () => {
  const net = new Network('full');
  const [a, b, c] = ['A', 'B', 'C'].map((id) => net.add(id));
  net.enter(b, ['A', 'C']);
  const flood = (count) => {
    for (let i = 0; i < count; i++) {
      const id = (BigInt(net.clock) * 1000n + BigInt(i)).toString(16).padStart(16, '0');
      b.core.receive('A', JSON.stringify({ t: 'signal', id, from: 'A', to: 'C', ttl: 16, conn: '00000000000000ff', kind: 'candidate', candidate: '' }));
    }
    net.drain();
  };
  flood(300);
  let stats = b.core.stats();
  assert(stats.relayedSignals === 256 && stats.droppedSignals === 44, `relayed ${stats.relayedSignals}, dropped ${stats.droppedSignals}`);
  net.clock += 1000;
  flood(60);
  stats = b.core.stats();
  assert(stats.relayedSignals === 306 && stats.droppedSignals === 54, `after 1 s: relayed ${stats.relayedSignals}, dropped ${stats.droppedSignals}`);
  return `${stats.relayedSignals} relayed, ${stats.droppedSignals} dropped`;
});

// "Brokered connections": when both offer at once the smaller id's offer wins.
check('glare: one link, offered by the smaller id', () => {
  const net = new Network('partial');
  const [a, m, b] = ['A', 'M', 'B'].map((id) => net.add(id));
  net.enter(m, ['A', 'B']);
  a.core.receive('M', '{"t":"peers","ids":["B"]}');
  b.core.receive('M', '{"t":"peers","ids":["A"]}');
  net.tick();   // both start an attempt before either offer arrives
  net.run(1000);
  const atA = a.core.neighbours().find((n) => n.id === 'B');
  assert(atA?.direction === 'out', `A sees B as ${atA?.direction}`);
  assert(b.core.neighbours().find((n) => n.id === 'A')?.direction === 'in', 'B does not see A as incoming');
  assert(a.core.stats().refusalsSent === 1, `A refused ${a.core.stats().refusalsSent} offers`);
});

check('an attempt not up within 10 s is dropped and its target forgotten', () => {
  const { net, a } = pair('partial');
  a.core.receive('B', '{"t":"peers","ids":["ghost"]}');
  net.tick();
  assert(a.pcs.has('ghost'), 'no attempt to the ghost');
  net.run(LIMITS.attemptMs + 500);
  const stats = a.core.stats();
  assert(!a.pcs.has('ghost') && stats.timeouts === 1 && stats.known === 0,
    `timeouts ${stats.timeouts}, known ${stats.known}`);
});

check('the message-id cache and the known set stay bounded', () => {
  const { net, a, b } = pair('partial');
  for (let i = 0; i < LIMITS.knownIds + 200; i += 100) {
    b.core.receive('A', JSON.stringify({ t: 'peers', ids: Array.from({ length: 100 }, (_, j) => `k${i + j}`) }));
  }
  assert(b.core.stats().known === LIMITS.knownIds, `known ${b.core.stats().known}`);
  // An id from before the last 8 192 is new again; the last one is still a duplicate.
  const message = (n) => JSON.stringify({ t: 'bcast', id: n.toString(16).padStart(16, '0'), from: 'A', ttl: 1, data: n });
  for (let n = 0; n <= LIMITS.idCache; n++) b.core.receive('A', message(n));
  b.core.receive('A', message(0));
  b.core.receive('A', message(LIMITS.idCache));
  net.drain();
  const stats = b.core.stats();
  assert(stats.delivered === LIMITS.idCache + 2 && stats.duplicates === 1, `delivered ${stats.delivered}, duplicates ${stats.duplicates}`);
});

console.log(`mesh-core: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
