import ArgumentParser
import AudioSep
import Engines
import Foundation
import Separation
import Stream
import Text
import Tuning

struct Tune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure throughput, memory, latency and fidelity to one pass per chunk size, and recommend one.",
        discussion: """
            Each configuration runs in a fresh child process of this tool over the same audio (the \
            --input file or a built-in test mixture); its output is compared with one pass over the \
            whole input (SNR). Chunks shorter than the engine's shortest useful window are measured \
            but never recommended, nor is a configuration another beats or equals on throughput, \
            memory, latency and SNR at once (off the Pareto front).
            Examples:
              audiosep-stream tune --engine dsp --max-memory 200M --max-latency 5s
              audiosep-stream tune --model ~/models/audiosep --input song.flac --json
            """)

    @Option(name: .long, help: "Engine: auto, audiosep, dsp or identity.", transform: EngineChoice.init(parsing:))
    var engine: EngineChoice = .auto
    @OptionGroup var model: ModelOptions
    @Option(name: .long, help: "The query to separate.")
    var query = "vocals"
    @Option(name: .long, help: "Take the audio from this file (anything libsndfile reads) instead of the built-in test mixture.")
    var input: String?
    @Option(name: .long, help: "Seconds of audio each configuration processes (default: 60, or three of the engine's default chunks when longer).")
    var seconds: Double?
    @Option(name: .long, help: "Built-in test mixture: channel count.")
    var channels = 2
    @Option(name: .long, help: "Chunk lengths to try, in seconds, comma-separated (default: 1,2,4,8,16,32, the engine's default chunk and its shortest useful one).")
    var chunks: String?
    @Option(name: .long, help: "Overlap: a share of the chunk (0.1, 10%) or seconds (1, 0.5s); comma-separated to try several.")
    var overlap = "0.1"
    @Option(name: .long, help: "Recommend only configurations whose peak memory is at most this (1G, 512M, 800MB).")
    var maxMemory: String?
    @Option(name: .long, help: "Recommend only configurations that keep up with real time within this latency (5s, 500ms).")
    var maxLatency: String?
    @Option(name: .long, help: "Live: try the windows the filter's --latency chooses for this budget and for shorter ones, and recommend the best-sounding that keeps real time within it (1, 1.5s).")
    var latency: String?
    @Option(name: .long, help: "Recommend only configurations whose SNR against one pass is at least this many dB.")
    var minBoundarySnr: Double?
    @Flag(name: .long, help: "Print the results as JSON on stdout instead of the table.")
    var json = false
    @Option(name: .long, help: "Write an SVG chart of throughput and memory against chunk length to this file.")
    var plot: String?
    @Flag(name: [.customShort("q"), .long], help: "No progress line on stderr.")
    var quiet = false

    func run() throws {
        do {
            try tune()
        } catch {
            AudioSepStream.fail(error)
        }
    }

    private func tune() throws {
        let work = FileManager.default.temporaryDirectory.path + "/audiosep-tune-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: work) }
        var request = TuneRequest(
            executable: ChildProcess.currentExecutable, engineArguments: ["--engine", engine.rawValue] + model.arguments,
            query: query, threads: model.threads ?? ProcessInfo.processInfo.activeProcessorCount,
            workDirectory: work)
        request.inputPath = input
        let engineChunks = try checkEngine()
        request.seconds = try Self.bounded("--seconds", seconds ?? max(60, 3 * engineChunks.defaultSeconds), RunLimits.tuneSampleSeconds)
        request.shortestUsefulChunkSeconds = engineChunks.shortestUsefulSeconds
        guard (1...64).contains(channels) else { throw TuneError.invalidValue(name: "--channels", value: "\(channels)") }
        request.syntheticChannels = channels
        if let chunks {
            request.chunks = try Quantity.secondsList(chunks, name: "--chunks").map { try Self.bounded("--chunks", $0, RunLimits.chunkSeconds) }
        } else {
            // Powers of two, and the two lengths the engine names (the shortest rounded up to a tenth).
            let shortest = (engineChunks.shortestUsefulSeconds * 10).rounded(.up) / 10
            let named = [engineChunks.defaultSeconds] + (shortest > 0 ? [shortest] : [])
            request.chunks = Array(Set([1, 2, 4, 8, 16, 32] + named)).sorted()
        }
        request.overlaps = try overlap.split(separator: ",").map { try OverlapSpec(parsing: String($0)) }
        var maxLatencySeconds = try maxLatency.map { try Quantity.seconds($0, name: "--max-latency") }
        if let latency {
            guard chunks == nil, maxLatency == nil else {
                throw ValidationError("--latency chooses the windows itself; give it without --chunks and --max-latency")
            }
            let budget = try Self.bounded("--latency", try Quantity.seconds(latency, name: "--latency"), RunLimits.chunkSeconds)
            // The budget, and shorter ones (shorter windows, more headroom for the engine).
            request.latencyBudgets = [1, 0.85, 0.7, 0.55, 0.4].map { budget * $0 }
            maxLatencySeconds = budget
        }
        for case .seconds(let value) in request.overlaps { _ = try Self.bounded("--overlap", value, RunLimits.overlapSeconds) }
        request.limits = TuneLimits(maxMemoryBytes: try maxMemory.map(Quantity.bytes),
                                    maxLatencySeconds: maxLatencySeconds,
                                    minBoundarySNR: minBoundarySnr)
        let tuner = try Tuner(request)
        if let plot { try PlotFile.check(plot) }

        let started = Date()
        let terminal = isatty(STDERR_FILENO) == 1
        let report = try tuner.run { step in
            guard !quiet else { return }
            let line = String(format: "tune %5.1f s  %@", Date().timeIntervalSince(started), step)
            Console.error((terminal ? "\r\u{1B}[K" + line : line + "\n"))
        }
        if !quiet, terminal { Console.error("\n") }
        if let plot { try PlotFile.write(TuneChart.svg(report), to: plot) }
        Console.output(json ? try report.json() : report.table())
    }

    /// `value` held to the filter's bounds for the same quantity (`RunLimits`): the children run the
    /// filter, and the sample is made in this process, so nothing past them may reach either.
    private static func bounded(_ flag: String, _ value: Double, _ rule: RunLimits.Rule) throws -> Double {
        do {
            return try rule.check(value)
        } catch let error as RunLimitError {
            throw TuneError.invalidValue(name: "\(flag) (\(error.rule))", value: error.value)
        }
    }

    /// What every run would refuse, checked once before minutes of them: the engine's name,
    /// --threads, the compute flags, the embedding file, and for the built-in engine the query,
    /// by building the engine as `separate` does (cheap for it). Returns the engine's default
    /// chunk and its shortest useful one.
    private func checkEngine() throws -> (defaultSeconds: Double, shortestUsefulSeconds: Double) {
        let files = try model.locate()
        let loadsAudioSep = (engine == .audiosep || engine == .auto) && !(files?.isEmpty ?? true)
        guard loadsAudioSep else {
            let separator = try model.makeEngine(engine, queries: [query]).separator
            return (separator.defaultChunkSeconds, separator.shortestUsefulChunkSeconds)
        }
        // Building AudioSep loads the network (seconds, a gigabyte); any text is a query it takes.
        if let threads = model.threads, threads < 1 {
            throw ValidationError("--threads must be at least 1, got \(threads)")
        }
        _ = try model.compute.options()
        _ = try model.embedding.map(QueryEmbedding.load)
        return (AudioSepEngine.defaultChunkSeconds, AudioSepEngine.shortestUsefulChunkSeconds)
    }
}
