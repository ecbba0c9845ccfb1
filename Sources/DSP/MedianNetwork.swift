/// Medians of many columns at once: `count` rows of equal length, and for each column the median
/// of its `count` values, computed by a comparator network applied to whole rows (each
/// comparator is a min and a max over two rows, which the compiler vectorises), so no column is
/// ever gathered or sorted on its own.
///
/// The network is Batcher's odd–even merge sort for the next power of two (the missing inputs
/// count as +∞, so every comparator that touches one does nothing and is dropped), pruned to the
/// comparators the middle outputs depend on.
import CKernels

struct MedianNetwork {
    let count: Int
    /// Comparators (lower row, upper row), in order, flattened.
    let pairs: [Int32]
    /// Whether the median of an even count is the mean of the two middle values (numpy's
    /// median) or the upper one (`MedianFilter`'s running median).
    let averagesMiddles: Bool

    init(count: Int, averagesMiddles: Bool) {
        precondition(count > 0)
        self.count = count
        self.averagesMiddles = averagesMiddles
        var size = 1
        while size < count { size *= 2 }
        var all: [(Int, Int)] = []
        var p = 1
        while p < size {
            var k = p
            while k >= 1 {
                var j = k % p
                while j <= size - 1 - k {
                    for i in 0...min(k - 1, size - j - k - 1) where (i + j) / (2 * p) == (i + j + k) / (2 * p) {
                        if i + j + k < count { all.append((i + j, i + j + k)) }
                    }
                    j += 2 * k
                }
                k /= 2
            }
            p *= 2
        }
        // Keep what the middle outputs depend on, walking backwards.
        var needed = Set([count / 2])
        if averagesMiddles, count % 2 == 0 { needed.insert(count / 2 - 1) }
        var kept: [(Int, Int)] = []
        for comparator in all.reversed() where needed.contains(comparator.0) || needed.contains(comparator.1) {
            kept.append(comparator)
            needed.insert(comparator.0)
            needed.insert(comparator.1)
        }
        pairs = kept.reversed().flatMap { [Int32($0.0), Int32($0.1)] }
    }

    /// Sorts the columns of `rows` (`count` rows of `length`, row-major, overwritten) far enough
    /// that the middle rows hold the medians, and writes them to `output`.
    func median(rows: UnsafeMutablePointer<Float>, length: Int, into output: UnsafeMutablePointer<Float>) {
        pairs.withUnsafeBufferPointer { ck_median_network(rows, length, $0.baseAddress, $0.count / 2) }
        let upper = rows + (count / 2) * length
        if averagesMiddles, count % 2 == 0 {
            let lower = upper - length
            for index in 0..<length { output[index] = 0.5 * (lower[index] + upper[index]) }
        } else {
            output.update(from: upper, count: length)
        }
    }
}

/// Networks by count, made when first needed (one per distinct window size at the edges).
struct MedianNetworks {
    let averagesMiddles: Bool
    private var networks: [Int: MedianNetwork] = [:]

    init(averagesMiddles: Bool) { self.averagesMiddles = averagesMiddles }

    mutating func network(count: Int) -> MedianNetwork {
        if let network = networks[count] { return network }
        let network = MedianNetwork(count: count, averagesMiddles: averagesMiddles)
        networks[count] = network
        return network
    }
}
