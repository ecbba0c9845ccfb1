import Foundation
import Overlap
import Separation
@testable import Stream
import TestSupport
import XCTest

/// The latency a run computes for itself, the windows a latency budget gives, and a live run's
/// watch on real time.
final class LatencyTests: XCTestCase {
    /// A 32 kHz engine whose windows are whole tenths of a second and whose hops are too (as
    /// AudioSep keeps its windows on a grid), with a shortest live window of 0.2 s.
    final class Gridded: Separator {
        let name = "gridded", sampleRate = 32_000
        static let grid = 3_200
        func preferredChunkFrames(near frames: Int) -> Int? { max(1, Int((Double(frames) / Double(Self.grid)).rounded())) * Self.grid }
        func preferredOverlapFrames(near frames: Int, chunkFrames: Int) -> Int? {
            let shortestHop = (chunkFrames / 2 + Self.grid - 1) / Self.grid, longestHop = (chunkFrames - 1) / Self.grid
            guard shortestHop <= longestHop else { return nil }
            let hop = min(longestHop, max(shortestHop, Int((Double(chunkFrames - frames) / Double(Self.grid)).rounded())))
            return chunkFrames - hop * Self.grid
        }
        var shortestLiveChunkSeconds: Double { 0.2 }
        func separate(channels: [[Float]]) throws -> [[[Float]]] { [channels] }
    }

    func testResamplerDelayIsZeroAtEqualRatesAndAFewMillisecondsOtherwise() throws {
        XCTAssertEqual(try Resampler.delaySeconds(from: 44_100, to: 44_100, quality: .medium), 0)
        for quality in ResampleQuality.allCases {
            let delay = try Resampler.delaySeconds(from: 44_100, to: 32_000, quality: quality)
            XCTAssertGreaterThan(delay, 0, "\(quality): a sinc filter reaches ahead")
            XCTAssertLessThan(delay, 0.05, "\(quality)")
        }
    }

    func testComputedLatencyIsTheReadTheResamplersAndTheWindow() throws {
        let layout = try WindowLayout(chunkFrames: 32_000, overlapFrames: 8_000)
        let same = try PipelineLatency.of(layout: layout, engineRate: 32_000, inputRate: 32_000, outputRate: 32_000, blockFrames: 320,
                                          quality: .medium, keepsInput: false)
        XCTAssertEqual(same.algorithmicSeconds, 0.01 + 1.0, accuracy: 1e-12)
        let resampled = try PipelineLatency.of(layout: layout, engineRate: 32_000, inputRate: 44_100, outputRate: 48_000,
                                               blockFrames: 441, quality: .medium, keepsInput: true)
        XCTAssertEqual(resampled.inputResamplerSeconds, try Resampler.delaySeconds(from: 44_100, to: 32_000, quality: .medium))
        let back = try Resampler.delaySeconds(from: 32_000, to: 44_100, quality: .medium)
            + Resampler.delaySeconds(from: 44_100, to: 48_000, quality: .medium)
        XCTAssertEqual(resampled.outputResamplerSeconds,
                       max(back, try Resampler.delaySeconds(from: 32_000, to: 48_000, quality: .medium)), accuracy: 1e-12,
                       "an output that subtracts goes back through the input's rate")
        XCTAssertEqual(resampled.algorithmicSeconds, 0.01 + resampled.inputResamplerSeconds + 1.0 + resampled.outputResamplerSeconds,
                       accuracy: 1e-12)
    }

    func testTheBudgetGetsTheLongestWindowThatFitsWithItsHop() throws {
        let engine = Gridded()
        for budget in [0.5, 1.0, 1.5, 3.0] {
            let plan = try LivePlan(budget: budget, engine: engine, inputRate: 32_000, outputRate: 32_000, quality: .medium,
                                    keepsInput: false)
            let chunk = Int((plan.chunkSeconds * 32_000).rounded()), hop = Int((plan.hopSeconds * 32_000).rounded())
            XCTAssertLessThanOrEqual(plan.worstSeconds, budget + 1e-9, "\(budget) s")
            XCTAssertEqual(plan.worstSeconds, plan.latency.algorithmicSeconds + plan.hopSeconds, accuracy: 1e-12)
            XCTAssertEqual(chunk % Gridded.grid, 0, "on the engine's grid")
            XCTAssertEqual(hop % Gridded.grid, 0)
            XCTAssertEqual(plan.blockFrames, 320, "reads of 10 ms")
            // One grid step longer, even with its shortest hop, is over the budget.
            let longer = chunk + Gridded.grid
            let shortestHop = (longer / 2 + Gridded.grid - 1) / Gridded.grid * Gridded.grid
            XCTAssertGreaterThan(0.01 + Double(longer + shortestHop) / 32_000, budget, "\(budget) s: a longer window fits")
        }
    }

