/// Median filters over `[frames × bins]` spectrogram magnitudes, with windows clipped at the
/// edges; where a clipped window has an even count, the upper of the two middle values is taken.
enum MedianFilter {
    /// The median of the first `count` values as numpy takes it: for an even count, the mean of
    /// the two middle values (reordered in place).
    static func centralMedian(_ values: inout [Float], count: Int) -> Float {
        let upper = select(&values, count: count, rank: count / 2)
        if count % 2 == 1 { return upper }
        // After selection, everything below rank count/2 is no larger: the lower middle is their maximum.
        var lower = values[0]
        for index in 1..<(count / 2) { lower = max(lower, values[index]) }
        return 0.5 * (lower + upper)
    }

    /// The k-th largest of `values` (k from 1; reordered in place).
    static func kthLargest(_ values: inout [Float], k: Int) -> Float {
        select(&values, count: values.count, rank: values.count - k)
    }

    /// The value of ascending rank `rank` among the first `count` values: quickselect.
    static func select(_ values: inout [Float], count: Int, rank: Int) -> Float {
        precondition(count > 0 && rank >= 0 && rank < count)
        var low = 0, high = count - 1
        while low < high {
            let pivot = values[(low + high) / 2]
            var i = low, j = high
            while i <= j {
                while values[i] < pivot { i += 1 }
                while values[j] > pivot { j -= 1 }
                if i <= j { values.swapAt(i, j); i += 1; j -= 1 }
            }
            if rank <= j { high = j } else if rank >= i { low = i } else { break }
        }
        return values[rank]
    }

    /// Running median of `count` values read `stride` apart, written `stride` apart: the window is
    /// kept sorted and each step removes one value and inserts one (binary search + shift), which
    /// is several times faster than selecting each window's median afresh.
    static func running(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, count: Int, stride: Int,
                        width: Int, window: UnsafeMutablePointer<Float>) {
        let half = width / 2
        var size = 0
        func insert(_ value: Float) {
            var low = 0, high = size
            while low < high { let mid = (low + high) / 2; if window[mid] < value { low = mid + 1 } else { high = mid } }
            (window + low + 1).update(from: window + low, count: size - low)
            window[low] = value
            size += 1
        }
        func remove(_ value: Float) {
            var low = 0, high = size
            while low < high { let mid = (low + high) / 2; if window[mid] < value { low = mid + 1 } else { high = mid } }
            (window + low).update(from: window + low + 1, count: size - low - 1)
            size -= 1
        }
        for index in 0..<min(count, half + 1) { insert(input[index * stride]) }
        for index in 0..<count {
            output[index * stride] = window[size / 2]
            if index - half >= 0 { remove(input[(index - half) * stride]) }
            if index + half + 1 < count { insert(input[(index + half + 1) * stride]) }
        }
    }

    /// Median across time: each bin's values over `width` frames centred on the frame. Every
    /// frame's window of rows goes through one median network across all bins at once.
    static func alongFrames(_ input: [Float], frames: Int, bins: Int, width: Int) -> [Float] {
        var output = [Float](repeating: 0, count: input.count)
        let half = width / 2
        var networks = MedianNetworks(averagesMiddles: false)
        let rows = UnsafeMutablePointer<Float>.allocate(capacity: (width + 1) * bins)
        defer { rows.deallocate() }
        input.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { y in
                for frame in 0..<frames {
                    let first = max(0, frame - half), last = min(frames - 1, frame + half)
                    let count = last - first + 1
                    rows.update(from: x.baseAddress! + first * bins, count: count * bins)
                    networks.network(count: count).median(rows: rows, length: bins, into: y.baseAddress! + frame * bins)
                }
            }
        }
        return output
    }

    /// Median across frequency: each frame's values over `width` bins centred on the bin (any
    /// row-major matrix: each row is filtered along its columns). Inside, the window's `width`
    /// shifted copies of the row go through one median network; the clipped windows at the
    /// edges are selected one by one.
    static func alongBins(_ input: [Float], frames: Int, bins: Int, width: Int) -> [Float] {
        var output = [Float](repeating: 0, count: input.count)
        let half = width / 2
        let inner = bins - 2 * half
        let network = MedianNetwork(count: 2 * half + 1, averagesMiddles: false)
        let rows = UnsafeMutablePointer<Float>.allocate(capacity: (2 * half + 1) * max(inner, 1))
        defer { rows.deallocate() }
        var values = [Float](repeating: 0, count: 2 * half + 1)
        input.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { y in
                for frame in 0..<frames {
                    let row = x.baseAddress! + frame * bins, out = y.baseAddress! + frame * bins
                    if inner > 0 {
                        for shift in 0...(2 * half) { (rows + shift * inner).update(from: row + shift, count: inner) }
                        network.median(rows: rows, length: inner, into: out + half)
                    }
                    for bin in 0..<bins where bin < half || bin >= half + max(inner, 0) {
                        let first = max(0, bin - half), last = min(bins - 1, bin + half)
                        for index in first...last { values[index - first] = row[index] }
                        out[bin] = select(&values, count: last - first + 1, rank: (last - first + 1) / 2)
                    }
                }
            }
        }
        return output
    }

    /// The running median of every row along its columns, the plain way (insertion into a sorted
    /// window): the reference the networks are tested against.
    static func runningAlongBins(_ input: [Float], frames: Int, bins: Int, width: Int) -> [Float] {
        var output = [Float](repeating: 0, count: input.count)
        let window = UnsafeMutablePointer<Float>.allocate(capacity: width + 1)
        defer { window.deallocate() }
        input.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { y in
                for frame in 0..<frames {
                    running(x.baseAddress! + frame * bins, y.baseAddress! + frame * bins, count: bins, stride: 1, width: width, window: window)
                }
            }
        }
        return output
    }
}
