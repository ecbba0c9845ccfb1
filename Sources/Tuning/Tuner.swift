import Foundation
import Stream

/// What to tune: the engine (as flags for the child), the audio, the grid and the limits.
public struct TuneRequest: Sendable {
    /// The tool to run each configuration in (normally this executable).
    public var executable: String
    /// Engine flags forwarded to every run: `--engine dsp`, `--model PATH`, `--threads 2`…
    public var engineArguments: [String]
    public var query: String?
    public var threads: Int
    /// A file to take the audio from; nil for the built-in test mixture.
    public var inputPath: String?
    public var seconds: Double = 60
    /// Channels of the built-in test mixture.
    public var syntheticChannels = 2
    public var chunks: [Double] = [1, 2, 4, 8, 16, 32]
    public var overlaps: [OverlapSpec] = [.fraction(0.1)]
    public var limits = TuneLimits()
    /// `tune --latency`: budgets to run the filter with (`--latency B`) instead of the chunk and
    /// overlap grid; each gets the windows the filter chooses for it. Budgets below what the
    /// engine honours are skipped.
    public var latencyBudgets: [Double] = []
    /// The engine's shortest useful window, when known before any run (the front end builds the
    /// built-in engines; AudioSep states it without loading). Each run also reports its engine's,
    /// and that one decides.
    public var shortestUsefulChunkSeconds: Double = 0
    /// Where inputs, outputs and measurements go while tuning (removed afterwards).
    public var workDirectory: String

    public init(executable: String, engineArguments: [String], query: String?, threads: Int,
                workDirectory: String) {
        self.executable = executable
        self.engineArguments = engineArguments
        self.query = query
        self.threads = threads
        self.workDirectory = workDirectory
    }
}

/// Runs the engine over the same audio once per configuration, each in a fresh child process
/// of the tool, plus once over the whole input in one window; compares every output with that
/// one pass and recommends a configuration.
public final class Tuner {
    public let request: TuneRequest

    public init(_ request: TuneRequest) throws {
        guard request.seconds.isFinite, request.seconds > 0 else {
            throw TuneError.invalidValue(name: "--seconds", value: "\(request.seconds)")
        }
        for chunk in request.chunks where !(chunk.isFinite && chunk > 0) {
            throw TuneError.invalidValue(name: "chunk length", value: "\(chunk)")
        }
        self.request = request
        sampleSeconds = try Self.sampleSeconds(request)
        if !request.latencyBudgets.isEmpty {
            for budget in request.latencyBudgets where !(budget.isFinite && budget > 0) {
                throw TuneError.invalidValue(name: "latency budget", value: "\(budget)")
            }
            return
        }
        guard !request.chunks.isEmpty, !request.overlaps.isEmpty else {
            throw TuneError.invalidValue(name: "--chunks", value: "(none)")
        }
        guard request.chunks.contains(where: { TuneAnalysis.isJudged(chunkSeconds: $0, sampleSeconds: sampleSeconds) }) else {
            throw TuneError.noJudgedChunk(chunks: request.chunks, sampleSeconds: sampleSeconds)
        }
        guard request.chunks.contains(where: {
            TuneAnalysis.isJudged(chunkSeconds: $0, sampleSeconds: sampleSeconds)
                && TuneAnalysis.isUseful(chunkSeconds: $0, shortestUsefulSeconds: request.shortestUsefulChunkSeconds)
        }) else {
            throw TuneError.noUsefulChunk(chunks: request.chunks, sampleSeconds: sampleSeconds,
                                          shortestUsefulSeconds: request.shortestUsefulChunkSeconds)
        }
    }

    /// How long the sample will be, known before any run: `seconds`, or less when the input
    /// file is shorter (from its header).
    public let sampleSeconds: Double

    private static func sampleSeconds(_ request: TuneRequest) throws -> Double {
        guard let path = request.inputPath else { return request.seconds }
        let description = try SndfileSource(.path(path)).description
        guard let frames = description.knownFrames else { return request.seconds }
        guard frames > 0 else { throw TuneError.invalidValue(name: "input (no audio)", value: path) }
        return min(request.seconds, Double(frames) / Double(description.sampleRate))
    }

