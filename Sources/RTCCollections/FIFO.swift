/// A first-in, first-out queue: amortised O(1) append and removal from the front, without the
/// O(n) shift of `Array.removeFirst()`. The layers use it for their outputs (datagrams, events,
/// commands) between a producer and the driver that drains them.
///
/// Storage is an array with a moving head. It is compacted when drained, and when a queue that
/// is never fully drained has consumed half its storage, so memory follows the queue's length.
public struct FIFO<Element> {
    @usableFromInline var storage: [Element] = []
    @usableFromInline var head = 0

    /// An empty queue.
    @inlinable
    public init() {}

    /// The number of queued elements.
    @inlinable
    public var count: Int { storage.count - head }

    /// Whether nothing is queued.
    @inlinable
    public var isEmpty: Bool { head == storage.count }

    /// The oldest element, without removing it.
    @inlinable
    public var first: Element? { head < storage.count ? storage[head] : nil }

    /// Queues `element` last.
    @inlinable
    public mutating func append(_ element: Element) {
        storage.append(element)
    }

    /// Removes and returns the oldest element.
    @inlinable
    public mutating func popFirst() -> Element? {
        guard head < storage.count else { return nil }
        let element = storage[head]
        head += 1
        if head == storage.count {
            storage.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 64, head * 2 >= storage.count {
            storage.removeFirst(head)
            head = 0
        }
        return element
    }

    /// Removes every element that satisfies `shouldRemove`, keeping the order of the others.
    @inlinable
    public mutating func removeAll(where shouldRemove: (Element) throws -> Bool) rethrows {
        storage.removeSubrange(0..<head)
        head = 0
        try storage.removeAll(where: shouldRemove)
    }

    /// Removes everything.
    @inlinable
    public mutating func removeAll() {
        storage.removeAll()
        head = 0
    }
}

extension FIFO: Sendable where Element: Sendable {}
