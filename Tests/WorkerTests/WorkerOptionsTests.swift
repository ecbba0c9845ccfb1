@testable import Worker
import XCTest

final class WorkerOptionsTests: XCTestCase {
    func testMaxCachedModelsFromFlagEnvironmentOrDefault() throws {
        XCTAssertEqual(try WorkerOptions.maxCachedModels(flag: nil, environment: [:]), 1)
        XCTAssertEqual(try WorkerOptions.maxCachedModels(flag: nil, environment: ["AUDIOSEP_MAX_CACHED_MODELS": "3"]), 3)
        XCTAssertEqual(try WorkerOptions.maxCachedModels(flag: 2, environment: ["AUDIOSEP_MAX_CACHED_MODELS": "3"]), 2)
        XCTAssertEqual(try WorkerOptions.maxCachedModels(flag: 0, environment: [:]), 0)
        XCTAssertEqual(try WorkerOptions.maxCachedModels(flag: nil, environment: ["AUDIOSEP_MAX_CACHED_MODELS": ""]), 1)
        XCTAssertThrowsError(try WorkerOptions.maxCachedModels(flag: nil, environment: ["AUDIOSEP_MAX_CACHED_MODELS": "many"]))
        XCTAssertThrowsError(try WorkerOptions.maxCachedModels(flag: -1, environment: [:]))
    }
}
