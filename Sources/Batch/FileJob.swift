import Files
import Foundation
import Run
import Separation
import Stream

/// One job as a `SeparationRequest`: the filter's defaults for a file-to-file run
/// (`audiosep-stream QUERY -i IN -o OUT`), so its output is byte for byte the filter's. Outputs
/// are whole or absent (`PartialOutputs.remove`): a failed job is failed in the journal and rerun.
public enum FileJob {
    /// Separates `job.input` with `engine`, in one read, into each query's output (stem `i` to
    /// `job.outputs[i]`; the rest of the input when the job says `remove`) and, when the job names
    /// one, the input minus every stem into `job.rest`. Returns the seconds of audio read.
    /// - Parameter staging: hears the temporary files being written, then [] once they are renamed
    ///   or removed (the executable's signal handler removes them if the run is stopped).
    public static func run(_ job: BatchJob, engine: Separator, staging: @escaping @Sendable ([String]) -> Void = { _ in }) throws -> Double {
        for output in job.allOutputs {
            let folder = (output as NSString).deletingLastPathComponent
            if !folder.isEmpty, !FileManager.default.fileExists(atPath: folder) {
                try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            }
        }
        var outputs = job.outputs.enumerated().map { OutputRequest(.stem($0.offset), to: .path($0.element)) }
        if let rest = job.rest { outputs.append(OutputRequest(.rest, to: .path(rest))) }
        var request = SeparationRequest(input: .path(job.input), outputs: outputs)
        request.windows = WindowRequest(chunkSeconds: job.chunk, overlapSeconds: job.overlap)
        request.remove = job.remove
        request.downmix = job.downmix
        request.onFailure = .remove
        let run: SeparationRun
        do {
            run = try SeparationRun(request)
        } catch RunError.inputIsFolder(let path) {
            throw StreamError.cannotOpen(path: path, cause: .errno(EISDIR))
        }
        try run.check(engine: engine)
        let report = try run.run(engine: engine, control: RunControl(staging: staging))
        return report.inputSeconds
    }
}
