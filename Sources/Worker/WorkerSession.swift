import AudioSep
import DSP
import Engines
import Foundation
import Separation
import Run
import Stream
import Text
import Weights

/// How a worker is set up (the `worker` subcommand's flags).
public struct WorkerOptions: Sendable {
    /// Models kept loaded, least recently used evicted first; 0 keeps none (every load_model loads).
    public var maxCachedModels = 1
    /// Threads the AudioSep network computes on.
    public var threads = ProcessInfo.processInfo.activeProcessorCount
    /// Where query embeddings persist between processes (nil: only in memory, per model).
    public var embeddingCache: EmbeddingCache? = EmbeddingCache()
    /// `"use_chunk": false` on an input longer than this is chunked anyway, and the answer says so.
    public var maxPassSeconds = 60.0
    /// How loaded models compute (`--convolution`, `--precision`).
    public var compute = ComputeOptions.standard
    /// Folder that relative `separate` paths (input, output, embedding) are taken from.
    public var directory = FileManager.default.currentDirectoryPath
    /// Folder that relative `load_model` paths are taken from, and where the packaged worker's
    /// default files are looked for: the worker executable's, as the packaged worker does.
    public var modelDirectory = WorkerOptions.executableDirectory
    /// What `separate` writes when neither it nor `load_model` says (`--output-format`).
    public var outputFormat = OutputFormat.default
    /// Where `load_model` without files looks (`AUDIOSEP_MODEL`, then the cache folder).
    public var environment = ProcessInfo.processInfo.environment

    public init() {}

    /// The folder of the running executable (symbolic links resolved, as `/proc/self/exe` names
    /// it); the folder of `argv[0]`, made absolute, where that link cannot be read.
    public static var executableDirectory: String {
        if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"), target.hasPrefix("/") {
            return (target as NSString).deletingLastPathComponent
        }
        let first = CommandLine.arguments.first ?? "."
        let full = first.hasPrefix("/") ? first : (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(first)
        return URL(fileURLWithPath: full).standardized.deletingLastPathComponent().path
    }

    /// `--max-cached-models`, else `AUDIOSEP_MAX_CACHED_MODELS`, else 1.
    /// - Throws: `WorkerError.invalidField` for a negative or non-numeric value.
    public static func maxCachedModels(flag: Int?, environment: [String: String]) throws -> Int {
        if let flag {
            guard flag >= 0 else { throw WorkerError.invalidField(field: "--max-cached-models", value: "\(flag)", expected: "0 or more") }
            return flag
        }
        guard let text = environment["AUDIOSEP_MAX_CACHED_MODELS"], !text.isEmpty else { return 1 }
        guard let value = Int(text.trimmingCharacters(in: .whitespaces)), value >= 0 else {
            throw WorkerError.invalidField(field: "AUDIOSEP_MAX_CACHED_MODELS", value: text, expected: "0 or more")
        }
        return value
    }
}

/// One answer, and whether the worker stops after writing it.
public struct WorkerReply: Sendable {
    public var answer: JSONObject
    public var exit = false
    /// Set when a stop signal cut this command's separation short: what its output holds.
    public var interruption: String?
    /// The answer as the line to write (no newline inside).
    public var line: String { answer.encoded }
}

/// The worker protocol's state machine: commands in, answers out, one for one. Every failure
/// becomes an error answer and the session goes on; nothing here prints or exits (the
/// executable writes the lines and `log` goes to stderr).
public final class WorkerSession {
    public let options: WorkerOptions
    private let log: (String) -> Void
    private var models: LRUCache<String, LoadedModel>
    /// The model `separate` uses: the last one loaded (held even when the cache keeps none).
    private var current: LoadedModel?
    /// The load_model request that made `current`, for the fields answers echo.
    private var currentRequest = LoadModelRequest()
    /// The separation running, for the executable's stop-signal thread.
    public let job = RunControl()
    /// Shared by every AudioSep engine: buffers planned for one window length are reused by the next run.
    private lazy var workspace = Workspace(threads: options.threads)

