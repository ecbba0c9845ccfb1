import Foundation
import Stream

/// What a run did: the geometry it used, what it counted, and what became of each output.
public struct SeparationReport: Sendable {
    public var engine: String
    public var plan: ChunkPlan
    public var input: InputDescription
    public var outputRate: Int
    public var summary: PipelineSummary
    /// In the order of the request's outputs.
    public var outputs: [OutputReport]
    /// False when the input went through the engine in one window.
    public var chunked: Bool
    /// True when a stop request ended the input early; each output was settled by
    /// `StagedOutput.commitPartial()`'s rule.
    public var interrupted: Bool
    /// Things worth a line on stderr (or a note in an answer), in the words every front end uses.
    public var notes: [RunNote]
    /// Where the run's wall time went besides the pipeline, in seconds.
    public var timings: RunTimings
    /// The run's computed latency (reads, resamplers, window); the measured one is in `summary`.
    public var latency: PipelineLatency?
    /// A live run (`--latency`): the plan the budget gave.
    public var live: LivePlan?

    public var inputSeconds: Double { Double(summary.inputFrames) / Double(input.sampleRate) }
    public var outputSeconds: Double { Double(summary.outputFrames) / Double(outputRate) }
}

/// A run's fixed costs, each timed: what a short job pays besides separating.
public struct RunTimings: Sendable, Equatable {
    /// Opening the input and reading its header (the decoder set up).
    public var openSeconds = 0.0
    /// Formats, staged files, encoders and the pipeline made (resamplers, window buffers).
    public var setupSeconds = 0.0
    /// The pipeline: decode, resample, separate, cross-fade, encode (`PipelineSummary.wallSeconds`).
    public var pipelineSeconds = 0.0
    /// Renaming the outputs onto their names.
    public var commitSeconds = 0.0

    public init() {}
}

/// One output, as written.
public struct OutputReport: Sendable {
    public var request: OutputRequest
    public var container: OutputContainer
    public var sampleFormat: SampleFormat
    public var channelCount: Int
    /// Where a file's audio is: nil for standard output; its own name when whole; after an
    /// interruption or a kept failure, the name `commitPartial()` gave it.
    public var settled: StagedOutput.PartialOutcome?
    /// True when a file the user had under this name was (or, for a partial, was not) replaced.
    public var replacesExistingFile: Bool

    /// Where a stopped run left this output, in words ("'b.wav' was left unchanged; its partial
    /// output is kept as 'b.partial.wav'"); nil for standard output.
    public var settledDescription: String? {
        guard let path else { return nil }
        switch settled {
        case .keptBeside(let name)?: return "'\(path)' was left unchanged; its partial output is kept as '\(name)'"
        case .removed?: return "'\(path)' was left unchanged and its partial output removed"
        default: return "'\(path)' holds the partial output"
        }
    }

    /// The path the caller asked for; nil for standard output.
    public var path: String? {
        if case .path(let path) = request.destination { return path }
        return nil
    }
}

/// Something a run says besides its audio.
public enum RunNote: Sendable, Equatable, CustomStringConvertible {
    /// One pass was asked for but the input's length is not known.
    case chunkedUnknownLength
    /// One pass was asked for on an input longer than one pass may hold.
    case chunkedTooLong(seconds: Double, limit: Double)
    /// The engine moved the chunk or overlap asked for to lengths it wastes nothing on.
    case snapped(chunkSeconds: Double, overlapSeconds: Double, engine: String)
    /// A WAV header on a pipe promised more frames than arrived: the stream was padded to them.
    case padded(promisedFrames: Int, writtenFrames: Int, paddedFrames: Int, rate: Int)
    /// The input's header states more frames than arrived.
    case truncated(statedFrames: Int, arrivedFrames: Int, rate: Int)
    case nonFiniteEngineSamples(count: Int, engine: String)
    case clamped(count: Int, bits: Int)
    case nonFiniteInputSamples(count: Int)
    case droppedTrailingBytes(count: Int)
    /// A live run's engine is slower than real time at its windows (said as soon as it is known).
    case fallingBehind(FallingBehind, latencySeconds: Double?)

    /// Notes that say something went wrong and are said even with --quiet.
    public var isWarning: Bool {
        switch self {
        case .nonFiniteEngineSamples, .padded, .fallingBehind: return true
        default: return false
        }
    }

    public var description: String {
        switch self {
        case .chunkedUnknownLength:
            return "the input's length is not known: chunked"
        case .chunkedTooLong(let seconds, let limit):
            return String(format: "use_chunk false on %.1f s of input: chunked, since one pass over more than %g s "
                          + "would hold the whole input and the network's maps for it in memory", seconds, limit)
        case .snapped(let chunk, let overlap, let engine):
            return String(format: "chunk snapped to %.3f s and overlap to %.3f s: lengths the %@ engine wastes nothing on, "
                          + "windows on the grid of one pass", chunk, overlap, engine)
        case .padded(let promised, let written, let padded, let rate):
            let hz = Double(rate)
            return String(format: "the input's header promised %.2f s (%d frames) but only %.2f s (%d frames) arrived; the output "
                          + "is padded with %.2f s of silence to the length its WAV header already stated on the pipe",
                          Double(promised) / hz, promised, Double(written) / hz, written, Double(padded) / hz)
        case .truncated(let stated, let arrived, let rate):
            let seconds = Double(arrived) / Double(rate)
            return String(format: "the input is truncated: its header states %.2f s but it ended after %.2f s; "
                          + "the output holds the %.2f s that arrived", Double(stated) / Double(rate), seconds, seconds)
        case .nonFiniteEngineSamples(let count, let engine):
            return "\(count) NaN or infinite samples from the \(engine) engine replaced by 0 "
                + "(the input or the model is outside what the network can compute)"
        case .clamped(let count, let bits):
            return "\(count) samples clamped to the \(bits)-bit range"
        case .nonFiniteInputSamples(let count):
            return "\(count) NaN or infinite input samples replaced by 0"
        case .droppedTrailingBytes(let count):
            return "dropped \(count) trailing bytes that did not make a whole frame"
        case .fallingBehind(let behind, let latency):
            var remedies = ["more --threads, where the machine has idle cores"]
            if let latency { remedies.append(String(format: "a larger --latency than %g s (longer hops)", latency)) }
            remedies.append("--engine dsp")
            return String(format: "not keeping up with real time: each %.2f s of audio takes %.2f s to separate "
                          + "(%.2fx real time, the mean of %d windows); a live input falls further behind. Try %@",
                          behind.hopSeconds, behind.windowSeconds, behind.realtimeFactor, behind.windows,
                          remedies.joined(separator: ", "))
        }
    }
}
