import ArgumentParser
import CMalloc
import Engine
import Foundation
import Overlap
import Stream
import Tuning

@main
struct AudioSepStream: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audiosep-stream",
        abstract: "Separate the sound you describe from audio flowing through a pipe.",
        discussion: """
            Reads WAV (or anything libsndfile streams) or raw PCM on stdin, writes WAV or raw PCM on stdout.
              sox song.flac -t wav - | audiosep-stream "vocals" | aplay
              audiosep-stream --engine identity < in.wav > out.wav
            """,
        subcommands: [Separate.self, Convert.self, Embed.self, Tune.self, WorkerMode.self],
        defaultSubcommand: Separate.self)

    /// `--worker` anywhere on the line is the `worker` subcommand, as the packaged AudioSep
    /// worker is started (`dsu-audiosep --worker [--max-cached-models N]`).
    static func main() {
        var arguments = Array(CommandLine.arguments.dropFirst())
        if let flag = arguments.firstIndex(of: "--worker") {
            arguments.remove(at: flag)
            arguments.insert("worker", at: 0)
        }
        main(arguments)
    }

    /// Keeps resident memory flat over hours of streaming. Windows are allocated on one thread
    /// and freed on another; glibc's per-thread arenas and its self-raising mmap threshold then
    /// let freed blocks pile up as fragmentation (peak RSS crept up 20% over 3 hours). A fixed
    /// low mmap threshold returns every window-sized block to the system when it is freed.
    static func boundAllocator() {
        mallopt(M_MMAP_THRESHOLD, 32 * 1024)
        mallopt(M_TRIM_THRESHOLD, 64 * 1024)
        mallopt(M_ARENA_MAX, 1)
    }

    /// The only place that prints errors and exits: one line, non-zero status.
    static func fail(_ error: Error) -> Never {
        if case StreamError.outputClosed = error { Foundation.exit(0) }  // the reader went away: quiet
        Console.error("audiosep-stream: \(error)\n")
        if let stop = error as? Interrupted { Foundation.exit(128 + stop.signal) }
        Foundation.exit(1)
    }
}

extension FadeShape: ExpressibleByArgument {}
extension ResampleQuality: ExpressibleByArgument {}
extension OutputContainer: ExpressibleByArgument {}
extension SampleFormat.Endian: ExpressibleByArgument {}

