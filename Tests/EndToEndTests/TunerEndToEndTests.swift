import Foundation
import TestSupport
import XCTest

/// `audiosep-stream tune` through the real binary: every configuration in its own child process.
final class TunerEndToEndTests: XCTestCase {
    /// One identity-engine run shared by the tests that only read its results.
    static let identityRun: Result<(json: [String: Any], stderr: String, svg: String), Error> = Result {
        let plot = Harness.path("tune.svg")
        let run = try Harness.shell("$BIN tune --engine identity --seconds 24 --chunks 1,4,16 --overlap 0.1 --json --plot \(plot)")
        guard run.status == 0 else { throw NSError(domain: "tune", code: Int(run.status), userInfo: [NSLocalizedDescriptionKey: run.stderr]) }
        let json = try JSONSerialization.jsonObject(with: run.stdout) as? [String: Any] ?? [:]
        return (json, run.stderr, try String(contentsOfFile: plot, encoding: .utf8))
    }

    func configurations(_ json: [String: Any]) throws -> [[String: Any]] {
        try XCTUnwrap(json["configurations"] as? [[String: Any]])
    }

    func testJSONShapeOneObjectPerConfigurationPlusRecommendation() throws {
        let (json, stderr, _) = try Self.identityRun.get()
        let rows = try configurations(json)
        XCTAssertEqual(rows.map { $0["chunk_seconds"] as? Double }, [1, 4, 16])
        for row in rows {
            XCTAssertEqual(try XCTUnwrap(row["overlap_seconds"] as? Double), 0.1 * (row["chunk_seconds"] as? Double ?? 0), accuracy: 1e-4)
            XCTAssertGreaterThan(try XCTUnwrap(row["realtime_factor"] as? Double), 0)
            XCTAssertGreaterThan(try XCTUnwrap(row["peak_rss_bytes"] as? Int), 1_000_000)
            XCTAssertGreaterThanOrEqual(try XCTUnwrap(row["latency_seconds"] as? Double), row["chunk_seconds"] as? Double ?? .infinity)
            XCTAssertNotNil(row["boundary_snr_db"])
            XCTAssertNotNil(row["pareto"] as? Bool)
        }
        XCTAssertTrue(rows.contains { $0["pareto"] as? Bool == true })
        let recommendation = try XCTUnwrap(json["recommendation"] as? [String: Any])
        XCTAssertNotNil(recommendation["chunk_seconds"] as? Double)
        XCTAssertNotNil(recommendation["reason"] as? String)
        XCTAssertEqual((json["input"] as? [String: Any])?["seconds"] as? Double, 24)
        XCTAssertEqual(json["engine"] as? String, "identity")
        // Progress went to stderr, one line per step when stderr is not a terminal.
        XCTAssertTrue(stderr.contains("4/4: chunk 16 s"), stderr)
    }

    func testMemoryGrowsWithChunkSize() throws {
        let rows = try configurations(try Self.identityRun.get().json)
        let memory = rows.compactMap { $0["peak_rss_bytes"] as? Int }
        XCTAssertEqual(memory.count, 3)
        XCTAssertLessThanOrEqual(memory[0], memory[1] + 2_000_000, "\(memory)")
        XCTAssertLessThan(memory[1], memory[2], "\(memory)")
        XCTAssertGreaterThan(memory[2] - memory[0], 8_000_000, "16 s windows of 2 channels at 32 kHz and their copies: \(memory)")
    }

    /// The identity engine works at the input's rate and the cross-fade gives equal windows back
    /// exactly, so every chunked run is bit-identical to the one pass (null in the JSON).
    func testIdentityEngineIsBitIdenticalToOnePassAtEveryChunk() throws {
        let rows = try configurations(try Self.identityRun.get().json)
        XCTAssertFalse(rows.isEmpty)
        for row in rows {
            XCTAssertTrue(row["boundary_snr_db"] is NSNull, "\(row)")
        }
    }

    func testPlotIsAnSVGChart() throws {
        let svg = try Self.identityRun.get().svg
        XCTAssertTrue(svg.hasPrefix("<svg"))
        XCTAssertTrue(svg.hasSuffix("</svg>\n"))
        for series in ["throughput", "memory", "latency"] {
            XCTAssertEqual(svg.components(separatedBy: "<polyline data-series=\"\(series)\"").count - 1, 1, series)
        }
        XCTAssertTrue(svg.contains(">longer than a third of the sample: too few boundaries to recommend<"), "16 s of 24 s is shaded")
    }