    public static let device = "cpu"

    public init(options: WorkerOptions = WorkerOptions(), log: @escaping (String) -> Void = { _ in }) {
        self.options = options
        self.log = log
        models = LRUCache(capacity: options.maxCachedModels)
    }

    /// The two lines written before the first command is read, as the packaged worker writes them.
    public var greeting: [JSONObject] {
        [JSONObject(["status": "loading", "message": "Initializing audiosep-stream worker..."]),
         JSONObject(["status": "ready", "device": .string(Self.device), "threads": .number(Double(options.threads)),
                     "max_cached_models": .number(Double(options.maxCachedModels)),
                     "commands": .array(WorkerRequest.commandNames.map { .string($0) })])]
    }

    /// Answers one stdin line; nil for a blank line (the packaged worker skips those too).
    public func handle(_ line: String) -> WorkerReply? {
        let received = Date()
        let text = line.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { return nil }
        do {
            switch try WorkerRequest.parse(text) {
            case .exit:
                return WorkerReply(answer: JSONObject(["status": "exiting"]), exit: true)
            case .getStatus:
                return WorkerReply(answer: status())
            case .loadModel(let request):
                return WorkerReply(answer: try loadModel(request))
            case .separate(let request):
                return WorkerReply(answer: try separate(request))
            }
        } catch {
            return refuse(error, receivedAt: received)
        }
    }

    /// The error answer to a command received at `receivedAt` (also for a line the executable
    /// could not take, such as one too long), logged unless it is a stop: the executable logs that.
    public func refuse(_ error: Error, receivedAt: Date) -> WorkerReply {
        var reply = WorkerReply(answer: Self.errorAnswer(error, elapsedSeconds: Date().timeIntervalSince(receivedAt)))
        if let detail = (error as? WorkerError)?.stopDetail {
            reply.interruption = detail
        } else {
            log("error: \(error)")
        }
        return reply
    }

    /// `elapsed` as the other answers carry it: seconds since the command was received.
    public static func errorAnswer(_ error: Error, elapsedSeconds: Double) -> JSONObject {
        JSONObject(["status": "error", "message": .string("\(error)"), "elapsed": .number(round(elapsedSeconds, 3))])
    }

    // MARK: load_model

    private func loadModel(_ request: LoadModelRequest) throws -> JSONObject {
        let started = Date()
        let files = try resolve(request)
        let key = LoadedModel.key(for: files)
        let model: LoadedModel
        let cached: Bool
        if let hit = models.value(for: key) {
            model = hit
            cached = true
            log("model already loaded: \(Self.describe(files))")
        } else {
            do {
                model = try LoadedModel(files: files, compute: options.compute)
            } catch {
                throw WorkerError.loadFailed(LoadFailure(error))
            }
            cached = false
            for evicted in models.insert(model, for: key) where evicted != key {
                log("evicted the least recently used model (\(options.maxCachedModels) kept)")
            }
            log(String(format: "loaded %@ in %.3f s", Self.describe(files), model.loadSeconds))
            if let reason = model.textUnavailable {
                log("text queries cannot be encoded with this model (\(reason)); separate needs an \"embedding\" file")
            }
        }
        current = model
        currentRequest = request
        var answer = JSONObject(["status": "model_loaded"])
        answer["elapsed"] = .number(Self.round(Date().timeIntervalSince(started), 3))
        answer["checkpoint_path"] = Self.json(files.checkpoint)
        answer["clap_checkpoint_path"] = Self.json(files.clapCheckpoint)
        answer["roberta_dir"] = Self.json(files.robertaDirectory)
        answer["config_path"] = Self.json(request.configPath.map { modelPath($0).path })
        answer["device"] = .string(Self.device)
        if let asked = request.device { answer["device_requested"] = .string(asked) }
        answer["mmap"] = .bool(request.mmap)
        answer["chunk_seconds"] = .number(request.autoChunkSeconds)
        answer["output_format"] = .string((request.outputFormat ?? options.outputFormat).rawValue)
        answer["cached"] = .bool(cached)
        answer["cache_size"] = .number(Double(models.count))
        answer["max_cached_models"] = .number(Double(options.maxCachedModels))
        addSTFTFields(to: &answer)
        answer["auto_stft_seconds"] = .number(request.autoSTFTSeconds)
        answer["model"] = Self.json(files.safetensors)
        answer["text_queries"] = .bool(model.textUnavailable == nil)
        if let note = Self.deviceNote(request.device) { answer["note"] = .string(note) }
        return answer
    }

