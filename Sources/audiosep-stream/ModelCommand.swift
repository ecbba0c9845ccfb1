import ArgumentParser
import AudioSep
import Foundation
import ModelStore
import Weights

/// `audiosep-stream model …`: getting AudioSep's files.
struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Get the AudioSep model: download it into the folder the filter looks in.",
        subcommands: [ModelDownload.self, ModelManifest.self])
}

struct ModelDownload: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "download",
        abstract: "Download AudioSep's checkpoints and roberta-base, resumably, checked by SHA-256.",
        discussion: """
            Fetches what AudioSep's users download (the AudioSep and CLAP checkpoints from AudioSep's \
            Hugging Face repository, roberta-base's config.json, vocab.json, merges.txt and \
            pytorch_model.bin) into the folder the filter looks in ($AUDIOSEP_MODEL, else \
            ~/.cache/audiosep-stream/), so that `audiosep-stream "a dog barking" < in.wav > out.wav` \
            uses AudioSep afterwards. Each file arrives as NAME.part and is renamed when complete and \
            checked; an interrupted download resumes where it stopped when run again.
            Examples:
              audiosep-stream model download
              audiosep-stream model download --convert
              audiosep-stream model download --dest ~/models/AudioSep --base-url https://hf-mirror.com
              audiosep-stream model download --print-table > model-files.tsv
            Files are fetched at fixed revisions (BASE/REPOSITORY/resolve/COMMIT/PATH), so their \
            published sizes and SHA-256 stay true; a mirror given by --base-url serves the same paths, \
            revision included. --print-table prints, without fetching anything, each file's final \
            path, URL, size and SHA-256 (tab-separated): fetch them on a machine with internet, copy \
            them to those paths, and run `audiosep-stream model download` to check them offline.
            """)

    @Option(name: .long, help: "The model folder (default: $AUDIOSEP_MODEL, then ~/.cache/audiosep-stream/).")
    var dest: String?
    @Option(name: .long, help: "Replaces https://huggingface.co: the files keep their paths under it, REPOSITORY/resolve/REVISION/PATH (default: $AUDIOSEP_MODEL_URL, then https://huggingface.co).")
    var baseURL: String?
    @Option(name: .long, help: "A JSON manifest of the files (paths, URLs under the base URL, sizes, SHA-256) instead of the built-in table, for a mirror that serves other files; `model manifest` prints the built-in one.")
    var manifest: String?
    @Flag(name: .long, help: "Also write audiosep.safetensors into the folder (what `convert` writes: the model loads fastest from it).")
    var convert = false
    @Flag(name: .long, help: "Fetch nothing: print each file's final path, URL, size and SHA-256, tab-separated, to fetch them elsewhere and copy them in.")
    var printTable = false

    func run() throws {
        do {
            let environment = ProcessInfo.processInfo.environment
            let folder = try Self.destination(flag: dest, environment: environment)
            let base = baseURL ?? environment["AUDIOSEP_MODEL_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? ModelFileTable.defaultBaseURL
            let entries = try manifest.map(ModelFileTable.load) ?? ModelFileTable.audioSep
            if printTable {
                Console.output(try DownloadPlan(entries: entries, baseURL: base, destination: folder).table)
                return
            }
            let meter = DownloadMeter(terminal: isatty(STDERR_FILENO) == 1)
            let downloader = try ModelDownloader(entries: entries, baseURL: base, destination: folder,
                                                 userAgent: "audiosep-stream/\(AudioSepStream.version)", report: meter.show)
            // The stall and size rules, adjustable for slow links (and for the tests, in seconds).
            if let rate = try Self.setting("AUDIOSEP_DOWNLOAD_MIN_RATE", environment) { downloader.minimumRate = Int64(rate) }
            if let window = try Self.setting("AUDIOSEP_DOWNLOAD_RATE_WINDOW", environment) { downloader.rateWindow = window }
            if let cap = try Self.setting("AUDIOSEP_DOWNLOAD_MAX_BYTES", environment) { downloader.sizeCap = Int64(cap) }
            let summary = try downloader.run()
            var converted = false
            if convert { converted = try Self.convert(folder: folder, force: summary.downloaded > 0) }
            if summary.downloaded == 0 && !converted {
                Console.error("audiosep-stream: the model in \(folder) is complete (\(summary.present) files present"
                              + (summary.unverified.isEmpty ? ", all verified" : "")
                              + (convert ? ", \(ModelFiles.convertedName) too" : "") + "): nothing to download\n")
            } else {
                Console.error("audiosep-stream: the model is in \(folder): \(summary.downloaded) downloaded, \(summary.present) already there"
                              + (converted ? ", audiosep.safetensors written" : "") + "\n")
            }
            if !summary.unverified.isEmpty {
                Console.error("audiosep-stream: not verified by a published SHA-256 (none known to us; compare the sums printed above): "
                              + summary.unverified.joined(separator: ", ") + "\n")
            }
            if dest != nil, ModelFiles.cacheDirectory != folder, environment["AUDIOSEP_MODEL"] != folder {
                Console.error("audiosep-stream: use it with --model \(folder) or AUDIOSEP_MODEL=\(folder)\n")
            }
        } catch {
            AudioSepStream.fail(error)
        }
    }

    /// Where the filter looks when no flag names a model (as `ModelFiles.locate`): `$AUDIOSEP_MODEL`
    /// when set, else `~/.cache/audiosep-stream/`. `--dest` overrides both.
    /// A positive number from the environment variable `name`, nil when it is unset or empty.
    static func setting(_ name: String, _ environment: [String: String]) throws -> Double? {
        guard let text = environment[name], !text.isEmpty else { return nil }
        guard let value = Double(text), value.isFinite, value > 0, value < 1e18 else {
            throw DownloadError.badSetting(name: name, value: text)
        }
        return value
    }

    static func destination(flag: String?, environment: [String: String]) throws -> String {
        let origin: String
        let path: String
        if let flag {
            (origin, path) = ("--dest", flag)
        } else if let named = environment["AUDIOSEP_MODEL"], !named.isEmpty {
            (origin, path) = ("AUDIOSEP_MODEL", named)
        } else {
            return ModelFiles.cacheDirectory
        }
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        if (exists && !isDirectory.boolValue) || (!exists && (path.hasSuffix(".safetensors") || path.hasSuffix(".ckpt"))) {
            throw DownloadError.destinationIsFile(path: path, origin: origin)
        }
        return path
    }

    /// Writes `folder/audiosep.safetensors` from the downloaded files, through the same converter
    /// `audiosep-stream convert` runs; skipped when it is there and nothing new came. True when written.
    static func convert(folder: String, force: Bool) throws -> Bool {
        let output = (folder as NSString).appendingPathComponent(ModelFiles.convertedName)
        if !force, FileManager.default.fileExists(atPath: output) { return false }
        func inFolder(_ name: String) -> String { (folder as NSString).appendingPathComponent(name) }
        let files = ModelFiles(checkpoint: inFolder("audiosep_base_4M_steps.ckpt"),
                               clapCheckpoint: inFolder("music_speech_audioset_epoch_15_esc_89.98.pt"),
                               robertaDirectory: inFolder("roberta-base"))
        let summary = try ModelConverter.convert(files, to: output, precision: .f32)
        Console.error(String(format: "audiosep-stream: wrote %@: %d tensors, %.1f M parameters, %.1f MB\n",
                             output, summary.tensors, Double(summary.parameters) / 1e6, Double(summary.bytes) / 1e6))
        return true
    }
}

