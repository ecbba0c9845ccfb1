import Files
import Foundation
import Stream

/// The jobs of a batch: from a manifest file (JSON lines or CSV), or from folders of audio.
public enum Manifest {
    /// The fields a job line may have.
    public static let fields = ["input", "output", "text", "embedding", "remove", "downmix", "chunk", "overlap"]

    /// Reads a manifest: CSV when the name ends in `.csv` (a header line names the columns),
    /// else JSON lines (one object a line). Blank lines and lines starting with `#` are skipped;
    /// a relative `output` is taken under `outputFolder` when one is given. Jobs whose files
    /// collide (an output that is an input, two jobs writing one file) are found by
    /// `JobConflicts` when the batch runs, and fail as jobs.
    public static func read(path: String, outputFolder: String? = nil) throws -> [BatchJob] {
        var status = stat()
        if stat(path, &status) == 0, (status.st_mode & S_IFMT) == S_IFDIR { throw BatchError.manifestIsFolder(path: path) }
        guard let data = FileManager.default.contents(atPath: path) else {
            // The reason the kernel gives (no such file, permission denied, …), not a guess.
            let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
            let code = descriptor < 0 ? errno : EIO
            if descriptor >= 0 { close(descriptor) }
            throw BatchError.cannotRead(path: path, cause: .errno(code))
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw BatchError.badLine(path: path, line: 1, reason: "the manifest is not UTF-8 text")
        }
        let jobs = path.lowercased().hasSuffix(".csv") ? try parseCSV(text, path: path, outputFolder: outputFolder)
            : try parseJSONLines(text, path: path, outputFolder: outputFolder)
        guard !jobs.isEmpty else { throw BatchError.emptyManifest(path: path) }
        return jobs.map(\.job)
    }

    /// JSON lines: `{"input": "a.wav", "output": "a-vocals.wav", "text": "vocals"}`.
    static func parseJSONLines(_ text: String, path: String, outputFolder: String?) throws -> [(job: BatchJob, line: Int)] {
        var jobs: [(BatchJob, Int)] = []
        for (offset, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let number = offset + 1
            let object: [String: Scalar]
            do {
                object = try JSONDecoder().decode([String: Scalar].self, from: Data(line.utf8))
            } catch {
                throw BatchError.badLine(path: path, line: number, reason: "not a JSON object of strings, numbers and booleans: \(excerpt(line))")
            }
            var values: [String: String] = [:]
            for (key, value) in object { if let text = value.text { values[key] = text } }
            jobs.append((try job(values, index: jobs.count, path: path, line: number, outputFolder: outputFolder), number))
        }
        return jobs
    }

    /// CSV with a header line: `input,output,text` (quoted fields may hold commas and quotes).
    static func parseCSV(_ text: String, path: String, outputFolder: String?) throws -> [(job: BatchJob, line: Int)] {
        var header: [String]?
        var jobs: [(BatchJob, Int)] = []
        for (offset, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = String(raw)
            if line.trimmingCharacters(in: .whitespaces).isEmpty || line.hasPrefix("#") { continue }
            let number = offset + 1
            let cells = try csvCells(line, path: path, line: number)
            guard let columns = header else {
                header = cells.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
                continue
            }
            guard cells.count == columns.count else {
                throw BatchError.badLine(path: path, line: number, reason: "\(cells.count) fields, the header names \(columns.count)")
            }
            var values: [String: String] = [:]
            for (column, cell) in zip(columns, cells) where !cell.isEmpty { values[column] = cell }
            jobs.append((try job(values, index: jobs.count, path: path, line: number, outputFolder: outputFolder), number))
        }
        return jobs
    }

    static func csvCells(_ line: String, path: String, line number: Int) throws -> [String] {
        var cells: [String] = []
        var cell = ""
        var quoted = false
        var characters = line.makeIterator()
        var pending: Character? = nil
        while let character = pending ?? characters.next() {
            pending = nil
            if quoted {
                if character == "\"" {
                    if let next = characters.next() {
                        if next == "\"" { cell.append("\"") } else { quoted = false; pending = next }
                    } else {
                        quoted = false
                    }
                } else {
                    cell.append(character)
                }
            } else if character == "\"", cell.isEmpty {
                quoted = true
            } else if character == "," {
                cells.append(cell)
                cell = ""
            } else {
                cell.append(character)
            }
        }
        guard !quoted else { throw BatchError.badLine(path: path, line: number, reason: "a quoted field is not closed") }
        cells.append(cell)
        return cells
    }

