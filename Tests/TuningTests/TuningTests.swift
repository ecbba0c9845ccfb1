import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest
@testable import Tuning

final class SettingsTests: XCTestCase {
    func testOverlapIsAShareBelowOneAndSecondsFromOne() throws {
        XCTAssertEqual(try OverlapSpec(parsing: "0.1"), .fraction(0.1))
        XCTAssertEqual(try OverlapSpec(parsing: "25%"), .fraction(0.25))
        XCTAssertEqual(try OverlapSpec(parsing: "1"), .seconds(1))
        XCTAssertEqual(try OverlapSpec(parsing: "0.5s"), .seconds(0.5))
        XCTAssertEqual(try OverlapSpec(parsing: "250ms"), .seconds(0.25))
        XCTAssertEqual(OverlapSpec.fraction(0.1).seconds(forChunk: 8), 0.8, accuracy: 1e-12)
        XCTAssertEqual(OverlapSpec.seconds(3).seconds(forChunk: 4), 2, "never more than half the chunk")
        for bad in ["", "x", "-1", "0.7", "60%", "nan"] {
            XCTAssertThrowsError(try OverlapSpec(parsing: bad), bad)
        }
    }

    func testMemoryAndTimeQuantities() throws {
        XCTAssertEqual(try Quantity.bytes("1G"), 1_000_000_000, "decimal, as the tables print memory")
        XCTAssertEqual(try Quantity.bytes("512M"), 512_000_000)
        XCTAssertEqual(try Quantity.bytes("512MiB"), 512 << 20)
        XCTAssertEqual(try Quantity.bytes("800MB"), 800_000_000)
        XCTAssertEqual(try Quantity.bytes("1.5GiB"), 3 << 29)
        XCTAssertEqual(try Quantity.bytes("123456"), 123_456)
        for bad in ["", "G", "-1M", "lots", "0"] { XCTAssertThrowsError(try Quantity.bytes(bad), bad) }
        XCTAssertEqual(try Quantity.seconds("5s", name: "x"), 5)
        XCTAssertEqual(try Quantity.seconds("500ms", name: "x"), 0.5)
        XCTAssertEqual(try Quantity.seconds("2m", name: "x"), 120)
        XCTAssertEqual(try Quantity.seconds("7", name: "x"), 7)
        XCTAssertEqual(try Quantity.secondsList("1,2,4", name: "x"), [1, 2, 4])
        XCTAssertThrowsError(try Quantity.secondsList("1,,0", name: "x"))
        XCTAssertThrowsError(try Quantity.seconds("0", name: "x"))
    }
}

final class AnalysisTests: XCTestCase {
    func configuration(_ chunk: Double, speed: Double, megabytes: Double, snr: Double?) -> TunedConfiguration {
        TunedConfiguration(requestedChunkSeconds: chunk, chunkSeconds: chunk, overlapSeconds: chunk / 10, snapped: false,
                           realtimeFactor: speed, peakRSSBytes: Int(megabytes * 1e6), latencySeconds: chunk + 0.1 * chunk,
                           boundarySNR: snr, loadSeconds: 0, windows: 1)
    }

    func point(_ chunk: Double, speed: Double, megabytes: Double, latency: Double, snr: Double?) -> TunedConfiguration {
        TunedConfiguration(requestedChunkSeconds: chunk, chunkSeconds: chunk, overlapSeconds: chunk / 10, snapped: false,
                           realtimeFactor: speed, peakRSSBytes: Int(megabytes * 1e6), latencySeconds: latency,
                           boundarySNR: snr, loadSeconds: 0, windows: 1)
    }

