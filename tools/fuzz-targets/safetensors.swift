// libFuzzer target: a safetensors file (header length, JSON header, data section) as the
// engine opens one, every tensor converted to floats, then bound as the networks with the
// attention heads its metadata gives. Every failure must be a WeightsError or ModelError.
@testable import AudioSep
import Foundation
@testable import Text
@testable import Weights

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafeTensors(_ data: UnsafePointer<UInt8>?, _ count: Int) -> Int32 {
    let bytes = fuzzBytes(data, count)
    do {
        let path = writeScratch(bytes)
        let file = try SafeTensorsFile(path: path)
        for (name, view) in file.tensors {
            precondition(view.elementCount <= bytes.count, "\(name): \(view.shape)")
            let values = try view.floats()
            precondition(values.count == view.elementCount, name)
        }
        var weights = MappedWeights()
        weights.overlay(file.tensors, from: path)
        _ = try? ResUNet30(weights, prefix: CheckpointLayout.networkPrefix)
        let files = ModelFiles(safetensors: path)
        _ = try? TextEncoder(weights, heads: TextEncoder.attentionHeads(files))
    } catch is WeightsError {
    } catch {
        fatalError("untyped error: \(error)")
    }
    return 0
}
