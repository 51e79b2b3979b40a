import RTCCollections

/// The ids seen most recently, at most `capacity` of them: duplicate suppression
/// with bounded memory (docs/mesh.md, "Routing").
struct RecentIDs: Sendable {
    private var members: Set<String> = []
    private var order = FIFO<String>()
    private let capacity: Int

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// Remembers `id`; false if it was already remembered.
    mutating func insert(_ id: String) -> Bool {
        guard members.insert(id).inserted else { return false }
        order.append(id)
        if order.count > capacity, let oldest = order.popFirst() {
            members.remove(oldest)
        }
        return true
    }
}

/// A dictionary of at most `capacity` entries that forgets the least recently set first.
struct BoundedMap<Value: Sendable>: Sendable {
    private var entries: [String: (value: Value, serial: Int)] = [:]
    /// Order of setting; an entry removed or set again since leaves a stale element here,
    /// recognised by its serial and skipped.
    private var order = FIFO<(key: String, serial: Int)>()
    private var nextSerial = 0
    private let capacity: Int

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    var count: Int { entries.count }

    /// The keys, most recently set first.
    var newestFirst: [String] {
        entries.sorted { $0.value.serial > $1.value.serial }.map(\.key)
    }

    subscript(key: String) -> Value? { entries[key]?.value }

    /// Sets `key`, which becomes the newest entry.
    mutating func set(_ key: String, _ value: Value) {
        nextSerial += 1
        entries[key] = (value, nextSerial)
        order.append((key, nextSerial))
        while entries.count > capacity, let oldest = order.popFirst() {
            if entries[oldest.key]?.serial == oldest.serial { entries[oldest.key] = nil }
        }
        if order.count > 2 * capacity { compactOrder() }
    }

    mutating func remove(_ key: String) {
        entries[key] = nil
    }

    /// Removes every entry whose value matches.
    mutating func removeAll(where shouldRemove: (Value) -> Bool) {
        entries = entries.filter { !shouldRemove($0.value.value) }
    }

    private mutating func compactOrder() {
        order = FIFO()
        for (key, entry) in entries.sorted(by: { $0.value.serial < $1.value.serial }) {
            order.append((key, entry.serial))
        }
    }
}
