import Engine
import Foundation
import XCTest

/// The Swift CLAP text encoder against our PyTorch reference (tools/reference/clap_text_reference.py)
/// on the tiny fixture model, loaded through the three-file override stack upstream uses.
final class TextEncoderTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/clap-tiny").path
    static let files = ModelFiles(checkpoint: fixtures + "/audiosep.ckpt", clapCheckpoint: fixtures + "/clap.pt",
                                  robertaDirectory: fixtures + "/roberta-base")

    static func sequences() throws -> [[Int]] {
        try JSONDecoder().decode([[Int]].self, from: Data(contentsOf: URL(fileURLWithPath: fixtures + "/ids.json")))
    }

    static func expectedEmbeddings() throws -> [[Float]] {
        let data = try Data(contentsOf: URL(fileURLWithPath: fixtures + "/embeddings.f32"))
        let all = data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        return stride(from: 0, to: all.count, by: 512).map { Array(all[$0..<($0 + 512)]) }
    }

    func testEmbeddingsMatchTheReferenceForEverySequence() throws {
        let encoder = try AudioSepLoader.textEncoder(Self.files)
        XCTAssertEqual(encoder.heads, 4, "from roberta-base/config.json")
        XCTAssertEqual(encoder.layerCount, 2)
        XCTAssertEqual(encoder.hidden, 32)
        let expected = try Self.expectedEmbeddings()
        for (index, ids) in try Self.sequences().enumerated() {
            let embedding = try encoder.embed(ids)
            let cosine = zip(embedding, expected[index]).reduce(0) { $0 + $1.0 * $1.1 }
            let error = zip(embedding, expected[index]).map { abs($0 - $1) }.max()!
            XCTAssertGreaterThanOrEqual(cosine, 0.99999, "sequence \(index) (\(ids.count) tokens)")
            XCTAssertLessThanOrEqual(error, 1e-4, "sequence \(index) (\(ids.count) tokens)")
        }
    }

    func testEveryLayerMatchesTheReference() throws {
        let encoder = try AudioSepLoader.textEncoder(Self.files)
        let reference = try SafeTensorsFile(path: Self.fixtures + "/intermediates.safetensors")
        var seen: [String: [Float]] = [:]
        _ = try encoder.embed(try Self.sequences()[3]) { seen[$0] = $1 }
        for name in ["embeddings", "layers.0.output", "layers.1.output", "pooler_output", "projection_output"] {
            let expected = try reference.tensor(name).floats()
            let actual = try XCTUnwrap(seen[name], name)
            XCTAssertEqual(actual.count, expected.count, name)
            XCTAssertLessThanOrEqual(zip(actual, expected).map { abs($0 - $1) }.max()!, 2e-5, name)
        }
    }

    func testTheOverrideOrderMatters() throws {
        // Without the AudioSep checkpoint's overrides the embedding is a different one.
        let clapOnly = try AudioSepLoader.textEncoder(ModelFiles(clapCheckpoint: Self.fixtures + "/clap.pt",
                                                                 robertaDirectory: Self.fixtures + "/roberta-base"))
        let full = try AudioSepLoader.textEncoder(Self.files)
        let ids = try Self.sequences()[2]
        let difference = zip(try clapOnly.embed(ids), try full.embed(ids)).map { abs($0 - $1) }.max()!
        XCTAssertGreaterThan(difference, 0.1)
    }

    func testBadTokenSequencesAreTypedErrors() throws {
        let encoder = try AudioSepLoader.textEncoder(Self.files)
        XCTAssertThrowsError(try encoder.embed([])) { XCTAssertTrue("\($0)".contains("0 tokens"), "\($0)") }
        XCTAssertThrowsError(try encoder.embed([0, 2000, 2])) { XCTAssertTrue("\($0)".contains("token id 2000"), "\($0)") }
        XCTAssertThrowsError(try encoder.embed([Int](repeating: 5, count: 513)))
    }
}
