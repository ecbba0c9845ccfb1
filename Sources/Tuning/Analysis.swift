import Foundation

/// The tuner's verdict: which configuration to use, and why (or why none).
public struct Recommendation: Codable, Equatable, Sendable {
    /// Index into the configurations; nil when none meets the limits.
    public var index: Int?
    public var chunkSeconds: Double?
    public var overlapSeconds: Double?
    public var reason: String

    enum CodingKeys: String, CodingKey {
        case reason
        case chunkSeconds = "chunk_seconds", overlapSeconds = "overlap_seconds"
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        if let chunkSeconds { try container.encode(chunkSeconds, forKey: .chunkSeconds) } else { try container.encodeNil(forKey: .chunkSeconds) }
        if let overlapSeconds { try container.encode(overlapSeconds, forKey: .overlapSeconds) } else { try container.encodeNil(forKey: .overlapSeconds) }
        try container.encode(reason, forKey: .reason)
    }
}

public enum TuneAnalysis {
    /// Configurations within this share of the fastest count as equally fast; the leanest of
    /// them is recommended (timings on a shared machine are not more precise than this).
    public static let speedTolerance = 0.05
    /// A boundary SNR at which the chunked output cannot be told from one pass by ear
    /// (the difference is 40 dB below the signal).
    public static let transparentSNR = 40.0
    /// Only chunks at most this share of the sample are recommended. A chunk as long as the
    /// sample has no boundary, so its boundary SNR is perfect by construction; a third leaves at
    /// least two boundaries whose cost the measurement sees.
    public static let maxChunkShareOfSample = 1.0 / 3

    /// The longest chunk that may be recommended for a sample of this length.
    public static func longestJudgedChunkSeconds(sampleSeconds: Double) -> Double {
        sampleSeconds * maxChunkShareOfSample
    }

    /// Judged on the requested length, which the tuner can check before any run; snapping moves
    /// it by a few per cent, not enough to change how many boundaries there are. A millisecond of
    /// slack absorbs the sample's rounding to whole frames (1 s still qualifies for a 3 s sample).
    public static func isJudged(chunkSeconds: Double, sampleSeconds: Double) -> Bool {
        chunkSeconds <= longestJudgedChunkSeconds(sampleSeconds: sampleSeconds) + 0.001
    }

    /// Whether a chunk is at least the engine's shortest useful window. Judged on the longer of
    /// the requested and the run length (snapping may move either way by a few per cent), with a
    /// millisecond of slack for rounding to whole frames.
    public static func isUseful(chunkSeconds: Double, shortestUsefulSeconds: Double) -> Bool {
        chunkSeconds + 0.001 >= shortestUsefulSeconds
    }

    static func isUseful(_ configuration: TunedConfiguration, shortestUsefulSeconds: Double) -> Bool {
        isUseful(chunkSeconds: max(configuration.requestedChunkSeconds, configuration.chunkSeconds),
                 shortestUsefulSeconds: shortestUsefulSeconds)
    }

    /// The SNR against the one pass as a number to compare: nil (identical) is the best there is.
    static func quality(_ configuration: TunedConfiguration) -> Double { configuration.boundarySNR ?? .infinity }

    /// True when `a` is at least as good as `b` on every measured axis (throughput, peak memory,
    /// latency, SNR against the one pass) and strictly better on one: then `b` is never worth
    /// choosing over `a`, whatever the limits (a limit `b` meets, `a` meets too).
    public static func dominates(_ a: TunedConfiguration, _ b: TunedConfiguration) -> Bool {
        let atLeastAsGood = a.realtimeFactor >= b.realtimeFactor && a.peakRSSBytes <= b.peakRSSBytes
            && a.latencySeconds <= b.latencySeconds && quality(a) >= quality(b)
        let better = a.realtimeFactor > b.realtimeFactor || a.peakRSSBytes < b.peakRSSBytes
            || a.latencySeconds < b.latencySeconds || quality(a) > quality(b)
        return atLeastAsGood && better
    }

    /// True for each configuration no other in the list dominates on the four axes.
    public static func paretoFront(_ configurations: [TunedConfiguration]) -> [Bool] {
        configurations.map { candidate in !configurations.contains { dominates($0, candidate) } }
    }

