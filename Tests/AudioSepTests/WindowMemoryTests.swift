@testable import AudioSep
@testable import Separation
@testable import Weights
import XCTest

/// Memory that grows with the window is had before the window runs, or refused with a typed error.
final class WindowMemoryTests: XCTestCase {
    func testSlotsThatCannotBeHadAreATypedError() {
        let workspace = Workspace(threads: 1)
        // 2^60 floats: no machine has them, and the byte count itself overflows.
        XCTAssertThrowsError(try workspace.reserveSlots(3, floats: 1 << 60)) { error in
            guard case EngineError.outOfMemory = error else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try workspace.reserveSkip(0, floats: 1 << 44)) { error in
            guard case EngineError.outOfMemory = error else { return XCTFail("\(error)") }
        }
        // And the workspace is still usable after the refusal.
        XCTAssertNoThrow(try workspace.reserveSlots(3, floats: 1024))
        XCTAssertNoThrow(try workspace.reserveSkip(0, floats: 1024))
    }

    func testTheWindowEstimateGrowsWithTheWindow() throws {
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/audiosep-tiny")
        let weights = try MappedWeights(files: ModelFiles(checkpoint: fixtures.appendingPathComponent("tiny.ckpt").path))
        let network = try ResUNet30(weights, prefix: CheckpointLayout.networkPrefix, options: .standard)
        let engine = AudioSepEngine(network: network, embedding: [Float](repeating: 0.01, count: 512), threads: 1)
        let ten = engine.windowBytes(samples: 320_000), hundred = engine.windowBytes(samples: 3_200_000)
        XCTAssertGreaterThan(ten, 0)
        XCTAssertEqual(Double(hundred) / Double(ten), 10, accuracy: 0.5, "the estimate is linear in the window")
        XCTAssertNoThrow(try engine.checkWindow(frames: 320_000))
        XCTAssertThrowsError(try engine.checkWindow(frames: 32_000 * 1_000_000)) { error in
            guard case EngineError.windowTooLarge = error else { return XCTFail("\(error)") }
        }
    }
}
