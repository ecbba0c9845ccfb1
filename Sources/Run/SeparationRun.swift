import Files
import Foundation
import Separation
import Stream

/// One separation: an input, one or more outputs, the windows, an engine. The filter, the worker
/// and batch each make a `SeparationRequest` and read the `SeparationReport`; everything between
/// (opening the input once, refusing what cannot be written before anything is, the windows, the
/// pipeline, staging each output under a temporary name and settling it) happens here, once.
///
/// In three steps, so that a mistake costs as little as possible: `init` checks what the request
/// alone decides (outputs, containers, the input being a folder or the output) and opens a named
/// input; `check(engine:)` checks the windows and rates against the engine before the input's
/// header is read; `run(engine:…)` reads, separates and writes.
public final class SeparationRun {
    public let request: SeparationRequest
    /// The named input, opened once: its identity is the open descriptor's, and the decoder reads
    /// that descriptor (a FIFO cannot be opened again once its writer is gone).
    private let inputFile: InputFile?
    /// The input's identity, so that no output replaces it (nil for an input that has none).
    public let inputIdentity: FileIdentity?

    /// - Throws: `RunError`, `StreamError` (`cannotOpen`, `inputIsFolder`, `outputIsInput`,
    ///   `unwrittenContainer`, `containerUnavailable`, `notToAPipe`, `outputFolderMissing`, …).
    public init(_ request: SeparationRequest) throws {
        self.request = request
        precondition(!request.outputs.isEmpty, "a run writes at least one output")
        let toStandardOutput = request.outputs.filter { $0.destination == .standardOutput }.count
        guard toStandardOutput <= 1 else { throw RunError.severalToStandardOutput(count: toStandardOutput) }
        // Containers first: they need no file system.
        for output in request.outputs {
            let container = output.resolvedContainer
            guard container.isAvailable else { throw StreamError.containerUnavailable(container: container) }
            switch output.destination {
            case .path(let path):
                try container.check(path: path)
            case .standardOutput:
                if !container.streamsToAPipe, !(OutputFile(fd: STDOUT_FILENO).isSeekableFile) {
                    throw StreamError.notToAPipe(container: container)
                }
            }
        }
        switch request.input {
        case .standardInput:
            inputFile = nil
            inputIdentity = FileIdentity(descriptor: STDIN_FILENO)
            // `< DIR`: a folder read as a stream is no bytes at all; say what it is, first.
            if inputIdentity?.isDirectory == true { throw StreamError.inputIsFolder(descriptor: STDIN_FILENO) }
        case .path(let path):
            let file = try InputFile(path: path)
            guard !file.identity.isDirectory else { throw RunError.inputIsFolder(path: path) }
            inputFile = file
            inputIdentity = file.identity
        case .opened(let file):
            guard !file.identity.isDirectory else { throw RunError.inputIsFolder(path: file.path) }
            inputFile = file
            inputIdentity = file.identity
        }
        let inputs = inputIdentity.map { [$0] } ?? []
        // Two outputs are one file when their names are, with every symbolic link followed, or
        // when they are one existing file (a hard link): refused, or one stem would be lost.
        // Said before any other refusal of a name: it is the mistake to fix first.
        var names: Set<String> = []
        for case .path(let path) in request.outputs.map(\.destination) {
            guard names.insert(Self.canonical((try? SymbolicLinks.follow(path)) ?? path)).inserted else {
                throw RunError.duplicateOutput(path: path)
            }
        }
        var files: [FileIdentity] = []
        for output in request.outputs {
            switch output.destination {
            case .standardOutput:
                if let descriptor = FileIdentity(descriptor: STDOUT_FILENO), descriptor.isRegularFile, inputs.contains(descriptor) {
                    throw RunError.standardOutputIsInput(input: inputFile.map { "'\($0.path)'" } ?? "(stdin)")
                }
            case .path(let path):
                let target = try StagedOutput.check(path: path, inputs: inputs)
                if let identity = FileIdentity(path: target) {
                    guard !files.contains(identity) else { throw RunError.duplicateOutput(path: path) }
                    files.append(identity)
                }
            }
        }
    }

