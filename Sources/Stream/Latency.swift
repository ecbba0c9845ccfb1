import Foundation
import Overlap
import Separation

/// What a frame of input waits for before the run can write it, computed from the run's plan
/// (not measured): the read that brings it in, the resampler to the engine's rate, the window
/// that holds it, and the resampler back. The engine's own time on the window comes on top;
/// while the run keeps up with real time that is at most one hop (`LivePlan` budgets for it).
public struct PipelineLatency: Sendable, Equatable {
    /// One read of `blockFrames` frames at the input's rate: a frame may wait for the rest of its block.
    public var readSeconds: Double
    /// The converter to the engine's rate holds back this much (its filter's reach), 0 at equal rates.
    public var inputResamplerSeconds: Double
    /// A whole window: a window's first frame (in the overlap with the window before) is written
    /// only once its last frame has arrived and the window is separated.
    public var windowSeconds: Double
    /// The converter from the engine's rate to the output's (the longest path when an output
    /// subtracts from the input: back to the input's rate, then to the output's).
    public var outputResamplerSeconds: Double

    /// Everything but the engine's time.
    public var algorithmicSeconds: Double { readSeconds + inputResamplerSeconds + windowSeconds + outputResamplerSeconds }

    public init(readSeconds: Double, inputResamplerSeconds: Double, windowSeconds: Double, outputResamplerSeconds: Double) {
        self.readSeconds = readSeconds
        self.inputResamplerSeconds = inputResamplerSeconds
        self.windowSeconds = windowSeconds
        self.outputResamplerSeconds = outputResamplerSeconds
    }

    /// The latency of a run with this window layout and these rates.
    /// - Parameter keepsInput: an output subtracts the separated part from the input, which goes
    ///   back to the input's rate first.
    public static func of(layout: WindowLayout, engineRate: Int, inputRate: Int, outputRate: Int, blockFrames: Int,
                          quality: ResampleQuality, keepsInput: Bool) throws -> PipelineLatency {
        let direct = try Resampler.delaySeconds(from: engineRate, to: outputRate, quality: quality)
        let back = keepsInput
            ? try Resampler.delaySeconds(from: engineRate, to: inputRate, quality: quality)
                + Resampler.delaySeconds(from: inputRate, to: outputRate, quality: quality)
            : 0
        return PipelineLatency(readSeconds: Double(blockFrames) / Double(inputRate),
                               inputResamplerSeconds: try Resampler.delaySeconds(from: inputRate, to: engineRate, quality: quality),
                               windowSeconds: Double(layout.chunkFrames) / Double(engineRate),
                               outputResamplerSeconds: max(direct, back))
    }
}

extension Resampler {
    /// How long the converter from `from` to `to` hz holds audio back, in seconds: a fresh one is
    /// fed a second of silence and the frames it returns are counted against the frames that
    /// second makes at the output rate (what it keeps is its filter's reach ahead, which it
    /// gives back only when told the input ended). 0 when the rates are equal.
    public static func delaySeconds(from: Int, to: Int, quality: ResampleQuality) throws -> Double {
        guard from != to else { return 0 }
        let probe = try Resampler(from: from, to: to, channelCount: 1, quality: quality)
        let frames = max(from, 4096)
        let made = try probe.process([[Float](repeating: 0, count: frames)]).first?.count ?? 0
        let expected = Int((Double(frames) * Double(to) / Double(from)).rounded())
        return Double(max(0, expected - made)) / Double(to)
    }
}

/// Chunk, overlap and read size for a latency budget (`--latency`): the longest window (the
/// most context, the best separation) such that a frame is written within the budget while the
/// engine keeps up with real time, that is, while it separates each window within one hop.
public struct LivePlan: Sendable, Equatable {
    public let chunkSeconds: Double
    public let overlapSeconds: Double
    public let blockFrames: Int
    /// The plan's computed latency, the engine's time not included.
    public let latency: PipelineLatency
    /// What the engine may take per window and still keep up: one hop.
    public var hopSeconds: Double { chunkSeconds - overlapSeconds }
    /// The latency a frame sees at most while the engine keeps up.
    public var worstSeconds: Double { latency.algorithmicSeconds + hopSeconds }

    /// Reads of 10 ms: a frame waits at most that long for the rest of its block.
    public static func blockFrames(inputRate: Int) -> Int { max(1, inputRate / 100) }

    /// - Parameters:
    ///   - budget: seconds from a frame's arrival to its being written.
    ///   - keepsInput: an output subtracts from the input (`--remove`, `--rest`).
    /// - Throws: `StreamError.latencyTooShort` naming the smallest budget this engine honours.
    public init(budget: Double, engine: Separator, inputRate: Int, outputRate: Int, quality: ResampleQuality,
                keepsInput: Bool) throws {
        guard budget.isFinite, budget > 0 else { throw StreamError.invalidValue(name: "latency", value: "\(budget) s") }
        let rate = engine.sampleRate
        let blockFrames = Self.blockFrames(inputRate: inputRate)
        // The read and the resamplers (probed once) do not depend on the window.
        var planned = try PipelineLatency.of(layout: WindowLayout(chunkFrames: 1, overlapFrames: 0), engineRate: rate,
                                             inputRate: inputRate, outputRate: outputRate, blockFrames: blockFrames,
                                             quality: quality, keepsInput: keepsInput)
        planned.windowSeconds = 0
        let fixed = planned.algorithmicSeconds
        let shortest = max(1, Int((engine.shortestLiveChunkSeconds * Double(rate)).rounded(.up)))
        let longest = max(shortest, Int(engine.defaultChunkSeconds * Double(rate)))
        // Every window from the shortest to the default, every 10 ms, as the engine snaps it; for
        // each, overlaps of a quarter and of half the window, as the engine snaps them.
        var candidates: [(layout: WindowLayout, worst: Double)] = []
        var seen = Set<Int>()
        for requested in stride(from: shortest, through: longest, by: max(1, rate / 100)) {
            let chunk = engine.preferredChunkFrames(near: requested) ?? requested
            guard chunk >= shortest, seen.insert(chunk).inserted else { continue }
            for wanted in [chunk / 4, chunk / 2] {
                let overlap = engine.preferredOverlapFrames(near: wanted, chunkFrames: chunk) ?? wanted
                guard let layout = try? WindowLayout(chunkFrames: chunk, overlapFrames: overlap) else { continue }
                candidates.append((layout, fixed + Double(chunk + layout.hopFrames) / Double(rate)))
            }
        }
        // The longest window that fits, with its longest hop (the least work per second).
        let fitting = candidates.filter { $0.worst <= budget }
        guard let best = fitting.max(by: { ($0.layout.chunkFrames, $0.layout.hopFrames) < ($1.layout.chunkFrames, $1.layout.hopFrames) })
        else {
            let least = candidates.min { $0.worst < $1.worst }
            throw StreamError.latencyTooShort(seconds: budget, engine: engine.name, smallestSeconds: least?.worst ?? .infinity,
                                              chunkSeconds: Double(least?.layout.chunkFrames ?? 0) / Double(rate),
                                              hopSeconds: Double(least?.layout.hopFrames ?? 0) / Double(rate))
        }
        let layout = best.layout
        chunkSeconds = Double(layout.chunkFrames) / Double(rate)
        overlapSeconds = Double(layout.overlapFrames) / Double(rate)
        self.blockFrames = blockFrames
        planned.windowSeconds = chunkSeconds
        self.latency = planned
    }
}