    /// Whether a configuration meets the limits. A latency limit only makes sense for a stream
    /// the engine keeps up with, so it also requires at least real time.
    public static func meets(_ configuration: TunedConfiguration, _ limits: TuneLimits) -> Bool {
        if let maxMemory = limits.maxMemoryBytes, configuration.peakRSSBytes > maxMemory { return false }
        if let maxLatency = limits.maxLatencySeconds {
            if configuration.latencySeconds > maxLatency || configuration.realtimeFactor < 1 { return false }
        }
        if let minSNR = limits.minBoundarySNR, let snr = configuration.boundarySNR, snr < minSNR { return false }
        return true
    }

    /// Marks which configurations may be recommended (a chunk at least the engine's shortest
    /// useful window and at most `maxChunkShareOfSample` of the sample), the Pareto front among
    /// those, and the limits; picks one that may be recommended, is on the front and meets the
    /// limits. Quality first: small chunks are only worth their error when the limits demand
    /// them. So the pool is the configurations whose SNR against the one pass is
    /// `transparentSNR` or better (or, when none is, those within 1 dB of the best); from the
    /// pool, the leanest within `speedTolerance` of the fastest.
    /// With `bestSounding` (`tune --latency`), the pick is instead the highest SNR against the one
    /// pass among those meeting the limits (on the front or not), the longer window on a tie.
    public static func analyse(_ configurations: inout [TunedConfiguration], limits: TuneLimits,
                               sampleSeconds: Double, shortestUsefulSeconds: Double = 0, bestSounding: Bool = false) -> Recommendation {
        for index in configurations.indices {
            configurations[index].meetsLimits = meets(configurations[index], limits)
            configurations[index].belowShortestUseful = !isUseful(configurations[index], shortestUsefulSeconds: shortestUsefulSeconds)
            configurations[index].recommendable = isJudged(chunkSeconds: configurations[index].requestedChunkSeconds,
                                                           sampleSeconds: sampleSeconds)
                && !configurations[index].belowShortestUseful
        }
        // The front among the usable ones only: a chunk the engine cannot use well, or one too
        // long to judge, does not push a usable one off it.
        let usable = configurations.indices.filter { configurations[$0].recommendable }
        let front = paretoFront(usable.map { configurations[$0] })
        for index in configurations.indices { configurations[index].pareto = false }
        for (position, index) in usable.enumerated() { configurations[index].pareto = front[position] }
        let chunks = configurations.map(\.requestedChunkSeconds)
        guard configurations.contains(where: { isJudged(chunkSeconds: $0.requestedChunkSeconds, sampleSeconds: sampleSeconds) }) else {
            return Recommendation(index: nil, chunkSeconds: nil, overlapSeconds: nil,
                                  reason: TuneError.noJudgedChunk(chunks: chunks, sampleSeconds: sampleSeconds).description)
        }
        let judged = configurations.filter(\.recommendable)
        guard !judged.isEmpty else {
            return Recommendation(index: nil, chunkSeconds: nil, overlapSeconds: nil,
                                  reason: TuneError.noUsefulChunk(chunks: chunks, sampleSeconds: sampleSeconds,
                                                                  shortestUsefulSeconds: shortestUsefulSeconds).description)
        }
        let candidates = configurations.indices.filter {
            configurations[$0].meetsLimits && configurations[$0].recommendable && (configurations[$0].pareto || bestSounding)
        }
        guard !candidates.isEmpty else {
            return Recommendation(index: nil, chunkSeconds: nil, overlapSeconds: nil,
                                  reason: noneMeets(judged, limits))
        }
        func snr(_ index: Int) -> Double { configurations[index].boundarySNR ?? .infinity }
        if bestSounding {
            let chosen = candidates.max { a, b in
                snr(a) != snr(b) ? snr(a) < snr(b) : configurations[a].chunkSeconds < configurations[b].chunkSeconds
            }!
            let pick = configurations[chosen]
            let reason = "the best-sounding (highest SNR against the one pass) of those meeting " + (limitsText(limits) ?? "the limits")
                + String(format: " and keeping real time: %.1fx real time, %@ peak, %.2f s latency, SNR %@", pick.realtimeFactor,
                         TuneReport.megabytes(pick.peakRSSBytes), pick.latencySeconds,
                         pick.boundarySNR.map { String(format: "%.1f dB", $0) } ?? "identical to the whole pass")
            return Recommendation(index: chosen, chunkSeconds: pick.chunkSeconds, overlapSeconds: pick.overlapSeconds, reason: reason)
        }
        let transparent = candidates.filter { snr($0) >= transparentSNR }
        let bestSNR = candidates.map(snr).max()!
        let pool = transparent.isEmpty ? candidates.filter { snr($0) >= bestSNR - 1 } : transparent
        let fastest = pool.map { configurations[$0].realtimeFactor }.max()!
        let nearlyFastest = pool.filter { configurations[$0].realtimeFactor >= fastest * (1 - speedTolerance) }
        let chosen = nearlyFastest.min { a, b in
            let left = configurations[a], right = configurations[b]
            if left.peakRSSBytes != right.peakRSSBytes { return left.peakRSSBytes < right.peakRSSBytes }
            return snr(a) > snr(b)
        }!
        let pick = configurations[chosen]
        var reason = transparent.isEmpty
            ? String(format: "no configuration reaches %.0f dB SNR against the one pass, so the closest to it", transparentSNR)
            : String(format: "SNR against the one pass %.0f dB or better", transparentSNR)
        reason += ", then the leanest within \(Int(speedTolerance * 100))% of the fastest, of those on the front"
        reason += limitsText(limits).map { ", meeting \($0)" } ?? ""
        if shortestUsefulSeconds > 0 {
            reason += String(format: ", at least the engine's shortest useful chunk (%g s)", shortestUsefulSeconds)
        }
        reason += String(format: ": %.1fx real time, %@ peak, %.2f s latency, SNR %@", pick.realtimeFactor,
                         TuneReport.megabytes(pick.peakRSSBytes), pick.latencySeconds,
                         pick.boundarySNR.map { String(format: "%.1f dB", $0) } ?? "identical to the whole pass")
        if pick.realtimeFactor < 1 {
            reason += "; it is slower than real time, so a live stream (| aplay) would fall behind"
        }
        return Recommendation(index: chosen, chunkSeconds: pick.chunkSeconds, overlapSeconds: pick.overlapSeconds,
                              reason: reason)
    }