    /// Said when load_model asks for a device other than the CPU, the only one this worker computes on.
    static func deviceNote(_ asked: String?) -> String? {
        guard let asked, !asked.lowercased().hasPrefix(Self.device) else { return nil }
        return "device \"\(asked)\" was asked for; this worker has no GPU code and computes on the CPU"
    }

    /// The files a load_model names, with absolute paths, each checked to exist. Relative paths
    /// are taken from `options.modelDirectory` (the executable's folder, as the packaged worker
    /// takes them). Without `checkpoint_path` or `model`: the packaged worker's default
    /// checkpoint in that folder, then `AUDIOSEP_MODEL`, then the model store's folder. A CLAP
    /// checkpoint or RoBERTa folder not named is looked for as `defaultTextFiles` says.
    private func resolve(_ request: LoadModelRequest) throws -> ModelFiles {
        if let path = request.configPath.map({ modelPath($0).path }), !FileManager.default.fileExists(atPath: path) {
            log("config_path \(path) does not exist; it is not needed (the network's widths come from the checkpoint)")
        }
        if let named = request.model {
            let path = try existing(named, kind: "Model")
            // An ambiguous folder (several candidate .safetensors) is an error that lists them.
            let resolved: ModelFiles?
            do { resolved = try ModelFiles.resolve(path) } catch { throw WorkerError.loadFailed(LoadFailure(error)) }
            guard let files = resolved else { throw WorkerError.loadFailed(.model(.noModel(searched: [path]))) }
            return files
        }
        var files = ModelFiles()
        if let given = request.checkpointPath {
            let checkpoint = try existing(given, kind: "Checkpoint")
            if checkpoint.hasSuffix(".safetensors") { files.safetensors = checkpoint } else { files.checkpoint = checkpoint }
        } else if case let packaged = modelPath(Self.packagedCheckpoint).path, FileManager.default.fileExists(atPath: packaged) {
            files.checkpoint = packaged
            log("no checkpoint_path: using the packaged worker's default, \(packaged)")
        } else {
            let found = try? ModelFiles.locate(model: nil, checkpoint: nil, clapCheckpoint: nil, robertaDirectory: nil,
                                               environment: options.environment)
            guard let found, !found.isEmpty else {
                throw WorkerError.missingField(command: "load_model (and no model at \(modelPath(Self.packagedCheckpoint).path), "
                                               + "in AUDIOSEP_MODEL or in \(ModelFiles.cacheDirectory))", field: "checkpoint_path")
            }
            files = found
        }
        if let clap = request.clapCheckpointPath { files.clapCheckpoint = try existing(clap, kind: "CLAP checkpoint") }
        if let roberta = request.robertaDirectory { files.robertaDirectory = try existing(roberta, kind: "RoBERTa dir") }
        guard let checkpoint = files.checkpoint else { return files }  // a converted model holds its text branch
        let defaults = defaultTextFiles(besides: checkpoint)
        if files.clapCheckpoint == nil {
            files.clapCheckpoint = defaults.clapCheckpoint
            log(defaults.clapCheckpoint.map { "clap_checkpoint_path not given: using \($0)" }
                ?? "clap_checkpoint_path not given and no CLAP checkpoint found in \(defaults.searched)")
        }
        if files.robertaDirectory == nil {
            files.robertaDirectory = defaults.robertaDirectory
            log(defaults.robertaDirectory.map { "roberta_dir not given: using \($0)" }
                ?? "roberta_dir not given and no roberta-base folder found in \(defaults.searched)")
        }
        return files
    }