    static func job(_ values: [String: String], index: Int, path: String, line: Int, outputFolder: String?) throws -> BatchJob {
        if let unknown = values.keys.sorted().first(where: { !fields.contains($0) }) {
            throw BatchError.badLine(path: path, line: line, reason: "unknown field '\(unknown)' (known: \(fields.joined(separator: ", ")))")
        }
        guard let input = values["input"], !input.isEmpty else { throw BatchError.badLine(path: path, line: line, reason: "no input") }
        guard var output = values["output"], !output.isEmpty else { throw BatchError.badLine(path: path, line: line, reason: "no output") }
        if let outputFolder, !output.hasPrefix("/") { output = (outputFolder as NSString).appendingPathComponent(output) }
        var job = BatchJob(index: index, input: input, output: output, text: values["text"], embedding: values["embedding"],
                           line: line)
        guard (job.text == nil) != (job.embedding == nil) else {
            throw BatchError.badLine(path: path, line: line, reason: "give either text or embedding")
        }
        func flag(_ name: String) throws -> Bool {
            guard let value = values[name] else { return false }
            switch value.lowercased() {
            case "true", "1", "yes": return true
            case "false", "0", "no", "": return false
            default: throw BatchError.badLine(path: path, line: line, reason: "\(name) is '\(value)', expected true or false")
            }
        }
        // Numbers are held to the filter's bounds; one outside them fails this job alone.
        func seconds(_ name: String, _ rule: RunLimits.Rule) -> Double? {
            guard let value = values[name] else { return nil }
            do {
                return try rule.check(parsing: value)
            } catch {
                if job.refusal == nil, let error = error as? RunLimitError {
                    job.refusal = .invalidSetting(path: path, line: line, field: name, error: error)
                }
                return nil
            }
        }
        job.remove = try flag("remove")
        job.downmix = try flag("downmix")
        job.chunk = seconds("chunk", RunLimits.chunkSeconds)
        job.overlap = seconds("overlap", RunLimits.overlapSeconds)
        return job
    }

    /// Names libsndfile reads, by extension (lower case).
    public static let audioExtensions: Set<String> = ["wav", "wave", "flac", "aif", "aiff", "aifc", "au", "snd", "caf", "w64",
                                                      "ogg", "oga", "opus", "mp3", "rf64", "voc", "sf", "ircam"]

    /// Every audio file under `folders` (or the files themselves), sorted, each with its output
    /// under `outputFolder` at the same relative place, as `.wav`. With several folders, each
    /// one's outputs go in a subfolder named after it.
    public static func tree(_ folders: [String], query: String, outputFolder: String) throws -> [BatchJob] {
        var jobs: [BatchJob] = []
        let outputRoot = URL(fileURLWithPath: outputFolder).standardizedFileURL.path
        for folder in folders {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory) else {
                throw BatchError.cannotRead(path: folder, cause: .errno(ENOENT))
            }
            let base = URL(fileURLWithPath: folder).standardizedFileURL.path
            var relatives: [String] = []
            if isDirectory.boolValue {
                guard let walker = FileManager.default.enumerator(atPath: base) else {
                    throw BatchError.cannotRead(path: folder, cause: .errno(EACCES))
                }
                while let relative = walker.nextObject() as? String {
                    let name = (relative as NSString).lastPathComponent
                    if name.hasPrefix(".") { continue }
                    let full = (base as NSString).appendingPathComponent(relative)
                    // Never take our own outputs as inputs when the output folder is inside.
                    if full == outputRoot || full.hasPrefix(outputRoot + "/") { continue }
                    guard audioExtensions.contains((name as NSString).pathExtension.lowercased()) else { continue }
                    relatives.append(relative)
                }
            } else {
                relatives = [(base as NSString).lastPathComponent]
            }
            let root = isDirectory.boolValue ? base : (base as NSString).deletingLastPathComponent
            let prefix = folders.count > 1 ? (base as NSString).lastPathComponent : ""
            for relative in relatives.sorted() {
                let output = ((outputRoot as NSString).appendingPathComponent(prefix) as NSString)
                    .appendingPathComponent((relative as NSString).deletingPathExtension + ".wav")
                jobs.append(BatchJob(index: jobs.count, input: (root as NSString).appendingPathComponent(relative),
                                     output: output, text: query))
            }
        }
        guard !jobs.isEmpty else { throw BatchError.noAudioFiles(folders: folders) }
        return jobs
    }

    /// A JSON field's value, as text.
    struct Scalar: Decodable {
        var text: String?
        init(from decoder: Decoder) throws {
            let value = try decoder.singleValueContainer()
            if value.decodeNil() { text = nil }
            else if let flag = try? value.decode(Bool.self) { text = flag ? "true" : "false" }
            else if let number = try? value.decode(Double.self) { text = String(number) }
            else { text = try value.decode(String.self) }
        }
    }

    static func excerpt(_ line: String) -> String { line.count <= 60 ? line : String(line.prefix(60)) + "…" }
}
