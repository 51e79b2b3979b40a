@testable import DataChannel
import Testing

@Suite("Internal queue")
struct QueueTests {
    @Test func fifoKeepsOrderWhenNeverFullyDrained() {
        var queue = FIFO<Int>()
        var next = 0
        for value in 0..<1_000 {
            queue.append(value)
            queue.append(value + 1_000_000)
            #expect(queue.pop() == (next.isMultiple(of: 2) ? next / 2 : (next / 2) + 1_000_000))
            next += 1
        }
        var drained: [Int] = []
        while let value = queue.pop() { drained.append(value) }
        #expect(drained.count == 1_000)
        #expect(queue.pop() == nil)
    }
}
