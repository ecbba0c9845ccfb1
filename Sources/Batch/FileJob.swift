import Files
import Foundation
import Run
import Separation
import Stream

/// One job as a `SeparationRequest`: the filter's defaults for a file-to-file run
/// (`audiosep-stream QUERY -i IN -o OUT`), so its output is byte for byte the filter's. Outputs
/// are whole or absent (`PartialOutputs.remove`): a failed job is failed in the journal and rerun.
public enum FileJob {
    /// Separates `job.input` into `job.output` with `engine` (the rest of the input when the job
    /// says `remove`). Returns the seconds of audio read.
    /// - Parameter staging: hears the temporary files being written, then [] once they are renamed
    ///   or removed (the executable's signal handler removes them if the run is stopped).
    public static func run(_ job: BatchJob, engine: Separator, staging: @escaping @Sendable ([String]) -> Void = { _ in }) throws -> Double {
        let folder = (job.output as NSString).deletingLastPathComponent
        if !folder.isEmpty, !FileManager.default.fileExists(atPath: folder) {
            try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        }
        var request = SeparationRequest(input: .path(job.input), outputs: [OutputRequest(.stem(0), to: .path(job.output))])
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