    /// Dominated: no better on any of speed, memory, latency and SNR against the one pass, and
    /// worse on one. Better on a single axis is enough to stay on the front.
    func testDominanceNeedsAllFourAxes() {
        let base = point(4, speed: 10, megabytes: 100, latency: 4.4, snr: 20)
        XCTAssertTrue(TuneAnalysis.dominates(point(2, speed: 11, megabytes: 100, latency: 4.4, snr: 20), base), "faster, rest equal")
        XCTAssertTrue(TuneAnalysis.dominates(point(2, speed: 10, megabytes: 90, latency: 4.4, snr: 20), base), "leaner")
        XCTAssertTrue(TuneAnalysis.dominates(point(2, speed: 10, megabytes: 100, latency: 2, snr: 20), base), "quicker to answer")
        XCTAssertTrue(TuneAnalysis.dominates(point(8, speed: 10, megabytes: 100, latency: 4.4, snr: 25), base), "closer to one pass")
        XCTAssertTrue(TuneAnalysis.dominates(point(8, speed: 10, megabytes: 100, latency: 4.4, snr: nil), base), "identical beats 20 dB")
        XCTAssertFalse(TuneAnalysis.dominates(base, base), "equal on every axis: neither dominates")
        XCTAssertFalse(TuneAnalysis.dominates(point(8, speed: 20, megabytes: 50, latency: 1, snr: 19.9), base), "worse SNR")
        XCTAssertFalse(TuneAnalysis.dominates(point(8, speed: 20, megabytes: 50, latency: 4.5, snr: 30), base), "higher latency")
        XCTAssertFalse(TuneAnalysis.dominates(point(8, speed: 9.9, megabytes: 50, latency: 1, snr: 30), base), "slower")
        XCTAssertFalse(TuneAnalysis.dominates(point(8, speed: 20, megabytes: 101, latency: 1, snr: 30), base), "bigger")
    }

    func testParetoFrontKeepsWhatNothingDominates() {
        let points = [
            point(1, speed: 5, megabytes: 100, latency: 1.1, snr: 30),
            point(2, speed: 8, megabytes: 150, latency: 2.2, snr: 40),
            point(4, speed: 7, megabytes: 200, latency: 4.4, snr: 35),  // 2 s is faster, leaner, quicker, closer
            point(8, speed: 9, megabytes: 300, latency: 8.8, snr: 60),
            point(16, speed: 9, megabytes: 400, latency: 17.6, snr: 60),  // 8 s is as fast and as close, leaner, quicker
            point(32, speed: 9, megabytes: 500, latency: 35, snr: 61),  // bigger and slower to answer, but closer: kept
        ]
        XCTAssertEqual(TuneAnalysis.paretoFront(points), [true, true, false, true, false, true])
    }

