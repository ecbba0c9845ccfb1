import Files
import Foundation

/// What became of one job, as the journal records it.
public struct JobRecord: Equatable, Sendable {
    public enum Status: String, Sendable { case done, skipped, failed }
    public var index: Int
    public var input: String
    /// The job's first output (its only one, for one query and no rest).
    public var output: String
    /// Every output of a job that writes several (each query's stem, then the rest); empty for one.
    public var outputs: [String] = []
    public var status: Status
    /// The one-line error of a failed job.
    public var error: String?
    /// Wall seconds the job took.
    public var seconds: Double
    /// Seconds of audio it separated (0 when skipped or failed).
    public var audioSeconds: Double
    /// For a job done or skipped: its input, settings and output as it left them, which a later
    /// run compares to decide whether the job is still done (`DoneRecords`).
    public var stamp: DoneStamp?

    public var realtime: Double? { status == .done && seconds > 0 ? audioSeconds / seconds : nil }

    public var jsonLine: String {
        var text = "{\"index\":\(index),\"input\":" + JSONString.quoted(input) + ",\"output\":" + JSONString.quoted(output)
        if outputs.count > 1 { text += ",\"outputs\":[" + outputs.map(JSONString.quoted).joined(separator: ",") + "]" }
        text += ",\"status\":\"\(status.rawValue)\""
        if let error { text += ",\"error\":" + JSONString.quoted(error) }
        text += String(format: ",\"seconds\":%.3f,\"audio_seconds\":%.3f", seconds, audioSeconds)
        if let realtime { text += String(format: ",\"realtime\":%.2f", realtime) }
        if let stamp { text += "," + stamp.jsonFields }
        return text + "}\n"
    }
}

/// One shard's journal, `FOLDER/.audiosep-batch/shard-K.jsonl`: a line per job as it ends,
/// appended with one write each, so a killed shard leaves every finished job recorded.
public final class Journal {
    public let path: String
    private let descriptor: Int32

    /// The folder of every shard's journal: `FOLDER/.audiosep-batch`.
    public var folder: String { (path as NSString).deletingLastPathComponent }

    public static func path(folder: String, shard: Shard) -> String {
        ((folder as NSString).appendingPathComponent(".audiosep-batch") as NSString).appendingPathComponent("shard-\(shard.index).jsonl")
    }

    public init(folder: String, shard: Shard) throws {
        path = Self.path(folder: folder, shard: shard)
        let directory = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw BatchError.cannotRead(path: directory, cause: .message("cannot create the journal's folder: \(error.localizedDescription)"))
        }
        descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw BatchError.cannotRead(path: path, cause: .errno(errno)) }
    }

    deinit { close(descriptor) }

    public func record(_ entry: JobRecord) throws {
        let line = Array(entry.jsonLine.utf8)
        do {
            try line.withUnsafeBytes { try WholeWrite.write(descriptor, $0) }
        } catch let failure as SystemCallFailure {
            throw BatchError.cannotRead(path: path, cause: .errno(failure.errno))
        }
    }
}
