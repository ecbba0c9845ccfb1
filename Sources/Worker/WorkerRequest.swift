import Foundation
import Separation
import Run
import Stream

/// One command line of the worker protocol, parsed and checked. Field names are the packaged
/// AudioSep worker's (`dsu-audiosep --worker`); fields this worker has no use for are accepted
/// and echoed, and unknown fields are ignored, so a host written for that worker needs no change.
public enum WorkerRequest: Equatable, Sendable {
    case loadModel(LoadModelRequest)
    case separate(SeparateRequest)
    case getStatus
    case exit

    public static let commandNames = ["load_model", "separate", "get_status", "exit"]

    /// Parses one stdin line.
    /// - Throws: `WorkerError` for bad JSON, a missing or unknown `cmd`, a missing or ill-typed field.
    public static func parse(_ line: String) throws -> WorkerRequest {
        guard let object = try JSONValue.parse(line).objectValue else { throw WorkerError.notAnObject(line: line) }
        let fields = Fields(object: object, command: "the command")
        guard let command = try fields.string("cmd") else { throw WorkerError.missingField(command: "the command", field: "cmd") }
        switch command {
        case "load_model":
            return .loadModel(try LoadModelRequest(Fields(object: object, command: command)))
        case "separate":
            return .separate(try SeparateRequest(Fields(object: object, command: command)))
        case "get_status":
            return .getStatus
        case "exit":
            return .exit
        default:
            throw WorkerError.unknownCommand(command)
        }
    }
}

/// `load_model`: the model's files, one by one as the packaged worker takes them, or one `model`
/// path (a folder or a converted `.safetensors`, as `--model` takes it).
public struct LoadModelRequest: Equatable, Sendable {
    public var model: String?
    /// Upstream's YAML config. Not read: the network's widths come from the checkpoint's shapes.
    public var configPath: String?
    public var checkpointPath: String?
    public var clapCheckpointPath: String?
    public var robertaDirectory: String?
    /// Accepted and echoed; the weights are always memory-mapped.
    public var mmap: Bool
    /// Accepted and echoed: the packaged worker computes on it; this one computes on the CPU.
    public var device: String?
    /// The output format of this session's `separate`s (nil: the worker's `--output-format`).
    public var outputFormat: OutputFormat?
    /// Accepted and echoed ("auto" or "force" with a value); there is one STFT, FFTW's.
    public var useTorchSTFTMode: String
    public var useTorchSTFTValue: Bool
    public var autoSTFTSeconds: Double
    /// The packaged worker's threshold for `"use_chunk": "auto"`: inputs at least this long are chunked.
    public var autoChunkSeconds: Double

    public static let defaultAutoChunkSeconds = 30.0

    public init(model: String? = nil, configPath: String? = nil, checkpointPath: String? = nil,
                clapCheckpointPath: String? = nil, robertaDirectory: String? = nil) {
        self.model = model
        self.configPath = configPath
        self.checkpointPath = checkpointPath
        self.clapCheckpointPath = clapCheckpointPath
        self.robertaDirectory = robertaDirectory
        mmap = false
        useTorchSTFTMode = "force"
        useTorchSTFTValue = false
        autoSTFTSeconds = 60
        autoChunkSeconds = Self.defaultAutoChunkSeconds
    }

    init(_ fields: Fields) throws {
        self.init(model: try fields.string("model"), configPath: try fields.string("config_path"),
                  checkpointPath: try fields.string("checkpoint_path"),
                  clapCheckpointPath: try fields.string("clap_checkpoint_path"),
                  robertaDirectory: try fields.string("roberta_dir"))
        mmap = try fields.flag("mmap") ?? false
        device = try fields.string("device")
        outputFormat = try fields.outputFormat()
        if case .string(let text)? = fields.object["use_torch_stft"], text.lowercased() == "auto" {
            useTorchSTFTMode = "auto"
        } else {
            useTorchSTFTValue = try fields.flag("use_torch_stft") ?? false
        }
        autoSTFTSeconds = try fields.bounded("auto_stft_seconds", RunLimits.thresholdSeconds) ?? 60
        autoChunkSeconds = try fields.bounded("chunk_seconds", RunLimits.thresholdSeconds) ?? Self.defaultAutoChunkSeconds
    }
}

