import Foundation
import Text
import Weights

/// Writes one `.safetensors` file with just the tensors inference needs (`audiosep-stream convert`),
/// with upstream's override order already applied and the tokenizer files in the metadata.
/// Loading it is a memory map, nothing more.
public enum ModelConverter {
    public enum Precision: String, CaseIterable, Sendable { case f32, bf16 }

    /// Prefixes of the tensors inference reads: the separation network and the CLAP text path.
    static let keptPrefixes = ["ss_model.", "query_encoder.model.text_branch.", "query_encoder.model.text_projection."]

    /// Whether inference uses `key`: not torchlibrosa's DFT matrices and window (we use FFTW),
    /// not BatchNorm's step counters.
    static func isNeeded(_ key: String) -> Bool {
        guard keptPrefixes.contains(where: key.hasPrefix) else { return false }
        if key.hasPrefix("ss_model.base.stft.") || key.hasPrefix("ss_model.base.istft.") { return false }
        if key.hasSuffix(".num_batches_tracked") || key.hasSuffix(".position_ids") { return false }
        return true
    }

    public struct Summary: Sendable {
        public var tensors: Int
        public var parameters: Int
        public var bytes: Int
    }

    /// Writes the converted model to `path`. The output is checked first, before any weight is
    /// read: a device, FIFO or folder, a missing folder, or one of the model's own files is refused.
    public static func convert(_ files: ModelFiles, to path: String, precision: Precision = .f32) throws -> Summary {
        let output = try ReplacedFile(path: path, inputs: files.inputPaths)
        let weights = try MappedWeights(files: files)
        // Bind the network first: a checkpoint that does not make a whole model is refused here.
        _ = try ResUNet30(weights, prefix: CheckpointLayout.networkPrefix, options: .init(convolution: .im2col))
        var metadata = ["format": ModelFiles.convertedFormat, "precision": precision.rawValue]
        if let roberta = files.robertaDirectory {
            for name in ["vocab.json", "merges.txt"] {
                let file = (roberta as NSString).appendingPathComponent(name)
                if let text = try? String(contentsOfFile: file, encoding: .utf8) { metadata[name] = text }
            }
        }
        if let heads = TextEncoder.attentionHeads(files) { metadata["text.heads"] = String(heads) }
        var writer = SafeTensorsWriter(metadata: metadata)
        var summary = Summary(tensors: 0, parameters: 0, bytes: 0)
        for key in weights.tensors.keys.sorted() where isNeeded(key) {
            let view = weights.tensors[key]!
            let values = try weights.floats(key)  // NaN or infinity refused, not written
            switch precision {
            case .f32: try writer.add(key, shape: view.shape, floats: values)
            case .bf16: try writer.add(key, shape: view.shape, bfloat16: values)
            }
            summary.tensors += 1
            summary.parameters += values.count
        }
        try writer.write(to: output)
        summary.bytes = (try? FileManager.default.attributesOfItem(atPath: output.target)[.size] as? Int) ?? 0
        return summary
    }
}
