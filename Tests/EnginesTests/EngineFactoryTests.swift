import Engines
import Separation
import XCTest

final class EngineFactoryTests: XCTestCase {
    func testIdentityReturnsItsInputAtAudioSepsRate() throws {
        let engine = try EngineFactory.make(name: "identity", query: nil, model: nil, embedding: nil)
        XCTAssertEqual(engine.sampleRate, 32_000)
        XCTAssertEqual(try engine.separate([0.5, -0.25, 0]), [0.5, -0.25, 0])
    }

    func testUnknownEngineAndMissingEngineAreTypedErrors() {
        XCTAssertThrowsError(try EngineFactory.make(name: "demucs", query: "vocals", model: nil, embedding: nil)) {
            XCTAssertEqual($0 as? EngineError, .unknownEngine("demucs"))
            XCTAssertTrue("\($0)".contains("identity"), "the message lists the known engines")
        }
        XCTAssertThrowsError(try EngineFactory.make(name: "auto", query: "a dog barking", model: nil, embedding: nil)) {
            guard case EngineError.unsupportedQuery = $0 else { return XCTFail("\($0)") }
        }
    }
}