    /// The packaged worker's default files, relative to its folder (its audiosep_worker.py).
    static let packagedCheckpoint = "checkpoint/audiosep_base_4M_steps.ckpt"
    static let packagedCLAPCheckpoint = "checkpoint/music_speech_audioset_epoch_15_esc_89.98.pt"
    static let packagedRobertaDirectory = "roberta-base"

    /// Where a CLAP checkpoint and a `roberta-base/` folder not named in load_model are taken
    /// from, the first found of each: the packaged worker's defaults in the worker's folder; the
    /// checkpoint's own folder (as `--model` reads a folder), and `roberta-base/` beside that
    /// folder (the packaged layout, `checkpoint/` and `roberta-base/` side by side); the model
    /// store (`AUDIOSEP_MODEL`, else `~/.cache/audiosep-stream`, where `model download` puts them).
    func defaultTextFiles(besides checkpoint: String) -> (clapCheckpoint: String?, robertaDirectory: String?, searched: String) {
        let folder = (checkpoint as NSString).deletingLastPathComponent
        let store = options.environment["AUDIOSEP_MODEL"].flatMap { $0.isEmpty ? nil : absolute($0) }
            ?? options.environment["HOME"].map { ($0 as NSString).appendingPathComponent(".cache/audiosep-stream") }
            ?? ModelFiles.cacheDirectory
        let beside = Self.textFiles(in: folder)
        let inStore = Self.textFiles(in: store)
        let claps = [modelPath(Self.packagedCLAPCheckpoint).path, beside.clap, inStore.clap]
        let robertas = [modelPath(Self.packagedRobertaDirectory).path, beside.roberta,
                        ((folder as NSString).deletingLastPathComponent as NSString).appendingPathComponent("roberta-base"),
                        inStore.roberta]
        func first(_ paths: [String?]) -> String? { paths.compactMap { $0 }.first { FileManager.default.fileExists(atPath: $0) } }
        let searched = [options.modelDirectory, folder, store].joined(separator: ", ")
        return (first(claps), first(robertas), searched)
    }

    /// A folder's CLAP checkpoint and `roberta-base/`, named as `--model` finds them in a folder:
    /// `music_speech_audioset….pt`, else the one `.pt` file there.
    static func textFiles(in folder: String) -> (clap: String?, roberta: String?) {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
        let points = names.filter { $0.hasSuffix(".pt") }
        let clap = points.first { $0.hasPrefix("music_speech_audioset") } ?? (points.count == 1 ? points[0] : nil)
        func inFolder(_ name: String) -> String { (folder as NSString).appendingPathComponent(name) }
        return (clap.map(inFolder), names.contains("roberta-base") ? inFolder("roberta-base") : nil)
    }

    /// A load_model path made absolute against the worker's folder, checked to exist.
    private func existing(_ given: String, kind: String) throws -> String {
        let (path, relative) = modelPath(given)
        guard FileManager.default.fileExists(atPath: path) else {
            throw relative ? WorkerError.relativeFileNotFound(kind: kind, path: path, folder: options.modelDirectory)
                           : WorkerError.fileNotFound(kind: kind, path: path)
        }
        return path
    }

    // MARK: separate