    /// Checks the windows and the rates the request asks for against `engine`, before the input's
    /// header is read (a raw input's rate is known now; a headed one's is checked again in `run`).
    public func check(engine: Separator) throws {
        let stems = request.outputs.map { output -> Int in
            if case .stem(let index) = output.content { return index + 1 }
            return 0
        }.max() ?? 0
        guard stems <= engine.stemCount else {
            throw EngineError.wrongStemCount(engine: engine.name, got: engine.stemCount, expected: stems)
        }
        _ = try ChunkPlan(configuration: windowed(configuration(), engine: engine), engine: engine)
        try Pipeline.checkRates(inputHz: request.rawFormat?.sampleRate, outputHz: request.shape.sampleRate, engine: engine)
        if let budget = request.windows.latencySeconds {
            // At the rates known now (a headed input's at the engine's, until its header is read).
            let inputRate = request.rawFormat?.sampleRate ?? engine.sampleRate
            _ = try LivePlan(budget: budget, engine: engine, inputRate: inputRate, outputRate: request.shape.sampleRate ?? inputRate,
                             quality: request.resampleQuality, keepsInput: keepsInput(engine: engine))
        }
    }

    /// Reads the input to its end (or to a stop request), separates it with `engine` and writes
    /// every output.
    ///
    /// An output file appears under its name only when it is whole. When the run fails, outputs are
    /// kept or removed as `request.onFailure` says (`notice` hears each one kept beside a file the
    /// user had), and the error is rethrown. When a stop was requested, the report says
    /// `interrupted` and each output was settled by `StagedOutput.commitPartial()`'s rule.
    /// - Parameters:
    ///   - progress: called on the writing thread every `progressInterval`.
    ///   - notice: hears outputs settled as partial after a failure, before the error is rethrown.
    ///   - live: hears notes that cannot wait for the end (a live run falling behind real time), on the engine's thread.
    public func run(engine: Separator, control: RunControl = RunControl(), progress: ((ProgressReport) -> Void)? = nil,
                    live: (@Sendable (RunNote) -> Void)? = nil,
                    notice: (OutputReport) -> Void = { _ in }) throws -> SeparationReport {
        // A stop that came while the engine was made: nothing created, nothing to end.
        guard !control.isStopRequested else { throw Interruption() }
        var timings = RunTimings()
        var clock = DispatchTime.now().uptimeNanoseconds
        func lap() -> Double {
            let now = DispatchTime.now().uptimeNanoseconds
            defer { clock = now }
            return Double(now - clock) / 1e9
        }
        let location: InputLocation = inputFile.map { .opened($0) } ?? .fileDescriptor(STDIN_FILENO)
        let source: AudioSource
        if let raw = request.rawFormat {
            source = try RawPCMSource(location, sampleRate: raw.sampleRate, channelCount: raw.channelCount, format: raw.sampleFormat,
                                      cancellation: control.cancellation)
        } else {
            source = try SndfileSource(location, cancellation: control.cancellation)
        }
        let input = source.description
        timings.openSeconds = lap()
        let outputRate = request.shape.sampleRate ?? input.sampleRate
        // Rates the resampler reaches from the engine's own rate, as `check` says of a raw input
        // (an engine that adapts to the input's rate is then run at it).
        try Pipeline.checkRates(inputHz: input.sampleRate, outputHz: outputRate, engine: engine)
        let adapted = (engine as? RateAdaptable)?.adapted(toRate: input.sampleRate) ?? engine
        var notes: [RunNote] = []
        var (settings, onePass) = windowSettings(for: input, engine: adapted, notes: &notes)
        settings.cancellation = control.cancellation
        var livePlan: LivePlan?
        if let budget = request.windows.latencySeconds {
            let plan = try LivePlan(budget: budget, engine: adapted, inputRate: input.sampleRate, outputRate: outputRate,
                                    quality: request.resampleQuality, keepsInput: keepsInput(engine: adapted))
            settings.chunkSeconds = plan.chunkSeconds
            settings.overlapSeconds = plan.overlapSeconds
            settings.blockFrames = plan.blockFrames
            settings.live = true
            settings.onFallingBehind = { behind in live?(.fallingBehind(behind, latencySeconds: budget)) }
            livePlan = plan
            onePass = false
        }
        let channelCount = input.channelCount == 1 ? request.shape.minimumChannelCount : input.channelCount

        // Formats and rates every container can hold, before any file is made.
        var formats: [SampleFormat] = []
        for output in request.outputs {
            let container = output.resolvedContainer
            let format = try container.format(for: input.sampleFormat, explicitBits: request.shape.bits,
                                              explicitEncoding: request.shape.encoding, explicitEndian: request.shape.endian)
            try container.check(sampleRate: outputRate, channelCount: channelCount)
            formats.append(format)
        }

        // The outputs: a file appears under its name only when it holds a whole output.
        let inputs = inputIdentity.map { [$0] } ?? []
        var staged: [StagedOutput?] = []
        defer { for case let file? in staged { file.discard() } }
        for output in request.outputs {
            if case .path(let path) = output.destination {
                staged.append(try StagedOutput(path: path, inputs: inputs))
            } else {
                staged.append(nil)
            }
        }
        control.began(writing: staged.compactMap { $0?.temporaryPath })
        defer { control.ended() }
        let expectedFrames = input.knownFrames.map {
            Pipeline.outputFrames(inputFrames: $0, inputRate: input.sampleRate, outputRate: outputRate)
        }
        var sinks: [PipelineSink] = []
        var encoders: [AudioSink] = []
        for (index, output) in request.outputs.enumerated() {
            let file = staged[index]?.file ?? OutputFile(fd: STDOUT_FILENO)
            let encoder = try output.resolvedContainer.makeSink(output: file, sampleRate: outputRate, channelCount: channelCount,
                                                                format: formats[index], expectedFrames: expectedFrames,
                                                                cancellation: control.cancellation)
            // `> out.wav`: a signal that must exit at once patches the header on its way out.
            if staged[index] == nil, file.isSeekableFile, let wav = encoder as? WAVSink { wav.patchHeaderOnSignal() }
            encoders.append(encoder)
            // The pipeline writes the input's channel count; a mono input written on more is repeated here.
            let sink = channelCount == input.channelCount ? encoder : try DuplicatingSink(encoder, channelCount: channelCount)
            sinks.append(PipelineSink(output.content, sink))
        }
        let pipeline = try Pipeline(source: source, engine: engine, sinks: sinks, outputRate: outputRate, configuration: settings)
        if pipeline.plan.snapped {
            notes.append(.snapped(chunkSeconds: pipeline.plan.chunkSeconds, overlapSeconds: pipeline.plan.overlapSeconds,
                                  engine: adapted.name))
        }
        control.attach(pipeline)
        timings.setupSeconds = lap()

        func reports(_ outcomes: [StagedOutput.PartialOutcome?]) -> [OutputReport] {
            request.outputs.indices.map { index in
                OutputReport(request: request.outputs[index], container: request.outputs[index].resolvedContainer,
                             sampleFormat: formats[index], channelCount: channelCount, settled: outcomes[index],
                             replacesExistingFile: staged[index]?.replacesExistingFile ?? false)
            }
        }
        let summary: PipelineSummary
        do {
            summary = try pipeline.run(progress: progress)
        } catch {
            // What reached each file was ended validly (a read error mid-stream, a full disk).
            var outcomes: [StagedOutput.PartialOutcome?] = Array(repeating: nil, count: staged.count)
            for (index, file) in staged.enumerated() {
                guard let file else { continue }
                let hasAudio = (encoders[index] as? WAVSink).map { $0.dataBytesOnDisk > 0 } ?? (file.file.bytesWritten > 0)
                if request.onFailure == .keep, hasAudio, let outcome = try? file.commitPartial() {
                    outcomes[index] = outcome
                } else {
                    file.discard()
                }
            }
            for report in reports(outcomes) where report.settled != nil && report.settled != .underName { notice(report) }
            throw error
        }

        timings.pipelineSeconds = lap()
        let interrupted = control.isStopRequested && summary.inputFrames < input.knownFrames ?? .max
        var outcomes: [StagedOutput.PartialOutcome?] = []
        for file in staged {
            guard let file else {
                outcomes.append(nil)
                continue
            }
            if interrupted {
                outcomes.append(try file.commitPartial())
            } else {
                try file.commit()
                outcomes.append(.underName)
            }
        }

        timings.commitSeconds = lap()
        if let wav = encoders.lazy.compactMap({ $0 as? WAVSink }).first(where: { $0.paddedFrames > 0 }) {
            notes.append(.padded(promisedFrames: wav.announcedFrames ?? 0, writtenFrames: summary.outputFrames,
                                 paddedFrames: wav.paddedFrames, rate: outputRate))
        } else if let stated = (source as? SndfileSource)?.headerStatedFrames, summary.inputFrames < stated, !interrupted {
            // A WAV cut short (a copy that stopped, a download that did not finish): the audio
            // that arrived was separated and written whole; say what is missing.
            notes.append(.truncated(statedFrames: stated, arrivedFrames: summary.inputFrames, rate: input.sampleRate))
        }
        if summary.nonFiniteEngineSamples > 0 { notes.append(.nonFiniteEngineSamples(count: summary.nonFiniteEngineSamples, engine: adapted.name)) }
        if summary.clampedSamples > 0 { notes.append(.clamped(count: summary.clampedSamples, bits: formats[0].bits)) }
        if summary.nonFiniteSamples > 0 { notes.append(.nonFiniteInputSamples(count: summary.nonFiniteSamples)) }
        if summary.droppedTrailingBytes > 0 { notes.append(.droppedTrailingBytes(count: summary.droppedTrailingBytes)) }
        return SeparationReport(engine: adapted.name, plan: pipeline.plan, input: input, outputRate: outputRate, summary: summary,
                                outputs: reports(outcomes), chunked: !onePass, interrupted: interrupted, notes: notes,
                                timings: timings, latency: try? pipeline.latency(), live: livePlan)
    }

