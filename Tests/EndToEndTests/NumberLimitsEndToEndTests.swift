import Foundation
import TestSupport
import XCTest

/// Numbers from every front end held to the filter's bounds (`RunLimits`), through the real
/// binary: huge values (that trapped converting to Int or aborted allocating), negative, zero,
/// NaN-like strings. Each is an error answer (worker: the session goes on), a failed job (batch:
/// the shard goes on) or one line (tune), never a crash.
final class NumberLimitsEndToEndTests: XCTestCase {
    func folder(_ name: String) throws -> String {
        let path = Harness.path("limits-\(name)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// JSON text of the values every number field is tried with; `extra` adds a field's own.
    static let hostile = ["1e300", "-1", "1e13", #""NaN""#, #""nan""#, #""inf""#, #""-Infinity""#, #""1e999""#, #""0x10""#,
                          #""1e300""#, #""ten""#, "true", "[1]"]

    func testTheWorkerAnswersAnErrorForEveryHostileNumberAndThenServes() throws {
        let directory = try folder("worker")
        let made = try Harness.shell("cd \(directory) && sox -n -r 22050 -c 1 -b 16 in.wav synth 1 sine 440 vol 0.5")
        XCTAssertEqual(made.status, 0, made.stderr)
        // Each field with the values out of its bounds: zero where it must be above 0, 1e6 where
        // that is past the bound (a million hz is a rate the filter takes: 1e7 is not).
        let fields: [(command: String, field: String, extra: [String])] = [
            ("separate", "chunk_seconds", ["0", "1e6", "3600.5"]),
            ("separate", "overlap_seconds", ["1e6", "1800.5"]),
            ("separate", "output_sample_rate", ["0", "1e7", "44100.5"]),
            ("load_model", "chunk_seconds", ["1e6"]),
            ("load_model", "auto_stft_seconds", ["1e6"]),
        ]
        var lines: [String] = []
        var expected: [String] = []
        for (command, field, extra) in fields {
            for value in Self.hostile + extra {
                let base = command == "separate" ? #""cmd":"separate","input":"in.wav","output":"out.wav","engine":"identity""#
                    : #""cmd":"load_model""#
                lines.append("{\(base),\"\(field)\":\(value)}")
                expected.append("\(command) \(field)=\(value)")
            }
        }
        lines.append(#"{"cmd":"separate","input":"in.wav","output":"out.wav","engine":"identity","chunk_seconds":0.5,"overlap_seconds":0.1,"output_sample_rate":16000}"#)
        lines.append(#"{"cmd":"exit"}"#)
        try (lines.joined(separator: "\n") + "\n").write(toFile: directory + "/commands.jsonl", atomically: true, encoding: .utf8)
        let run = try Harness.shell("cd \(directory) && HOME=\(directory)/home timeout 120 $BIN --worker -q < commands.jsonl")
        XCTAssertEqual(run.status, 0, run.stderr)
        let replies = try String(decoding: run.stdout, as: UTF8.self).split(separator: "\n").map {
            try XCTUnwrap(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        XCTAssertEqual(replies.count, 2 + expected.count + 2, "\(replies)")
        guard replies.count == 2 + expected.count + 2 else { return }
        for (index, label) in expected.enumerated() {
            let reply = replies[2 + index]
            XCTAssertEqual(reply["status"] as? String, "error", "\(label): \(reply)")
            let message = reply["message"] as? String ?? ""
            let field = label.split(separator: " ")[1].split(separator: "=")[0]
            XCTAssertTrue(message.hasPrefix("Invalid value for '\(field)'"), "\(label): \(message)")
        }
        let done = replies[2 + expected.count]
        XCTAssertEqual(done["status"] as? String, "done", "\(done)")
        XCTAssertEqual(done["sample_rate"] as? Int, 16000, "\(done)")
        XCTAssertEqual(replies.last?["status"] as? String, "exiting")
        XCTAssertTrue(FileManager.default.fileExists(atPath: directory + "/out.wav"))
    }

    func testAManifestsRowsWithHostileNumbersFailAndTheOthersAreDone() throws {
        let directory = try folder("batch")
        let made = try Harness.shell("cd \(directory) && sox -n -r 16000 -c 1 -b 16 in.wav synth 1 sine 440 vol 0.5")
        XCTAssertEqual(made.status, 0, made.stderr)
        let bad = ["chunk": ["1e300", "-1", "0", "1e6", "1e13", #""nan""#, #""inf""#, #""ten""#],
                   "overlap": ["1e300", "-1", "1e6", "1e13", #""NaN""#]]
        var rows = [#"{"input": "in.wav", "output": "good-0.wav", "text": "vocals"}"#]
        var failing: [String] = []
        for (field, values) in bad.sorted(by: { $0.key < $1.key }) {
            for value in values {
                let output = "bad-\(failing.count).wav"
                rows.append(#"{"input": "in.wav", "output": ""# + output + #"", "text": "vocals", ""# + field + #"": "# + value + "}")
                failing.append(output)
            }
        }
        rows.append(#"{"input": "in.wav", "output": "good-1.wav", "text": "vocals", "chunk": 0.5, "overlap": 0.1}"#)
        try (rows.joined(separator: "\n") + "\n").write(toFile: directory + "/jobs.jsonl", atomically: true, encoding: .utf8)
        let run = try Harness.shell("cd \(directory) && timeout 120 $BIN batch --engine identity -q --out-dir out jobs.jsonl")
        XCTAssertEqual(run.status, 1, "a failed job makes the status 1: \(run.stderr)")
        XCTAssertTrue(run.stderr.contains("2 done, 0 skipped, \(failing.count) failed"), run.stderr)
        XCTAssertFalse(run.stderr.contains("Fatal error"), run.stderr)
        for good in ["good-0.wav", "good-1.wav"] {
            XCTAssertEqual(try Harness.readAudio(directory + "/out/" + good).channels.first?.count, 16000, good)
        }
        let journal = try String(contentsOfFile: directory + "/out/.audiosep-batch/shard-0.jsonl", encoding: .utf8)
        for output in failing {
            XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/out/" + output), output)
            let line = journal.split(separator: "\n").first { $0.contains("/" + output) } ?? ""
            XCTAssertTrue(line.contains("\"failed\""), "\(output): \(line)")
            XCTAssertTrue(line.contains("must be"), "\(output) names the bound: \(line)")
        }
    }

    func testTuneRefusesHostileNumbersInOneLine() throws {
        for flags in ["--seconds 1e300", "--seconds 1e6", "--seconds -1", "--seconds nan", "--seconds 0",
                      "--chunks 1,1e300", "--chunks 1e13", "--overlap 1e6s"] {
            let run = try Harness.shell("timeout 60 $BIN tune --engine identity -q \(flags)")
            XCTAssertEqual(run.status, 1, "\(flags): \(run.stderr)")
            XCTAssertEqual(run.stderr.split(separator: "\n").count, 1, "\(flags): \(run.stderr)")
            XCTAssertTrue(run.stderr.hasPrefix("audiosep-stream: "), "\(flags): \(run.stderr)")
            XCTAssertTrue(run.stderr.contains("must be") || run.stderr.contains("invalid"), "\(flags): \(run.stderr)")
            XCTAssertLessThan(run.seconds, 30, flags)
        }
    }

    /// 1024 channels whose windows cannot fit under `ulimit -v` are refused in one line naming the
    /// channels and what fits; the same channels in an input known to be short still run.
    func testManyChannelsUnderAnAddressSpaceLimitAreOneLineNotAnAbort() throws {
        // A sanitized binary (tools/sanitize) reserves terabytes of shadow memory at start, which
        // no address-space limit leaves room for.
        if let sanitizer = ProcessInfo.processInfo.environment["AUDIOSEP_SANITIZER"] {
            throw XCTSkip("a binary built with the \(sanitizer) sanitizer cannot start under an address-space limit")
        }
        let probe = try Harness.shell("ulimit -v 2000000 && ulimit -v")
        guard probe.status == 0 else { throw XCTSkip("cannot set ulimit -v here: \(probe.stderr)") }
        let raw = "-t raw -r 44100 -c 1024 -b 16 -e signed-integer"
        let made = try Harness.shell("head -c \(1024 * 2 * 4410) /dev/zero > many-channels.raw")
        XCTAssertEqual(made.status, 0, made.stderr)
        for (label, command) in [
            ("raw pipe", "cat many-channels.raw | (ulimit -v 2000000; $BIN vocals --engine identity \(raw) > /dev/null)"),
            ("built-in engine", "cat many-channels.raw | (ulimit -v 2000000; $BIN vocals --engine dsp -q \(raw) > /dev/null)"),
            ("WAV header", "sox -n -r 44100 -c 1024 -b 16 -t wav - synth 0.1 sine 440 2>/dev/null | "
                + "(ulimit -v 2000000; $BIN vocals --engine identity > /dev/null)"),
        ] {
            let run = try Harness.shell("timeout 60 bash -c '\(command)'")
            XCTAssertEqual(run.status, 1, "\(label): \(run.stderr)")
            XCTAssertEqual(run.stderr.split(separator: "\n").count, 1, "\(label): \(run.stderr)")
            XCTAssertTrue(run.stderr.hasPrefix("audiosep-stream: 1024 channels of "), "\(label): \(run.stderr)")
            XCTAssertTrue(run.stderr.contains("ulimit -v"), "\(label): \(run.stderr)")
            XCTAssertTrue(run.stderr.contains("channels fit") && run.stderr.contains("give --chunk"), "\(label): \(run.stderr)")
        }
        let short = try Harness.shell("(ulimit -v 2000000; timeout 60 $BIN vocals --engine identity \(raw) --out-type raw "
                                      + "< many-channels.raw > many-channels-out.raw)")
        XCTAssertEqual(short.status, 0, "a 0.1 s file of 1024 channels fits: \(short.stderr)")
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: Harness.path("many-channels-out.raw"))[.size] as? Int,
                       1024 * 2 * 4410)
    }
}
