import RTCCollections
import Testing

@Suite("FIFO")
struct FIFOTests {
    @Test("keeps order when never fully drained, and reclaims the consumed prefix")
    func orderWhenNeverFullyDrained() {
        var queue = FIFO<Int>()
        var next = 0
        for value in 0..<1_000 {
            queue.append(value)
            queue.append(value + 1_000_000)
            #expect(queue.popFirst() == (next.isMultiple(of: 2) ? next / 2 : (next / 2) + 1_000_000))
            next += 1
        }
        #expect(queue.count == 1_000)
        var drained: [Int] = []
        while let value = queue.popFirst() { drained.append(value) }
        #expect(drained.count == 1_000)
        #expect(drained == (500..<1_000).flatMap { [$0, $0 + 1_000_000] })
        #expect(queue.isEmpty && queue.popFirst() == nil && queue.first == nil)
    }

    @Test("removeAll(where:) keeps the others in order, also after some were popped")
    func removeWhere() {
        var queue = FIFO<Int>()
        for value in 0..<10 { queue.append(value) }
        _ = queue.popFirst()
        _ = queue.popFirst()
        queue.removeAll { $0.isMultiple(of: 3) }
        var left: [Int] = []
        while let value = queue.popFirst() { left.append(value) }
        #expect(left == [2, 4, 5, 7, 8])
    }
}
