// libFuzzer target: a whole PyTorch checkpoint (zip + pickle + tensor views) as the engine
// opens one, every tensor converted to floats, then bound as the separation network. Every
// failure must be a WeightsError or ModelError, and no tensor may hold more values than its
// file has bytes.
@testable import AudioSep
import Foundation
@testable import Text
@testable import Weights

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCheckpoint(_ data: UnsafePointer<UInt8>?, _ count: Int) -> Int32 {
    let bytes = fuzzBytes(data, count)
    do {
        let path = writeScratch(bytes)
        let checkpoint = try TorchCheckpoint(path: path)
        for (name, view) in checkpoint.tensors {
            precondition(view.elementCount <= bytes.count, "\(name): \(view.shape)")
            let values = try view.floats()
            precondition(values.count == view.elementCount, name)
        }
        var weights = MappedWeights()
        weights.overlay(checkpoint.tensors, from: path)
        _ = try? ResUNet30(weights, prefix: "")
        _ = try? ResUNet30(weights, prefix: CheckpointLayout.networkPrefix)
        _ = try? TextEncoder(weights)
    } catch is WeightsError {
    } catch {
        fatalError("untyped error: \(error)")
    }
    return 0
}