    /// `progress` gets one short line per step, for a status line on stderr.
    public func run(progress: (String) -> Void) throws -> TuneReport {
        let work = request.workDirectory
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let inputPath = work + "/input.wav"
        let input: TuneReport.Input
        if let source = request.inputPath {
            progress("reading \(request.seconds) s of \(source)")
            let description = try TuneAudio.excerpt(from: source, seconds: request.seconds, to: inputPath)
            let copied = try SndfileSource(.path(inputPath)).description.knownFrames ?? 0
            input = .init(source: source, seconds: Double(copied) / Double(description.sampleRate),
                          sampleRate: description.sampleRate, channels: description.channelCount)
        } else {
            progress("making \(request.seconds) s of test mixture")
            try TestSignal.write(to: inputPath, seconds: request.seconds, channels: request.syntheticChannels)
            let frames = try SndfileSource(.path(inputPath)).description.knownFrames ?? 0
            input = .init(source: "synthetic", seconds: Double(frames) / Double(TestSignal.sampleRate),
                          sampleRate: TestSignal.sampleRate, channels: request.syntheticChannels)
        }
        guard input.seconds > 0 else { throw TuneError.invalidValue(name: "input (no audio)", value: request.inputPath ?? "") }

        var grid: [(chunk: Double, overlap: Double, budget: Double?)] = []
        if request.latencyBudgets.isEmpty {
            for chunk in request.chunks {
                for overlap in request.overlaps { grid.append((chunk, overlap.seconds(forChunk: chunk), nil)) }
            }
        } else {
            grid = request.latencyBudgets.map { (0, 0, $0) }
        }
        let steps = grid.count + 1

        // The reference: one window over the whole input, no overlap.
        progress("1/\(steps): the whole input in one pass")
        let wholeChunk = input.seconds * 1.05 + 1
        let whole = try measure(chunk: wholeChunk, overlap: 0, input: inputPath, output: work + "/whole.wav", tag: "whole")
        guard whole.windows == 1 else {
            throw TuneError.invalidValue(name: "one-pass reference (windows)", value: "\(whole.windows)")
        }

        var configurations: [TunedConfiguration] = []
        var snaps: [String] = []
        for (step, point) in grid.enumerated() {
            let label = point.budget.map { String(format: "--latency %g s", $0) }
                ?? String(format: "chunk %g s, overlap %g s", point.chunk, point.overlap)
            progress("\(step + 2)/\(steps): \(label)")
            let output = work + "/out-\(step).wav"
            let stats: RunStats
            if let budget = point.budget {
                // A budget the engine cannot honour is skipped; so is one that gives windows
                // a larger budget already gave.
                guard let measured = try? measure(latency: budget, input: inputPath, output: output, tag: "\(step)"),
                      !configurations.contains(where: { abs($0.chunkSeconds - measured.chunkSeconds) < 1e-9
                                                        && abs($0.overlapSeconds - measured.overlapSeconds) < 1e-9 }) else { continue }
                stats = measured
            } else {
                stats = try measure(chunk: point.chunk, overlap: point.overlap, input: inputPath, output: output, tag: "\(step)")
            }
            let comparison = try TuneAudio.snr(test: output, reference: work + "/whole.wav")
            guard comparison.frames == comparison.referenceFrames else {
                throw TuneError.wrongLength(configuration: label, got: comparison.frames, expected: comparison.referenceFrames)
            }
            if stats.snapped, point.budget == nil {
                snaps.append(String(format: "%g/%g → %.3f/%.3f", point.chunk, point.overlap, stats.chunkSeconds, stats.overlapSeconds))
            }
            // A budget's latency is its worst case: what the filter computed, plus one hop for the engine.
            let latency = point.budget == nil ? stats.chunkSeconds + stats.slowestWindowSeconds
                : (stats.latencySeconds ?? stats.chunkSeconds) + stats.chunkSeconds - stats.overlapSeconds
            var configuration = TunedConfiguration(
                requestedChunkSeconds: point.budget == nil ? point.chunk : stats.chunkSeconds, chunkSeconds: stats.chunkSeconds,
                overlapSeconds: stats.overlapSeconds, snapped: stats.snapped,
                realtimeFactor: stats.inputSeconds / max(stats.wallSeconds, 1e-9), peakRSSBytes: stats.peakResidentBytes,
                latencySeconds: latency, boundarySNR: comparison.snr, loadSeconds: stats.loadSeconds, windows: stats.windows)
            configuration.latencyBudgetSeconds = point.budget
            configurations.append(configuration)
            try? FileManager.default.removeItem(atPath: output)
        }
        guard !configurations.isEmpty else { throw TuneError.invalidValue(name: "--latency (no budget the engine honours)",
                                                                          value: request.latencyBudgets.map { String(format: "%g", $0) }.joined(separator: ",")) }
        // Live windows are below the engine's shortest useful one by design: the budget decides.
        let shortestUseful = request.latencyBudgets.isEmpty ? whole.shortestUsefulChunkSeconds ?? request.shortestUsefulChunkSeconds : 0
        let recommendation = TuneAnalysis.analyse(&configurations, limits: request.limits, sampleSeconds: input.seconds,
                                                  shortestUsefulSeconds: shortestUseful, bestSounding: !request.latencyBudgets.isEmpty)
        let snapNote = snaps.isEmpty ? nil
            : "* the \(whole.engine) engine snapped chunk/overlap to lengths it wastes nothing on, with windows on the grid of one pass (s): "
                + snaps.joined(separator: ", ")
        return TuneReport(
            engine: whole.engine, query: request.query, threads: request.threads, input: input,
            engineSampleRate: whole.engineSampleRate, shortestUsefulChunkSeconds: shortestUseful, snapNote: snapNote,
            wholePass: .init(chunkSeconds: whole.chunkSeconds,
                             realtimeFactor: whole.inputSeconds / max(whole.wallSeconds, 1e-9),
                             peakRSSBytes: whole.peakResidentBytes),
            limits: request.limits, configurations: configurations, recommendation: recommendation)
    }