    /// Whether any output subtracts the separated part from the input.
    private func keepsInput(engine: Separator) -> Bool {
        Pipeline.keepsInput(request.outputs.map(\.content), removes: request.remove, stemsAskForRest: engine.stemsAskForRest)
    }

    /// `path` with its folder's every link resolved (realpath), for comparing names of files
    /// that may not exist yet.
    static func canonical(_ path: String) -> String {
        let folder = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        guard let resolved = realpath(folder.isEmpty ? "." : folder, nil) else { return URL(fileURLWithPath: path).standardized.path }
        defer { free(resolved) }
        return String(cString: resolved) + "/" + name
    }

    /// A stop requested before the run began: nothing was made.
    public struct Interruption: Error {}

    private func configuration() -> PipelineConfiguration {
        var settings = PipelineConfiguration()
        settings.fade = request.fade
        settings.resampleQuality = request.resampleQuality
        settings.downmix = request.downmix
        settings.output = request.remove ? .rest : .separated
        settings.blockFrames = request.blockFrames
        return settings
    }

    /// The windows for this input: one pass when asked for and the input is short enough and of
    /// known length, else the chunk and overlap asked for, else the one default rule.
    private func windowSettings(for input: InputDescription, engine: Separator,
                                notes: inout [RunNote]) -> (PipelineConfiguration, onePass: Bool) {
        var settings = configuration()
        let windows = request.windows
        if let under = windows.onePassUnderSeconds {
            let seconds = input.knownFrames.map { Double($0) / Double(input.sampleRate) }
            if let seconds, let frames = input.knownFrames, seconds < under {
                if seconds <= windows.onePassLimitSeconds {
                    settings.chunkSeconds = Double(Self.onePassFrames(inputFrames: frames, inputRate: input.sampleRate, engine: engine))
                        / Double(engine.sampleRate)
                    settings.overlapSeconds = 0
                    return (settings, true)
                }
                notes.append(.chunkedTooLong(seconds: seconds, limit: windows.onePassLimitSeconds))
            } else if seconds == nil, under == .infinity {
                notes.append(.chunkedUnknownLength)
            }
        }
        return (windowed(settings, engine: engine), false)
    }

