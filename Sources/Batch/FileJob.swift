import Files
import Foundation
import Separation
import Stream

/// Runs one job through the streaming pipeline with the filter's defaults for a file-to-file
/// run (`audiosep-stream QUERY -i IN -o OUT`): the engine's window, an overlap of 1 s (a
/// quarter of a window under 4 s), raised-cosine fades, the best resampler, a WAV in the
/// input's sample format at the input's rate. The output appears under its name only when it
/// is whole (`StagedOutput`), so its output is byte for byte the filter's.
public enum FileJob {
    /// Separates `job.input` into `job.output` with `engine` (the rest of the input when the job
    /// says `remove`). Returns the seconds of audio read.
    /// - Parameter staging: hears the temporary file being written, then nil once it is renamed
    ///   or removed (the executable's signal handler removes it if the run is stopped).
    public static func run(_ job: BatchJob, engine: Separator, staging: (String?) -> Void = { _ in }) throws -> Double {
        // Opened once: the identity is the open descriptor's and the decoder reads it (a FIFO
        // cannot be opened again once its writer has gone).
        let inputFile = try InputFile(path: job.input)
        let identity = inputFile.identity
        guard !identity.isDirectory else { throw StreamError.cannotOpen(path: job.input, cause: .errno(EISDIR)) }
        let folder = (job.output as NSString).deletingLastPathComponent
        if !folder.isEmpty, !FileManager.default.fileExists(atPath: folder) {
            try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        }
        try OutputContainer.wav.check(path: job.output)
        _ = try StagedOutput.check(path: job.output, inputs: [identity])
        var settings = PipelineConfiguration()
        let chunk = job.chunk ?? engine.defaultChunkSeconds
        settings.chunkSeconds = chunk
        settings.overlapSeconds = job.overlap ?? min(1, chunk / 4)
        settings.downmix = job.downmix
        settings.output = job.remove ? .rest : .separated
        let source = try SndfileSource(.opened(inputFile))
        let input = source.description
        let format = try wavFormat(for: input.sampleFormat)
        let staged = try StagedOutput(path: job.output, inputs: [identity])
        staging(staged.temporaryPath)
        defer { staging(nil) }
        let sink = try WAVSink(output: staged.file, sampleRate: input.sampleRate, channelCount: input.channelCount, format: format,
                               expectedFrames: input.knownFrames)
        let pipeline = try Pipeline(source: source, engine: engine, sink: sink, outputRate: input.sampleRate,
                                    configuration: settings)
        // A failure (a truncated input, a full disk) drops `staged`, which removes the partial:
        // a job's output is whole or absent, and the job is failed in the journal.
        let summary = try pipeline.run()
        try staged.commit()
        return Double(summary.inputFrames) / Double(input.sampleRate)
    }

    /// The filter's output format for a WAV with no format flags: the input's, with integers
    /// signed (8-bit unsigned), as WAV holds them.
    static func wavFormat(for input: SampleFormat) throws -> SampleFormat {
        var encoding = input.encoding
        if encoding != .floatingPoint { encoding = input.bits == 8 ? .unsignedInteger : .signedInteger }
        return try SampleFormat(encoding: encoding, bits: input.bits, endian: input.endian)
    }
}
