import Files
import Foundation

/// A file as the journal remembers it: which file (device and inode) and which version of it
/// (size and modification time, to the nanosecond).
public struct FileStamp: Codable, Equatable, Sendable {
    public var device: UInt64
    public var inode: UInt64
    public var size: Int64
    public var mtimeNanoseconds: Int64

    enum CodingKeys: String, CodingKey {
        case device, inode, size
        case mtimeNanoseconds = "mtime_ns"
    }

    public init(device: UInt64, inode: UInt64, size: Int64, mtimeNanoseconds: Int64) {
        self.device = device
        self.inode = inode
        self.size = size
        self.mtimeNanoseconds = mtimeNanoseconds
    }

    /// The file `path` names, through symbolic links; nil when there is none.
    public init?(path: String) {
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        #if os(Linux)
        let time = status.st_mtim
        #else
        let time = status.st_mtimespec
        #endif
        self.init(device: UInt64(status.st_dev), inode: UInt64(status.st_ino), size: Int64(status.st_size),
                  mtimeNanoseconds: Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec))
    }
}

/// A job's output as the journal remembers it: where it is (every link followed) and its size
/// and modification time when the job ended.
public struct OutputStamp: Codable, Equatable, Sendable {
    public var path: String
    public var size: Int64
    public var mtimeNanoseconds: Int64

    enum CodingKeys: String, CodingKey {
        case path, size
        case mtimeNanoseconds = "mtime_ns"
    }

    /// The output `path` names now; nil when there is none.
    public init?(path: String) {
        guard let stamp = FileStamp(path: path) else { return nil }
        self.path = SymbolicLinks.resolve(path)
        size = stamp.size
        mtimeNanoseconds = stamp.mtimeNanoseconds
    }
}

/// Everything that decides a job's output besides its input: the engine (and its model), the
/// query (words, or an embedding file and its stamp), and the flags and numbers of the run.
public struct JobSettings: Codable, Equatable, Sendable {
    /// The engine as the caller names it: `dsp`, `identity`, or `audiosep` with its model files'
    /// names, sizes and times and its compute options.
    public var engine: String
    public var text: String?
    public var embedding: String?
    public var embeddingFile: FileStamp?
    public var remove: Bool
    public var downmix: Bool
    /// Seconds as the job gives them; nil: the engine's default (which `engine` fixes).
    public var chunk: Double?
    public var overlap: Double?

    enum CodingKeys: String, CodingKey {
        case engine, text, embedding, remove, downmix, chunk, overlap
        case embeddingFile = "embedding_file"
    }

    public init(_ job: BatchJob, engine: String) {
        self.engine = engine
        text = job.text
        embedding = job.embedding
        embeddingFile = job.embedding.flatMap(FileStamp.init(path:))
        remove = job.remove
        downmix = job.downmix
        chunk = job.chunk
        overlap = job.overlap
    }
}

/// What a job's journal line holds to decide, on a later run, that it is done: the input's
/// stamp, the settings, and the output's stamp as the job left it.
public struct DoneStamp: Codable, Equatable, Sendable {
    public var inputFile: FileStamp
    public var settings: JobSettings
    public var outputFile: OutputStamp

    enum CodingKeys: String, CodingKey {
        case settings
        case inputFile = "input_file"
        case outputFile = "output_file"
    }

    /// The fields of a journal line, without its braces: `"input_file":{…},"settings":{…},"output_file":{…}`.
    var jsonFields: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        func json<T: Encodable>(_ value: T) -> String { (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "null" }
        return "\"input_file\":" + json(inputFile) + ",\"settings\":" + json(settings) + ",\"output_file\":" + json(outputFile)
    }
}

/// The jobs the journals of a batch record as done, read once when a shard starts.
///
/// A job is done when a `done` or `skipped` line of any shard's journal in the folder (the
/// shard count may have changed between runs) holds the stamp of its input as it is now (device,
/// inode, size, modification time), its settings, and the stamp of the file now at its output
/// (the same file by name, with the size and modification time the job left). Anything else
/// (no line, a line from before stamps were kept, an input or output changed since, other
/// settings) is run again; its output replaces the old one only when whole.
public struct DoneRecords {
    private var stamps: [String: [DoneStamp]] = [:]

    public init() {}

    /// Reads every `shard-*.jsonl` in `folder` (the journals' folder), keeping the lines whose
    /// output is one of `outputs` (names with links followed, as `OutputStamp` has them). Lines
    /// that cannot be read (a line cut short by a crash) are passed over.
    public init(folder: String, outputs: Set<String>) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return }
        struct Line: Decodable {
            var status: String
            var input_file: FileStamp?
            var settings: JobSettings?
            var output_file: OutputStamp?
        }
        let decoder = JSONDecoder()
        for name in names.sorted() where name.hasPrefix("shard-") && name.hasSuffix(".jsonl") {
            guard let data = FileManager.default.contents(atPath: (folder as NSString).appendingPathComponent(name)) else { continue }
            for line in data.split(separator: UInt8(ascii: "\n")) {
                guard let entry = try? decoder.decode(Line.self, from: Data(line)),
                      entry.status == JobRecord.Status.done.rawValue || entry.status == JobRecord.Status.skipped.rawValue,
                      let input = entry.input_file, let settings = entry.settings, let output = entry.output_file,
                      outputs.contains(output.path) else { continue }
                stamps[output.path, default: []].append(DoneStamp(inputFile: input, settings: settings, outputFile: output))
            }
        }
    }

    /// The stamp that shows the job done: its input and output as they are now and its
    /// settings, when a journal line records exactly these; nil when the job must run.
    public func done(input: String, output: String, settings: JobSettings) -> DoneStamp? {
        guard let inputFile = FileStamp(path: input), let outputFile = OutputStamp(path: output) else { return nil }
        let now = DoneStamp(inputFile: inputFile, settings: settings, outputFile: outputFile)
        return stamps[outputFile.path]?.contains(now) == true ? now : nil
    }
}