/// `separate`: one file in, one file out per query (and the rest, when asked), through the
/// streaming pipeline. The single-string form is the packaged worker's; `"text"` may also be a
/// list, with `"output"` a list of as many paths or a pattern whose `{query}` each query fills.
public struct SeparateRequest: Equatable, Sendable {
    public enum Chunking: Equatable, Sendable {
        /// Windows of `chunk_seconds` with `overlap_seconds` cross-faded.
        case on
        /// One pass over the whole input: a single window as long as the file.
        case off
        /// One pass when the input is shorter than the auto threshold (load_model's
        /// `chunk_seconds`, 30 s by default), windows otherwise.
        case auto
    }

    public var input: String
    /// One output per query, in the order of `texts`.
    public var outputs: [String]
    /// The queries, one stem each. The packaged worker separates "speech" when none is given; so do we.
    public var texts: [String]
    /// Our addition: also write the input minus every stem here.
    public var rest: String?
    /// The first (for the packaged form, the only) output.
    public var output: String {
        get { outputs[0] }
        set { outputs[0] = newValue }
    }
    /// The first (for the packaged form, the only) query.
    public var text: String {
        get { texts[0] }
        set { texts[0] = newValue }
    }
    /// Whether `"text"` was a list (the answer then echoes a list).
    public var listsTexts = false
    /// Our addition: a query embedding file (512 float32, raw or .npy) instead of the text.
    public var embedding: String?
    public var chunking: Chunking
    public var chunkSeconds: Double?
    public var overlapSeconds: Double?
    public var outputSampleRate: Int?
    /// The packaged worker's format or the input's (nil: the session's, from load_model or the flag).
    public var outputFormat: OutputFormat?
    public var remove: Bool
    /// Our addition: separate the mono mix once and write it to every channel.
    public var downmix: Bool
    /// Our addition: "auto" (the loaded model, else the built-in engine), "audiosep", "dsp", "identity".
    public var engine: EngineChoice

    public static let defaultText = "speech"

    public init(input: String, output: String, text: String = SeparateRequest.defaultText, chunking: Chunking = .auto) {
        self.input = input
        self.outputs = [output]
        self.texts = [text]
        self.chunking = chunking
        remove = false
        downmix = false
        engine = .auto
    }

    init(_ fields: Fields) throws {
        guard let input = try fields.string("input"), !input.isEmpty else { throw fields.missing("input") }
        let texts = try fields.strings("text")
        let outputs = try fields.strings("output")
        guard let outputs, !outputs.isEmpty, outputs.allSatisfy({ !$0.isEmpty }) else { throw fields.missing("output") }
        self.init(input: input, output: outputs[0], text: texts?.first ?? Self.defaultText)
        if let texts, case .array? = fields.object["text"] {
            guard !texts.isEmpty else {
                throw WorkerError.invalidField(field: "text", value: "[]", expected: "a query, or a list of at least one")
            }
            listsTexts = true
            self.texts = texts
            if outputs.count == 1, texts.count > 1 {
                guard StemNames.isPattern(outputs[0]) else {
                    throw WorkerError.invalidField(field: "output", value: outputs[0],
                                                   expected: "a list of \(texts.count) paths, one per text, or a path with {query}")
                }
                self.outputs = texts.map { StemNames.expand(outputs[0], query: $0) }
            } else if outputs.count == 1, StemNames.isPattern(outputs[0]) {
                self.outputs = [StemNames.expand(outputs[0], query: texts[0])]
            } else {
                guard outputs.count == texts.count else {
                    throw WorkerError.invalidField(field: "output", value: "\(outputs.count) paths",
                                                   expected: "one path per text (\(texts.count)), or a path with {query}")
                }
                self.outputs = outputs
            }
        } else {
            guard outputs.count == 1, case .string? = fields.object["output"] else {
                throw WorkerError.invalidField(field: "output", value: "a list", expected: "one path for one text (give \"text\" as a list)")
            }
        }
        rest = try fields.string("rest")
        embedding = try fields.string("embedding")
        switch fields.object["use_chunk"] {
        case nil, .null?:
            chunking = .auto
        case .string(let text)? where text.lowercased() == "auto":
            chunking = .auto
        default:
            chunking = try fields.flag("use_chunk")! ? .on : .off
        }
        chunkSeconds = try fields.bounded("chunk_seconds", RunLimits.chunkSeconds)
        overlapSeconds = try fields.bounded("overlap_seconds", RunLimits.overlapSeconds)
        outputSampleRate = try fields.bounded("output_sample_rate", RunLimits.sampleRate).map { Int($0) }
        outputFormat = try fields.outputFormat()
        remove = try fields.flag("remove") ?? false
        downmix = try fields.flag("downmix") ?? false
        let engineName = try fields.string("engine") ?? "auto"
        guard let choice = EngineChoice(rawValue: engineName) else {
            throw WorkerError.invalidField(field: "engine", value: engineName, expected: EngineChoice.names.joined(separator: ", "))
        }
        engine = choice
    }
}