    private func separate(_ original: SeparateRequest) throws -> JSONObject {
        let started = Date()
        var request = original
        request.input = absolute(request.input)
        request.outputs = request.outputs.map(absolute)
        request.rest = request.rest.map(absolute)
        let (engine, queryCached, engineNote) = try makeEngine(request)
        let engineSeconds = Date().timeIntervalSince(started)
        let result: SeparationResult
        do {
            result = try SeparationJob.run(request, engine: engine, autoChunkSeconds: currentRequest.autoChunkSeconds,
                                           maxPassSeconds: options.maxPassSeconds, outputFormat: sessionOutputFormat, control: job)
        } catch {
            throw WorkerError.separation(error)
        }
        let elapsed = Date().timeIntervalSince(started)
        let files = request.outputs + (request.rest.map { [$0] } ?? [])
        log(String(format: "separated %@ (%.2f s, %@) into %@ in %.3f s", request.input, result.inputSeconds, result.engine,
                   files.joined(separator: ", "), elapsed))

        var answer = JSONObject(["status": "done"])
        answer["elapsed"] = .number(Self.round(elapsed, 3))
        answer["files"] = .array(files.map { .string($0) })
        addSTFTFields(to: &answer)
        answer["engine"] = .string(result.engine)
        if request.embedding == nil || result.engine != "audiosep" {
            answer["text"] = request.listsTexts ? .array(request.texts.map { .string($0) }) : .string(request.text)
        }
        answer["duration"] = .number(Self.round(result.outputSeconds, 6))
        answer["frames"] = .number(Double(result.outputFrames))
        answer["sample_rate"] = .number(Double(result.outputRate))
        answer["channels"] = .number(Double(result.channels))
        answer["bits"] = .number(Double(result.sampleFormat.bits))
        answer["encoding"] = .string(result.sampleFormat.encoding.rawValue)
        answer["output_format"] = .string(result.outputFormat.rawValue)
        answer["input_duration"] = .number(Self.round(result.inputSeconds, 6))
        answer["use_chunk"] = .bool(result.chunked)
        answer["chunk_seconds"] = .number(Self.round(result.chunkSeconds, 4))
        answer["overlap_seconds"] = .number(Self.round(result.overlapSeconds, 4))
        if let queryCached { answer["query_cached"] = .bool(queryCached) }
        answer["remove"] = .bool(request.remove)
        answer["realtime"] = .number(Self.round(result.inputSeconds / max(elapsed, 1e-9), 2))
        // Where the job's time went: the engine for the query (embedding looked up or encoded),
        // the input opened, the run set up, the pipeline, the outputs renamed; what is left of
        // `elapsed` is the answer's own bookkeeping.
        answer["timings"] = .object(JSONObject([
            "engine": .number(Self.round(engineSeconds, 4)), "open": .number(Self.round(result.timings.openSeconds, 4)),
            "setup": .number(Self.round(result.timings.setupSeconds, 4)),
            "pipeline": .number(Self.round(result.timings.pipelineSeconds, 4)),
            "commit": .number(Self.round(result.timings.commitSeconds, 4)),
        ]))
        answer["peak_rss_mb"] = .number(Self.round(Double(result.summary.peakResidentBytes) / 1_048_576, 1))
        if result.summary.clampedSamples > 0 { answer["clamped_samples"] = .number(Double(result.summary.clampedSamples)) }
        if result.summary.nonFiniteSamples > 0 { answer["nonfinite_samples"] = .number(Double(result.summary.nonFiniteSamples)) }
        let notes = [engineNote].compactMap { $0 } + result.notes
        if !notes.isEmpty { answer["note"] = .string(notes.joined(separator: "; ")) }
        return answer
    }

