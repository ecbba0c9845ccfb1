// libFuzzer target: the pickle machine (what torch.save writes as data.pkl) and the search
// for a state dict in the graph it builds. Every failure must be a WeightsError; the graph
// must stay proportional to the pickle's length.
import Foundation
@testable import Weights

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPickle(_ data: UnsafePointer<UInt8>?, _ count: Int) -> Int32 {
    let bytes = fuzzBytes(data, count)
    do {
        let pickle = try bytes.withUnsafeBytes { try Pickle(bytes: $0, file: "fuzz.pkl") }
        _ = TorchCheckpoint.findStateDict(in: pickle)
        let members = pickle.lists.reduce(0) { $0 + $1.count } + pickle.dicts.reduce(0) { $0 + $1.keys.count }
            + pickle.tensors.reduce(0) { $0 + $1.shape.count + $1.strides.count }
        precondition(pickle.nodes.count <= bytes.count + 1, "\(pickle.nodes.count) nodes from \(bytes.count) bytes")
        precondition(members <= Pickle.maximumCopiedMembers(forBytes: bytes.count),
                     "\(members) members from \(bytes.count) bytes")
    } catch is WeightsError {
    } catch {
        fatalError("untyped error: \(error)")
    }
    return 0
}
