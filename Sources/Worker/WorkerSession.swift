import AudioSep
import DSP
import Engines
import Foundation
import Separation
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
    /// Folder that relative paths in commands are taken from.
    public var directory = FileManager.default.currentDirectoryPath
    /// Where `load_model` without files looks (`AUDIOSEP_MODEL`, then the cache folder).
    public var environment = ProcessInfo.processInfo.environment

    public init() {}

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
    public let job = RunningJob()
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
        answer["config_path"] = Self.json(request.configPath.map(absolute))
        answer["device"] = .string(Self.device)
        answer["cached"] = .bool(cached)
        answer["cache_size"] = .number(Double(models.count))
        answer["max_cached_models"] = .number(Double(options.maxCachedModels))
        addSTFTFields(to: &answer)
        answer["auto_stft_seconds"] = .number(request.autoSTFTSeconds)
        answer["model"] = Self.json(files.safetensors)
        answer["text_queries"] = .bool(model.textUnavailable == nil)
        return answer
    }

    /// The files a load_model names, with absolute paths, each checked to exist.
    private func resolve(_ request: LoadModelRequest) throws -> ModelFiles {
        if let path = request.configPath.map(absolute), !FileManager.default.fileExists(atPath: path) {
            log("config_path \(path) does not exist; it is not needed (the network's widths come from the checkpoint)")
        }
        if let named = request.model.map(absolute) {
            guard FileManager.default.fileExists(atPath: named) else { throw WorkerError.fileNotFound(kind: "Model", path: named) }
            // An ambiguous folder (several candidate .safetensors) is an error that lists them.
            let resolved: ModelFiles?
            do { resolved = try ModelFiles.resolve(named) } catch { throw WorkerError.loadFailed(LoadFailure(error)) }
            guard let files = resolved else { throw WorkerError.loadFailed(.model(.noModel(searched: [named]))) }
            return files
        }
        guard let checkpoint = request.checkpointPath.map(absolute) else {
            let found = try? ModelFiles.locate(model: nil, checkpoint: nil, clapCheckpoint: nil, robertaDirectory: nil,
                                               environment: options.environment)
            guard let found, !found.isEmpty else {
                throw WorkerError.missingField(command: "load_model (and no model in AUDIOSEP_MODEL or \(ModelFiles.cacheDirectory))",
                                               field: "checkpoint_path")
            }
            return found
        }
        var files = ModelFiles()
        guard FileManager.default.fileExists(atPath: checkpoint) else { throw WorkerError.fileNotFound(kind: "Checkpoint", path: checkpoint) }
        if checkpoint.hasSuffix(".safetensors") { files.safetensors = checkpoint } else { files.checkpoint = checkpoint }
        if let clap = request.clapCheckpointPath.map(absolute) {
            guard FileManager.default.fileExists(atPath: clap) else { throw WorkerError.fileNotFound(kind: "CLAP checkpoint", path: clap) }
            files.clapCheckpoint = clap
        }
        if let roberta = request.robertaDirectory.map(absolute) {
            guard FileManager.default.fileExists(atPath: roberta) else { throw WorkerError.fileNotFound(kind: "RoBERTa dir", path: roberta) }
            files.robertaDirectory = roberta
        }
        return files
    }

    // MARK: separate

    private func separate(_ original: SeparateRequest) throws -> JSONObject {
        let started = Date()
        var request = original
        request.input = absolute(request.input)
        request.output = absolute(request.output)
        let (engine, queryCached, engineNote) = try makeEngine(request)
        let result: SeparationResult
        do {
            result = try SeparationJob.run(request, engine: engine, autoChunkSeconds: currentRequest.autoChunkSeconds,
                                           maxPassSeconds: options.maxPassSeconds, job: job)
        } catch {
            throw WorkerError.separation(error)
        }
        let elapsed = Date().timeIntervalSince(started)
        log(String(format: "separated %@ (%.2f s, %@) into %@ in %.3f s", request.input, result.inputSeconds, result.engine,
                   request.output, elapsed))

        var answer = JSONObject(["status": "done"])
        answer["elapsed"] = .number(Self.round(elapsed, 3))
        answer["files"] = .array([.string(request.output)])
        addSTFTFields(to: &answer)
        answer["engine"] = .string(result.engine)
        if request.embedding == nil || result.engine != "audiosep" { answer["text"] = .string(request.text) }
        answer["duration"] = .number(Self.round(result.outputSeconds, 6))
        answer["frames"] = .number(Double(result.outputFrames))
        answer["sample_rate"] = .number(Double(result.outputRate))
        answer["channels"] = .number(Double(result.channels))
        answer["input_duration"] = .number(Self.round(result.inputSeconds, 6))
        answer["use_chunk"] = .bool(result.chunked)
        answer["chunk_seconds"] = .number(Self.round(result.chunkSeconds, 4))
        answer["overlap_seconds"] = .number(Self.round(result.overlapSeconds, 4))
        if let queryCached { answer["query_cached"] = .bool(queryCached) }
        answer["remove"] = .bool(request.remove)
        answer["realtime"] = .number(Self.round(result.inputSeconds / max(elapsed, 1e-9), 2))
        answer["peak_rss_mb"] = .number(Self.round(Double(result.summary.peakResidentBytes) / 1_048_576, 1))
        if result.summary.clampedSamples > 0 { answer["clamped_samples"] = .number(Double(result.summary.clampedSamples)) }
        if result.summary.nonFiniteSamples > 0 { answer["nonfinite_samples"] = .number(Double(result.summary.nonFiniteSamples)) }
        let notes = [engineNote].compactMap { $0 } + result.notes
        if !notes.isEmpty { answer["note"] = .string(notes.joined(separator: "; ")) }
        return answer
    }

    /// The engine for a request; whether its query embedding came from a cache (AudioSep text
    /// queries only); a note when the built-in engine stands in for a model not loaded.
    private func makeEngine(_ request: SeparateRequest) throws -> (Separator, Bool?, String?) {
        do {
            switch request.engine {
            case .identity:
                return (IdentityEngine(), nil, nil)
            case .dsp:
                let engine = try DSPEngine(query: request.text)
                return (engine, nil, engine.note)
            case .auto, .audiosep:
                if let model = current {
                    return try audioSep(model, request)
                }
                if request.engine == .audiosep || request.embedding != nil {
                    throw WorkerError.modelNotLoaded(reason: "no AudioSep model is loaded")
                }
                let engine: DSPEngine
                do {
                    engine = try DSPEngine(query: request.text)
                } catch {
                    throw WorkerError.modelNotLoaded(reason: "without a model the built-in engine is used, and \(error)")
                }
                return (engine, nil,
                        "no model loaded: used the built-in engine (classical separation; \(engine.note ?? engine.target.rawValue)), far below "
                        + "AudioSep's quality; send load_model to use AudioSep")
            }
        } catch {
            throw WorkerError.separation(error)
        }
    }

    private func audioSep(_ model: LoadedModel, _ request: SeparateRequest) throws -> (Separator, Bool?, String?) {
        if let path = request.embedding {
            let values = try QueryEmbedding.load(path: absolute(path))
            return (AudioSepEngine(network: model.network, embedding: values, workspace: workspace), nil, nil)
        }
        let values: [Float], cached: Bool
        do {
            (values, cached) = try model.embedding(for: request.text, disk: options.embeddingCache)
        } catch {
            guard let reason = model.textUnavailable else { throw error }
            throw WorkerError.separationFailed(reason: "this model cannot encode text queries (\(reason)); load it with "
                                               + "clap_checkpoint_path and roberta_dir, or give an \"embedding\" file")
        }
        return (AudioSepEngine(network: model.network, embedding: values, workspace: workspace), cached, nil)
    }

    // MARK: get_status

    private func status() -> JSONObject {
        var answer = JSONObject(["status": "status", "ready": true, "device": .string(Self.device)])
        answer["model_loaded"] = .bool(current != nil)
        answer["checkpoint_path"] = Self.json(current?.files.checkpoint)
        answer["config_path"] = Self.json(current == nil ? nil : currentRequest.configPath.map(absolute))
        addSTFTFields(to: &answer)
        answer["auto_stft_seconds"] = .number(currentRequest.autoSTFTSeconds)
        answer["model"] = Self.json(current?.files.safetensors)
        answer["cache_size"] = .number(Double(models.count))
        answer["max_cached_models"] = .number(Double(options.maxCachedModels))
        answer["threads"] = .number(Double(options.threads))
        return answer
    }

    // MARK: helpers

    /// The packaged worker's STFT choice, echoed: there is one STFT here (FFTW), whatever is asked.
    private func addSTFTFields(to answer: inout JSONObject) {
        answer["use_torch_stft_mode"] = .string(currentRequest.useTorchSTFTMode)
        answer["use_torch_stft_value"] = .bool(currentRequest.useTorchSTFTValue)
    }

    /// `path` made absolute against the worker's folder, `~` expanded, `.` and `..` removed;
    /// symbolic links are kept as named (answers echo the paths the host gave).
    func absolute(_ path: String) -> String {
        let expanded = (path as NSString).expandingTildeInPath
        let full = expanded.hasPrefix("/") ? expanded : (options.directory as NSString).appendingPathComponent(expanded)
        return URL(fileURLWithPath: full).standardized.path
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
