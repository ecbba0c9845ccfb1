import Foundation
import Stream
import TestSupport
import XCTest

/// What a long-running filter in a pipeline must do: produce output while input still
/// arrives, stop quickly when its reader goes away, and fail with one clear line.
final class StreamingEndToEndTests: XCTestCase {
    func testOutputArrivesBeforeInputEnds() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Harness.binary)
        process.arguments = ["--engine", "identity", "-t", "raw", "-r", "32000", "-c", "1", "-b", "16", "-e", "signed",
                             "--out-type", "raw", "--chunk", "0.5", "--overlap", "0.1"]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Three seconds of audio, and the pipe stays open.
        input.fileHandleForWriting.write(Data(repeating: 0x11, count: 3 * 32_000 * 2))
        let arrived = DispatchSemaphore(value: 0)
        final class Counter: @unchecked Sendable { var bytes = 0 }
        let counter = Counter()
        let reader = Thread {
            while counter.bytes < 32_000 {
                let data = output.fileHandleForReading.availableData
                if data.isEmpty { break }
                counter.bytes += data.count
            }
            arrived.signal()
        }
        reader.start()
        let inTime = arrived.wait(timeout: .now() + 30) == .success
        XCTAssertTrue(inTime, "no output within 30 s while the input was still open")
        XCTAssertGreaterThanOrEqual(counter.bytes, 32_000, "finished windows were written before end of input")
        XCTAssertTrue(process.isRunning, "the input is still open, so the filter is still running")
        try input.fileHandleForWriting.close()
        _ = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
    }

    func testDownstreamClosingEarlyEndsQuietly() throws {
        // Ten minutes of audio; head takes 1000 bytes and leaves.
        let run = try Harness.shell(
            "sox -n -r 32000 -c 1 -b 16 -t wav - synth 600 sine 440 2>/dev/null | $BIN --engine identity --chunk 1 --overlap 0.1 | head -c 1000 | wc -c; echo \"status ${PIPESTATUS[1]}\"")
        let text = String(decoding: run.stdout, as: UTF8.self)
        XCTAssertTrue(text.contains("1000"), text)
        XCTAssertTrue(text.contains("status 0"), "exits 0 when its reader goes away: \(text)")
        XCTAssertEqual(run.stderr, "", "no error spew")
        XCTAssertLessThan(run.seconds, 20, "stops instead of processing ten minutes of audio nobody reads")
    }

    /// Each bad input or flag: a non-zero exit and exactly one line on stderr naming the problem.
    func testErrorsAreOneClearLine() throws {
        let cases: [(String, String)] = [
            ("printf '' | $BIN --engine identity", "input is empty"),
            ("head -c 4000 /dev/urandom | $BIN --engine identity", "cannot read the input's header"),
            ("head -c 4000 /dev/zero | $BIN --engine identity -t raw -r 8000", "raw input needs -c CHANNELS, -b BITS, -e ENCODING"),
            ("head -c 4000 /dev/zero | $BIN --engine identity -t raw -r 8000 -c 1 -b 12 -e signed", "bits per sample are 8, 16, 24, 32 or 64"),
            ("head -c 4000 /dev/zero | $BIN --engine identity -t raw -r 8000 -c 1 -b 16 -e signed --chunk 2 --overlap 1.5", "overlap 1.5 s is more than half the 2 s window"),
            ("head -c 4000 /dev/zero | $BIN --engine demucs -t raw -r 8000 -c 1 -b 16 -e signed", "unknown engine 'demucs'"),
            ("$BIN --engine identity -i /nonexistent/x.wav", "cannot open '/nonexistent/x.wav'"),
            ("head -c 4000 /dev/zero | $BIN --engine identity -t raw -r 8000 -c 1 -b 16 -e signed --out-bits 16 --out-encoding unsigned", "WAV cannot hold 16-bit unsigned-integer"),
            ("sox -n -t wav - synth 1 sine 300 2>/dev/null | HOME=/nonexistent AUDIOSEP_MODEL= $BIN \"a dog barking\"", "the built-in engine cannot separate 'a dog barking'"),
        ]
        for (command, message) in cases {
            let run = try Harness.shell(command + " > /dev/null")
            XCTAssertNotEqual(run.status, 0, command)
            XCTAssertTrue(run.stderr.contains(message), "\(command): \(run.stderr)")
            XCTAssertEqual(run.stderr.split(separator: "\n").count, 1, "\(command): \(run.stderr)")
            XCTAssertTrue(run.stderr.hasPrefix("audiosep-stream: "), run.stderr)
        }
    }

    func testProgressIsShownOnRequestOnly() throws {
        let input = Harness.path("progress.wav")
        try Harness.shell("sox -n -r 32000 -c 1 -b 16 \(input) synth 4 sine 440")
        let run = try Harness.shell("$BIN --engine identity --progress --chunk 1 --overlap 0.1 < \(input) > /dev/null")
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stderr.contains("real time"), run.stderr)
        XCTAssertTrue(run.stderr.contains("MB"), run.stderr)
        XCTAssertTrue(run.stderr.contains("ETA"), "a redirected file has a known length: \(run.stderr)")
    }
}