/// Typed access to a command's fields. JSON null counts as absent.
struct Fields {
    let object: JSONObject
    let command: String

    func missing(_ name: String) -> WorkerError { .missingField(command: command, field: name) }

    private func present(_ name: String) -> JSONValue? {
        guard let value = object[name], value != .null else { return nil }
        return value
    }

    private func invalid(_ name: String, _ value: JSONValue, _ expected: String) -> WorkerError {
        .invalidField(field: name, value: value.encoded, expected: expected)
    }

    /// A string, or a list of strings (the list form of `text` and `output`).
    func strings(_ name: String) throws -> [String]? {
        guard let value = present(name) else { return nil }
        switch value {
        case .string(let text):
            return [text]
        case .array(let items):
            return try items.map { item in
                guard case .string(let text) = item else { throw invalid(name, value, "a string or a list of strings") }
                return text
            }
        default:
            throw invalid(name, value, "a string or a list of strings")
        }
    }

    func string(_ name: String) throws -> String? {
        guard let value = present(name) else { return nil }
        guard case .string(let text) = value else { throw invalid(name, value, "a string") }
        return text
    }

    /// A number, or a string holding a decimal one (the packaged worker takes both).
    func number(_ name: String) throws -> Double? {
        guard let value = present(name) else { return nil }
        switch value {
        case .number(let number) where number.isFinite:
            return number
        case .string(let text):
            if let number = RunLimits.decimal(text), number.isFinite { return number }
        default:
            break
        }
        throw invalid(name, value, "a number")
    }

    /// A number within `rule`'s bounds: the filter's own for the same quantity (`RunLimits`),
    /// so that no value the filter refuses reaches a run from here.
    func bounded(_ name: String, _ rule: RunLimits.Rule) throws -> Double? {
        guard let value = try number(name) else { return nil }
        do {
            return try rule.check(value, as: JSONValue.format(value))
        } catch let error as RunLimitError {
            throw WorkerError.invalidField(field: name, value: error.value, expected: "\(rule.quantity), \(rule.bounds)")
        }
    }

    /// `output_format`: "packaged" or "input", any case.
    func outputFormat() throws -> OutputFormat? {
        guard let name = try string("output_format") else { return nil }
        guard let format = OutputFormat(rawValue: name.lowercased()) else {
            throw WorkerError.invalidField(field: "output_format", value: name, expected: OutputFormat.names.joined(separator: " or "))
        }
        return format
    }

    /// true/false, 0/1, or the strings "true"/"false"/"1"/"0"/"yes"/"no".
    func flag(_ name: String) throws -> Bool? {
        guard let value = present(name) else { return nil }
        switch value {
        case .bool(let flag):
            return flag
        case .number(let number) where number == 0 || number == 1:
            return number == 1
        case .string(let text):
            switch text.lowercased() {
            case "true", "1", "yes": return true
            case "false", "0", "no": return false
            default: break
            }
        default:
            break
        }
        throw invalid(name, value, "true or false")
    }
}
