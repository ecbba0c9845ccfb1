/// A least-recently-used cache of at most `capacity` values. Capacity 0 keeps nothing.
/// Lookups touch their entry; an insert beyond the capacity evicts the least recently used.
public struct LRUCache<Key: Hashable, Value> {
    public let capacity: Int
    /// Least recently used first.
    public private(set) var keys: [Key] = []
    private var values: [Key: Value] = [:]

    public init(capacity: Int) {
        self.capacity = max(0, capacity)
    }

    public var count: Int { keys.count }

    /// The value for `key`, which becomes the most recently used; nil on a miss.
    public mutating func value(for key: Key) -> Value? {
        guard let value = values[key] else { return nil }
        touch(key)
        return value
    }

    /// The value without touching it.
    public func peek(_ key: Key) -> Value? { values[key] }

    /// Stores `value` as the most recently used; returns the keys evicted to make room
    /// (with capacity 0, the key just given).
    @discardableResult
    public mutating func insert(_ value: Value, for key: Key) -> [Key] {
        guard capacity > 0 else { return [key] }
        if values.updateValue(value, forKey: key) != nil {
            touch(key)
            return []
        }
        keys.append(key)
        var evicted: [Key] = []
        while keys.count > capacity {
            let oldest = keys.removeFirst()
            values.removeValue(forKey: oldest)
            evicted.append(oldest)
        }
        return evicted
    }

    private mutating func touch(_ key: Key) {
        if let index = keys.firstIndex(of: key) { keys.remove(at: index) }
        keys.append(key)
    }
}
