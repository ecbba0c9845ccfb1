import Files
import Foundation
import Separation
import Stream

/// What one `separate` produced, for its answer.
public struct SeparationResult: Sendable {
    public var engine: String
    /// Length of the input, in seconds.
    public var inputSeconds: Double
    public var outputFrames: Int
    public var outputRate: Int
    public var channels: Int
    /// The output's sample format (16-bit signed for the packaged format).
    public var sampleFormat: SampleFormat
    /// Which format was written: the packaged worker's or the input's.
    public var outputFormat: OutputFormat
    /// False when the input went through the engine in one window.
    public var chunked: Bool
    /// The window and overlap actually used, in seconds at the engine's rate (after snapping).
    public var chunkSeconds: Double
    public var overlapSeconds: Double
    public var summary: PipelineSummary
    /// Things the host should know (a one-pass request chunked because the input is long).
    public var notes: [String] = []

    public var outputSeconds: Double { Double(outputFrames) / Double(outputRate) }
}

/// Runs one `separate` request through the streaming pipeline: file in, WAV file out, memory
/// bounded by the window length whatever the input's length.
public enum SeparationJob {
    /// Window length when chunking and none is given (the command line's default).
    public static let defaultChunkSeconds = 10.0

    /// The output is written under a temporary name beside it and renamed onto it when complete
    /// (`StagedOutput`), so its name never holds a partial file. A stop request
    /// (`InputInterruption`) ends the input where reading got to: the output is ended validly
    /// and settled by `StagedOutput.commitPartial()` (under its name when no file had it, else
    /// beside the file the host had, which is left unchanged), and `WorkerError.interrupted`
    /// says how much it holds and where.
    ///
    /// - Parameters:
    ///   - engine: the separator for this query (the run writes the rest when the request says `remove`).
    ///   - autoChunkSeconds: `"use_chunk": "auto"` chunks inputs at least this long.
    ///   - maxPassSeconds: `"use_chunk": false` on a longer input is chunked anyway (a single
    ///     window holds the whole input and the network's maps for it), and the answer says so.
    ///   - outputFormat: the packaged worker's format or the input's (the request's
    ///     `output_format` when it has one replaces this).
    ///   - job: where a stop signal finds the running pipeline and the temporary output.
    /// - Throws: `WorkerError.inputNotFound`, `.inputIsDirectory`, `.interrupted`, or the
    ///   Stream/Engine error that stopped the run (`StreamError.outputIsInput`, also through a hard link).
    public static func run(_ request: SeparateRequest, engine: Separator, autoChunkSeconds: Double,
                           maxPassSeconds: Double, outputFormat: OutputFormat = .default,
                           job: RunningJob = RunningJob()) throws -> SeparationResult {
        // Opened once: the identity is the open descriptor's and the decoder reads it (a FIFO
        // cannot be opened again once its writer has gone).
        let inputFile: InputFile
        do {
            inputFile = try InputFile(path: request.input)
        } catch StreamError.cannotOpen(_, .errno(ENOENT)) {
            throw WorkerError.inputNotFound(path: request.input)
        } catch StreamError.cannotOpen(_, .errno(EINTR)) where InputInterruption.isRequested {
            throw WorkerError.interrupted(output: request.output, secondsWritten: nil)
        }
        let inputIdentity = inputFile.identity
        guard !inputIdentity.isDirectory else { throw WorkerError.inputIsDirectory(path: request.input) }
        let source = try SndfileSource(.opened(inputFile))
        let input = source.description
        let inputSeconds = input.knownFrames.map { Double($0) / Double(input.sampleRate) }

        var notes: [String] = []
        var onePass: Bool
        switch request.chunking {
        case .on: onePass = false
        case .off: onePass = true
        case .auto: onePass = inputSeconds.map { $0 < autoChunkSeconds } ?? false
        }
        if onePass, inputSeconds == nil {
            onePass = false
            notes.append("the input's length is not known: chunked")
        }
        if onePass, let seconds = inputSeconds, seconds > maxPassSeconds {
            onePass = false
            notes.append(String(format: "use_chunk false on %.1f s of input: chunked, since one pass over more than %g s "
                                + "would hold the whole input and the network's maps for it in memory", seconds, maxPassSeconds))
        }

        var settings = PipelineConfiguration()
        if onePass, let frames = input.knownFrames {
            settings.chunkSeconds = Double(onePassFrames(inputFrames: frames, inputRate: input.sampleRate, engine: engine))
                / Double(engine.sampleRate)
            settings.overlapSeconds = 0
        } else {
            let chunk = request.chunkSeconds ?? defaultChunkSeconds
            settings.chunkSeconds = chunk
            settings.overlapSeconds = request.overlapSeconds ?? min(1, chunk / 10)
        }
        settings.downmix = request.downmix
        settings.output = request.remove ? .rest : .separated

        let written = request.outputFormat ?? outputFormat
        let layout = try written.layout(for: input, outputSampleRate: request.outputSampleRate)
        let outputRate = layout.sampleRate
        // A stop that came while the engine was made: nothing created, nothing to end.
        guard !InputInterruption.isRequested else { throw WorkerError.interrupted(output: request.output, secondsWritten: nil) }
        // Until commit(), dropping `output` (any throw below) removes its temporary file.
        try OutputContainer.wav.check(path: request.output)
        let output = try StagedOutput(path: request.output, inputs: [inputIdentity])
        job.began(writing: output)
        defer { job.ended() }
        let wav = try WAVSink(output: output.file, sampleRate: outputRate, channelCount: layout.channelCount,
                              format: layout.sampleFormat, expectedFrames: input.knownFrames.map {
                                  Pipeline.outputFrames(inputFrames: $0, inputRate: input.sampleRate, outputRate: outputRate)
                              })
        // The pipeline writes the input's channel count; a mono input written as stereo is duplicated here.
        let sink: AudioSink = layout.channelCount == input.channelCount ? wav : try DuplicatingSink(wav, channelCount: layout.channelCount)
        let pipeline = try Pipeline(source: source, engine: engine, sink: sink, outputRate: outputRate,
                                    configuration: settings)
        job.attach(pipeline)
        let summary = try pipeline.run()
        if InputInterruption.isRequested, summary.inputFrames < input.knownFrames ?? .max {
            // Not whole: by the one rule, never over a file the host had.
            let outcome = try output.commitPartial()
            let partial: String? = if case .keptBeside(let name) = outcome { name } else { nil }
            throw WorkerError.interrupted(output: request.output, secondsWritten: Double(summary.outputFrames) / Double(outputRate),
                                          replacedNothing: outcome == .underName, partial: partial)
        }
        try output.commit()
        return SeparationResult(engine: engine.name, inputSeconds: Double(summary.inputFrames) / Double(input.sampleRate),
                                outputFrames: summary.outputFrames, outputRate: outputRate, channels: layout.channelCount,
                                sampleFormat: layout.sampleFormat, outputFormat: written,
                                chunked: !onePass, chunkSeconds: pipeline.plan.chunkSeconds,
                                overlapSeconds: pipeline.plan.overlapSeconds, summary: summary, notes: notes)
    }

    /// The shortest window, at the engine's rate, that holds the whole input and that the engine
    /// wastes nothing on (AudioSep snaps windows to whole blocks of STFT frames: snapped down,
    /// the input would need a second window with no cross-fade).
    static func onePassFrames(inputFrames: Int, inputRate: Int, engine: Separator) -> Int {
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
