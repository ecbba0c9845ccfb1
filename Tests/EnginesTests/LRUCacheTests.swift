import XCTest
@testable import Engines

final class LRUCacheTests: XCTestCase {
    func testCapacityOneKeepsTheLatest() {
        var cache = LRUCache<String, Int>(capacity: 1)
        XCTAssertEqual(cache.insert(1, for: "a"), [])
        XCTAssertEqual(cache.value(for: "a"), 1)
        XCTAssertEqual(cache.insert(2, for: "b"), ["a"])
        XCTAssertNil(cache.value(for: "a"))
        XCTAssertEqual(cache.value(for: "b"), 2)
        XCTAssertEqual(cache.count, 1)
    }

    func testLookupsMakeAnEntryTheMostRecent() {
        var cache = LRUCache<String, Int>(capacity: 2)
        cache.insert(1, for: "a")
        cache.insert(2, for: "b")
        XCTAssertEqual(cache.keys, ["a", "b"])
        XCTAssertEqual(cache.value(for: "a"), 1)
        XCTAssertEqual(cache.keys, ["b", "a"])
        XCTAssertEqual(cache.insert(3, for: "c"), ["b"], "b was the least recently used")
        XCTAssertEqual(cache.keys, ["a", "c"])
        XCTAssertEqual(cache.peek("a"), 1)
        XCTAssertEqual(cache.keys, ["a", "c"], "peek does not touch")
    }

    func testReinsertingReplacesWithoutEvicting() {
        var cache = LRUCache<String, Int>(capacity: 2)
        cache.insert(1, for: "a")
        cache.insert(2, for: "b")
        XCTAssertEqual(cache.insert(10, for: "a"), [])
        XCTAssertEqual(cache.keys, ["b", "a"])
        XCTAssertEqual(cache.peek("a"), 10)
    }

    func testCapacityZeroKeepsNothing() {
        var cache = LRUCache<String, Int>(capacity: 0)
        XCTAssertEqual(cache.insert(1, for: "a"), ["a"])
        XCTAssertNil(cache.value(for: "a"))
        XCTAssertEqual(cache.count, 0)
        XCTAssertEqual(LRUCache<String, Int>(capacity: -3).capacity, 0)
    }
}