    /// Whatever the limits, the pick is never a configuration another recommendable one dominates.
    func testTheRecommendationIsNeverDominated() {
        // 16 s is the leanest within 5% of the fastest among the transparent ones... but 8 s has
        // the same memory, is as fast, answers sooner and is as close to one pass.
        var points = [
            point(4, speed: 10, megabytes: 300, latency: 4.5, snr: 30),
            point(8, speed: 10, megabytes: 200, latency: 8.5, snr: 45),
            point(16, speed: 10, megabytes: 200, latency: 16.5, snr: 45),
        ]
        let pick = TuneAnalysis.analyse(&points, limits: TuneLimits(), sampleSeconds: 60)
        XCTAssertEqual(points.map(\.pareto), [true, true, false])
        XCTAssertEqual(pick.chunkSeconds, 8, pick.reason)
        // Random grids, random limits: the pick is on the front and no recommendable point dominates it.
        var random = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            var grid = (0..<6).map { index in
                point(Double(1 << index), speed: Double.random(in: 0.5...20, using: &random).rounded(),
                      megabytes: Double(Int.random(in: 1...6, using: &random) * 50),
                      latency: Double(1 << index) + Double.random(in: 0...2, using: &random).rounded(),
                      snr: Bool.random(using: &random) ? nil : Double(Int.random(in: -10...60, using: &random)))
            }
            let limits = TuneLimits(maxMemoryBytes: Bool.random(using: &random) ? nil : Int.random(in: 50...300, using: &random) * 1_000_000,
                                    maxLatencySeconds: Bool.random(using: &random) ? nil : Double.random(in: 1...40, using: &random))
            let minimum = [0, 2, 5].randomElement(using: &random)!
            let verdict = TuneAnalysis.analyse(&grid, limits: limits, sampleSeconds: 120, shortestUsefulSeconds: Double(minimum))
            guard let index = verdict.index else { continue }
            XCTAssertTrue(grid[index].pareto)
            XCTAssertTrue(grid[index].meetsLimits)
            XCTAssertGreaterThanOrEqual(grid[index].chunkSeconds, Double(minimum))
            for other in grid where other.recommendable {
                XCTAssertFalse(TuneAnalysis.dominates(other, grid[index]), "\(other) dominates the pick \(grid[index])")
            }
        }
    }

    /// The built-in engine's shape (issue 32): short chunks are faster, leaner, answer sooner and
    /// come no further from the one pass, so without the engine's minimum they would win.
    func testNeverBelowTheEnginesShortestUsefulChunk() {
        let measured = [
            point(1, speed: 100, megabytes: 43, latency: 1.0, snr: -2.4),
            point(2, speed: 80, megabytes: 49, latency: 2.0, snr: -7.8),
            point(8, speed: 30, megabytes: 87, latency: 8.3, snr: -9.6),
            point(18.6, speed: 25, megabytes: 150, latency: 19.4, snr: -8.0),
            point(30, speed: 19.5, megabytes: 214, latency: 31.5, snr: -1.8),
        ]
        var unbounded = measured
        XCTAssertEqual(TuneAnalysis.analyse(&unbounded, limits: TuneLimits(), sampleSeconds: 90).chunkSeconds, 1)
        var bounded = measured
        let pick = TuneAnalysis.analyse(&bounded, limits: TuneLimits(), sampleSeconds: 90, shortestUsefulSeconds: 18.6)
        XCTAssertEqual(bounded.map(\.belowShortestUseful), [true, true, true, false, false])
        XCTAssertEqual(bounded.map(\.recommendable), [false, false, false, true, true])
        XCTAssertEqual(bounded.map(\.pareto), [false, false, false, true, true], "the front is drawn among usable chunks")
        XCTAssertEqual(pick.chunkSeconds, 30, "closest to one pass of the usable ones: \(pick.reason)")
        XCTAssertTrue(pick.reason.contains("at least the engine's shortest useful chunk (18.6 s)"), pick.reason)
        // A limit only short chunks meet gives no recommendation, not a short chunk.
        var limited = measured
        let none = TuneAnalysis.analyse(&limited, limits: TuneLimits(maxLatencySeconds: 10), sampleSeconds: 90, shortestUsefulSeconds: 18.6)
        XCTAssertNil(none.index)
        XCTAssertTrue(none.reason.hasPrefix("no configuration meets --max-latency 10 s"), none.reason)
    }

    /// Snapping (AudioSep: 6.4 s runs as 6.39 s) does not push a chunk below the minimum it was asked at.
    func testTheMinimumAllowsForSnapping() {
        var snapped = [TunedConfiguration(requestedChunkSeconds: 6.4, chunkSeconds: 6.39, overlapSeconds: 0.31, snapped: true,
                                          realtimeFactor: 1, peakRSSBytes: 1, latencySeconds: 7, boundarySNR: 30, loadSeconds: 0, windows: 9),
                       TunedConfiguration(requestedChunkSeconds: 6, chunkSeconds: 6.07, overlapSeconds: 0.31, snapped: true,
                                          realtimeFactor: 2, peakRSSBytes: 1, latencySeconds: 6, boundarySNR: 30, loadSeconds: 0, windows: 9)]
        _ = TuneAnalysis.analyse(&snapped, limits: TuneLimits(), sampleSeconds: 60, shortestUsefulSeconds: 6.4)
        XCTAssertEqual(snapped.map(\.belowShortestUseful), [false, true])
    }

    func testNoUsefulChunkIsRefusedBeforeAnyRunAndSaidInTheVerdict() {
        var request = TuneRequest(executable: "/nonexistent/never-run", engineArguments: [], query: nil, threads: 1,
                                  workDirectory: "/nonexistent/never-made")
        request.seconds = 60
        request.chunks = [1, 2, 4, 32]
        request.shortestUsefulChunkSeconds = 18.6
        XCTAssertThrowsError(try Tuner(request)) { error in
            XCTAssertEqual(error as? TuneError, .noUsefulChunk(chunks: [1, 2, 4, 32], sampleSeconds: 60, shortestUsefulSeconds: 18.6))
            XCTAssertTrue("\(error)".contains("at least the engine's shortest useful chunk (18.6 s) and at most a third of the 60 s sample (20 s)"), "\(error)")
        }
        request.chunks = [1, 20]
        XCTAssertNoThrow(try Tuner(request))
        var points = [point(4, speed: 10, megabytes: 50, latency: 4.4, snr: 0)]
        let verdict = TuneAnalysis.analyse(&points, limits: TuneLimits(), sampleSeconds: 60, shortestUsefulSeconds: 18.6)
        XCTAssertNil(verdict.index)
        XCTAssertTrue(verdict.reason.contains("shortest useful chunk (18.6 s)"), verdict.reason)
    }

    func testLimitsAreRespectedAndQualityComesFirst() {
        var points = [
            configuration(1, speed: 5, megabytes: 100, snr: 25),
            configuration(2, speed: 8, megabytes: 150, snr: 45),
            configuration(4, speed: 8.2, megabytes: 200, snr: 55),
            configuration(8, speed: 9, megabytes: 300, snr: 60),
        ]
        // No limits: among transparent (≥ 40 dB) ones, the leanest within 5% of the fastest (9x): 8 s.
        var unlimited = points
        XCTAssertEqual(TuneAnalysis.analyse(&unlimited, limits: TuneLimits(), sampleSeconds: 60).index, 3)
        // 250 MB: 8 s is out; 4 s (8.2x) and 2 s (8x, within 5%) remain; 2 s is leaner.
        let memory = TuneLimits(maxMemoryBytes: 250_000_000)
        let pick = TuneAnalysis.analyse(&points, limits: memory, sampleSeconds: 60)
        XCTAssertEqual(pick.index, 1)
        XCTAssertEqual(pick.chunkSeconds, 2)
        XCTAssertEqual(points.map(\.meetsLimits), [true, true, true, false])
        XCTAssertTrue(pick.reason.contains("--max-memory"), pick.reason)
        // Latency 1.5 s: only 1 s qualifies; not transparent, so the best SNR there is.
        var latency = points
        let quick = TuneAnalysis.analyse(&latency, limits: TuneLimits(maxLatencySeconds: 1.5), sampleSeconds: 60)
        XCTAssertEqual(quick.index, 0)
        XCTAssertTrue(quick.reason.contains("no configuration reaches 40 dB SNR against the one pass"), quick.reason)
        // A boundary-quality floor.
        var floor = points
        XCTAssertEqual(TuneAnalysis.analyse(&floor, limits: TuneLimits(maxMemoryBytes: 160_000_000, minBoundarySNR: 50), sampleSeconds: 60).index, nil)
    }

    func testALatencyLimitNeedsRealTime() {
        var slow = [configuration(1, speed: 0.8, megabytes: 100, snr: 50)]
        XCTAssertEqual(TuneAnalysis.analyse(&slow, limits: TuneLimits(maxLatencySeconds: 10), sampleSeconds: 60).index, nil)
        XCTAssertFalse(slow[0].meetsLimits)
        var offline = [configuration(1, speed: 0.8, megabytes: 100, snr: 50)]
        let pick = TuneAnalysis.analyse(&offline, limits: TuneLimits(), sampleSeconds: 60)
        XCTAssertEqual(pick.index, 0)
        XCTAssertTrue(pick.reason.contains("fall behind"), pick.reason)
    }

    func testNoneMeetsSaysWhyAndWhatComesClosest() {
        var points = [configuration(1, speed: 5, megabytes: 100, snr: 30), configuration(4, speed: 6, megabytes: 200, snr: 50)]
        let verdict = TuneAnalysis.analyse(&points, limits: TuneLimits(maxMemoryBytes: 50_000_000, maxLatencySeconds: 0.5), sampleSeconds: 60)
        XCTAssertNil(verdict.index)
        XCTAssertNil(verdict.chunkSeconds)
        XCTAssertTrue(verdict.reason.hasPrefix("no configuration meets --max-memory"), verdict.reason)
        XCTAssertTrue(verdict.reason.contains("the leanest peaks at 100 MB"), verdict.reason)
        XCTAssertTrue(verdict.reason.contains("lowest latency"), verdict.reason)
    }
}

