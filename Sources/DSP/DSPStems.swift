import Foundation
import Separation
import Spectrum
import Synchronization

/// The built-in engine for several queries at once: each window is analysed once per transform
/// (the voice's STFT, the wide one, the percussion's), and every stem's mask is made from those
/// spectra, the stems side by side on `threads` cores. Each stem is exactly what a
/// `DSPEngine` for its query alone returns: the same functions on the same spectra.
public final class DSPStems: Separator {
    public let name = "dsp"
    public let sampleRate: Int
    /// One engine per query, in order.
    public let parts: [DSPEngine]
    let threads: Int

    /// - Parameter threads: stems separated at once (each on one core).
    public init(queries: [String], threads: Int = ProcessInfo.processInfo.activeProcessorCount) throws {
        parts = try queries.map(DSPEngine.init(query:))
        sampleRate = parts.first?.sampleRate ?? 44_100
        self.threads = max(1, threads)
    }

    public var stemCount: Int { parts.count }
    public var stemsAskForRest: [Bool] { parts.map(\.asksForRest) }
    public var defaultChunkSeconds: Double { parts.map(\.defaultChunkSeconds).max() ?? 30 }
    public var shortestUsefulChunkSeconds: Double { parts.map(\.shortestUsefulChunkSeconds).max() ?? 0 }
    /// What each query was read as, one clause per query.
    public var reading: String? {
        let readings = parts.compactMap(\.reading)
        return readings.isEmpty ? nil : readings.joined(separator: "; ")
    }
    public var note: String? { reading.map { "built-in engine: " + $0 } }

    public func separate(channels: [[Float]]) throws -> [[[Float]]] {
        // The distinct transforms, each channel's spectrum on each once. An STFT object keeps
        // its own scratch, so one task per transform (its channels in turn).
        var transforms: [STFT] = []
        for part in parts where !transforms.contains(where: { Self.same($0, part.transform) }) { transforms.append(part.transform) }
        let spectra = Self.parallel(transforms.count, threads: threads) { slot in
            channels.map { parts[0].analyse($0, transforms[slot]) }
        }
        // Then the stems, each synthesised on its own engine's transforms.
        return Self.parallel(parts.count, threads: threads) { stem in
            let part = parts[stem]
            return part.separate(channels: channels, spectra: spectra[transforms.firstIndex { Self.same($0, part.transform) }!])
        }
    }

    static func same(_ a: STFT, _ b: STFT) -> Bool { a.fftSize == b.fftSize && a.hopSize == b.hopSize }

    /// `count` results of `work`, computed at most `threads` at a time, in order.
    static func parallel<T>(_ count: Int, threads: Int, _ work: (Int) -> T) -> [T] {
        guard threads > 1, count > 1 else { return (0..<count).map(work) }
        let results = UnsafeMutableBufferPointer<T?>.allocate(capacity: count)
        results.initialize(repeating: nil)
        defer { results.deallocate() }
        // Each lane takes the next undone item, so a long stem does not hold up the short ones.
        let next = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: min(threads, count)) { _ in
            while case let index = next.add(1, ordering: .relaxed).oldValue, index < count { results[index] = work(index) }
        }
        return results.map { $0! }
    }
}
