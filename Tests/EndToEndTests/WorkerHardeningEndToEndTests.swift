import Foundation
import TestSupport
import XCTest

/// The worker against what hosts and systems do to it: outputs that are the input under another
/// name, paths that name folders, error answers a host times, signals mid-job, over-long lines.
final class WorkerHardeningEndToEndTests: XCTestCase {
    /// A fresh folder for one test, so what is left in it can be listed.
    func folder(_ name: String) throws -> String {
        let path = Harness.path("hard-\(name)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// The worker's answers on stdout, each a JSON object.
    func answers(_ run: Harness.Result) throws -> [[String: Any]] {
        try String(decoding: run.stdout, as: UTF8.self).split(separator: "\n").map { line in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return try XCTUnwrap(object, "not a JSON object: \(line)")
        }
    }

    /// Runs the worker on `lines` (a fresh HOME: no embedding cache from elsewhere).
    func worker(_ lines: [String], in directory: String) throws -> Harness.Result {
        let commands = directory + "/commands.jsonl"
        try (lines.joined(separator: "\n") + "\n").write(toFile: commands, atomically: true, encoding: .utf8)
        return try Harness.shell("cd \(directory) && HOME=\(directory)/home $BIN --worker < commands.jsonl")
    }

    func testAHardLinkToTheInputIsRefusedAndTheInputKept() throws {
        let directory = try folder("hardlink")
        let made = try Harness.shell("cd \(directory) && sox -n -r 22050 -c 1 -b 16 in.wav synth 2 sine 440 vol 0.5 && ln in.wav linked.wav")
        XCTAssertEqual(made.status, 0, made.stderr)
        let before = try Data(contentsOf: URL(fileURLWithPath: directory + "/in.wav"))
        let run = try worker([#"{"cmd":"separate","input":"in.wav","output":"linked.wav","engine":"identity"}"#,
                              #"{"cmd":"exit"}"#], in: directory)
        XCTAssertEqual(run.status, 0, run.stderr)
        let replies = try answers(run)
        XCTAssertEqual(replies.map { $0["status"] as? String }, ["loading", "ready", "error", "exiting"], "\(replies)")
        guard replies.count == 4 else { return }
        let message = replies[2]["message"] as? String ?? ""
        XCTAssertTrue(message.hasPrefix("Separation failed: output '\(directory)/linked.wav' is the input file"), message)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: directory + "/in.wav")), before, "the input's bytes are untouched")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory).sorted(),
                       ["commands.jsonl", "in.wav", "linked.wav"], "no temporary file left")
    }

    func testErrorAnswersCarryElapsedAndNameFoldersAsSuch() throws {
        let directory = try folder("errors")
        let made = try Harness.shell("cd \(directory) && sox -n -r 22050 -c 1 -b 16 in.wav synth 1 sine 440 vol 0.5 && mkdir sub")
        XCTAssertEqual(made.status, 0, made.stderr)
        let run = try worker([
            #"{"cmd":"separate","input":"sub","output":"out.wav","engine":"identity"}"#,
            #"{"cmd":"separate","input":"in.wav","output":"missing/out.wav","engine":"identity"}"#,
            #"{"cmd":"separate","input":"in.wav","output":"sub","engine":"identity"}"#,
            #"{"cmd":"separate","input":"nothing.wav","output":"out.wav","engine":"identity"}"#,
            #"{"cmd":"fly"}"#,
            "{oops",
            #"{"cmd":"separate","input":"in.wav","output":"out.wav","engine":"identity"}"#,
        ], in: directory)
        XCTAssertEqual(run.status, 0, run.stderr)
        let replies = Array(try answers(run).dropFirst(2))
        XCTAssertEqual(replies.map { $0["status"] as? String }, ["error", "error", "error", "error", "error", "error", "done"],
                       "\(replies)")
        guard replies.count == 7 else { return }
        let messages = replies.map { $0["message"] as? String ?? "" }
        XCTAssertEqual(messages[0], "Separation failed: input '\(directory)/sub' is a folder, not an audio file")
        XCTAssertEqual(messages[1], "Separation failed: cannot write '\(directory)/missing/out.wav': folder '\(directory)/missing' does not exist")
        XCTAssertTrue(messages[2].hasPrefix("Separation failed: output '\(directory)/sub' is a folder"), messages[2])
        XCTAssertEqual(messages[3], "Input not found: \(directory)/nothing.wav", "the packaged worker's message, kept")
        XCTAssertTrue(messages[4].hasPrefix("Unknown command: fly"), messages[4])
        XCTAssertTrue(messages[5].hasPrefix("Invalid JSON"), messages[5])
        for reply in replies {
            let elapsed = try XCTUnwrap(reply["elapsed"] as? Double, "every answer carries elapsed: \(reply)")
            XCTAssertGreaterThanOrEqual(elapsed, 0)
            XCTAssertLessThan(elapsed, 30)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/missing"), "no folder made")
    }

    // MARK: signals

    struct Stopped {
        var status: Int
        var answers: [[String: Any]]
        var log: [String]
        /// The output folder's names after the worker ended.
        var left: [String]
    }

    /// Starts a worker on a 60 s separation (1 s windows of the built-in engine, about twice real
    /// time here), sends `signals` once its output holds more than 200 kB, and waits for it.
    func stopMidJob(_ directory: String, signals: [String]) throws -> Stopped {
        let separate = #"{"cmd":"separate","input":"long.wav","output":"out/result.wav","text":"vocals","engine":"dsp","use_chunk":true,"chunk_seconds":1}"#
        let kills = signals.map { "kill -\($0) $pid" }.joined(separator: "; sleep 0.1; ")
        let script = """
            cd \(directory) && mkdir out && mkfifo commands
            sox -n -r 44100 -c 2 -b 16 long.wav synth 60 whitenoise vol 0.5 || exit 9
            HOME=\(directory)/home $BIN --worker < commands > answers.jsonl 2> log.txt & pid=$!
            exec 3> commands
            echo '\(separate)' >&3
            for i in $(seq 400); do
                [ "$(cat out/* out/.[!.]* 2>/dev/null | wc -c)" -gt 200000 ] && break; sleep 0.05
            done
            \(kills)
            ( sleep 30; kill -KILL $pid ) > /dev/null 2>&1 & watchdog=$!  # a worker that ignores the signal fails, not hangs
            wait $pid; status=$?; kill $watchdog 2>/dev/null
            echo $status
            """
        let run = try Harness.shell(script)
        let status = Int(String(decoding: run.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        let answers = try self.answers(Harness.Result(status: 0, stdout: try Data(contentsOf: URL(fileURLWithPath: directory + "/answers.jsonl")),
                                                      stderr: "", seconds: 0))
        let log = try String(contentsOfFile: directory + "/log.txt", encoding: .utf8).split(separator: "\n").map(String.init)
        return Stopped(status: status, answers: answers, log: log,
                       left: try FileManager.default.contentsOfDirectory(atPath: directory + "/out").sorted())
    }

    func testSIGTERMMidJobEndsTheOutputValidlyAnswersLogsAndExits143() throws {
        let directory = try folder("sigterm")
        let stopped = try stopMidJob(directory, signals: ["TERM"])
        XCTAssertEqual(stopped.status, 143, "\(stopped.log)")
        XCTAssertEqual(stopped.log.count, 1, "one log line: \(stopped.log)")
        XCTAssertTrue(stopped.log.first?.hasPrefix("audiosep-stream worker: stopped by SIGTERM: ") ?? false, "\(stopped.log)")
        XCTAssertEqual(stopped.answers.map { $0["status"] as? String }, ["loading", "ready", "error"], "\(stopped.answers)")
        let answer = stopped.answers.last ?? [:]
        XCTAssertTrue((answer["message"] as? String ?? "").hasPrefix("Separation failed: stopped by a signal"), "\(answer)")
        XCTAssertNotNil(answer["elapsed"] as? Double, "\(answer)")
        // Reading stopped mid-job: the output holds less than the input, ended validly, under its name.
        XCTAssertEqual(stopped.left, ["result.wav"], "the output renamed, no temporary file left")
        let output = directory + "/out/result.wav"
        guard FileManager.default.fileExists(atPath: output) else { return }
        try assertCompleteWAV(output)
        let frames = try Harness.readAudio(output).channels[0].count
        XCTAssertGreaterThan(frames, 0)
        XCTAssertLessThan(frames, 60 * 44_100, "stopped before the end of the input")
        XCTAssertTrue(stopped.log.first?.contains(String(format: "%.2f s written", Double(frames) / 44_100)) ?? false, "\(stopped.log)")
    }

    func testASecondSignalRemovesTheOutputBeingWritten() throws {
        let directory = try folder("twice")
        let stopped = try stopMidJob(directory, signals: ["TERM", "TERM"])
        XCTAssertEqual(stopped.status, 143, "\(stopped.log)")
        XCTAssertEqual(stopped.log.count, 1, "\(stopped.log)")
        XCTAssertTrue(stopped.log.first?.hasPrefix("audiosep-stream worker: stopped by SIGTERM") ?? false, "\(stopped.log)")
        // Either the first signal's ending was complete before the second came, or nothing is left.
        XCTAssertTrue(stopped.left == [] || stopped.left == ["result.wav"], "no temporary file left: \(stopped.left)")
        if stopped.left == ["result.wav"] { try assertCompleteWAV(directory + "/out/result.wav") }
    }

    func testSIGINTBetweenCommandsExits130AtOnce() throws {
        let directory = try folder("sigint")
        let script = """
            cd \(directory) && mkfifo commands
            $BIN --worker < commands > answers.jsonl 2> log.txt & pid=$!
            exec 3> commands
            echo '{"cmd":"get_status"}' >&3
            for i in $(seq 200); do grep -q '"status":"status"' answers.jsonl && break; sleep 0.05; done
            kill -INT $pid; start=$(date +%s%N)
            ( sleep 10; kill -KILL $pid ) > /dev/null 2>&1 & watchdog=$!  # a worker that ignores SIGINT fails, not hangs
            wait $pid; status=$?; end=$(date +%s%N); kill $watchdog 2>/dev/null
            echo "$status $(( (end - start) / 1000000 ))"
            """
        let run = try Harness.shell(script)
        let fields = String(decoding: run.stdout, as: UTF8.self).split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
        XCTAssertEqual(fields.first, 130, run.stderr)
        XCTAssertLessThan(fields.last ?? .max, 1000, "the wait for a command is interrupted")
        XCTAssertEqual(try String(contentsOfFile: directory + "/log.txt", encoding: .utf8),
                       "audiosep-stream worker: stopped by SIGINT: no separation was running\n")
        let statuses = try answers(Harness.Result(status: 0, stdout: try Data(contentsOf: URL(fileURLWithPath: directory + "/answers.jsonl")),
                                                  stderr: "", seconds: 0)).map { $0["status"] as? String }
        XCTAssertEqual(statuses, ["loading", "ready", "status"])
    }

    // MARK: long lines

    func testALineOverTheCapIsAnsweredOnceSkippedAndTheWorkerGoesOn() throws {
        let directory = try folder("longline")
        let baseline = try Harness.shell("cd \(directory) && echo '{\"cmd\":\"get_status\"}' | /usr/bin/time -f %M -o rss-baseline.txt $BIN --worker -q > /dev/null")
        XCTAssertEqual(baseline.status, 0, baseline.stderr)
        // 5 MB without a newline, then its newline and a command.
        let run = try Harness.shell("cd \(directory) && { head -c 5000000 /dev/zero | tr '\\0' x; printf '\\n{\"cmd\":\"get_status\"}\\n'; } | /usr/bin/time -f %M -o rss-long.txt $BIN --worker")
        XCTAssertEqual(run.status, 0, run.stderr)
        let replies = try answers(run)
        XCTAssertEqual(replies.map { $0["status"] as? String }, ["loading", "ready", "error", "status"], "\(replies)")
        guard replies.count == 4 else { return }
        XCTAssertEqual(replies[2]["message"] as? String, "Command line too long: more than 1048576 bytes")
        XCTAssertNotNil(replies[2]["elapsed"] as? Double)
        func kilobytes(_ name: String) throws -> Int {
            let text = try String(contentsOfFile: directory + "/" + name, encoding: .utf8)
            return try XCTUnwrap(text.split(separator: "\n").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }.last, text)
        }
        // The line is never held: peak memory is the idle worker's plus a piece and the 1 MiB cap
        // (readLine held the whole line, several times over while it grew).
        // (AddressSanitizer's shadow and quarantine make peak RSS say nothing about the heap.)
        guard ProcessInfo.processInfo.environment["AUDIOSEP_SANITIZER"] == nil else { return }
        let extra = try kilobytes("rss-long.txt") - kilobytes("rss-baseline.txt")
        XCTAssertLessThan(extra, 6 * 1024, "peak RSS \(extra) kB above an idle worker's")
    }
}
