/// A first-in-first-out queue with O(1) amortised push and pop that releases popped elements at once.
struct FIFO<Element> {
    private var items: [Element?] = []
    private var head = 0

    /// Number of queued elements.
    var count: Int { items.count - head }
    var isEmpty: Bool { head == items.count }

    mutating func push(_ element: Element) {
        items.append(element)
    }

    mutating func pop() -> Element? {
        guard head < items.count else { return nil }
        let element = items[head]
        items[head] = nil
        head += 1
        if head == items.count {
            items.removeAll(keepingCapacity: items.count <= 4096)
            head = 0
        } else if head >= 1024, head * 2 >= items.count {
            items.removeFirst(head)
            head = 0
        }
        return element
    }
}