    /// One configuration in a fresh child process: float WAV out, measurements in a side file.
    private func measure(chunk: Double, overlap: Double, input: String, output: String, tag: String) throws -> RunStats {
        try measure(["--chunk", String(chunk), "--overlap", String(overlap)], label: String(format: "chunk %g s, overlap %g s", chunk, overlap),
                    input: input, output: output, tag: tag)
    }

    /// The filter's own windows for a latency budget.
    private func measure(latency: Double, input: String, output: String, tag: String) throws -> RunStats {
        try measure(["--latency", String(latency)], label: String(format: "--latency %g s", latency), input: input, output: output, tag: tag)
    }

    private func measure(_ windows: [String], label: String, input: String, output: String, tag: String) throws -> RunStats {
        let statsPath = request.workDirectory + "/stats-\(tag).json"
        try? FileManager.default.removeItem(atPath: statsPath)
        var arguments = request.engineArguments
        arguments += ["-i", input, "-o", output] + windows
            + ["--out-encoding", "floating-point", "--out-bits", "32", "--quiet", "--stats", statsPath]
        if let query = request.query { arguments += ["--", query] }
        let outcome = try ChildProcess.run(request.executable, arguments, stderrPath: request.workDirectory + "/stderr-\(tag).txt")
        guard outcome.status == 0 else {
            let message = outcome.stderr.split(separator: "\n").last.map(String.init) ?? ""
            throw TuneError.childFailed(configuration: label, status: outcome.status, message: message)
        }
        guard let stats = try? RunStats.read(from: statsPath) else { throw TuneError.missingStats(configuration: label) }
        return stats
    }
}