    static func limitsText(_ limits: TuneLimits) -> String? {
        var parts: [String] = []
        if let bytes = limits.maxMemoryBytes { parts.append("--max-memory \(TuneReport.megabytes(bytes))") }
        if let seconds = limits.maxLatencySeconds { parts.append(String(format: "--max-latency %g s", seconds)) }
        if let snr = limits.minBoundarySNR { parts.append(String(format: "--min-boundary-snr %g dB", snr)) }
        return parts.isEmpty ? nil : parts.joined(separator: " and ")
    }

    private static func noneMeets(_ configurations: [TunedConfiguration], _ limits: TuneLimits) -> String {
        var reason = "no configuration meets " + (limitsText(limits) ?? "the limits")
        var closest: [String] = []
        if let leanest = configurations.min(by: { $0.peakRSSBytes < $1.peakRSSBytes }) {
            closest.append("the leanest peaks at \(TuneReport.megabytes(leanest.peakRSSBytes)) (chunk \(TuneReport.seconds(leanest.chunkSeconds)) s)")
        }
        if limits.maxLatencySeconds != nil {
            let live = configurations.filter { $0.realtimeFactor >= 1 }
            if let quickest = live.min(by: { $0.latencySeconds < $1.latencySeconds }) {
                closest.append(String(format: "the lowest latency at real time or faster is %.2f s (chunk %@ s)",
                                      quickest.latencySeconds, TuneReport.seconds(quickest.chunkSeconds)))
            } else {
                closest.append("none runs at real time, so no latency is sustainable")
            }
        }
        if !closest.isEmpty { reason += ": " + closest.joined(separator: "; ") }
        return reason
    }
}
