import Foundation

/// Named tensors from memory-mapped files (PyTorch checkpoints, safetensors), later files
/// overriding earlier ones: upstream builds CLAP from roberta-base, overwrites it with the CLAP
/// checkpoint, then with the AudioSep checkpoint (non-strict), and so do we.
public struct MappedWeights: WeightLookup {
    public private(set) var tensors: [String: TensorView] = [:]
    public private(set) var origins: [String: String] = [:]
    /// Every file overlaid, also one that held no tensor (so a missing tensor still names it).
    public private(set) var sources: [String] = []
    public var origin: String {
        sources.isEmpty ? "(no weight files)" : Array(Set(sources)).sorted().joined(separator: " + ")
    }

    public init() {}

    /// Adds every tensor of `source` under `prefix + key`, replacing what was there.
    public mutating func overlay(_ source: [String: TensorView], from path: String, prefix: String = "") {
        sources.append(path)
        for (key, view) in source {
            tensors[prefix + key] = view
            origins[prefix + key] = path
        }
    }

    public func shape(of key: String) -> [Int]? { tensors[key]?.shape }

    public func tensorView(_ key: String) -> TensorView? { tensors[key] }

    /// The tensor in place when it is contiguous float32 (else nil: read it with `floats`), once
    /// checked to hold no NaN or infinity (`WeightsError.nonFiniteValue`).
    public func mappedView(_ key: String) throws -> TensorView? {
        guard let view = tensors[key], view.contiguousFloat32 != nil else { return nil }
        try view.requireFinite()
        return view
    }

    /// The tensor's values; NaN or infinity is refused (`WeightsError.nonFiniteValue`): every
    /// tensor inference uses is read through here or `mappedView` when the model is bound, so
    /// each is scanned once, as it is copied. The copy is what the caller keeps: the tensor's
    /// pages in the mapping are released after it (`MappedPages`), so binding a network does
    /// not hold its weights twice (reading the tensor again faults them back in).
    public func floats(_ key: String) throws -> [Float] {
        guard let view = tensors[key] else { throw ModelError.missingTensor(file: origin, key: key) }
        let values = try view.finiteFloats()
        MappedPages.release([view])
        return values
    }

    /// The weights, in upstream's override order. A converted file keeps the checkpoint's keys.
    public init(files: ModelFiles) throws {
        var weights = MappedWeights()
        if let path = files.safetensors {
            weights.overlay(try SafeTensorsFile(path: path).tensors, from: path)
            self = weights
            return
        }
        // roberta-base first, as Hugging Face ships it (RobertaForMaskedLM: "roberta.…", and an
        // "lm_head.…" nobody reads), under the name CLAP's text branch has inside AudioSep.
        if let roberta = files.robertaDirectory {
            for name in ["model.safetensors", "pytorch_model.bin"] {
                let path = (roberta as NSString).appendingPathComponent(name)
                guard FileManager.default.fileExists(atPath: path) else { continue }
                let tensors = name.hasSuffix(".safetensors") ? try SafeTensorsFile(path: path).tensors : try TorchCheckpoint(path: path).tensors
                var renamed: [String: TensorView] = [:]
                for (key, view) in tensors where !key.hasPrefix("lm_head.") {
                    renamed[key.hasPrefix("roberta.") ? String(key.dropFirst("roberta.".count)) : key] = view
                }
                weights.overlay(renamed, from: path, prefix: CheckpointLayout.textBranchPrefix)
                break
            }
        }
        // Then CLAP (text branch; keys may carry "module."; the reader strips it), under the
        // name AudioSep's checkpoint gives the same tensors, so the AudioSep checkpoint overrides it.
        if let clap = files.clapCheckpoint {
            weights.overlay(try TorchCheckpoint(path: clap).tensors, from: clap, prefix: CheckpointLayout.textPrefix)
        }
        if let checkpoint = files.checkpoint {
            weights.overlay(try TorchCheckpoint(path: checkpoint).tensors, from: checkpoint)
        }
        self = weights
    }
}
