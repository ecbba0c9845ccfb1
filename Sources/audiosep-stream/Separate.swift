import ArgumentParser
import DSP
import Files
import Foundation
import Overlap
import Run
import Separation
import Stream
import Tuning

struct Separate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Separate QUERY from the audio on stdin (the default command).",
        discussion: """
            Engines: auto (AudioSep when a model is found, else dsp), audiosep, dsp (the built-in classical \
            separator) and identity (returns its input; tests the pipeline). The built-in engine knows: \
            \(DSPTarget.vocabulary).
            Examples:
              sox song.flac -t wav - | audiosep-stream vocals | aplay
              audiosep-stream "a dog barking" -i field.wav -o dog.wav
              audiosep-stream drums --remove < song.wav > no-drums.wav
              audiosep-stream vocals -t raw -r 48k -c 2 -b 16 -e signed < in.raw > v.wav
              audiosep-stream vocals drums bass -i song.wav -o 'stems/{query}.flac'
            """)

    @Argument(help: "What to separate, in words (\"vocals\", \"a dog barking\"). Several give several stems from one read of the input, named by -o 'DIR/{query}.wav'.")
    var queries: [String] = []

    @Option(name: .customLong("stem"), help: ArgumentHelp("Separate QUERY into FILE (repeatable; - is stdout).", valueName: "QUERY=FILE"))
    var stems: [String] = []

    @Option(name: .long, help: ArgumentHelp("Also write the input minus every stem to FILE (- is stdout): the stems and it add up to the input.", valueName: "FILE"))
    var rest: String?

    @Option(name: .long, help: "Engine: auto, audiosep, dsp (built-in, no model) or identity (returns its input).",
            transform: EngineChoice.init(parsing:))
    var engine: EngineChoice = .auto

    @OptionGroup var model: ModelOptions

    @Flag(name: .long, help: "Write the mixture minus the separated source instead.")
    var remove = false

    @Flag(name: .long, help: "Separate the mono mix once and write it to every output channel.")
    var downmix = false

    // Input
    @Option(name: [.customShort("i"), .customLong("input")], help: "Read this file instead of stdin (- is stdin).")
    var inputPath: String?
    @Option(name: [.customShort("t"), .customLong("type")], help: "Input type: auto (from the header) or raw.")
    var inputType = "auto"
    @Option(name: [.customShort("r"), .customLong("rate")], help: "Raw input: sample rate in hz (48000 or 48k).",
            transform: ArgumentValues.rate)
    var rate: Int?
    @Option(name: [.customShort("c"), .customLong("channels")], help: "Raw input: channel count.",
            transform: ArgumentValues.channelCount)
    var channels: Int?
    @Option(name: [.customShort("b"), .customLong("bits")], help: "Raw input: bits per sample (8, 16, 24, 32, 64).",
            transform: ArgumentValues.bits)
    var bits: Int?
    @Option(name: [.customShort("e"), .customLong("encoding")], help: "Raw input: signed-integer, unsigned-integer or floating-point (signed, unsigned, float).")
    var encoding: String?
    @Option(name: .long, help: "Raw input: byte order, little or big.")
    var endian: SampleFormat.Endian?
    @Flag(name: .customShort("B"), help: "Raw input: big-endian (as sox's -B).")
    var bigEndian = false
    @Flag(name: .customShort("L"), help: "Raw input: little-endian (as sox's -L).")
    var littleEndian = false
    @Flag(name: .customShort("x"), help: "Raw input: the byte order opposite to this machine's (as sox's -x).")
    var swapBytes = false

    // Output
    @Option(name: [.customShort("o"), .customLong("output")], help: "Write this file instead of stdout (- is stdout); with several queries a pattern whose {query} becomes each query (a dog barking → a-dog-barking).")
    var outputPath: String?
    @Option(name: .long, help: "Output container for every output: wav, flac, aiff, w64, caf, ogg, opus or raw (default: each file's extension, else wav).")
    var outType: OutputContainer?
    @Option(name: .long, help: "Output sample rate in hz, 48000 or 48k (default: the input's).", transform: ArgumentValues.rate)
    var outRate: Int?
    @Option(name: .long, help: "Output bits per sample (default: the input's; 32 for float output from integer input).",
            transform: ArgumentValues.bits)
    var outBits: Int?
    @Option(name: .long, help: "Output encoding: signed-integer, unsigned-integer or floating-point (default: the input's).")
    var outEncoding: String?
    @Option(name: .long, help: "Raw output: byte order (default: the input's).")
    var outEndian: SampleFormat.Endian?

    // Processing
    @Option(name: .long, help: "Window length in seconds, above 0, at most 3600 (default: 10 for AudioSep, 30 for the built-in engine).",
            transform: ArgumentValues.chunk)
    var chunk: Double?
    @Option(name: .long, help: "Cross-faded overlap between windows in seconds, at most half the chunk (default: 1, or a quarter of a chunk under 4 s).",
            transform: ArgumentValues.overlap)
    var overlap: Double?
    @Option(name: .long, help: "Live: a latency budget in seconds (1, 1.5, 800ms): chunk, overlap and reads are chosen so that each frame is written within it while the engine keeps up with real time (not with --chunk or --overlap).",
            transform: { try Quantity.seconds($0, name: "--latency") })
    var latency: Double?
    @Option(name: .long, help: "Cross-fade shape: raised-cosine or linear.")
    var fade: FadeShape = .raisedCosine
    @Option(name: .long, help: "Sample-rate converter: medium (default: 125 dB, below 16-bit noise), fast (100 dB) or best (libsamplerate's best sinc, 145 dB).")
    var resampleQuality: ResampleQuality = .standard
    @Option(name: .long, help: "Frames read from the input at a time (1 to 1048576).", transform: ArgumentValues.bufferFrames)
    var buffer: Int = 4096

    // Reporting
    @Flag(name: .long, help: "Show progress on stderr even when it is not a terminal (a line every few seconds).")
    var progress = false
    @Flag(name: [.customShort("q"), .long], help: "Print nothing but errors.")
    var quiet = false
    @Flag(name: .long, help: "Print the time the engine spent in each stage at the end (AudioSep engine).")
    var profile = false
    @Option(name: .long, help: ArgumentHelp("Write this run's measurements as JSON to this file (used by `tune`).", visibility: .hidden))
    var stats: String?

    static let inputTypes = ["auto", "raw", "wav", "aiff", "aif", "au", "w64", "flac", "caf"]

    func run() throws {
        StopSignals.install()
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

    /// `-`, or a name of descriptor 1 (`/dev/stdout`, `/dev/fd/1`, `/proc/self/fd/1`): written to
    /// stdout directly, never staged.
    static func destination(_ path: String) -> OutputRequest.Destination {
        path == "-" || StandardOutputName.matches(path) ? .standardOutput : .path(path)
    }

    /// The queries, in the order of their stems, and where each stem (and the rest) goes.
    func outputs() throws -> (queries: [String], outputs: [OutputRequest]) {
        var named: [(query: String, path: String)] = []
        for stem in stems {
            guard let equals = stem.lastIndex(of: "="), equals != stem.startIndex, stem.index(after: equals) != stem.endIndex else {
                throw UsageError("--stem takes QUERY=FILE (vocals=vocals.wav), got '\(stem)'")
            }
            named.append((String(stem[..<equals]), String(stem[stem.index(after: equals)...])))
        }
        let pattern = outputPath.map(StemNames.isPattern) ?? false
        var result: [OutputRequest] = []
        if pattern {
            guard !queries.isEmpty else { throw UsageError("-o '\(outputPath!)' names one file per query, and no query was given") }
            var seen: [String: String] = [:]
            for (index, query) in queries.enumerated() {
                let path = StemNames.expand(outputPath!, query: query)
                if let other = seen[path] {
                    throw UsageError("queries '\(other)' and '\(query)' both become '\(path)'; name them with --stem QUERY=FILE")
                }
                seen[path] = query
                result.append(OutputRequest(.stem(index), to: Self.destination(path), container: outType))
            }
        } else if queries.count > 1 {
            throw UsageError("\(queries.count) queries and one output: name a file per query with -o 'DIR/{query}.wav' "
                             + "or --stem QUERY=FILE (stdout holds one stream)")
        } else if !queries.isEmpty || named.isEmpty {
            // One query (or none: the identity engine, an --embedding) to -o or stdout.
            result.append(OutputRequest(.stem(0), to: outputPath.map(Self.destination) ?? .standardOutput, container: outType))
        } else if let outputPath {
            throw UsageError("-o '\(outputPath)' names the output of a query given as an argument; --stem names its own file")
        }
        for (offset, stem) in named.enumerated() {
            result.append(OutputRequest(.stem(queries.count + offset), to: Self.destination(stem.path), container: outType))
        }
        if let rest { result.append(OutputRequest(.rest, to: Self.destination(rest), container: outType)) }
        return (queries + named.map(\.query), result)
    }

    private func separate() throws {
        signal(SIGPIPE, SIG_IGN)
        AudioSepStream.boundAllocator()

        // 1. Everything the command line alone decides: checked before any input is read or any
        //    output made, so a mistake costs nothing and leaves nothing behind.
        let raw = try rawInputFormat()
        let readsStdin = inputPath == nil || inputPath == "-"
        let explicitEncoding = try outEncoding.map(SampleFormat.parseEncoding)
        let (allQueries, outputs) = try self.outputs()
        if model.embedding != nil, allQueries.count > 1 {
            throw UsageError("--embedding stands for one query; give \(allQueries.count) queries as words, without it")
        }
        let writesStdout = outputs.contains { $0.destination == .standardOutput }
        if writesStdout, StandardDescriptors.outputWasClosed {
            throw StandardDescriptors.closedOutput("the audio", hint: "redirect it (> out.wav) or give -o FILE")
        }
        if writesStdout, isatty(STDOUT_FILENO) == 1 {
            throw UsageError("refusing to write binary audio to a terminal: redirect it (> out.wav), pipe it (| aplay), or give -o FILE")
        }
        if writesStdout { ReaderWatch.start() }
        var request = SeparationRequest(input: readsStdin ? .standardInput : .path(inputPath!), outputs: outputs)
        request.rawFormat = raw.map { SeparationRequest.RawFormat(sampleRate: $0.rate, channelCount: $0.channels, sampleFormat: $0.format) }
        request.shape = OutputShape(sampleRate: outRate, bits: outBits, encoding: explicitEncoding, endian: outEndian)
        if latency != nil, chunk != nil || overlap != nil {
            throw UsageError("--latency chooses the chunk and overlap itself; give either --latency or --chunk/--overlap")
        }
        request.windows = WindowRequest(chunkSeconds: chunk, overlapSeconds: overlap)
        request.windows.latencySeconds = latency
        request.remove = remove
        request.downmix = downmix
        request.fade = fade
        request.resampleQuality = resampleQuality
        request.blockFrames = buffer
        let run = try SeparationRun(request)

        // 2. The engine and the windows: model files are read now, the input not yet.
        let loadStarted = Date()
        let selection = try model.makeEngine(engine, queries: allQueries)
        let separator = selection.separator
        let loadSeconds = Date().timeIntervalSince(loadStarted)
        if profile { separator.profiling?.enable() }
        try run.check(engine: separator)
        // Said once the command line is known to be good, so that an error is the only line.
        if let line = selection.note, !quiet { note(line) }

        // 3. The run: the input's header, the outputs, the audio.
        if readsStdin, isatty(STDIN_FILENO) == 1, !quiet {
            note("waiting for audio on stdin (for example: < in.wav, or sox in.flac -t wav - | audiosep-stream …)")
        }
        let control = RunControl(staging: StopSignals.stage)
        StopSignals.attach(control)
        let showProgress = !quiet && (progress || isatty(STDERR_FILENO) == 1)
        let meter = ProgressMeter(terminal: isatty(STDERR_FILENO) == 1)
        let live: @Sendable (RunNote) -> Void = { line in Console.error("audiosep-stream: \(line.description)\n") }
        let report = try run.run(engine: separator, control: control, progress: showProgress ? meter.show : nil,
                                 live: live) { output in
            // A failed run's output kept beside the file the user had.
            guard let path = output.path else { return }
            switch output.settled {
            case .keptBeside(let name)?: note("'\(path)' is unchanged; the partial output is kept as '\(name)'")
            case .removed?: note("'\(path)' is unchanged; the partial output could not be kept beside it and was removed")
            default: break
            }
        }
        if showProgress { meter.end() }
        let summary = report.summary
        if let stats {
            try RunStats(engine: report.engine, engineSampleRate: report.plan.engineRate,
                         chunkSeconds: report.plan.chunkSeconds, overlapSeconds: report.plan.overlapSeconds,
                         snapped: report.plan.snapped, inputFrames: summary.inputFrames, inputSampleRate: report.input.sampleRate,
                         outputFrames: summary.outputFrames, wallSeconds: summary.wallSeconds, loadSeconds: loadSeconds,
                         windows: summary.windows, engineSeconds: summary.engineSeconds,
                         slowestWindowSeconds: summary.slowestWindowSeconds,
                         peakResidentBytes: summary.peakResidentBytes, resampleSeconds: summary.resampleSeconds,
                         shortestUsefulChunkSeconds: separator.shortestUsefulChunkSeconds, stems: separator.stemCount,
                         latency: report.latency?.algorithmicSeconds, worstLatency: summary.worstLatencySeconds,
                         meanLatency: summary.meanLatencySeconds, fellBehind: report.live == nil ? nil : summary.fellBehind != nil)
                .write(to: stats)
        }
        if let table = separator.profiling?.report(loadSeconds: loadSeconds, audioSeconds: report.inputSeconds) {
            Console.error(table)
        }
        if report.interrupted || StopSignals.signal != nil {
            // Everything in flight was written and the outputs ended validly; say so and exit as
            // shells expect of a process a signal stopped.
            let signal = StopSignals.signal ?? SIGINT
            // The first output in the words of a one-output run, then where each other one is.
            let first = report.outputs[0]
            let kept: String? = if case .keptBeside(let name)? = first.settled { name } else { nil }
            throw Interrupted(signal: signal, secondsWritten: report.outputSeconds, keptAs: kept,
                              unchanged: first.settled == .removed ? first.path : nil,
                              others: report.outputs.dropFirst().compactMap(\.settledDescription))
        }
        for line in report.notes {
            if case .snapped = line, !showProgress { continue }
            if line.isWarning || !quiet { note(line.description) }
        }
        if let plan = report.live, let latency = report.latency, !quiet {
            note(String(format: "latency: %.3f s computed (%.3f s windows every %.3f s; reads %.3f, resampling %.3f + %.3f), "
                        + "up to %.3f s with the engine's time while it keeps up; measured from read to write: %.3f s at most, "
                        + "%.3f s on average", latency.algorithmicSeconds, plan.chunkSeconds, plan.hopSeconds, latency.readSeconds,
                        latency.inputResamplerSeconds, latency.outputResamplerSeconds, plan.worstSeconds,
                        summary.worstLatencySeconds, summary.meanLatencySeconds))
        }
    }

    /// A raw input's format from sox's flags; nil for a headed input, for which those flags are
    /// an error (its header gives the format; silently ignoring them would mislead).
    private func rawInputFormat() throws -> (rate: Int, channels: Int, format: SampleFormat)? {
        let type = inputType.lowercased()
        guard Self.inputTypes.contains(type) else {
            throw StreamError.invalidChoice(name: "input type (-t)", value: inputType, valid: Self.inputTypes)
        }
        var given: [String] = []
        if rate != nil { given.append("-r") }
        if channels != nil { given.append("-c") }
        if bits != nil { given.append("-b") }
        if encoding != nil { given.append("-e") }
        if endian != nil { given.append("--endian") }
        if bigEndian { given.append("-B") }
        if littleEndian { given.append("-L") }
        if swapBytes { given.append("-x") }
        guard type == "raw" else {
            guard given.isEmpty else {
                throw UsageError("\(given.joined(separator: ", ")) describe\(given.count == 1 ? "s" : "") raw input; "
                                 + "a \(type == "auto" ? "headed" : type) input's header gives its format (add -t raw for headerless PCM)")
            }
            return nil
        }
        let orders = [endian != nil, bigEndian, littleEndian, swapBytes].filter { $0 }.count
        guard orders <= 1 else { throw UsageError("give one byte order: --endian, -B, -L or -x") }
        var missing: [String] = []
        if rate == nil { missing.append("-r HZ") }
        if channels == nil { missing.append("-c CHANNELS") }
        if bits == nil { missing.append("-b BITS") }
        if encoding == nil { missing.append("-e ENCODING") }
        guard missing.isEmpty, let rate, let channels, let bits, let encoding else {
            throw StreamError.rawFormatIncomplete(missing: missing)
        }
        let native: SampleFormat.Endian = 1.littleEndian == 1 ? .little : .big
        let order: SampleFormat.Endian = endian ?? (bigEndian ? .big : littleEndian ? .little
                                                    : swapBytes ? (native == .little ? .big : .little) : .little)
        let format = try SampleFormat(encoding: SampleFormat.parseEncoding(encoding), bits: bits, endian: order)
        return (rate, channels, format)
    }

    private func note(_ text: String) {
        Console.error("audiosep-stream: \(text)\n")
    }
}

/// A mistake on the command line that only the executable can name (which flag, which stream).
struct UsageError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
