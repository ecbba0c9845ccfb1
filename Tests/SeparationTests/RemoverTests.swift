import Separation
import XCTest

final class RemoverTests: XCTestCase {
    func testRemoverReturnsTheResidual() throws {
        final class Half: Separator {
            let name = "half", sampleRate = 16_000
            func separate(_ samples: [Float]) throws -> [Float] { samples.map { $0 / 2 } }
        }
        let remover = Remover(Half())
        XCTAssertEqual(remover.sampleRate, 16_000)
        XCTAssertEqual(try remover.separate([1, -2, 4]), [0.5, -1, 2])
        XCTAssertEqual(try Remover(IdentityEngine()).separate([1, 2]), [0, 0])
    }

    func testRemoverRejectsAnEngineThatChangesLength() {
        final class Short: Separator {
            let name = "short", sampleRate = 32_000
            func separate(_ samples: [Float]) throws -> [Float] { Array(samples.dropLast()) }
        }
        XCTAssertThrowsError(try Remover(Short()).separate([1, 2, 3])) {
            XCTAssertEqual($0 as? EngineError, .wrongOutputLength(engine: "short", got: 2, expected: 3))
        }
    }
}