    /// `settings` with the chunk and overlap asked for, else the one default rule.
    private func windowed(_ settings: PipelineConfiguration, engine: Separator) -> PipelineConfiguration {
        var settings = settings
        settings.chunkSeconds = request.windows.chunkSeconds ?? engine.defaultChunkSeconds
        settings.overlapSeconds = request.windows.overlapSeconds ?? WindowRequest.defaultOverlap(chunk: settings.chunkSeconds)
        return settings
    }

    /// The shortest window, at the engine's rate, that holds the whole input and that the engine
    /// wastes nothing on (AudioSep snaps windows to whole blocks of STFT frames: snapped down,
    /// the input would need a second window with no cross-fade).
    public static func onePassFrames(inputFrames: Int, inputRate: Int, engine: Separator) -> Int {
        // One frame of slack for the resampler's rounding when there is a resampler.
        let slack = inputRate == engine.sampleRate ? 0 : 1
        let needed = max(1, Int((Double(inputFrames) * Double(engine.sampleRate) / Double(inputRate)).rounded(.up)) + slack)
        var request = needed
        var step = 1
        for _ in 0..<64 {
            guard let preferred = engine.preferredChunkFrames(near: request) else { return needed }
            if preferred >= needed { return preferred }
            step = max(step * 2, needed - preferred)
            request += step
        }
        return needed
    }
}