final class SampleLengthTests: XCTestCase {
    func configuration(_ chunk: Double, speed: Double, megabytes: Double, snr: Double?) -> TunedConfiguration {
        TunedConfiguration(requestedChunkSeconds: chunk, chunkSeconds: chunk, overlapSeconds: chunk / 10, snapped: false,
                           realtimeFactor: speed, peakRSSBytes: Int(megabytes * 1e6), latencySeconds: chunk * 1.1,
                           boundarySNR: snr, loadSeconds: 0, windows: 1)
    }

    /// The built-in engine's shape: chunked runs differ from one pass (about -8 dB), the chunk
    /// as long as the sample is that pass (nil). Its perfect SNR must not win.
    func testAChunkAsLongAsTheSampleIsMeasuredButNotRecommended() {
        var points = [configuration(2, speed: 4, megabytes: 40, snr: -8), configuration(4, speed: 3, megabytes: 55, snr: -7),
                      configuration(12, speed: 2, megabytes: 90, snr: nil)]
        let pick = TuneAnalysis.analyse(&points, limits: TuneLimits(), sampleSeconds: 12)
        XCTAssertEqual(points.map(\.recommendable), [true, true, false])
        // -8 and -7 dB are within 1 dB of each other, so the faster 2 s; never the boundary-free 12 s.
        XCTAssertEqual(pick.chunkSeconds, 2, pick.reason)
    }