    func testABudgetBelowTheEnginesShortestIsATypedErrorNamingTheSmallest() {
        XCTAssertThrowsError(try LivePlan(budget: 0.25, engine: Gridded(), inputRate: 32_000, outputRate: 32_000, quality: .medium,
                                          keepsInput: false)) { error in
            guard case StreamError.latencyTooShort(let seconds, let engine, let smallest, let chunk, let hop) = error else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(seconds, 0.25)
            XCTAssertEqual(engine, "gridded")
            XCTAssertEqual(chunk, 0.2, accuracy: 1e-9, "the engine's shortest live window")
            XCTAssertEqual(hop, 0.1, accuracy: 1e-9, "with its shortest hop")
            XCTAssertEqual(smallest, 0.01 + 0.3, accuracy: 1e-9)
            XCTAssertTrue("\(error)".contains("give --latency 0.31 or more"), "\(error)")
        }
        for bad in [0.0, -1, .nan, .infinity] {
            XCTAssertThrowsError(try LivePlan(budget: bad, engine: Gridded(), inputRate: 32_000, outputRate: 32_000, quality: .medium,
                                              keepsInput: false), "\(bad)")
        }
    }

    /// Sleeps `seconds` per window: slower than real time for short hops.
    final class Slow: Separator, @unchecked Sendable {
        let name = "slow", sampleRate = 32_000
        let seconds: Double
        init(seconds: Double) { self.seconds = seconds }
        func separate(channels: [[Float]]) throws -> [[[Float]]] {
            Thread.sleep(forTimeInterval: seconds)
            return [channels]
        }
    }

    final class Heard: @unchecked Sendable {
        let lock = NSLock()
        var reports: [FallingBehind] = []
        func add(_ report: FallingBehind) { lock.lock(); reports.append(report); lock.unlock() }
    }

    func runLive(_ engine: Separator, seconds: Double, heard: Heard, live: Bool = true) throws -> ([[Float]], PipelineSummary) {
        let input = [(0..<Int(seconds * 32_000)).map { Float(sin(Double($0) * 0.01)) * 0.5 }]
        return try runPipeline(input, rate: 32_000, engine: engine) {
            $0.chunkSeconds = 0.04; $0.overlapSeconds = 0.01; $0.blockFrames = 320; $0.live = live
            $0.onFallingBehind = { heard.add($0) }
        }
    }

    func testALiveEngineSlowerThanRealTimeIsHeardOnceWithItsFigures() throws {
        let heard = Heard()
        // 30 ms a window for a 30 ms hop plus the time the pipeline takes: a hop of 0.03 s.
        let (_, summary) = try runLive(Slow(seconds: 0.05), seconds: 0.6, heard: heard)
        XCTAssertEqual(heard.reports.count, 1, "said once")
        let report = try XCTUnwrap(heard.reports.first)
        XCTAssertEqual(report.hopSeconds, 0.03, accuracy: 1e-9)
        XCTAssertGreaterThanOrEqual(report.windowSeconds, 0.05)
        XCTAssertLessThan(report.realtimeFactor, 1)
        XCTAssertEqual(summary.fellBehind, report)

        let fast = Heard()
        let (_, quick) = try runLive(IdentityEngine(sampleRate: 32_000), seconds: 0.6, heard: fast)
        XCTAssertTrue(fast.reports.isEmpty, "an engine faster than real time is not reported")
        XCTAssertNil(quick.fellBehind)
        let offline = Heard()
        _ = try runLive(Slow(seconds: 0.05), seconds: 0.3, heard: offline, live: false)
        XCTAssertTrue(offline.reports.isEmpty, "only live runs are watched")
    }

    /// Returns each window reversed: a window cut anywhere else than offline gives other samples.
    final class Reversed: Separator {
        let name = "reversed", sampleRate = 32_000
        func separate(channels: [[Float]]) throws -> [[[Float]]] { [channels.map { Array($0.reversed()) }] }
    }

    func testALiveRunWritesWhatTheSameWindowsWriteOffline() throws {
        let heard = Heard()
        let (live, liveSummary) = try runLive(Reversed(), seconds: 0.5, heard: heard)
        let (offline, _) = try runLive(Reversed(), seconds: 0.5, heard: heard, live: false)
        XCTAssertEqual(live, offline, "the warm-up window and short reads change nothing")
        XCTAssertGreaterThan(liveSummary.worstLatencySeconds, 0, "read-to-write latency is measured")
        XCTAssertGreaterThanOrEqual(liveSummary.worstLatencySeconds, liveSummary.meanLatencySeconds)
    }
}
