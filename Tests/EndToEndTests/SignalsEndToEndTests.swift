import Foundation
import TestSupport
import XCTest

/// What a pipeline does to a long-running filter: readers that leave, signals.
final class SignalsEndToEndTests: XCTestCase {
    /// "Within a second"; sanitizers (tools/sanitize sets AUDIOSEP_SANITIZER) slow the binary
    /// several times over, so they get more room.
    let promptly = ProcessInfo.processInfo.environment["AUDIOSEP_SANITIZER"] == nil ? 1000 : 5000

    func testAClosedStderrDoesNotStopTheRunOrLoseOutput() throws {
        try Harness.shell("sox -n -r 44100 -c 2 -b 16 in-stderr.wav synth 6 sine 440 vol 0.5")
        // Progress goes to a reader that leaves after 5 bytes; the output file must still be whole.
        let run = try Harness.shell("$BIN --engine identity --chunk 1 --overlap 0.1 --progress -i in-stderr.wav -o out-stderr.wav 2>&1 | head -c 5 > /dev/null")
        XCTAssertEqual(run.status, 0, run.stderr)
        let output = try Harness.readAudio(Harness.path("out-stderr.wav"))
        XCTAssertEqual(output.channels.first?.count, 6 * 44_100)
    }

    /// Feeds `seconds` of audio and then holds the pipe open (as a live source would), signals the
    /// tool after `after` seconds, and reports its exit status and how long it took to exit.
    func interrupt(signal: String, input: String, flags: String, output: String, prelude: String = "",
                   after: Double = 2) throws -> (status: Int, milliseconds: Int, stderr: String) {
        let fifo = "fifo-\(UUID().uuidString.prefix(8))"
        let script = """
            rm -f \(fifo); mkfifo \(fifo)
            \(prelude)
            (\(input); exec sleep 30) > \(fifo) & feeder=$!
            $BIN --engine identity --chunk 1 --overlap 0.1 \(flags) < \(fifo) \(output) 2> \(fifo).err & pid=$!
            sleep \(after); kill -\(signal) $pid; start=$(date +%s%N)
            wait $pid; status=$?; end=$(date +%s%N)
            kill $feeder 2>/dev/null; rm -f \(fifo)
            echo "$status $(( (end - start) / 1000000 ))"
            """
        let run = try Harness.shell(script)
        let fields = String(decoding: run.stdout, as: UTF8.self).split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
        XCTAssertEqual(fields.count, 2, "\(run.stderr)")
        let stderr = (try? String(contentsOfFile: Harness.path("\(fifo).err"), encoding: .utf8)) ?? ""
        return (fields.first ?? -1, fields.last ?? -1, stderr)
    }

    func testSIGINTFinishesWhatArrivedAndPatchesTheHeader() throws {
        let result = try interrupt(signal: "INT", input: "sox -n -r 44100 -c 2 -b 16 -t wav - synth 3 sine 440 vol 0.5 2>/dev/null",
                                   flags: "", output: "> sigint.wav")
        XCTAssertEqual(result.status, 130, result.stderr)
        XCTAssertLessThan(result.milliseconds, promptly, "stops at once instead of waiting for more input")
        XCTAssertEqual(result.stderr.split(separator: "\n"), ["audiosep-stream: stopped by SIGINT: 3.00 s written, the output ended validly"])
        // The header on the file was patched: the sizes in it are the real ones.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: Harness.path("sigint.wav")))
        let riff = bytes[4..<8].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
        XCTAssertEqual(Int(riff), bytes.count - 8)
        let audio = try Harness.readAudio(Harness.path("sigint.wav"))
        XCTAssertEqual(audio.channels[0].count, 3 * 44_100, "everything that arrived was separated and written")
        let soxi = try Harness.shell("soxi -s sigint.wav")
        XCTAssertEqual(String(decoding: soxi.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines), "132300")
    }

    /// A closed terminal (SIGHUP) ends the run as SIGINT does: the output, written to -o under a
    /// temporary name, is ended validly and put under its name; nothing else is left behind.
    func testSIGHUPEndsTheOutputValidly() throws {
        let result = try interrupt(signal: "HUP", input: "sox -n -r 44100 -c 1 -b 16 -t wav - synth 2 sine 440 vol 0.5 2>/dev/null",
                                   flags: "", output: "-o sighup.wav")
        XCTAssertEqual(result.status, 129, result.stderr)
        XCTAssertEqual(result.stderr.split(separator: "\n"), ["audiosep-stream: stopped by SIGHUP: 2.00 s written, the output ended validly"])
        let bytes = try Data(contentsOf: URL(fileURLWithPath: Harness.path("sighup.wav")))
        let riff = bytes[4..<8].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
        XCTAssertEqual(Int(riff), bytes.count - 8, "the header claims what the file does not hold")
        XCTAssertEqual(try Harness.readAudio(Harness.path("sighup.wav")).channels[0].count, 2 * 44_100)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: Harness.directory).filter { $0.contains("sighup.wav.audiosep-") }
        XCTAssertEqual(leftovers, [])
    }

    func testSIGTERMOnRawInputThroughAPipe() throws {
        let result = try interrupt(signal: "TERM", input: "sox -n -r 48000 -c 1 -b 16 -t raw - synth 2.5 sine 300 vol 0.5 2>/dev/null",
                                   flags: "-t raw -r 48000 -c 1 -b 16 -e signed-integer", output: "> out-pipe",
                                   prelude: "rm -f out-pipe; mkfifo out-pipe; cat out-pipe > sigterm.wav &")
        XCTAssertEqual(result.status, 143, result.stderr)
        XCTAssertLessThan(result.milliseconds, promptly)
        let audio = try Harness.readAudio(Harness.path("sigterm.wav"))
        XCTAssertEqual(audio.channels[0].count, 120_000)
        XCTAssertGreaterThan(audio.channels[0].map(abs).max() ?? 0, 0.45)
    }

    func testASignalBeforeAnyInputSaysSo() throws {
        let result = try interrupt(signal: "INT", input: "true", flags: "", output: "> nothing.wav", after: 1)
        XCTAssertEqual(result.status, 130, result.stderr)
        XCTAssertEqual(result.stderr, "audiosep-stream: stopped by SIGINT before any audio arrived\n")
        XCTAssertLessThan(result.milliseconds, promptly, "the header read is interrupted too")
    }

    /// `| head -c 1000` on a live source that then goes quiet: the tool learns of the closed pipe
    /// at once, not when its next write fails (which would wait for more input here).
    func testADownstreamThatLeavesEndsTheRunWithinASecond() throws {
        let script = """
            rm -f live; mkfifo live
            (sox -n -r 44100 -c 2 -b 16 -t wav - synth 3 sine 440 2>/dev/null; exec sleep 30) > live & feeder=$!
            ( $BIN --engine identity --chunk 1 --overlap 0.1 < live 2> head-err.txt; echo "status $? $(date +%s%N)" > head-status.txt ) | head -c 1000 > /dev/null
            closed=$(date +%s%N); sleep 1.5; kill $feeder; rm -f live
            read word status ended < head-status.txt || true
            echo "$status $(( (ended - closed) / 1000000 ))"
            """
        let run = try Harness.shell(script)
        let fields = String(decoding: run.stdout, as: UTF8.self).split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
        XCTAssertEqual(fields.count, 2, "the tool was still running 1.5 s after its reader left: \(run.stdout)")
        XCTAssertEqual(fields.first, 0)
        XCTAssertLessThan(fields.last ?? .max, promptly)
        XCTAssertEqual(try String(contentsOfFile: Harness.path("head-err.txt"), encoding: .utf8), "", "no error spew")
    }
}