/// `audiosep-stream model manifest`: the built-in table as the JSON `--manifest` reads.
struct ModelManifest: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "manifest",
        abstract: "Print the built-in table of model files (paths, URLs, sizes, SHA-256) as JSON, as --manifest reads it.")

    func run() throws {
        Console.output(ModelFileTable.json(ModelFileTable.audioSep) + "\n")
    }
}

/// Download progress on stderr in ProgressMeter's manner: on a terminal one line per file redrawn
/// in place (`\r`); elsewhere a line every few seconds. Bytes, MB/s and, with a known length, the
/// percentage and the time left; then one line per finished file with its SHA-256.
final class DownloadMeter {
    private let terminal: Bool
    private var lastLine = Date.distantPast
    private var drawing = false

    init(terminal: Bool) { self.terminal = terminal }

    func show(_ event: DownloadEvent) {
        switch event {
        case .present:
            break  // the summary line counts them: a second run says one line
        case .replacing(let entry, let reason):
            line("\(entry.path): the file there does not check out (\(reason)); downloading it again")
        case .started(let entry, let url, let offset, _):
            lastLine = Date()
            line("\(entry.path): " + (offset > 0 ? "resuming at \(Self.megabytes(offset)) from " : "downloading ") + url)
        case .restarted(let entry, _):
            line("\(entry.path): the server ignored the range request; starting over")
        case .progress(let entry, let done, let total, let sessionBytes, let seconds):
            progress(entry, done: done, total: total, sessionBytes: sessionBytes, seconds: seconds)
        case .finished(let entry, let bytes, let sha256, let verified):
            line("\(entry.path): done, \(Self.megabytes(bytes)), SHA-256 \(sha256)" + (verified ? " (verified)" : " (no published sum to compare)"))
        }
    }

    private func progress(_ entry: ManifestEntry, done: Int64, total: Int64?, sessionBytes: Int64, seconds: Double) {
        if !terminal {
            // A line every few seconds; the file's end is the "done" line.
            let now = Date()
            guard now.timeIntervalSince(lastLine) >= ProgressMeter.logInterval else { return }
            lastLine = now
        }
        var text = "  \(entry.path): " + String(format: "%.1f", Double(done) / 1e6)
        if let total, total > 0 {
            text += String(format: " of %.1f MB (%3.0f%%)", Double(total) / 1e6, min(100, 100 * Double(done) / Double(total)))
        } else {
            text += " MB"
        }
        let rate = seconds > 0 ? Double(sessionBytes) / seconds : 0
        text += String(format: "  %6.1f MB/s", rate / 1e6)
        if let total, rate > 0, total > done { text += "  ETA " + ProgressMeter.clock(Double(total - done) / rate) }
        if terminal {
            Console.error("\r\u{1B}[K" + text)
            drawing = true
        } else {
            Console.error(text + "\n")
        }
    }

    private func line(_ text: String) {
        if drawing {
            Console.error("\n")
            drawing = false
        }
        Console.error("audiosep-stream: \(text)\n")
    }

    static func megabytes(_ bytes: Int64) -> String {
        bytes < 1_000_000 ? "\(bytes) bytes" : String(format: "%.1f MB", Double(bytes) / 1e6)
    }
}
