import Files
import Foundation
import Run
import Stream

/// The jobs of a batch: from a manifest file (JSON lines or CSV), or from folders of audio.
public enum Manifest {
    /// The fields a job line may have.
    public static let fields = ["input", "output", "text", "embedding", "rest", "remove", "downmix", "chunk", "overlap"]

    /// A field's value: one, or (`text`, `output`) a list.
    enum Value: Equatable {
        case one(String)
        case list([String])
    }

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
                throw BatchError.badLine(path: path, line: number,
                                         reason: "not a JSON object of strings, numbers, booleans and lists of strings: \(excerpt(line))")
            }
            var values: [String: Value] = [:]
            for (key, value) in object {
                if let list = value.list { values[key] = .list(list) } else if let text = value.text { values[key] = .one(text) }
            }
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
            var values: [String: Value] = [:]
            for (column, cell) in zip(columns, cells) where !cell.isEmpty { values[column] = .one(cell) }
            // Several queries in one cell, `|` between them; their outputs a `{query}` pattern or `|` between paths.
            if case .one(let text)? = values["text"], text.contains("|") {
                values["text"] = .list(text.split(separator: "|", omittingEmptySubsequences: false)
                    .map { $0.trimmingCharacters(in: .whitespaces) })
                if case .one(let output)? = values["output"], !StemNames.isPattern(output), output.contains("|") {
                    values["output"] = .list(output.split(separator: "|", omittingEmptySubsequences: false)
                        .map { $0.trimmingCharacters(in: .whitespaces) })
                }
            }
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

    static func job(_ fields: [String: Value], index: Int, path: String, line: Int, outputFolder: String?) throws -> BatchJob {
        func bad(_ reason: String) -> BatchError { .badLine(path: path, line: line, reason: reason) }
        if let unknown = fields.keys.sorted().first(where: { !Self.fields.contains($0) }) {
            throw bad("unknown field '\(unknown)' (known: \(Self.fields.joined(separator: ", ")))")
        }
        // Every field but text and output holds one value.
        var values: [String: String] = [:]
        for (key, value) in fields {
            switch value {
            case .one(let text): values[key] = text
            case .list where key == "text" || key == "output": break
            case .list: throw bad("\(key) takes one value, not a list (only text and output may be lists)")
            }
        }
        guard let input = values["input"], !input.isEmpty else { throw bad("no input") }
        // The queries: one as a string (its output taken as written, as ever), or a list.
        var texts: [String] = []
        var listed = false
        switch fields["text"] {
        case .one(let text)?: texts = [text]
        case .list(let list)?:
            guard !list.isEmpty else { throw bad("text is an empty list; give one or more queries") }
            if let blank = list.firstIndex(where: { $0.trimmingCharacters(in: .whitespaces).isEmpty }) {
                throw bad("query \(blank + 1) of text is empty")
            }
            texts = list
            listed = true
        case nil: break
        }
        guard texts.isEmpty != (values["embedding"] == nil) else { throw bad("give either text or embedding") }
        let wanted = max(1, texts.count)
        var outputs: [String]
        switch fields["output"] {
        case .one(let output)? where !output.isEmpty:
            if listed, StemNames.isPattern(output) {
                outputs = texts.map { StemNames.expand(output, query: $0) }
            } else if wanted == 1 {
                outputs = [output]
            } else {
                throw bad("text names \(wanted) queries and output one file: give a list of \(wanted) outputs "
                          + "or one with {query} in it (out/{query}.wav)")
            }
        case .list(let list)?:
            guard list.count == wanted else {
                throw bad("text names \(wanted) \(wanted == 1 ? "query" : "queries") but output names \(list.count) "
                          + "\(list.count == 1 ? "file" : "files"); give one output per query")
            }
            if let blank = list.firstIndex(where: \.isEmpty) { throw bad("output \(blank + 1) is empty") }
            outputs = list
        default:
            throw bad("no output")
        }
        var rest = values["rest"]
        if rest?.isEmpty == true { throw bad("rest is empty; name a file or leave it out") }
        if let outputFolder {
            func under(_ path: String) -> String { path.hasPrefix("/") ? path : (outputFolder as NSString).appendingPathComponent(path) }
            outputs = outputs.map(under)
            rest = rest.map(under)
        }
        // Two outputs of one row under one name (two queries whose safe forms agree, a rest
        // named as a stem): said here, where the row can be mended.
        var seen: [String: Int] = [:]
        for (position, output) in (outputs + (rest.map { [$0] } ?? [])).enumerated() {
            let key = URL(fileURLWithPath: output).standardized.path
            if let earlier = seen[key] {
                let what = { (at: Int) in at < texts.count ? "the output of '\(texts[at])'" : at < outputs.count ? "output \(at + 1)" : "rest" }
                throw bad("\(what(earlier)) and \(what(position)) are both '\(output)'; give each its own file")
            }
            seen[key] = position
        }
        var job = BatchJob(index: index, input: input, outputs: outputs, texts: texts, embedding: values["embedding"], rest: rest,
                           line: line)
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

    /// A JSON field's value, as text, or a list of strings.
    struct Scalar: Decodable {
        var text: String?
        var list: [String]?
        init(from decoder: Decoder) throws {
            let value = try decoder.singleValueContainer()
            if value.decodeNil() { text = nil }
            else if let strings = try? value.decode([String].self) { list = strings }
            else if let flag = try? value.decode(Bool.self) { text = flag ? "true" : "false" }
            else if let number = try? value.decode(Double.self) { text = String(number) }
            else { text = try value.decode(String.self) }
        }
    }

    static func excerpt(_ line: String) -> String { line.count <= 60 ? line : String(line.prefix(60)) + "…" }
}
