/// A FIFO with a fixed capacity: `append` refuses elements beyond it.
struct BoundedQueue<Element> {
    let capacity: Int
    private var elements: [Element] = []
    private var head = 0

    init(capacity: Int) {
        self.capacity = capacity
    }

    var count: Int { elements.count - head }

    /// Appends `element`, or returns `false` when the queue is full.
    mutating func append(_ element: Element) -> Bool {
        guard count < capacity else { return false }
        elements.append(element)
        return true
    }

    mutating func popFirst() -> Element? {
        guard head < elements.count else { return nil }
        let element = elements[head]
        head += 1
        if head == elements.count {
            elements.removeAll(keepingCapacity: true)
            head = 0
        }
        return element
    }

    mutating func removeAll() {
        elements.removeAll()
        head = 0
    }
}