    func testAThirdOfTheSampleIsTheLongestRecommended() {
        XCTAssertTrue(TuneAnalysis.isJudged(chunkSeconds: 8, sampleSeconds: 24))
        XCTAssertFalse(TuneAnalysis.isJudged(chunkSeconds: 8.1, sampleSeconds: 24))
        XCTAssertTrue(TuneAnalysis.isJudged(chunkSeconds: 1, sampleSeconds: 132_299.0 / 44_100), "a frame short of 3 s")
    }

    func testWhenNoChunkIsShortEnoughTheVerdictSaysSo() {
        var points = [configuration(16, speed: 2, megabytes: 100, snr: 30), configuration(24, speed: 2, megabytes: 150, snr: nil)]
        let verdict = TuneAnalysis.analyse(&points, limits: TuneLimits(), sampleSeconds: 24)
        XCTAssertNil(verdict.index)
        XCTAssertTrue(verdict.reason.contains("no chunk in --chunks 16,24 is at most a third of the 24 s sample (8 s)"), verdict.reason)
    }

    func testTheTunerRefusesBeforeAnyRunWhenNoChunkIsShortEnough() {
        var request = TuneRequest(executable: "/nonexistent/never-run", engineArguments: [], query: nil, threads: 1,
                                  workDirectory: "/nonexistent/never-made")
        request.seconds = 24
        request.chunks = [16, 32]
        XCTAssertThrowsError(try Tuner(request)) { error in
            XCTAssertEqual(error as? TuneError, .noJudgedChunk(chunks: [16, 32], sampleSeconds: 24))
        }
        request.chunks = [8, 16]
        XCTAssertNoThrow(try Tuner(request))
    }

    func testTheTableSaysWhichChunksAreLeftOut() {
        var points = [configuration(2, speed: 4, megabytes: 40, snr: -8), configuration(12, speed: 2, megabytes: 90, snr: nil)]
        let recommendation = TuneAnalysis.analyse(&points, limits: TuneLimits(), sampleSeconds: 12)
        let report = TuneReport(engine: "dsp", query: "vocals", threads: 1,
                                input: .init(source: "synthetic", seconds: 12, sampleRate: 44_100, channels: 2),
                                engineSampleRate: 44_100, snapNote: nil,
                                wholePass: .init(chunkSeconds: 13.6, realtimeFactor: 2, peakRSSBytes: 100_000_000),
                                limits: TuneLimits(), configurations: points, recommendation: recommendation)
        let table = report.table()
        XCTAssertTrue(table.contains("chunks longer than a third of the 12 s sample (4 s) are measured but not recommended"), table)
        XCTAssertTrue(table.contains("ok, too long"), table)
        XCTAssertTrue(table.contains("recommended: --chunk 2 "), table)
    }

    /// A run that fails names its configuration (the command line checks the engine first, so
    /// only a child that fails on its own reaches this).
    func testAChildFailureNamesTheConfiguration() throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("tuning-child-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: work) }
        var request = TuneRequest(executable: "/bin/false", engineArguments: [], query: nil, threads: 1, workDirectory: work)
        request.seconds = 3
        request.chunks = [1]
        XCTAssertThrowsError(try Tuner(request).run { _ in }) { error in
            guard case .childFailed(let configuration, let status, _)? = error as? TuneError else {
                return XCTFail("\(error)")
            }
            XCTAssertTrue(configuration.contains("chunk"), configuration)
            XCTAssertEqual(status, 1)
        }
    }
}

final class ReportTests: XCTestCase {
    func report() -> TuneReport {
        var configurations = [
            TunedConfiguration(requestedChunkSeconds: 1, chunkSeconds: 1.28, overlapSeconds: 0.1, snapped: true,
                               realtimeFactor: 2, peakRSSBytes: 300_000_000, latencySeconds: 1.9, boundarySNR: 31.5,
                               loadSeconds: 0.1, windows: 40),
            TunedConfiguration(requestedChunkSeconds: 8, chunkSeconds: 8, overlapSeconds: 0.8, snapped: false,
                               realtimeFactor: 2.5, peakRSSBytes: 700_000_000, latencySeconds: 11, boundarySNR: 48,
                               loadSeconds: 0.1, windows: 1),
        ]
        let recommendation = TuneAnalysis.analyse(&configurations, limits: TuneLimits(maxMemoryBytes: 1 << 30), sampleSeconds: 30)
        return TuneReport(engine: "audiosep", query: "vocals & <drums>", threads: 2,
                          input: .init(source: "synthetic", seconds: 30, sampleRate: 44_100, channels: 2),
                          engineSampleRate: 32_000, snapNote: "* snapped", wholePass: .init(chunkSeconds: 9.6, realtimeFactor: 2.4, peakRSSBytes: 800_000_000),
                          limits: TuneLimits(maxMemoryBytes: 1 << 30), configurations: configurations,
                          recommendation: recommendation)
    }

