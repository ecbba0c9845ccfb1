import Files
import Foundation
import Run
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
    /// The run's fixed costs (open, set-up, pipeline, commit).
    public var timings = RunTimings()
    /// Things the host should know (a one-pass request chunked because the input is long).
    public var notes: [String] = []

    public var outputSeconds: Double { Double(outputFrames) / Double(outputRate) }
}

/// One `separate` request as a `SeparationRequest`: file in, WAV file out, memory bounded by the
/// window length whatever the input's length. The packaged worker's defaults are this adapter's
/// explicit overrides of the run's: a 10 s window with a tenth of it overlapped, one pass for
/// inputs under `auto_chunk_seconds` (`use_chunk: "auto"`), its output format.
public enum SeparationJob {
    /// Window length when chunking and none is given (the packaged worker's).
    public static let defaultChunkSeconds = 10.0

    /// The output is written under a temporary name beside it and renamed onto it when complete,
    /// so its name never holds a partial file. A stop request (`control.cancellation`) ends the input
    /// where reading got to: the output is ended validly and settled by
    /// `StagedOutput.commitPartial()` (under its name when no file had it, else beside the file
    /// the host had, which is left unchanged), and `WorkerError.interrupted` says how much it
    /// holds and where.
    ///
    /// - Parameters:
    ///   - engine: the separator for this query (the run writes the rest when the request says `remove`).
    ///   - autoChunkSeconds: `"use_chunk": "auto"` chunks inputs at least this long.
    ///   - maxPassSeconds: `"use_chunk": false` on a longer input is chunked anyway (a single
    ///     window holds the whole input and the network's maps for it), and the answer says so.
    ///   - outputFormat: the packaged worker's format or the input's (the request's
    ///     `output_format` when it has one replaces this).
    ///   - control: where a stop signal finds the running pipeline and the temporary output.
    /// - Throws: `WorkerError.inputNotFound`, `.inputIsDirectory`, `.interrupted`, or the
    ///   Stream/Engine error that stopped the run (`StreamError.outputIsInput`, also through a hard link).
    public static func run(_ request: SeparateRequest, engine: Separator, autoChunkSeconds: Double,
                           maxPassSeconds: Double, outputFormat: OutputFormat = .default,
                           control: RunControl = RunControl()) throws -> SeparationResult {
        let written = request.outputFormat ?? outputFormat
        var outputs = request.outputs.enumerated().map { OutputRequest(.stem($0.offset), to: .path($0.element), container: .wav) }
        if let rest = request.rest { outputs.append(OutputRequest(.rest, to: .path(rest), container: .wav)) }
        var run = SeparationRequest(input: .path(request.input), outputs: outputs)
        run.windows.chunkSeconds = request.chunkSeconds ?? defaultChunkSeconds
        run.windows.overlapSeconds = request.overlapSeconds ?? min(1, run.windows.chunkSeconds! / 10)
        switch request.chunking {
        case .on: run.windows.onePassUnderSeconds = nil
        case .off: run.windows.onePassUnderSeconds = .infinity
        case .auto: run.windows.onePassUnderSeconds = autoChunkSeconds
        }
        run.windows.onePassLimitSeconds = maxPassSeconds
        run.shape = written.shape(outputSampleRate: request.outputSampleRate)
        run.downmix = request.downmix
        run.remove = request.remove
        let separation: SeparationRun
        do {
            separation = try SeparationRun(run)
        } catch StreamError.cannotOpen(_, .errno(ENOENT)) {
            throw WorkerError.inputNotFound(path: request.input)
        } catch StreamError.cannotOpen(_, .errno(EINTR)) where control.isStopRequested {
            throw WorkerError.interrupted(output: request.output, secondsWritten: nil)
        } catch RunError.inputIsFolder {
            throw WorkerError.inputIsDirectory(path: request.input)
        }
        let report: SeparationReport
        do {
            report = try separation.run(engine: engine, control: control)
        } catch is SeparationRun.Interruption {
            throw WorkerError.interrupted(output: request.output, secondsWritten: nil)
        }
        if report.interrupted {
            // The first output in the packaged worker's words, then where each other one is.
            let outcome = report.outputs[0].settled
            let partial: String? = if case .keptBeside(let name)? = outcome { name } else { nil }
            throw WorkerError.interrupted(output: request.output, secondsWritten: report.outputSeconds,
                                          replacedNothing: outcome == .underName, partial: partial,
                                          others: report.outputs.dropFirst().compactMap(\.settledDescription))
        }
        let notes = report.notes.filter { note in
            switch note {
            case .chunkedUnknownLength, .chunkedTooLong: return true
            default: return false
            }
        }
        return SeparationResult(engine: report.engine, inputSeconds: report.inputSeconds, outputFrames: report.summary.outputFrames,
                                outputRate: report.outputRate, channels: report.outputs[0].channelCount,
                                sampleFormat: report.outputs[0].sampleFormat, outputFormat: written, chunked: report.chunked,
                                chunkSeconds: report.plan.chunkSeconds, overlapSeconds: report.plan.overlapSeconds,
                                summary: report.summary, timings: report.timings, notes: notes.map(\.description))
    }
}
