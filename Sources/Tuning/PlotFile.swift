import Foundation
import Stream

/// Where `tune --plot` writes its chart: checked before the runs, written after them.
public enum PlotFile {
    /// Fails now, rather than after minutes of measuring, if `path` cannot be written: a folder,
    /// a name in a folder that does not exist, a folder or device that refuses the file. Creates
    /// and removes a temporary file beside it, so nothing is left if tuning is interrupted.
    public static func check(_ path: String) throws {
        do {
            try StagedOutput(path: path).discard()
        } catch {
            throw failure(error, path: path)
        }
    }

    /// Writes `text` under a temporary name and renames it onto `path`, so a failed write leaves
    /// whatever had the name (as `separate` writes its output).
    public static func write(_ text: String, to path: String) throws {
        do {
            let output = try StagedOutput(path: path)
            try output.file.write(Array(text.utf8))
            try output.commit()
        } catch {
            throw failure(error, path: path)
        }
    }

    /// The system's reason, without the output wording `StreamError` uses for audio.
    static func failure(_ error: Error, path: String) -> TuneError {
        let reason: String
        switch error as? StreamError {
        case .outputIsDirectory?: reason = "it is a folder; name a file in it"
        case .outputFolderMissing(_, let folder)?: reason = "folder '\(folder)' does not exist"
        case .cannotOpen(_, let system)?, .writeFailed(let system)?: reason = "\(system)"
        case .outputClosed?: reason = "the reader closed it"
        default: reason = "\(error)"
        }
        return .cannotWritePlot(path: path, reason: reason)
    }
}