    /// The engine for a request (one stem per text), built by `EngineSession` as the filter's and
    /// batch's are; whether its query embeddings all came from a cache (AudioSep text queries
    /// only); a note when the built-in engine stands in for a model not loaded.
    private func makeEngine(_ request: SeparateRequest) throws -> (Separator, Bool?, String?) {
        do {
            let model = request.engine == .auto || request.engine == .audiosep ? current : nil
            if model == nil, request.engine == .audiosep || (request.engine == .auto && request.embedding != nil) {
                throw WorkerError.modelNotLoaded(reason: "no AudioSep model is loaded")
            }
            let embedding = try request.embedding.map { try QueryEmbedding.load(path: absolute($0)) }
            var cached: Bool?
            if let model, embedding == nil {
                // Encoded (or found) here first, to say whether every one came from a cache.
                do {
                    cached = true
                    for text in request.texts where !(try model.embedding(for: text, disk: options.embeddingCache).cached) {
                        cached = false
                    }
                } catch {
                    guard let reason = model.textUnavailable else { throw error }
                    throw WorkerError.separationFailed(reason: "this model cannot encode text queries (\(reason)); load it with "
                                                       + "clap_checkpoint_path and roberta_dir, or give an \"embedding\" file")
                }
            }
            let session = EngineSession(request.engine, loaded: model, workspace: model == nil ? nil : workspace, threads: options.threads,
                                        cache: options.embeddingCache)
            let separator: Separator
            do {
                separator = try session.separator(queries: request.texts, embedding: embedding)
            } catch where request.engine == .auto && model == nil {
                throw WorkerError.modelNotLoaded(reason: "without a model the built-in engine is used, and \(error)")
            }
            guard request.engine == .auto, model == nil, let reading = EngineSession.reading(of: separator) else {
                return (separator, cached, request.engine == .dsp ? session.note(for: separator) : nil)
            }
            return (separator, cached, "no model loaded: used the built-in engine, \(reading) (classical separation, "
                    + "far below AudioSep's quality); send load_model to use AudioSep")
        } catch {
            throw WorkerError.separation(error)
        }
    }

    /// What `separate` writes when it does not say: the last load_model's `output_format`, else the flag's.
    private var sessionOutputFormat: OutputFormat { currentRequest.outputFormat ?? options.outputFormat }

    // MARK: get_status

    private func status() -> JSONObject {
        var answer = JSONObject(["status": "status", "ready": true, "device": .string(Self.device)])
        answer["model_loaded"] = .bool(current != nil)
        answer["checkpoint_path"] = Self.json(current?.files.checkpoint)
        answer["config_path"] = Self.json(current == nil ? nil : currentRequest.configPath.map { modelPath($0).path })
        addSTFTFields(to: &answer)
        answer["auto_stft_seconds"] = .number(currentRequest.autoSTFTSeconds)
        answer["model"] = Self.json(current?.files.safetensors)
        answer["cache_size"] = .number(Double(models.count))
        answer["max_cached_models"] = .number(Double(options.maxCachedModels))
        answer["threads"] = .number(Double(options.threads))
        answer["output_format"] = .string(sessionOutputFormat.rawValue)
        return answer
    }

    // MARK: helpers

    /// The packaged worker's STFT choice, echoed: there is one STFT here (FFTW), whatever is asked.
    private func addSTFTFields(to answer: inout JSONObject) {
        answer["use_torch_stft_mode"] = .string(currentRequest.useTorchSTFTMode)
        answer["use_torch_stft_value"] = .bool(currentRequest.useTorchSTFTValue)
    }

    /// A `separate` path made absolute against the current folder (`options.directory`), as
    /// the packaged worker opens them, `~` expanded, `.` and `..` removed; symbolic links are kept
    /// as named (answers echo the paths the host gave).
    func absolute(_ path: String) -> String {
        Self.absolute(path, in: options.directory).path
    }

    /// A `load_model` path made absolute against the worker executable's folder
    /// (`options.modelDirectory`), as the packaged worker joins them to its `base_dir`; whether it was relative.
    func modelPath(_ path: String) -> (path: String, relative: Bool) {
        Self.absolute(path, in: options.modelDirectory)
    }

    static func absolute(_ path: String, in folder: String) -> (path: String, relative: Bool) {
        let expanded = (path as NSString).expandingTildeInPath
        let relative = !expanded.hasPrefix("/")
        let full = relative ? (folder as NSString).appendingPathComponent(expanded) : expanded
        return (URL(fileURLWithPath: full).standardized.path, relative)
    }

    static func describe(_ files: ModelFiles) -> String {
        files.safetensors ?? [files.checkpoint, files.clapCheckpoint, files.robertaDirectory].compactMap { $0 }.joined(separator: " + ")
    }

    static func json(_ text: String?) -> JSONValue { text.map { .string($0) } ?? .null }

    static func round(_ value: Double, _ digits: Int) -> Double {
        let scale = pow(10, Double(digits))
        return (value * scale).rounded() / scale
    }
}