    func testJSONHasTheDocumentedFieldsOnEveryConfiguration() throws {
        let text = try report().json()
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let configurations = try XCTUnwrap(object["configurations"] as? [[String: Any]])
        XCTAssertEqual(configurations.count, 2)
        for configuration in configurations {
            for key in ["chunk_seconds", "overlap_seconds", "realtime_factor", "peak_rss_bytes", "latency_seconds",
                        "boundary_snr_db", "pareto", "meets_limits", "snapped", "requested_chunk_seconds", "recommendable"] {
                XCTAssertNotNil(configuration[key], key)
            }
        }
        let recommendation = try XCTUnwrap(object["recommendation"] as? [String: Any])
        XCTAssertEqual(recommendation["chunk_seconds"] as? Double, 8)
        XCTAssertNotNil(recommendation["reason"] as? String)
        XCTAssertEqual((object["limits"] as? [String: Any])?["max_memory_bytes"] as? Int, 1 << 30)
        XCTAssertEqual(object["engine_sample_rate"] as? Int, 32_000)
    }

    func testTableMarksTheFrontSnapsAndTheRecommendation() {
        let table = report().table()
        let lines = table.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.contains { $0.contains("1.28*") }, table)
        XCTAssertTrue(lines.contains { $0.contains("31.5 dB") && $0.contains("front") }, table)
        XCTAssertTrue(lines.contains { $0.contains("48.0 dB") && $0.contains("<- recommended") }, table)
        XCTAssertTrue(lines.last!.hasPrefix("recommended: --chunk 8 --overlap 0.80"), table)
    }

    func testChartIsWellFormedSVGWithThroughputMemoryAndLatency() throws {
        let svg = TuneChart.svg(report())
        let parser = XMLParser(data: Data(svg.utf8))
        XCTAssertTrue(parser.parse(), "\(parser.parserError.map { "\($0)" } ?? "")")
        for series in ["throughput", "memory", "latency", "chunk-length"] {
            XCTAssertEqual(svg.components(separatedBy: "data-series=\"\(series)\"").count - 1, 1, series)
        }
        XCTAssertTrue(svg.contains("vocals &amp; &lt;drums&gt;"), "the query is escaped")
        XCTAssertTrue(svg.contains(">recommended<"))
    }

    /// Latency on a log axis: the 11 s point sits above the 1.9 s one, by log10(11 / 1.9) of the axis.
    func testLatencyIsPlottedOnALogAxis() throws {
        let svg = TuneChart.svg(report())
        let points = try XCTUnwrap(svg.split(separator: "\n").first { $0.contains("data-series=\"latency\"") })
        let ys = try XCTUnwrap(points.split(separator: "\"").dropFirst(3).first).split(separator: " ")
            .compactMap { Double($0.split(separator: ",")[1]) }
        XCTAssertEqual(ys.count, 2)
        let chunk = try XCTUnwrap(svg.split(separator: "\n").first { $0.contains("data-series=\"chunk-length\"") })
        let chunkYs = try XCTUnwrap(chunk.split(separator: "\"").dropFirst(3).first).split(separator: " ")
            .compactMap { Double($0.split(separator: ",")[1]) }
        // Pixels per decade from the chunk-length line (1.28 s and 8 s), applied to the latencies.
        let perDecade = (chunkYs[0] - chunkYs[1]) / log10(8 / 1.28)
        XCTAssertEqual(ys[0] - ys[1], perDecade * log10(11 / 1.9), accuracy: 0.3)
    }

    /// No label leaves the canvas, judged with DejaVu Sans's widths (what rsvg-convert draws
    /// Helvetica with): 0.62 em a character, 0.68 bold; the old chart's "boundary SNR:" began at x = -16.
    func testNoTextRunsOffTheCanvas() throws {
        var crowded = [
            TunedConfiguration(requestedChunkSeconds: 0.25, chunkSeconds: 0.25, overlapSeconds: 0.02, snapped: false,
                               realtimeFactor: 187.5, peakRSSBytes: 12_345_000_000, latencySeconds: 0.31, boundarySNR: -12.4,
                               loadSeconds: 0.1, windows: 900),
            TunedConfiguration(requestedChunkSeconds: 16, chunkSeconds: 15.99, overlapSeconds: 1.59, snapped: true,
                               realtimeFactor: 3, peakRSSBytes: 1_264_000_000, latencySeconds: 143.75, boundarySNR: 48,
                               loadSeconds: 0.1, windows: 4),
            TunedConfiguration(requestedChunkSeconds: 64, chunkSeconds: 64, overlapSeconds: 6.4, snapped: false,
                               realtimeFactor: 2.9, peakRSSBytes: 9_000_000_000, latencySeconds: 300, boundarySNR: nil,
                               loadSeconds: 0.1, windows: 1),
        ]
        for recommendedFirst in [true, false] {
            let limits = recommendedFirst ? TuneLimits() : TuneLimits(maxLatencySeconds: 200)
            let recommendation = TuneAnalysis.analyse(&crowded, limits: limits, sampleSeconds: 60)
            let report = TuneReport(engine: "audiosep", query: String(repeating: "a long description of a sound ", count: 5),
                                    threads: 64, input: .init(source: "synthetic", seconds: 60, sampleRate: 192_000, channels: 8),
                                    engineSampleRate: 32_000, snapNote: nil,
                                    wholePass: .init(chunkSeconds: 64, realtimeFactor: 2, peakRSSBytes: 9_000_000_000),
                                    limits: limits, configurations: crowded, recommendation: recommendation)
            let svg = TuneChart.svg(report)
            let boxes = try TextBoxes.of(svg)
            XCTAssertGreaterThan(boxes.texts.count, 20)
            for text in boxes.texts {
                XCTAssertGreaterThanOrEqual(text.minX, 0, text.content)
                XCTAssertLessThanOrEqual(text.maxX, boxes.width, text.content)
                XCTAssertGreaterThanOrEqual(text.minY, 0, text.content)
                XCTAssertLessThanOrEqual(text.maxY, boxes.height, text.content)
            }
        }
    }

    func testAxesAreRoundNumbersAboveTheData() {
        let axis = TuneChart.niceAxis(max: 73)
        XCTAssertGreaterThanOrEqual(axis.top, 73)
        XCTAssertEqual(axis.ticks.first, 0)
        XCTAssertEqual(axis.ticks.last, axis.top)
        XCTAssertTrue((4...8).contains(axis.ticks.count), "\(axis.ticks)")
    }
}