    func testRecommendationRespectsTheLimitsGiven() throws {
        let rows = try configurations(try Self.identityRun.get().json)
        let memory = rows.compactMap { $0["peak_rss_bytes"] as? Int }
        // A memory limit between the smallest and the largest configuration, and a latency limit
        // that rules out 16 s chunks whatever their memory.
        let limit = (memory.min()! + memory.max()!) / 2
        let run = try Harness.shell("$BIN tune --engine identity --seconds 24 --chunks 1,4,16 --max-memory \(limit) --max-latency 6s --json -q")
        XCTAssertEqual(run.status, 0, run.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: run.stdout) as? [String: Any])
        let limited = try configurations(json)
        for row in limited {
            let fits = (row["peak_rss_bytes"] as? Int ?? .max) <= limit && (row["latency_seconds"] as? Double ?? .infinity) <= 6
                && (row["realtime_factor"] as? Double ?? 0) >= 1
            XCTAssertEqual(row["meets_limits"] as? Bool, fits, "\(row)")
        }
        let recommendation = try XCTUnwrap(json["recommendation"] as? [String: Any])
        let chunk = try XCTUnwrap(recommendation["chunk_seconds"] as? Double)
        let chosen = try XCTUnwrap(limited.first { $0["chunk_seconds"] as? Double == chunk })
        XCTAssertLessThanOrEqual(try XCTUnwrap(chosen["peak_rss_bytes"] as? Int), limit)
        XCTAssertLessThanOrEqual(try XCTUnwrap(chosen["latency_seconds"] as? Double), 6)
        XCTAssertNotEqual(chunk, 16)
    }

    /// `tune --latency`: the windows the filter's own `--latency` gives this budget and shorter
    /// ones, each within the budget, and the best-sounding recommended as a budget.
    func testLatencyTriesTheFiltersLiveWindowsAndRecommendsABudget() throws {
        let run = try Harness.shell("$BIN tune --engine dsp --query drums --latency 6 --seconds 20 --json -q")
        XCTAssertEqual(run.status, 0, run.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: run.stdout) as? [String: Any])
        let rows = try configurations(json)
        XCTAssertGreaterThanOrEqual(rows.count, 2, "the 6 s budget and a shorter one the engine honours: \(rows)")
        var chunks: Set<Double> = []
        for row in rows {
            XCTAssertLessThanOrEqual(try XCTUnwrap(row["latency_budget_seconds"] as? Double), 6 + 1e-9)
            XCTAssertLessThanOrEqual(try XCTUnwrap(row["latency_seconds"] as? Double), try XCTUnwrap(row["latency_budget_seconds"] as? Double) + 1e-9)
            XCTAssertGreaterThanOrEqual(try XCTUnwrap(row["chunk_seconds"] as? Double), 2.8, "never below the engine's live minimum")
            chunks.insert(try XCTUnwrap(row["chunk_seconds"] as? Double))
        }
        XCTAssertEqual(chunks.count, rows.count, "each budget that gives the same windows is measured once")
        let recommendation = try XCTUnwrap(json["recommendation"] as? [String: Any])
        let snrs = rows.compactMap { $0["boundary_snr_db"] as? Double }
        let chosen = try XCTUnwrap(rows.first { $0["chunk_seconds"] as? Double == recommendation["chunk_seconds"] as? Double })
        XCTAssertEqual(chosen["boundary_snr_db"] as? Double, snrs.max(), "the best-sounding one")
        let text = try Harness.shell("$BIN tune --engine dsp --query drums --latency 6 --seconds 20 -q")
        XCTAssertTrue(String(decoding: text.stdout, as: UTF8.self).contains("recommended: --latency "), String(decoding: text.stdout, as: UTF8.self))
        let refused = try Harness.shell("$BIN tune --engine identity --latency 1 --chunks 2 -q")
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("--latency chooses the windows itself"), refused.stderr)
    }

    func testSaysClearlyWhenNothingMeetsTheLimits() throws {
        let run = try Harness.shell("$BIN tune --engine identity --seconds 3 --chunks 1 --max-memory 1M -q")
        XCTAssertEqual(run.status, 0, run.stderr)
        let text = String(decoding: run.stdout, as: UTF8.self)
        XCTAssertTrue(text.contains("recommended: none — no configuration meets --max-memory 1 MB"), text)
        XCTAssertTrue(text.contains("the leanest peaks at"), text)
    }

    /// The built-in engine's chunked outputs differ from one pass by design; a chunk as long as
    /// the sample has no boundary and would win on boundary SNR by construction.
    func testAChunkAsLongAsTheSampleIsMeasuredButNotRecommended() throws {
        let run = try Harness.shell("$BIN tune --engine dsp --query drums --seconds 9 --chunks 3,9 -q")
        XCTAssertEqual(run.status, 0, run.stderr)
        let text = String(decoding: run.stdout, as: UTF8.self)
        XCTAssertTrue(text.contains("chunks longer than a third of the 9 s sample (3 s) are measured but not recommended: "
                                    + "they have too few window boundaries to judge"), text)
        XCTAssertTrue(text.contains("recommended: --chunk 3 "), text)
        XCTAssertTrue(text.split(separator: "\n").contains { $0.hasPrefix("      9") && $0.contains("too long") }, text)
    }

    /// Issue 32: the built-in engine separates voice worse in short windows (REPET needs many
    /// repeats in one), and its short chunks are faster, leaner and no further from one pass, so
    /// tune recommended 1 or 2 s. It states its shortest useful chunk; tune measures shorter ones
    /// but recommends none of them, and never a dominated configuration.
    func testTheBuiltInEngineIsNeverRecommendedBelowItsShortestUsefulChunk() throws {
        let run = try Harness.shell("$BIN tune --engine dsp --seconds 57 --chunks 1,4,19 --json -q")
        XCTAssertEqual(run.status, 0, run.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: run.stdout) as? [String: Any])
        let shortest = try XCTUnwrap(json["shortest_useful_chunk_seconds"] as? Double)
        XCTAssertEqual(shortest, 18.6, accuracy: 0.05, "40 frames 40 hops apart: 1600 × 512 / 44100 s")
        let rows = try configurations(json)
        XCTAssertEqual(rows.map { $0["below_shortest_useful"] as? Bool }, [true, true, false])
        XCTAssertEqual(rows.map { $0["recommendable"] as? Bool }, [false, false, true])
        for row in rows where row["pareto"] as? Bool == true {
            XCTAssertGreaterThanOrEqual(row["chunk_seconds"] as? Double ?? 0, shortest, "the front is among usable chunks: \(row)")
        }
        let recommendation = try XCTUnwrap(json["recommendation"] as? [String: Any])
        XCTAssertEqual(recommendation["chunk_seconds"] as? Double, 19, "\(recommendation)")
        // The default grid adds the engine's own lengths: for percussion its default (30 s) and its
        // shortest useful chunk (four spans of its time median, 2.8 s).
        let drums = try Harness.shell("$BIN tune --engine dsp --query drums --seconds 12 -q")
        XCTAssertEqual(drums.status, 0, drums.stderr)
        let text = String(decoding: drums.stdout, as: UTF8.self)
        let rowsByChunk = Dictionary(text.split(separator: "\n").compactMap { line -> (String, String)? in
            guard let first = line.split(separator: " ").first, Double(first) != nil else { return nil }
            return (String(first), String(line))
        }, uniquingKeysWith: { first, _ in first })
        XCTAssertEqual(Set(rowsByChunk.keys), ["1", "2", "2.80", "4", "8", "16", "30", "32"], text)
        XCTAssertTrue(rowsByChunk["2"]?.contains("too short") ?? false, text)
        XCTAssertTrue(rowsByChunk["30"]?.contains("too long") ?? false, text)
        XCTAssertTrue(text.contains("chunks shorter than the dsp engine's shortest useful chunk (2.8 s) are measured but not recommended"), text)
        let chosen = try XCTUnwrap(text.split(separator: "\n").last { $0.hasPrefix("recommended: --chunk ") })
        XCTAssertTrue(["2.80", "4"].contains(String(chosen.split(separator: " ")[2])), String(chosen))
    }

    func testNoUsefulChunkFailsBeforeAnyRun() throws {
        let run = try Harness.shell("$BIN tune --engine dsp --seconds 60 --chunks 1,2,4")
        XCTAssertEqual(run.status, 1, run.stderr)
        XCTAssertEqual(run.stderr.split(separator: "\n").count, 1, "one line and no progress: \(run.stderr)")
        XCTAssertTrue(run.stderr.contains("no chunk in --chunks 1,2,4 is both at least the engine's shortest useful chunk (18.6 s) "
                                          + "and at most a third of the 60 s sample (20 s)"), run.stderr)
    }

    func testNoChunkShortEnoughFailsBeforeAnyRun() throws {
        let run = try Harness.shell("$BIN tune --engine identity --seconds 24 --chunks 16,32")
        XCTAssertEqual(run.status, 1, run.stderr)
        let lines = run.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, "one line and no progress: nothing was measured: \(run.stderr)")
        XCTAssertTrue(run.stderr.contains("no chunk in --chunks 16,32 is at most a third of the 24 s sample (8 s)"), run.stderr)
    }

    func testBadSettingsAreOneLineErrors() throws {
        for (flags, expected) in [("--chunks 0", "invalid --chunks: 0"), ("--overlap 0.8", "invalid overlap"),
                                  ("--max-memory lots", "invalid memory limit: lots"),
                                  ("--input /nonexistent/song.wav", "/nonexistent/song.wav")] {
            let run = try Harness.shell("$BIN tune --engine identity --seconds 2 \(flags)")
            XCTAssertEqual(run.status, 1, flags)
            let lines = run.stderr.split(separator: "\n").filter { $0.hasPrefix("audiosep-stream:") }
            XCTAssertEqual(lines.count, 1, run.stderr)
            XCTAssertTrue(run.stderr.contains(expected), "\(flags): \(run.stderr)")
        }
    }

    /// Checked before the first run: without the check each of these failed in the one-pass run,
    /// after the progress line, as "the run with chunk … failed".
    func testEngineAndQueryAreCheckedBeforeAnyRun() throws {
        for (flags, expected) in [("--engine dsp --query xyzzy", "the built-in engine cannot separate 'xyzzy'"),
                                  ("--engine nosuch", "unknown engine 'nosuch'"),
                                  ("--engine dsp --threads 0", "the thread count must be from 1 to 1024")] {
            let run = try Harness.shell("$BIN tune \(flags) --seconds 30 --chunks 1")
            XCTAssertEqual(run.status, 1, flags)
            let lines = run.stderr.split(separator: "\n")
            XCTAssertEqual(lines.count, 1, "one line and no progress: nothing was measured: \(run.stderr)")
            XCTAssertTrue(run.stderr.hasPrefix("audiosep-stream: ") && run.stderr.contains(expected), "\(flags): \(run.stderr)")
        }
    }

    /// A plot that cannot be written is refused before measuring (no progress line), naming the
    /// path and why; without the check it was a raw NSError after every run.
    func testAnUnwritablePlotPathFailsBeforeAnyRun() throws {
        let folder = Harness.path("plots-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for (path, reason) in [(folder + "/missing/tune.svg", "folder '\(folder)/missing' does not exist"),
                               (folder, "it is a folder; name a file in it")] {
            let run = try Harness.shell("$BIN tune --engine identity --seconds 30 --chunks 1 --plot '\(path)'")
            XCTAssertEqual(run.status, 1, run.stderr)
            XCTAssertEqual(run.stderr, "audiosep-stream: cannot write the plot '\(path)': \(reason)\n")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder), [], "the check leaves nothing behind")
    }

    /// A write that fails after the check (a full device) is one line with the system's reason.
    func testAFailedPlotWriteIsOneLineWithTheSystemsReason() throws {
        guard FileManager.default.fileExists(atPath: "/dev/full") else { throw XCTSkip("no /dev/full") }
        let run = try Harness.shell("$BIN tune --engine identity --seconds 3 --chunks 1 -q --plot /dev/full")
        XCTAssertEqual(run.status, 1, run.stderr)
        XCTAssertEqual(run.stderr, "audiosep-stream: cannot write the plot '/dev/full': \(String(cString: strerror(ENOSPC)))\n")
    }
}
