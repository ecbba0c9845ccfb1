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
    /// The query of a job with one query in words, as ever.
    public var text: String?
    /// The queries of a job that names them as a list of more than one, in the order of its
    /// outputs; nil otherwise (so a one-query job's settings read as they always have).
    public var texts: [String]?
    /// True when the job also writes the rest (its last output); nil when it does not.
    public var rest: Bool?
    public var embedding: String?
    public var embeddingFile: FileStamp?
    public var remove: Bool
    public var downmix: Bool
    /// Seconds as the job gives them; nil: the engine's default (which `engine` fixes).
    public var chunk: Double?
    public var overlap: Double?

    enum CodingKeys: String, CodingKey {
        case engine, text, texts, rest, embedding, remove, downmix, chunk, overlap
        case embeddingFile = "embedding_file"
    }

    public init(_ job: BatchJob, engine: String) {
        self.engine = engine
        text = job.text
        texts = job.texts.count > 1 ? job.texts : nil
        rest = job.rest == nil ? nil : true
        embedding = job.embedding
        embeddingFile = job.embedding.flatMap(FileStamp.init(path:))
        remove = job.remove
        downmix = job.downmix
        chunk = job.chunk
        overlap = job.overlap
    }
}

/// What a job's journal line holds to decide, on a later run, that it is done: the input's
/// stamp, the settings, and the stamp of every output as the job left it.
///
/// A job with one output records it as `"output_file"`, as ever; a job with several (several
/// queries, or a rest) records them all, in the order of `BatchJob.allOutputs`, as `"output_files"`.
public struct DoneStamp: Equatable, Sendable {
    public var inputFile: FileStamp
    public var settings: JobSettings
    /// Every output, in the order of `BatchJob.allOutputs`.
    public var outputFiles: [OutputStamp]

    public init(inputFile: FileStamp, settings: JobSettings, outputFiles: [OutputStamp]) {
        self.inputFile = inputFile
        self.settings = settings
        self.outputFiles = outputFiles
    }

    public init(inputFile: FileStamp, settings: JobSettings, outputFile: OutputStamp) {
        self.init(inputFile: inputFile, settings: settings, outputFiles: [outputFile])
    }

    /// The fields of a journal line, without its braces: `"input_file":{…},"settings":{…},"output_file":{…}`
    /// (`"output_files":[{…},…]` for several outputs).
    var jsonFields: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        func json<T: Encodable>(_ value: T) -> String { (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "null" }
        let outputs = outputFiles.count == 1 ? "\"output_file\":" + json(outputFiles[0]) : "\"output_files\":" + json(outputFiles)
        return "\"input_file\":" + json(inputFile) + ",\"settings\":" + json(settings) + "," + outputs
    }
}

/// The jobs the journals of a batch record as done, read once when a shard starts.
///
/// A job is done when a `done` or `skipped` line of any shard's journal in the folder (the
/// shard count may have changed between runs) holds the stamp of its input as it is now (device,
/// inode, size, modification time), its settings, and the stamp of the file now at each of its
/// outputs (the same file by name, with the size and modification time the job left): a job with
/// several outputs is done only when every one of them is. Anything else
/// (no line, a line from before stamps were kept, an input or output changed since, other
/// settings) is run again; its output replaces the old one only when whole.
public struct DoneRecords {
    private var stamps: [String: [DoneStamp]] = [:]

    public init() {}

    /// Reads every `shard-*.jsonl` in `folder` (the journals' folder), keeping the lines whose
    /// (first) output is one of `outputs` (names with links followed, as `OutputStamp` has them). Lines
    /// that cannot be read (a line cut short by a crash) are passed over.
    public init(folder: String, outputs: Set<String>) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return }
        struct Line: Decodable {
            var status: String
            var input_file: FileStamp?
            var settings: JobSettings?
            var output_file: OutputStamp?
            var output_files: [OutputStamp]?
        }
        let decoder = JSONDecoder()
        for name in names.sorted() where name.hasPrefix("shard-") && name.hasSuffix(".jsonl") {
            guard let data = FileManager.default.contents(atPath: (folder as NSString).appendingPathComponent(name)) else { continue }
            for line in data.split(separator: UInt8(ascii: "\n")) {
                guard let entry = try? decoder.decode(Line.self, from: Data(line)),
                      entry.status == JobRecord.Status.done.rawValue || entry.status == JobRecord.Status.skipped.rawValue,
                      let input = entry.input_file, let settings = entry.settings,
                      let files = entry.output_files ?? entry.output_file.map({ [$0] }), let first = files.first,
                      outputs.contains(first.path) else { continue }
                stamps[first.path, default: []].append(DoneStamp(inputFile: input, settings: settings, outputFiles: files))
            }
        }
    }

    /// The stamp that shows the job done: its input and every output as they are now and its
    /// settings, when a journal line records exactly these; nil when the job must run (also when
    /// any one of its outputs is missing or changed).
    public func done(input: String, outputs: [String], settings: JobSettings) -> DoneStamp? {
        guard !outputs.isEmpty, let inputFile = FileStamp(path: input) else { return nil }
        var outputFiles: [OutputStamp] = []
        for output in outputs {
            guard let stamp = OutputStamp(path: output) else { return nil }
            outputFiles.append(stamp)
        }
        let now = DoneStamp(inputFile: inputFile, settings: settings, outputFiles: outputFiles)
        return stamps[outputFiles[0].path]?.contains(now) == true ? now : nil
    }

    public func done(input: String, output: String, settings: JobSettings) -> DoneStamp? {
        done(input: input, outputs: [output], settings: settings)
    }
}
