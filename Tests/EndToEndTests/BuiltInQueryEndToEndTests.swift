import Foundation
import TestSupport
import XCTest

/// How the built-in engine reads a query, through the real binary: negations ask for the rest,
/// two classes are refused, and stderr says what was used.
final class BuiltInQueryEndToEndTests: XCTestCase {
    static let input = Harness.path("query-mix.wav")

    override class func setUp() {
        super.setUp()
        _ = try? Harness.shell("sox -R -n -r 44100 -c 2 -b 16 \(input) synth 4 pluck C3 pluck G3 whitenoise vol 0.3 tremolo 4 90")
    }

    func run(_ arguments: String) throws -> (Harness.Result, Data) {
        let output = Harness.path("query-\(abs(arguments.hashValue)).wav")
        let result = try Harness.shell("$BIN --engine dsp \(arguments) < \(Self.input) > \(output)")
        return (result, (try? Data(contentsOf: URL(fileURLWithPath: output))) ?? Data())
    }

    func testNoVocalsIsTheAccompaniment() throws {
        let (negated, negatedOutput) = try run("'no vocals'")
        XCTAssertEqual(negated.status, 0, negated.stderr)
        XCTAssertEqual(negated.stderr, "audiosep-stream: built-in engine: 'no vocals' → accompaniment\n")
        let (music, musicOutput) = try run("music")
        XCTAssertEqual(music.status, 0, music.stderr)
        XCTAssertEqual(negatedOutput, musicOutput)
        let (vocals, vocalsOutput) = try run("vocals")
        XCTAssertEqual(vocals.status, 0, vocals.stderr)
        XCTAssertNotEqual(vocalsOutput, negatedOutput, "'no vocals' is not 'vocals'")
    }

    func testWithoutDrumsIsTheRestOfTheDrums() throws {
        let (negated, negatedOutput) = try run("'without drums'")
        XCTAssertEqual(negated.status, 0, negated.stderr)
        XCTAssertEqual(negated.stderr, "audiosep-stream: built-in engine: 'without drums' → everything but percussion\n")
        let (removed, removedOutput) = try run("drums --remove")
        XCTAssertEqual(removed.status, 0, removed.stderr)
        XCTAssertEqual(negatedOutput, removedOutput)
        // And --remove on a negated query gives the class itself.
        let (twice, twiceOutput) = try run("drumless --remove")
        XCTAssertEqual(twice.status, 0, twice.stderr)
        let (drums, drumsOutput) = try run("drums")
        XCTAssertEqual(drums.status, 0, drums.stderr)
        XCTAssertEqual(twiceOutput, drumsOutput)
    }

    func testTwoClassesAreRefusedInOneLineInEitherOrder() throws {
        for query in ["vocals and drums", "drums and vocals"] {
            let (result, _) = try run("'\(query)'")
            XCTAssertEqual(result.status, 1)
            XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
            XCTAssertTrue(result.stderr.contains("one thing at a time") && result.stderr.contains("'voice'")
                          && result.stderr.contains("'percussion'"), result.stderr)
        }
    }
}
