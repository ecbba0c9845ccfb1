import Foundation

/// Where an AudioSep model's files are: what a user downloads for AudioSep (the Lightning
/// checkpoint, the CLAP checkpoint, a `roberta-base/` folder) or one converted `.safetensors`.
public struct ModelFiles: Equatable, Sendable {
    /// The AudioSep Lightning checkpoint (`audiosep_base_4M_steps.ckpt`), keys `ss_model.…`.
    public var checkpoint: String?
    /// The CLAP checkpoint (`music_speech_audioset_epoch_15_esc_89.98.pt`).
    public var clapCheckpoint: String?
    /// The `roberta-base/` folder with the tokenizer files.
    public var robertaDirectory: String?
    /// A file written by `audiosep-stream convert`.
    public var safetensors: String?

    public init(checkpoint: String? = nil, clapCheckpoint: String? = nil, robertaDirectory: String? = nil,
                safetensors: String? = nil) {
        self.checkpoint = checkpoint
        self.clapCheckpoint = clapCheckpoint
        self.robertaDirectory = robertaDirectory
        self.safetensors = safetensors
    }

    public var isEmpty: Bool { checkpoint == nil && safetensors == nil }

    /// The weight files, for messages.
    public var label: String {
        let names = [safetensors, checkpoint, clapCheckpoint].compactMap { $0 }
        return names.isEmpty ? "no model files" : names.joined(separator: " + ")
    }

    /// Every file a model is read from (those that exist are what an output must not replace).
    public var inputPaths: [String] {
        var paths = [checkpoint, clapCheckpoint, safetensors].compactMap { $0 }
        if let robertaDirectory {
            for name in ["vocab.json", "merges.txt", "config.json", "model.safetensors", "pytorch_model.bin"] {
                paths.append((robertaDirectory as NSString).appendingPathComponent(name))
            }
        }
        return paths
    }

    /// The default place a model is looked for when none is named.
    public static var cacheDirectory: String {
        let home = ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()
        return (home as NSString).appendingPathComponent(".cache/audiosep-stream")
    }

    /// The `format` metadata `convert` writes, which marks a file as ours.
    public static let convertedFormat = "audiosep-stream/1"
    /// The name the README gives a converted model in a folder (`~/.cache/audiosep-stream/`).
    public static let convertedName = "audiosep.safetensors"

    /// Resolves the model from explicit flags, then `AUDIOSEP_MODEL`, then the cache folder.
    /// Returns nil when nothing was named and nothing was found (the caller may fall back).
    /// - Throws: `ModelError.noModel` when a named path holds no model; `ambiguousModel` or
    ///   `noConvertedModel` for a folder whose `.safetensors` do not single one out.
    public static func locate(model: String?, checkpoint: String?, clapCheckpoint: String?, robertaDirectory: String?,
                              environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ModelFiles? {
        if checkpoint != nil {
            return ModelFiles(checkpoint: checkpoint, clapCheckpoint: clapCheckpoint, robertaDirectory: robertaDirectory)
        }
        if let model {
            guard let files = try resolve(model) else { throw ModelError.noModel(searched: [model]) }
            return files
        }
        if let named = environment["AUDIOSEP_MODEL"], !named.isEmpty {
            guard let files = try resolve(named) else { throw ModelError.noModel(searched: ["AUDIOSEP_MODEL=\(named)"]) }
            return files
        }
        return try resolve(cacheDirectory)
    }

    /// What `path` holds, or nil when nothing there is a model, or when the folder's choice is
    /// unclear (`resolve` says why).
    public static func inspect(_ path: String) -> ModelFiles? {
        (try? resolve(path)) ?? nil
    }

    /// What `path` holds: a `.safetensors` file, a checkpoint file, or a folder of AudioSep's files.
    /// In a folder, a `.safetensors` counts only when it is ours (`format` metadata
    /// `audiosep-stream/1`) or named `audiosep.safetensors`, never just any one: a folder of
    /// downloads may hold unrelated ones. Several that count, or `.safetensors` of which none
    /// does, throw `ModelError.ambiguousModel` / `.noConvertedModel` naming them.
    public static func resolve(_ path: String) throws -> ModelFiles? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return nil }
        if !isDirectory.boolValue {
            return path.hasSuffix(".safetensors") ? ModelFiles(safetensors: path) : ModelFiles(checkpoint: path)
        }
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
        func inFolder(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }
        let safetensors = names.filter { $0.hasSuffix(".safetensors") }
        let converted = safetensors.filter {
            $0 == convertedName || SafeTensorsFile.headerMetadata(path: inFolder($0))?["format"] == convertedFormat
        }
        if converted.count > 1 { throw ModelError.ambiguousModel(folder: path, candidates: converted) }
        if let only = converted.first { return ModelFiles(safetensors: inFolder(only)) }
        if !safetensors.isEmpty { throw ModelError.noConvertedModel(folder: path, found: safetensors) }
        // Prefer upstream's file names; otherwise any .ckpt and any .pt.
        let checkpoint = names.first { $0 == "audiosep_base_4M_steps.ckpt" } ?? names.first { $0.hasSuffix(".ckpt") }
        guard let checkpoint else { return nil }
        let clap = names.first { $0.hasPrefix("music_speech_audioset") && $0.hasSuffix(".pt") } ?? names.first { $0.hasSuffix(".pt") }
        let roberta = names.contains("roberta-base") ? inFolder("roberta-base") : nil
        return ModelFiles(checkpoint: inFolder(checkpoint), clapCheckpoint: clap.map(inFolder), robertaDirectory: roberta)
    }
}
