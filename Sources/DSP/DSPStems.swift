import Foundation
import Separation
import Spectrum
import Synchronization

/// The built-in engine for several queries at once: each window is analysed once per transform
/// (the voice's STFT, the wide one, the percussion's), and every stem's mask is made from those
/// spectra. The stems that share a transform are done together, each channel of a stem a task of
/// its own (stereo voice and accompaniment weigh each channel by the window's centre, made once),
/// `threads` tasks at once; a transform's spectra are dropped once its stems are done, so a window
/// holds one transform's at a time. Each stem is exactly what a `DSPEngine` for its query alone
/// returns: the same functions on the same spectra.
public final class DSPStems: Separator {
    public let name = "dsp"
    public let sampleRate: Int
    /// One engine per query, in order.
    public let parts: [DSPEngine]
    let threads: Int
    /// STFTs beside the engines' own, by shape: an STFT keeps its own scratch, so tasks that run
    /// at once each take one (made on the calling thread: FFTW's planner is not thread-safe).
    private var pool: [String: [STFT]] = [:]

    /// - Parameter threads: tasks (a stem's channel) separated at once, each on one core.
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
        var stems = [[[Float]]](repeating: [], count: parts.count)
        var groups: [STFT] = []
        for part in parts where !groups.contains(where: { Self.same($0, part.transform) }) { groups.append(part.transform) }
        for shape in groups {
            let members = parts.indices.filter { Self.same(parts[$0].transform, shape) }
            // Each channel's spectrum once, the channels side by side.
            let analysers = stfts(like: shape, count: channels.count)
            let spectra = Self.parallel(channels.count, threads: threads) { channel in
                parts[members[0]].analyse(channels[channel], analysers[channel])
            }
            // Then every stem's channels, each task with its own STFT; stereo voice and
            // accompaniment weigh each channel by the window's centre, made once here.
            let length = channels.first?.count ?? 0
            let centre = members.contains { parts[$0].isJoint(channels: channels.count) } && length > 0
                ? DSPEngine.centre(spectra[0], spectra[1]) : nil
            let tasks: [(stem: Int, channel: Int)] = members.flatMap { stem in channels.indices.map { (stem, $0) } }
            let inverses = stfts(like: shape, count: tasks.count)
            let results = Self.parallel(tasks.count, threads: threads) { index -> [[Float]] in
                let (stem, channel) = tasks[index]
                let part = parts[stem]
                if let centre, part.isJoint(channels: channels.count) {
                    return [part.separate(centred: spectra[channel], centre: centre, length: length, inverse: inverses[index])]
                }
                return [part.separate(channel: channels[channel], spectrum: spectra[channel], inverse: inverses[index])]
            }
            for (index, task) in tasks.enumerated() { stems[task.stem] += results[index] }
        }
        return stems
    }

    /// `count` STFTs of `shape`'s size and hop, made once and kept.
    private func stfts(like shape: STFT, count: Int) -> [STFT] {
        let key = "\(shape.fftSize)/\(shape.hopSize)"
        var kept = pool[key] ?? []
        while kept.count < count { kept.append(STFT(fftSize: shape.fftSize, hopSize: shape.hopSize)) }
        pool[key] = kept
        return Array(kept.prefix(count))
    }

    static func same(_ a: STFT, _ b: STFT) -> Bool { a.fftSize == b.fftSize && a.hopSize == b.hopSize }

    /// `count` results of `work`, computed at most `threads` at a time, in order.
    static func parallel<T>(_ count: Int, threads: Int, _ work: (Int) -> T) -> [T] {
        guard threads > 1, count > 1 else { return (0..<count).map(work) }
        let results = UnsafeMutableBufferPointer<T?>.allocate(capacity: count)
        results.initialize(repeating: nil)
        defer {
            results.deinitialize()
            results.deallocate()
        }
        // Each lane takes the next undone item, so a long stem does not hold up the short ones.
        let next = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: min(threads, count)) { _ in
            while case let index = next.add(1, ordering: .relaxed).oldValue, index < count { results[index] = work(index) }
        }
        return results.map { $0! }
    }
}
