import DSP
import Foundation
import Separation
import XCTest

final class DSPStemsTests: XCTestCase {
    /// Each stem of a several-query engine is exactly the one-query engine's output, mono and stereo,
    /// for queries that share a transform (vocals, no vocals) and ones that do not (drums, bass).
    func testEachStemIsTheOneQueryEnginesOutput() throws {
        var state: UInt64 = 7
        let frames = 44_100 * 3
        let left = (0..<frames).map { index -> Float in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return 0.2 * sin(Float(index) * 0.031) + 0.1 * sin(Float(index) * 0.0021) + Float(Int64(bitPattern: state >> 11) % 1000) / 10_000
        }
        let right = left.enumerated().map { $0.element * 0.6 + (($0.offset % 441) < 20 ? 0.3 : 0) }
        let queries = ["vocals", "drums", "no vocals", "bass", "without drums", "piano"]
        for threads in [1, 2] {
            let stems = try DSPStems(queries: queries, threads: threads)
            XCTAssertEqual(stems.stemCount, 6)
            XCTAssertEqual(stems.stemsAskForRest, [false, false, false, false, true, false])
            for channels in [[left], [left, right]] {
                let together = try stems.separate(channels: channels)
                for (index, query) in queries.enumerated() {
                    let alone = try DSPEngine(query: query).separate(channels: channels)[0]
                    XCTAssertEqual(together[index], alone, "\(query), \(channels.count) channels, \(threads) threads")
                }
            }
        }
    }
}
