import Separation
import XCTest

final class IdentityEngineTests: XCTestCase {
    func testAnEngineWithoutARateFollowsTheInput() throws {
        let engine = IdentityEngine()
        XCTAssertTrue(engine.followsInput)
        let adapted = try XCTUnwrap(engine.adapted(toRate: 96_000))
        XCTAssertEqual(adapted.sampleRate, 96_000)
        XCTAssertEqual(try adapted.separate([1, -2, 3]), [1, -2, 3])
    }

    func testAnEngineGivenARateKeepsIt() {
        let engine = IdentityEngine(sampleRate: 32_000)
        XCTAssertFalse(engine.followsInput)
        XCTAssertNil(engine.adapted(toRate: 44_100))
        XCTAssertEqual(engine.sampleRate, 32_000)
    }
}
