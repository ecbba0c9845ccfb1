import Foundation
import TestSupport
import XCTest

/// The tool started with stdin, stdout or stderr closed (`<&-`, `>&-`, `2>&-`): no descriptor it
/// makes takes their numbers, so nothing reads its own signal pipe (the hang this was) or
/// writes audio where a stream was.
final class ClosedDescriptorsEndToEndTests: XCTestCase {
    func input() throws -> String {
        let path = Harness.path("closed-in.wav")
        if !FileManager.default.fileExists(atPath: path) {
            let made = try Harness.shell("sox -n -r 16000 -c 1 -b 16 \(path) synth 1 sine 440 vol 0.5")
            XCTAssertEqual(made.status, 0, made.stderr)
        }
        return path
    }

    func assertOneLine(_ run: Harness.Result, _ message: String, _ label: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(run.status, 1, "\(label): \(run.stderr)", file: file, line: line)
        XCTAssertEqual(run.stderr.split(separator: "\n").count, 1, "\(label): \(run.stderr)", file: file, line: line)
        XCTAssertTrue(run.stderr.hasPrefix("audiosep-stream: ") && run.stderr.contains(message), "\(label): \(run.stderr)",
                      file: file, line: line)
        XCTAssertLessThan(run.seconds, 20, label, file: file, line: line)
    }

    func testAClosedStdinIsEmptyInputNotAHang() throws {
        for engine in ["identity", "dsp"] {
            let run = try Harness.shell("timeout 20 $BIN vocals --engine \(engine) -q <&- > closed-out.wav")
            assertOneLine(run, "input is empty", "<&- with \(engine)")
        }
        let raw = try Harness.shell("timeout 20 $BIN --engine identity -t raw -r 8000 -c 1 -b 16 -e signed-integer <&- > closed-out.raw")
        assertOneLine(raw, "input is empty", "raw <&-")
        // The worker reads end of input: it exits after its greeting.
        let worker = try Harness.shell("timeout 20 $BIN --worker -q <&-")
        XCTAssertEqual(worker.status, 0, worker.stderr)
        XCTAssertLessThan(worker.seconds, 20)
        XCTAssertTrue(String(decoding: worker.stdout, as: UTF8.self).contains(#""status":"ready""#))
    }

    func testAClosedStdoutIsAnErrorNamingIt() throws {
        let path = try input()
        let filter = try Harness.shell("timeout 20 $BIN vocals --engine identity < \(path) >&-")
        assertOneLine(filter, "standard output is closed", ">&-")
        let worker = try Harness.shell(#"echo '{"cmd":"exit"}' | timeout 20 $BIN --worker >&-"#)
        assertOneLine(worker, "standard output is closed", "worker >&-")
        // With -o, stdout is not needed: the run writes its file.
        let named = try Harness.shell("timeout 20 $BIN vocals --engine identity -i \(path) -o closed-named.wav >&-")
        XCTAssertEqual(named.status, 0, named.stderr)
        XCTAssertEqual(try Harness.readAudio(Harness.path("closed-named.wav")).channels.first?.count, 16000)
    }

    func testAClosedStderrLosesOnlyTheMessages() throws {
        let path = try input()
        let run = try Harness.shell("timeout 20 $BIN vocals --engine identity --progress < \(path) 2>&- > closed-stderr.wav")
        XCTAssertEqual(run.status, 0)
        XCTAssertEqual(try Harness.readAudio(Harness.path("closed-stderr.wav")).channels.first?.count, 16000)
        let failing = try Harness.shell("timeout 20 $BIN vocals --engine identity <&- 2>&- > /dev/null")
        XCTAssertEqual(failing.status, 1, "an error still ends with status 1")
        XCTAssertLessThan(failing.seconds, 20)
        let all = try Harness.shell("timeout 20 $BIN vocals --engine identity <&- >&- 2>&-")
        XCTAssertEqual(all.status, 1)
        XCTAssertLessThan(all.seconds, 20)
    }
}
