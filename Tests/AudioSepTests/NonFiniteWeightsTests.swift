@testable import AudioSep
import Foundation
@testable import Text
@testable import Weights
import XCTest

/// NaN and infinity in the weights inference uses, and implausible query embeddings, are
/// refused when loaded: one typed error naming the file, the tensor and the value.
final class NonFiniteWeightsTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures").path
    var scratch: String!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("non-finite-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: scratch) }

    /// A copy of `fixture` with float32 tensor `name` (contiguous) given `value` at `index`.
    func damaged(_ fixture: String, _ name: String, index: Int, value: Float) throws -> String {
        let source = Self.fixtures + "/" + fixture
        let view = try fixture.hasSuffix(".safetensors") ? SafeTensorsFile(path: source).tensor(name) : TorchCheckpoint(path: source).tensor(name)
        XCTAssertEqual(view.dtype, .f32)
        XCTAssertTrue(view.isContiguous)
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: source)))
        let at = view.storageByteOffset + (view.storageOffset + index) * 4
        for byte in 0..<4 { bytes[at + byte] = UInt8(truncatingIfNeeded: value.bitPattern >> (8 * UInt32(byte))) }
        let path = scratch + "/" + (fixture as NSString).lastPathComponent
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    func testTheScanFindsTheFirstNonFiniteValueAtAnyPositionAndDType() {
        for count in [0, 1, 31, 32, 33, 64, 100] {
            let clean = (0..<count).map { Float($0) * 0.5 - 10 }
            XCTAssertNil(FiniteScan.firstNonFinite(clean + [Float.greatestFiniteMagnitude, -Float.greatestFiniteMagnitude]))
            for index in 0..<count {
                for bad in [Float.nan, Float.infinity, -Float.infinity, -Float.nan] {
                    var values = clean
                    values[index] = bad
                    XCTAssertEqual(FiniteScan.firstNonFinite(values), index, "\(bad) at \(index) of \(count)")
                    // Unaligned storage takes the element-by-element path.
                    let shifted = [UInt8(0)] + values.withUnsafeBytes { Array($0) }
                    XCTAssertEqual(shifted.withUnsafeBytes { FiniteScan.firstNonFinite(float32: $0.baseAddress! + 1, count: count) }, index)
                    let bits = values.map { UInt16(truncatingIfNeeded: $0.bitPattern >> 16) }
                    XCTAssertEqual(bits.withUnsafeBytes { FiniteScan.firstNonFinite(half: $0.baseAddress!, count: count, infinity: 0x7F80) }, index)
                }
                var half = [UInt16](repeating: 0x3C00, count: count)  // 1.0
                XCTAssertNil(half.withUnsafeBytes { FiniteScan.firstNonFinite(half: $0.baseAddress!, count: count, infinity: 0x7C00) })
                half[index] = 0x7C00  // +inf
                XCTAssertEqual(half.withUnsafeBytes { FiniteScan.firstNonFinite(half: $0.baseAddress!, count: count, infinity: 0x7C00) }, index)
            }
        }
    }

    func testANaNInASafetensorsNetworkTensorIsRefused() throws {
        let path = try damaged("audiosep-tiny/tiny.safetensors", "ss_model.base.after_conv.bias", index: 2, value: .nan)
        XCTAssertThrowsError(try ResUNet30(files: ModelFiles(safetensors: path))) {
            XCTAssertEqual($0 as? WeightsError, .nonFiniteValue(file: path, tensor: "ss_model.base.after_conv.bias", index: 2, value: "nan"))
            XCTAssertEqual("\($0)", "\(path): tensor 'ss_model.base.after_conv.bias' holds nan at index 2: the weights are damaged or diverged")
        }
    }

    func testAnInfinityInACheckpointIsRefusedAndNotConverted() throws {
        let name = "ss_model.base.pre_conv.bias"
        let path = try damaged("audiosep-tiny/tiny.ckpt", name, index: 1, value: -.infinity)
        XCTAssertThrowsError(try ResUNet30(files: ModelFiles(checkpoint: path))) {
            XCTAssertEqual($0 as? WeightsError, .nonFiniteValue(file: path, tensor: name, index: 1, value: "-inf"))
        }
        let output = scratch + "/out.safetensors"
        XCTAssertThrowsError(try ModelConverter.convert(ModelFiles(checkpoint: path), to: output)) {
            XCTAssertEqual($0 as? WeightsError, .nonFiniteValue(file: path, tensor: name, index: 1, value: "-inf"))
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: output))
    }

    /// The text encoder reads its matrices in place from the map: checked there too.
    func testANaNInAMappedTextTensorIsRefused() throws {
        let path = try damaged("clap-tiny/clap.pt", "text_projection.2.weight", index: 7, value: .nan)
        let files = ModelFiles(checkpoint: Self.fixtures + "/clap-tiny/audiosep.ckpt", clapCheckpoint: path,
                               robertaDirectory: Self.fixtures + "/clap-tiny/roberta-base")
        XCTAssertThrowsError(try QueryEncoder.embedding(for: "a dog", files: files, cache: nil)) {
            XCTAssertEqual($0 as? WeightsError, .nonFiniteValue(file: path, tensor: "text_projection.2.weight", index: 7, value: "nan"))
        }
    }

    func testAnEmbeddingOutsideTheBoundIsRefused() throws {
        var values = [Float](repeating: 0.01, count: 512)
        values[3] = QueryEmbedding.maximumMagnitude
        values[4] = -QueryEmbedding.maximumMagnitude
        let bytes = values.withUnsafeBytes { Array($0) }
        XCTAssertEqual(try QueryEmbedding.parse(bytes, origin: "ok.f32"), values, "the bound itself is accepted")
        for (bad, text) in [(Float(1e38), "1e+38"), (-2e4, "-20000.0"), (.nan, "nan"), (.infinity, "inf")] {
            values[300] = bad
            XCTAssertThrowsError(try QueryEmbedding.parse(values.withUnsafeBytes { Array($0) }, origin: "bad.f32")) {
                XCTAssertEqual($0 as? ModelError, .implausibleEmbedding(origin: "bad.f32", index: 300, value: text))
                XCTAssertTrue("\($0)".hasPrefix("bad.f32: query embedding value 300 is \(text); "), "\($0)")
            }
        }
    }
}