struct Separate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Separate QUERY from the audio on stdin (the default command).")

    @Argument(help: "What to separate, in words (\"vocals\", \"a dog barking\").")
    var query: String?

    @Option(name: .long, help: "Engine: auto, audiosep, or identity (returns its input; tests the pipeline).")
    var engine = "auto"

    @OptionGroup var model: ModelOptions

    @Flag(name: .long, help: "Write the mixture minus the separated source instead.")
    var remove = false

    @Flag(name: .long, help: "Separate the mono mix once and write it to every output channel.")
    var downmix = false

    // Input
    @Option(name: [.customShort("i"), .customLong("input")], help: "Read this file instead of stdin.")
    var inputPath: String?
    @Option(name: [.customShort("t"), .customLong("type")], help: "Input type: auto (from the header) or raw.")
    var inputType = "auto"
    @Option(name: [.customShort("r"), .customLong("rate")], help: "Raw input: sample rate in hz.")
    var rate: Int?
    @Option(name: [.customShort("c"), .customLong("channels")], help: "Raw input: channel count.")
    var channels: Int?
    @Option(name: [.customShort("b"), .customLong("bits")], help: "Raw input: bits per sample (8, 16, 24, 32, 64).")
    var bits: Int?
    @Option(name: [.customShort("e"), .customLong("encoding")], help: "Raw input: signed-integer, unsigned-integer or floating-point.")
    var encoding: String?
    @Option(name: .long, help: "Raw input: byte order, little or big.")
    var endian: SampleFormat.Endian = .little

    // Output
    @Option(name: [.customShort("o"), .customLong("output")], help: "Write this file instead of stdout.")
    var outputPath: String?
    @Option(name: .long, help: "Output type: wav or raw.")
    var outType: OutputContainer = .wav
    @Option(name: .long, help: "Output sample rate in hz (default: the input's).")
    var outRate: Int?
    @Option(name: .long, help: "Output bits per sample (default: the input's).")
    var outBits: Int?
    @Option(name: .long, help: "Output encoding (default: the input's).")
    var outEncoding: String?
    @Option(name: .long, help: "Raw output: byte order (default: the input's).")
    var outEndian: SampleFormat.Endian?

    // Processing
    @Option(name: .long, help: "Window length in seconds.")
    var chunk: Double = 10
    @Option(name: .long, help: "Cross-faded overlap between windows in seconds (at most half the chunk).")
    var overlap: Double = 1
    @Option(name: .long, help: "Cross-fade shape: raised-cosine or linear.")
    var fade: FadeShape = .raisedCosine
    @Option(name: .long, help: "libsamplerate quality: best, medium or fast.")
    var resampleQuality: ResampleQuality = .best
    @Option(name: .long, help: "Frames read from the input at a time.")
    var buffer: Int = 4096

    // Reporting
    @Flag(name: .long, help: "Show progress on stderr even when it is not a terminal.")
    var progress = false
    @Flag(name: [.customShort("q"), .long], help: "Print nothing but errors.")
    var quiet = false
    @Flag(name: .long, help: "Print the time the engine spent in each stage at the end (AudioSep engine).")
    var profile = false
    @Option(name: .long, help: ArgumentHelp("Write this run's measurements as JSON to this file (used by `tune`).", visibility: .hidden))
    var stats: String?

    func run() throws {
        StopSignals.install()
        if outputPath == nil { ReaderWatch.start() }
        do {
            try separate()
        } catch {
            // A signal that cut the input short before anything arrived: say that, not what
            // the half-read header looked like.
            if let signal = StopSignals.signal, !(error is Interrupted) {
                AudioSepStream.fail(Interrupted(signal: signal, secondsWritten: nil))
            }
            AudioSepStream.fail(error)
        }
    }

    private func separate() throws {
        signal(SIGPIPE, SIG_IGN)
        AudioSepStream.boundAllocator()
        let location: InputLocation = inputPath.map { .path($0) } ?? .fileDescriptor(STDIN_FILENO)
        let source = try openSource(location)
        let input = source.description

        let loadStarted = Date()
        var separator = try model.makeEngine(name: engine, query: query)
        let loadSeconds = Date().timeIntervalSince(loadStarted)
        if engine == "auto", separator is DSPEngine, !quiet {
            note("no AudioSep model found: using the built-in engine (classical separation, far below AudioSep's quality); "
                 + "give --model PATH or set AUDIOSEP_MODEL to use AudioSep")
        }
        let profiled = profile ? separator as? AudioSepEngine : nil
        profiled?.enableProfiling()
        if remove { separator = Remover(separator) }

        var settings = PipelineConfiguration()
        settings.chunkSeconds = chunk
        settings.overlapSeconds = overlap
        settings.fade = fade
        settings.resampleQuality = resampleQuality
        settings.downmix = downmix
        guard buffer > 0 else { throw StreamError.invalidValue(name: "--buffer", value: "\(buffer)") }
        settings.blockFrames = buffer

        let outputRate = outRate ?? input.sampleRate
        guard outputRate > 0 else { throw StreamError.invalidRate(hz: outputRate) }
        let format = try outputFormat(input)
        let output = try outputPath.map { try OutputFile(path: $0) } ?? OutputFile(fd: STDOUT_FILENO)
        let sink: AudioSink
        switch outType {
        case .wav:
            sink = try WAVSink(output: output, sampleRate: outputRate, channelCount: input.channelCount, format: format)
        case .raw:
            sink = RawSink(output: output, channelCount: input.channelCount, format: format)
        }
        let pipeline = try Pipeline(source: source, engine: separator, sink: sink, outputRate: outputRate,
                                    configuration: settings)
        let showProgress = !quiet && (progress || isatty(STDERR_FILENO) == 1)
        if pipeline.plan.snapped, showProgress {
            note(String(format: "chunk snapped to %.3f s and overlap to %.3f s: lengths the %@ engine wastes nothing on, "
                        + "windows on the grid of one pass", pipeline.plan.chunkSeconds, pipeline.plan.overlapSeconds, separator.name))
        }
        StopSignals.attach(pipeline)
        let summary = try pipeline.run(progress: showProgress ? printProgress : nil)
        if showProgress { Console.error("\n") }
        if let stats {
            try RunStats(engine: separator.name, engineSampleRate: separator.sampleRate,
                         chunkSeconds: pipeline.plan.chunkSeconds, overlapSeconds: pipeline.plan.overlapSeconds,
                         snapped: pipeline.plan.snapped, inputFrames: summary.inputFrames, inputSampleRate: input.sampleRate,
                         outputFrames: summary.outputFrames, wallSeconds: summary.wallSeconds, loadSeconds: loadSeconds,
                         windows: summary.windows, engineSeconds: summary.engineSeconds,
                         slowestWindowSeconds: summary.slowestWindowSeconds,
                         peakResidentBytes: summary.peakResidentBytes).write(to: stats)
        }
        if let stages = profiled?.profile {
            Console.error(AudioSepEngine.profileTable(stages, loadSeconds: loadSeconds,
                                                      audioSeconds: Double(summary.inputFrames) / Double(input.sampleRate)))
        }
        if let signal = StopSignals.signal {
            // Everything in flight was written and the output ended validly; say so and exit as
            // shells expect of a process a signal stopped.
            throw Interrupted(signal: signal, secondsWritten: Double(summary.outputFrames) / Double(outputRate))
        }
        if !quiet {
            if summary.clampedSamples > 0 {
                note("\(summary.clampedSamples) samples clamped to the \(format.bits)-bit range")
            }
            if summary.nonFiniteSamples > 0 {
                note("\(summary.nonFiniteSamples) NaN or infinite input samples replaced by 0")
            }
            if summary.droppedTrailingBytes > 0 {
                note("dropped \(summary.droppedTrailingBytes) trailing bytes that did not make a whole frame")
            }
        }
    }

    private func openSource(_ location: InputLocation) throws -> AudioSource {
        switch inputType.lowercased() {
        case "raw":
            var missing: [String] = []
            if rate == nil { missing.append("-r HZ") }
            if channels == nil { missing.append("-c CHANNELS") }
            if bits == nil { missing.append("-b BITS") }
            if encoding == nil { missing.append("-e ENCODING") }
            guard missing.isEmpty, let rate, let channels, let bits, let encoding else {
                throw StreamError.rawFormatIncomplete(missing: missing)
            }
            let format = try SampleFormat(encoding: SampleFormat.parseEncoding(encoding), bits: bits, endian: endian)
            return try RawPCMSource(location, sampleRate: rate, channelCount: channels, format: format)
        case "auto", "wav", "aiff", "aif", "au", "w64", "flac", "caf":
            return try SndfileSource(location)
        default:
            throw StreamError.invalidValue(name: "input type (-t)", value: inputType)
        }
    }

    /// The output sample format: the input's unless overridden, made valid for WAV when not explicit.
    private func outputFormat(_ input: InputDescription) throws -> SampleFormat {
        let explicitEncoding = try outEncoding.map(SampleFormat.parseEncoding)
        let bits = outBits ?? input.sampleFormat.bits
        var encoding = explicitEncoding ?? input.sampleFormat.encoding
        if explicitEncoding == nil, outBits != nil, encoding == .floatingPoint, bits < 32 { encoding = .signedInteger }
        if explicitEncoding == nil, outBits != nil, encoding != .floatingPoint, bits == 64 { encoding = .floatingPoint }
        if outType == .wav, explicitEncoding == nil, encoding != .floatingPoint {
            encoding = bits == 8 ? .unsignedInteger : .signedInteger
        }
        return try SampleFormat(encoding: encoding, bits: bits, endian: outEndian ?? input.sampleFormat.endian)
    }

    private func printProgress(_ report: ProgressReport) {
        var line = String(format: "\r%8.1f s done  %6.1fx real time  %5.0f MB", report.secondsDone,
                          report.realtimeFactor, Double(report.residentBytes) / 1e6)
        if let eta = report.etaSeconds { line += String(format: "  ETA %d:%02d", Int(eta) / 60, Int(eta) % 60) }
        Console.error(line)
    }

    private func note(_ text: String) {
        Console.error("audiosep-stream: \(text)\n")
    }
}