final class AudioTests: XCTestCase {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tuning-tests-\(getpid())").path

    override func setUpWithError() throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    func testTestSignalIsDeterministicAudibleAndBounded() {
        let a = TestSignal.make(seconds: 3, channels: 2), b = TestSignal.make(seconds: 3, channels: 2)
        XCTAssertEqual(a, b)
        XCTAssertEqual(a.count, 2)
        XCTAssertEqual(a[0].count, 3 * TestSignal.sampleRate)
        XCTAssertNotEqual(a[0], a[1], "the sources are panned apart")
        let peak = a.flatMap { $0 }.map(abs).max()!
        XCTAssertGreaterThan(peak, 0.2)
        let minute = TestSignal.make(seconds: 60, channels: 2).flatMap { $0 }.map(abs).max()!
        XCTAssertLessThan(minute, 0.8, "no clipping anywhere in the default minute")
    }

    func testSNRReadsFilesAndSaysIdentical() throws {
        let signal = TestSignal.make(seconds: 1, channels: 2)
        let reference = directory + "/reference.wav", same = directory + "/same.wav", noisy = directory + "/noisy.wav"
        try TuneAudio.writeWAV(signal, sampleRate: 44_100, to: reference)
        try TuneAudio.writeWAV(signal, sampleRate: 44_100, to: same)
        // 0.01 × the signal added: the error is exactly 40 dB below it.
        try TuneAudio.writeWAV(signal.map { $0.map { $0 * 1.01 } }, sampleRate: 44_100, to: noisy)
        let identical = try TuneAudio.snr(test: same, reference: reference)
        XCTAssertNil(identical.snr)
        XCTAssertEqual(identical.frames, 44_100)
        XCTAssertEqual(identical.referenceFrames, 44_100)
        XCTAssertEqual(try XCTUnwrap(TuneAudio.snr(test: noisy, reference: reference).snr), 40, accuracy: 0.01)
    }

