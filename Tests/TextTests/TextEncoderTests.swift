import Foundation
import Text
import Weights
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
        let encoder = try TextEncoder(files: Self.files)
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
        let encoder = try TextEncoder(files: Self.files)
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
        let clapOnly = try TextEncoder(files: ModelFiles(clapCheckpoint: Self.fixtures + "/clap.pt",
                                                                 robertaDirectory: Self.fixtures + "/roberta-base"))
        let full = try TextEncoder(files: Self.files)
        let ids = try Self.sequences()[2]
        let difference = zip(try clapOnly.embed(ids), try full.embed(ids)).map { abs($0 - $1) }.max()!
        XCTAssertGreaterThan(difference, 0.1)
    }

    func testBadTokenSequencesAreTypedErrors() throws {
        let encoder = try TextEncoder(files: Self.files)
        XCTAssertThrowsError(try encoder.embed([])) { XCTAssertTrue("\($0)".contains("0 tokens"), "\($0)") }
        XCTAssertThrowsError(try encoder.embed([0, 2000, 2])) { XCTAssertTrue("\($0)".contains("token id 2000"), "\($0)") }
        XCTAssertThrowsError(try encoder.embed([Int](repeating: 5, count: 513)))
    }
}

/// Text → tokenizer → encoder, against Hugging Face's tokenizer and our reference encoder
/// (Tests/Fixtures/clap-tiny/queries.json, written by tools/reference/make_query_fixtures.py).
final class QueryEncoderTests: XCTestCase {
    struct Query: Decodable { let text: String; let ids: [Int]; let embedding: [Float] }

    static func queries() throws -> [Query] {
        try JSONDecoder().decode([Query].self, from: Data(contentsOf: URL(fileURLWithPath: TextEncoderTests.fixtures + "/queries.json")))
    }

    func testTextQueriesGiveTheReferenceEmbeddings() throws {
        let files = TextEncoderTests.files
        let tokenizer = try QueryEncoder.tokenizer(files)
        for query in try Self.queries() {
            XCTAssertEqual(tokenizer.encode(query.text), query.ids, query.text)
            let embedding = try QueryEncoder.embedding(for: query.text, files: files, cache: nil)
            let cosine = zip(embedding, query.embedding).reduce(0) { $0 + $1.0 * $1.1 }
            XCTAssertGreaterThanOrEqual(cosine, 0.99999, query.text)
            XCTAssertLessThanOrEqual(zip(embedding, query.embedding).map { abs($0 - $1) }.max()!, 1e-4, query.text)
        }
    }

    func testTheCacheServesRepeatedQueriesAndKeysOnTheModel() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("embedding-cache-\(getpid())").path
        try? FileManager.default.removeItem(atPath: directory)
        let cache = EmbeddingCache(directory: directory)
        let files = TextEncoderTests.files
        let fingerprint = EmbeddingCache.fingerprint(files)
        XCTAssertNil(cache.lookup(fingerprint: fingerprint, query: "vocals"))
        let first = try QueryEncoder.embedding(for: "vocals", files: files, cache: cache)
        XCTAssertEqual(cache.lookup(fingerprint: fingerprint, query: "vocals"), first)
        XCTAssertNil(cache.lookup(fingerprint: fingerprint, query: "vocals "), "the exact text is the key")
        XCTAssertNil(cache.lookup(fingerprint: fingerprint + "x", query: "vocals"), "another model is another key")
        // A hit needs neither tokenizer nor encoder: files that hold neither still answer.
        let hollow = ModelFiles(checkpoint: "/nonexistent.ckpt")
        cache.store(first, fingerprint: EmbeddingCache.fingerprint(hollow), query: "vocals")
        XCTAssertEqual(try QueryEncoder.embedding(for: "vocals", files: hollow, cache: cache), first)
        XCTAssertThrowsError(try QueryEncoder.embedding(for: "drums", files: hollow, cache: cache))
        // A damaged entry is a miss, not an error.
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) {
            FileManager.default.createFile(atPath: directory + "/" + name, contents: Data([1, 2, 3]))
        }
        XCTAssertNil(cache.lookup(fingerprint: fingerprint, query: "vocals"))
    }

    func testMissingTokenizerIsNamed() {
        let files = ModelFiles(checkpoint: TextEncoderTests.fixtures + "/audiosep.ckpt", clapCheckpoint: TextEncoderTests.fixtures + "/clap.pt")
        XCTAssertThrowsError(try QueryEncoder.embedding(for: "vocals", files: files, cache: nil)) {
            XCTAssertTrue("\($0)".contains("no tokenizer files"), "\($0)")
        }
    }
}
