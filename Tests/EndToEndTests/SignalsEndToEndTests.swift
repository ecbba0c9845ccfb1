import Foundation
import XCTest

/// What a pipeline does to a long-running filter: readers that leave, signals.
final class SignalsEndToEndTests: XCTestCase {
    func testAClosedStderrDoesNotStopTheRunOrLoseOutput() throws {
        try Harness.shell("sox -n -r 44100 -c 2 -b 16 in-stderr.wav synth 6 sine 440 vol 0.5")
        // Progress goes to a reader that leaves after 5 bytes; the output file must still be whole.
        let run = try Harness.shell("$BIN --engine identity --chunk 1 --overlap 0.1 --progress -i in-stderr.wav -o out-stderr.wav 2>&1 | head -c 5 > /dev/null")
        XCTAssertEqual(run.status, 0, run.stderr)
        let output = try Harness.readAudio(Harness.path("out-stderr.wav"))
        XCTAssertEqual(output.channels.first?.count, 6 * 44_100)
    }
}
