import Engines
import Foundation
import Text
import TestSupport
import Weights
import XCTest

/// What of a loaded model's memory-mapped weights the process holds: the text encoder's pages
/// only while a query is encoded, never for a cached query, and none of the network's (it keeps
/// its own forms of them). Counted from /proc/self/pagemap (`MappedPages.residentBytes`), which
/// sees this process's page tables, not the page cache.
final class ModelMemoryTests: XCTestCase {
    static let files = ModelFiles(checkpoint: Fixtures.path("worker-tiny/audiosep.ckpt"),
                                  clapCheckpoint: Fixtures.path("clap-tiny/clap.pt"),
                                  robertaDirectory: Fixtures.path("clap-tiny/roberta-base"))

    func testTheTextEncodersPagesAreResidentOnlyWhileAQueryIsEncoded() throws {
        let cache = EmbeddingCache(directory: NSTemporaryDirectory() + "model-memory-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(atPath: cache.directory) }
        let model = try LoadedModel(files: Self.files)
        XCTAssertNil(model.textUnavailable)
        let encoder = try TextEncoder(files: Self.files)
        let views = encoder.mappedViews
        XCTAssertFalse(views.isEmpty, "the fixture's encoder is memory-mapped")

        // The measure sees pages once they are read: touch the (separately opened) encoder's weights.
        for view in views { _ = try view.floats() }
        let total = try XCTUnwrap(MappedPages.residentBytes(views), "/proc/self/pagemap is readable")
        XCTAssertGreaterThan(total, 16 * MappedPages.pageSize, "the fixture's text weights span many whole pages")
        encoder.releaseWeights()
        XCTAssertEqual(MappedPages.residentBytes(views), 0, "released pages leave the process")
        XCTAssertEqual(try encoder.embed([0, 5, 2]).count, QueryEmbedding.size, "and come back when read again")

        // Loading binds the encoder without reading its weights, and releases the network's pages.
        XCTAssertEqual(model.textEncoderResidentBytes, 0, "loading touched the text encoder's weights")
        XCTAssertEqual(model.mappedResidentBytes, 0, "the network's mapped pages stay resident after binding")

        // Encoding a query reads them, and gives them back once the embedding is computed.
        let encoded = try model.embedding(for: "vocals", disk: cache)
        XCTAssertFalse(encoded.cached)
        XCTAssertEqual(model.textEncoderResidentBytes, 0, "the encoder's weights stay resident after encoding")
        XCTAssertEqual(model.mappedResidentBytes, 0)

        // A model answering from the disk cache never faults them in.
        let fresh = try LoadedModel(files: Self.files)
        let hit = try fresh.embedding(for: "vocals", disk: cache)
        XCTAssertTrue(hit.cached)
        XCTAssertEqual(hit.values, encoded.values)
        XCTAssertEqual(fresh.textEncoderResidentBytes, 0, "a cached query faulted the encoder's weights in")
        XCTAssertEqual(fresh.mappedResidentBytes, 0)
    }

    func testTheEncodersOutputDoesNotDependOnItsPagesBeingReleased() throws {
        let encoder = try TextEncoder(files: Self.files)
        let first = try encoder.embed([0, 5, 2])
        encoder.releaseWeights()
        for view in encoder.mappedViews { _ = try view.floats() }   // resident again, then encoded again
        XCTAssertEqual(try encoder.embed([0, 5, 2]), first)
    }
}
