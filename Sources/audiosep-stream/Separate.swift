import ArgumentParser
import DSP
import Files
import Foundation
import Overlap
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
            """)

    @Argument(help: "What to separate, in words (\"vocals\", \"a dog barking\").")
    var query: String?

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
    @Option(name: [.customShort("o"), .customLong("output")], help: "Write this file instead of stdout (- is stdout).")
    var outputPath: String?
    /// No `-o`, `-o -`, or a name of descriptor 1 (`/dev/stdout`, `/dev/fd/1`, `/proc/self/fd/1`):
    /// written to stdout directly, never staged.
    var writesStdout: Bool { outputPath.map { $0 == "-" || StandardOutputName.matches($0) } ?? true }
    @Option(name: .long, help: "Output type: wav or raw.")
    var outType: OutputContainer = .wav
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
        if writesStdout { ReaderWatch.start() }
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

    /// The overlap asked for, or the default: 1 s, scaled down for windows under 4 s so that a
    /// short `--chunk` alone is never refused for the default overlap.
    func overlapSeconds(chunk: Double) -> Double { overlap ?? min(1, chunk / 4) }

    private func separate() throws {
        signal(SIGPIPE, SIG_IGN)
        AudioSepStream.boundAllocator()

        // 1. Everything the command line alone decides: checked before any input is read or any
        //    output made, so a mistake costs nothing and leaves nothing behind.
        let raw = try rawInputFormat()
        let readsStdin = inputPath == nil || inputPath == "-"
        let explicitEncoding = try outEncoding.map(SampleFormat.parseEncoding)
        if writesStdout, StandardDescriptors.outputWasClosed {
            throw StandardDescriptors.closedOutput("the audio", hint: "redirect it (> out.wav) or give -o FILE")
        }
        if writesStdout, isatty(STDOUT_FILENO) == 1 {
            throw UsageError("refusing to write binary audio to a terminal: redirect it (> out.wav), pipe it (| aplay), or give -o FILE")
        }
        // A named input is opened once, here: its identity is the open descriptor's, and the
        // decoder reads that descriptor (a FIFO cannot be opened again once its writer is gone).
        let inputIdentity: FileIdentity?
        let inputFile: InputFile?
        if readsStdin {
            inputIdentity = FileIdentity(descriptor: STDIN_FILENO)
            // `< DIR`: a folder read as a stream is no bytes at all; say what it is, first.
            if inputIdentity?.isDirectory == true { throw StreamError.inputIsFolder(descriptor: STDIN_FILENO) }
            inputFile = nil
        } else if let inputPath {
            let file = try InputFile(path: inputPath)
            if file.identity.isDirectory { throw UsageError("input '\(inputPath)' is a folder; name an audio file") }
            inputIdentity = file.identity
            inputFile = file
        } else {
            inputIdentity = nil
            inputFile = nil
        }
        let inputs = inputIdentity.map { [$0] } ?? []
        if writesStdout {
            if let output = FileIdentity(descriptor: STDOUT_FILENO), output.isRegularFile, inputs.contains(output) {
                throw UsageError("standard output is the input file \(readsStdin ? "(stdin)" : "'\(inputPath!)'"): "
                                 + "writing it would destroy the input; write to another file")
            }
        } else if let outputPath {
            try outType.check(path: outputPath)
            try StagedOutput.check(path: outputPath, inputs: inputs)
        }

        // 2. The engine and the windows: model files are read now, the input not yet.
        let loadStarted = Date()
        let selection = try model.makeEngine(engine, query: query)
        let separator = selection.separator
        let loadSeconds = Date().timeIntervalSince(loadStarted)
        if profile { separator.profiling?.enable() }

        var settings = PipelineConfiguration()
        let chunkSeconds = chunk ?? separator.defaultChunkSeconds
        settings.chunkSeconds = chunkSeconds
        settings.overlapSeconds = overlapSeconds(chunk: chunkSeconds)
        settings.fade = fade
        settings.resampleQuality = resampleQuality
        settings.downmix = downmix
        settings.output = remove ? .rest : .separated
        settings.blockFrames = buffer
        _ = try ChunkPlan(configuration: settings, engine: separator)
        try Pipeline.checkRates(inputHz: raw?.rate, outputHz: outRate, engine: separator)
        // Said once the command line is known to be good, so that an error is the only line.
        if let line = selection.note, !quiet { note(line) }

        // 3. The input's header.
        if readsStdin, isatty(STDIN_FILENO) == 1, !quiet {
            note("waiting for audio on stdin (for example: < in.wav, or sox in.flac -t wav - | audiosep-stream …)")
        }
        let location: InputLocation = inputFile.map { .opened($0) } ?? .fileDescriptor(STDIN_FILENO)
        let source: AudioSource
        if let raw {
            source = try RawPCMSource(location, sampleRate: raw.rate, channelCount: raw.channels, format: raw.format)
        } else {
            source = try SndfileSource(location)
        }
        let input = source.description
        let outputRate = outRate ?? input.sampleRate
        try Pipeline.checkRates(inputHz: input.sampleRate, outputHz: outputRate, engine: separator)
        let format = try outputFormat(input, explicitEncoding: explicitEncoding)

        // 4. The output: a file appears under its name only when it holds a whole output.
        let staged = try writesStdout ? nil : outputPath.map { try StagedOutput(path: $0, inputs: inputs) }
        StopSignals.stage(staged?.temporaryPath)
        defer { StopSignals.stage(nil) }
        let output = staged?.file ?? OutputFile(fd: STDOUT_FILENO)
        let expectedFrames = input.knownFrames.map {
            Pipeline.outputFrames(inputFrames: $0, inputRate: input.sampleRate, outputRate: outputRate)
        }
        let sink: AudioSink
        let wav: WAVSink?
        switch outType {
        case .wav:
            // On a pipe the header can say the length only when it is known before the audio; on a
            // file a length known to fit 4 GiB spares the room reserved for RF64.
            wav = try WAVSink(output: output, sampleRate: outputRate, channelCount: input.channelCount, format: format,
                              expectedFrames: expectedFrames)
            sink = wav!
        case .raw:
            wav = nil
            sink = RawSink(output: output, channelCount: input.channelCount, format: format)
        default:
            // The libsndfile containers (to be wired with OutputContainer.format(for:…) by the front end).
            wav = nil
            sink = try outType.makeSink(output: output, sampleRate: outputRate, channelCount: input.channelCount,
                                        format: format, expectedFrames: expectedFrames)
        }
        let pipeline = try Pipeline(source: source, engine: separator, sink: sink, outputRate: outputRate,
                                    configuration: settings)
        let showProgress = !quiet && (progress || isatty(STDERR_FILENO) == 1)
        if pipeline.plan.snapped, showProgress {
            note(String(format: "chunk snapped to %.3f s and overlap to %.3f s: lengths the %@ engine wastes nothing on, "
                        + "windows on the grid of one pass", pipeline.plan.chunkSeconds, pipeline.plan.overlapSeconds, separator.name))
        }
        // `> out.wav`: a second signal exits at once, and patches the header on its way out.
        if staged == nil, let wav, output.isSeekableFile { wav.patchHeaderOnSignal() }
        StopSignals.attach(pipeline)
        let meter = ProgressMeter(terminal: isatty(STDERR_FILENO) == 1)
        let summary: PipelineSummary
        do {
            summary = try pipeline.run(progress: showProgress ? meter.show : nil)
        } catch {
            // What reached the file was ended validly (a read error mid-stream, a full disk):
            // keep it by the one rule (StagedOutput.commitPartial: never over a file the user
            // had); an output with no audio at all keeps nothing.
            let hasAudio = wav.map { $0.dataBytesOnDisk > 0 } ?? (output.bytesWritten > 0)
            if let staged, hasAudio { settlePartial(staged) } else { staged?.discard() }
            throw error
        }
        var keptAs: String?
        if let staged {
            if StopSignals.signal != nil {
                if case .keptBeside(let name) = settlePartial(staged, quietly: true) { keptAs = name }
            } else {
                try staged.commit()
            }
        }
        if showProgress { meter.end() }
        if let stats {
            try RunStats(engine: separator.name, engineSampleRate: pipeline.engine.sampleRate,
                         chunkSeconds: pipeline.plan.chunkSeconds, overlapSeconds: pipeline.plan.overlapSeconds,
                         snapped: pipeline.plan.snapped, inputFrames: summary.inputFrames, inputSampleRate: input.sampleRate,
                         outputFrames: summary.outputFrames, wallSeconds: summary.wallSeconds, loadSeconds: loadSeconds,
                         windows: summary.windows, engineSeconds: summary.engineSeconds,
                         slowestWindowSeconds: summary.slowestWindowSeconds,
                         peakResidentBytes: summary.peakResidentBytes, resampleSeconds: summary.resampleSeconds,
                         shortestUsefulChunkSeconds: separator.shortestUsefulChunkSeconds).write(to: stats)
        }
        if let table = separator.profiling?.report(loadSeconds: loadSeconds,
                                               audioSeconds: Double(summary.inputFrames) / Double(input.sampleRate)) {
            Console.error(table)
        }
        if let signal = StopSignals.signal {
            // Everything in flight was written and the output ended validly; say so and exit as
            // shells expect of a process a signal stopped.
            throw Interrupted(signal: signal, secondsWritten: Double(summary.outputFrames) / Double(outputRate),
                              keptAs: keptAs, unchanged: keptAs == nil && staged?.replacesExistingFile == true ? outputPath : nil)
        }
        if let wav, wav.paddedFrames > 0 {
            // The header on the pipe promised the input's length: the stream was made as long.
            let promised = Double(wav.announcedFrames ?? 0)
            note(String(format: "the input's header promised %.2f s (%d frames) but only %.2f s (%d frames) arrived; the output "
                        + "is padded with %.2f s of silence to the length its WAV header already stated on the pipe",
                        promised / Double(outputRate), Int(promised), Double(summary.outputFrames) / Double(outputRate),
                        summary.outputFrames, Double(wav.paddedFrames) / Double(outputRate)))
        }
        if let stated = (source as? SndfileSource)?.headerStatedFrames, summary.inputFrames < stated,
           wav?.announcedDataBytes == nil, !quiet {
            // A WAV cut short (a copy that stopped, a download that did not finish): the audio
            // that arrived was separated and written whole; say what is missing.
            let arrived = Double(summary.inputFrames) / Double(input.sampleRate)
            note(String(format: "the input is truncated: its header states %.2f s but it ended after %.2f s; "
                        + "the output holds the %.2f s that arrived", Double(stated) / Double(input.sampleRate), arrived, arrived))
        }
        if summary.nonFiniteEngineSamples > 0 {
            note("\(summary.nonFiniteEngineSamples) NaN or infinite samples from the \(separator.name) engine replaced by 0 "
                 + "(the input or the model is outside what the network can compute)")
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

    /// The output sample format: the input's unless overridden, made valid for WAV when not explicit.
    private func outputFormat(_ input: InputDescription, explicitEncoding: SampleFormat.Encoding?) throws -> SampleFormat {
        var bits = outBits ?? input.sampleFormat.bits
        var encoding = explicitEncoding ?? input.sampleFormat.encoding
        // Float output from integer input: 32-bit float unless the bits are given (sox's -e float).
        if explicitEncoding == .floatingPoint, outBits == nil, input.sampleFormat.encoding != .floatingPoint { bits = 32 }
        // Integer output from float input: 16 bits unless given.
        if let explicitEncoding, explicitEncoding != .floatingPoint, outBits == nil, input.sampleFormat.encoding == .floatingPoint {
            bits = input.sampleFormat.bits == 64 ? 32 : 16
        }
        if explicitEncoding == nil, outBits != nil, encoding == .floatingPoint, bits < 32 { encoding = .signedInteger }
        if explicitEncoding == nil, outBits != nil, encoding != .floatingPoint, bits == 64 { encoding = .floatingPoint }
        if outType == .wav, explicitEncoding == nil, encoding != .floatingPoint {
            encoding = bits == 8 ? .unsignedInteger : .signedInteger
        }
        return try SampleFormat(encoding: encoding, bits: bits, endian: outEndian ?? input.sampleFormat.endian)
    }

    /// Settles an output that is not whole by StagedOutput's rule and says where it is when a
    /// file the user had kept its name.
    @discardableResult
    private func settlePartial(_ staged: StagedOutput, quietly: Bool = false) -> StagedOutput.PartialOutcome? {
        guard let outcome = try? staged.commitPartial() else { return nil }
        switch outcome {
        case .underName:
            break
        case .keptBeside(let name):
            if !quietly { note("'\(staged.path)' is unchanged; the partial output is kept as '\(name)'") }
        case .removed:
            note("'\(staged.path)' is unchanged; the partial output could not be kept beside it and was removed")
        }
        return outcome
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
