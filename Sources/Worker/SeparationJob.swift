import Engine
import Foundation
import Stream

/// What one `separate` produced, for its answer.
public struct SeparationResult: Sendable {
    public var engine: String
    /// Length of the input, in seconds.
    public var inputSeconds: Double
    public var outputFrames: Int
    public var outputRate: Int
    public var channels: Int
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

    /// - Parameters:
    ///   - engine: the separator for this query (wrapped in a `Remover` here when asked).
    ///   - autoChunkSeconds: `"use_chunk": "auto"` chunks inputs at least this long.
    ///   - maxPassSeconds: `"use_chunk": false` on a longer input is chunked anyway (a single
    ///     window holds the whole input and the network's maps for it), and the answer says so.
    /// - Throws: `WorkerError.inputNotFound`, `.invalidField`, or the Stream/Engine error that stopped the run.
    public static func run(_ request: SeparateRequest, engine: Separator, autoChunkSeconds: Double,
                           maxPassSeconds: Double) throws -> SeparationResult {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: request.input, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw WorkerError.inputNotFound(path: request.input)
        }
        let inputPath = URL(fileURLWithPath: request.input).resolvingSymlinksInPath().path
        let outputPath = URL(fileURLWithPath: request.output).resolvingSymlinksInPath().path
        guard inputPath != outputPath else {
            throw WorkerError.invalidField(field: "output", value: request.output, expected: "a file other than the input")
        }
        let source = try SndfileSource(.path(request.input))
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

        let outputRate = request.outputSampleRate ?? input.sampleRate
        let output = try OutputFile(path: request.output)
        let sink = try WAVSink(output: output, sampleRate: outputRate, channelCount: input.channelCount,
                               format: try wavFormat(for: input.sampleFormat))
        let separator: Separator = request.remove ? Remover(engine) : engine
        let pipeline = try Pipeline(source: source, engine: separator, sink: sink, outputRate: outputRate,
                                    configuration: settings)
        let summary = try pipeline.run()
        return SeparationResult(engine: engine.name, inputSeconds: Double(summary.inputFrames) / Double(input.sampleRate),
                                outputFrames: summary.outputFrames, outputRate: outputRate, channels: input.channelCount,
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

    /// The input's sample format as WAV can hold it: 8-bit unsigned, wider integers signed, floats as they are.
    static func wavFormat(for input: SampleFormat) throws -> SampleFormat {
        switch input.encoding {
        case .floatingPoint:
            return try SampleFormat(encoding: .floatingPoint, bits: input.bits == 64 ? 64 : 32)
        case .signedInteger, .unsignedInteger:
            let bits = [8, 16, 24, 32].contains(input.bits) ? input.bits : 16
            return try SampleFormat(encoding: bits == 8 ? .unsignedInteger : .signedInteger, bits: bits)
        }
    }
}