    func testExcerptTakesAtMostTheSecondsAsked() throws {
        let long = directory + "/long.wav", short = directory + "/short.wav"
        try TuneAudio.writeWAV(TestSignal.make(seconds: 2, channels: 1), sampleRate: 44_100, to: long)
        let description = try TuneAudio.excerpt(from: long, seconds: 0.5, to: short)
        XCTAssertEqual(description.sampleRate, 44_100)
        let check = try TuneAudio.snr(test: short, reference: short)
        XCTAssertEqual(check.frames, 22_050)
    }

    func testPlotFileRefusesFoldersAndMissingFoldersAndWritesWhole() throws {
        XCTAssertThrowsError(try PlotFile.check(directory)) { error in
            XCTAssertEqual(error as? TuneError, .cannotWritePlot(path: directory, reason: "it is a folder; name a file in it"))
        }
        let missing = directory + "/none/chart.svg"
        XCTAssertThrowsError(try PlotFile.check(missing)) { error in
            XCTAssertEqual(error as? TuneError, .cannotWritePlot(path: missing, reason: "folder '\(directory)/none' does not exist"))
        }
        let chart = directory + "/chart.svg"
        try PlotFile.check(chart)
        XCTAssertFalse(FileManager.default.fileExists(atPath: chart), "the check creates nothing under the name")
        try PlotFile.write("<svg/>\n", to: chart)
        XCTAssertEqual(try String(contentsOfFile: chart, encoding: .utf8), "<svg/>\n")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), ["chart.svg"])
    }

    func testRunStatsRoundTrip() throws {
        let stats = RunStats(engine: "dsp", engineSampleRate: 44_100, chunkSeconds: 4, overlapSeconds: 0.4, snapped: false,
                             inputFrames: 441_000, inputSampleRate: 44_100, outputFrames: 441_000, wallSeconds: 0.5,
                             loadSeconds: 0.01, windows: 3, engineSeconds: 0.4, slowestWindowSeconds: 0.15,
                             peakResidentBytes: 50_000_000)
        let path = directory + "/stats.json"
        try stats.write(to: path)
        XCTAssertEqual(try RunStats.read(from: path), stats)
        XCTAssertEqual(stats.inputSeconds, 10)
    }
}

/// Every <text> of an SVG with the box it covers, from its position, anchor, size, weight and
/// (for axis titles) a -90° rotation about a translated origin.
final class TextBoxes: NSObject, XMLParserDelegate {
    struct Box { var content: String; var minX, maxX, minY, maxY: Double }
    var width = 0.0, height = 0.0
    var texts: [Box] = []
    private var open: [String: String]?
    private var content = ""

    static func of(_ svg: String) throws -> TextBoxes {
        let boxes = TextBoxes()
        let parser = XMLParser(data: Data(svg.utf8))
        parser.delegate = boxes
        guard parser.parse() else { throw parser.parserError ?? NSError(domain: "svg", code: 1) }
        return boxes
    }

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        if name == "svg" { width = Double(attributes["width"] ?? "") ?? 0; height = Double(attributes["height"] ?? "") ?? 0 }
        if name == "text" { open = attributes; content = "" }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) { if open != nil { content += string } }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        guard name == "text", let attributes = open else { return }
        open = nil
        let size = Double(attributes["font-size"] ?? "13") ?? 13
        let length = Double(content.count) * size * (attributes["font-weight"] == "bold" ? 0.68 : 0.62)
        let start: Double
        switch attributes["text-anchor"] ?? "start" {
        case "middle": start = -length / 2
        case "end": start = -length
        default: start = 0
        }
        if let transform = attributes["transform"] {
            // translate(X Y) rotate(-90): the text runs upwards from (X, Y).
            let numbers = transform.split { !"0123456789.-".contains($0) }.compactMap { Double($0) }
            let (x, y) = (numbers[0], numbers[1])
            texts.append(Box(content: content, minX: x - 0.8 * size, maxX: x + 0.25 * size, minY: y - start - length, maxY: y - start))
        } else {
            let x = Double(attributes["x"] ?? "0") ?? 0, y = Double(attributes["y"] ?? "0") ?? 0
            texts.append(Box(content: content, minX: x + start, maxX: x + start + length, minY: y - 0.8 * size, maxY: y + 0.25 * size))
        }
    }
}
