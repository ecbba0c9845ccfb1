import Foundation
import TestSupport
import XCTest

/// The one rule for a run that does not finish (issue 37): a partial output never replaces a
/// file the user had. The old file keeps its name and bytes; the partial is kept beside it as
/// `NAME.partial.EXT` (said on stderr), and where no file had the name the partial takes it.
/// Also: inputs are opened once (a FIFO on -i, as a worker input, as a batch input), a second
/// signal leaves `> out.wav` with a valid header, the worker ends on SIGHUP, and batch removes
/// the temporary outputs a killed shard left.
final class PartialOutputEndToEndTests: XCTestCase {
    /// A fresh folder for one test, so what is left in it can be listed.
    func folder(_ name: String) throws -> String {
        let path = Harness.path("partial-\(name)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// The bytes of the file the user had before the run: a short WAV unlike any output.
    static let oldBytes = Data("RIFF-the user's own file, not audio from this run\n".utf8)

    func bytes(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

    func names(_ directory: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
    }

    // MARK: bad input with -o onto an existing file

    /// 20 s of stereo FLAC; `damage` makes it truncated or corrupt.
    func flacRun(_ name: String, damage: String, existing: Bool) throws -> (Harness.Result, String) {
        let directory = try folder(name)
        if existing { try Self.oldBytes.write(to: URL(fileURLWithPath: directory + "/out.wav")) }
        let run = try Harness.shell("""
            cd \(directory) && sox -n -r 44100 -c 2 -b 16 in.flac synth 20 sine 440 pinknoise vol 0.4 2>/dev/null || exit 9
            \(damage)
            $BIN --engine identity -i bad.flac -o out.wav
            """)
        return (run, directory)
    }

    static let truncate = "head -c 300000 in.flac > bad.flac"
    static let corrupt = """
        python3 -c "import random; d = bytearray(open('in.flac', 'rb').read()); r = random.Random(7)
        for i in range(200000, 260000): d[i] = r.randrange(256)
        open('bad.flac', 'wb').write(d)"
        """

    func assertOldFileKeptAndPartialBeside(_ run: Harness.Result, _ directory: String,
                                           file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(run.status, 1, run.stderr, file: file, line: line)
        XCTAssertEqual(bytes(directory + "/out.wav"), Self.oldBytes, "the existing -o file was replaced", file: file, line: line)
        XCTAssertTrue(run.stderr.contains("'out.wav' is unchanged; the partial output is kept as 'out.partial.wav'"),
                      run.stderr, file: file, line: line)
        XCTAssertEqual(try names(directory).filter { $0.hasPrefix("out") || $0.hasPrefix(".out") }, ["out.partial.wav", "out.wav"],
                       "no temporary file left", file: file, line: line)
        try assertCompleteWAV(directory + "/out.partial.wav", file: file, line: line)
        let frames = try Harness.readAudio(directory + "/out.partial.wav").channels[0].count
        XCTAssertGreaterThan(frames, 44_100, file: file, line: line)
        XCTAssertLessThan(frames, 20 * 44_100, file: file, line: line)
    }

    func testAnExistingOutputSurvivesATruncatedFLAC() throws {
        let (run, directory) = try flacRun("trunc", damage: Self.truncate, existing: true)
        try assertOldFileKeptAndPartialBeside(run, directory)
        XCTAssertTrue(run.stderr.contains("truncated"), run.stderr)
    }

    func testAnExistingOutputSurvivesACorruptFLAC() throws {
        let (run, directory) = try flacRun("corrupt", damage: Self.corrupt, existing: true)
        try assertOldFileKeptAndPartialBeside(run, directory)
    }

    /// Where no file had the name, the valid partial takes it, as before.
    func testANewOutputOfATruncatedFLACIsTheValidPartial() throws {
        let (run, directory) = try flacRun("trunc-new", damage: Self.truncate, existing: false)
        XCTAssertEqual(run.status, 1, run.stderr)
        XCTAssertFalse(run.stderr.contains("partial"), run.stderr)
        XCTAssertEqual(try names(directory).filter { $0.contains("out") }, ["out.wav"])
        try assertCompleteWAV(directory + "/out.wav")
    }

    /// A partial's own name is never taken from a file that has it either.
    func testAPartialNeverReplacesAnEarlierPartial() throws {
        let directory = try folder("twice")
        try Self.oldBytes.write(to: URL(fileURLWithPath: directory + "/out.wav"))
        try Self.oldBytes.write(to: URL(fileURLWithPath: directory + "/out.partial.wav"))
        let run = try Harness.shell("""
            cd \(directory) && sox -n -r 44100 -c 2 -b 16 in.flac synth 20 sine 440 2>/dev/null && \(Self.truncate)
            $BIN --engine identity -i bad.flac -o out.wav
            """)
        XCTAssertEqual(run.status, 1, run.stderr)
        XCTAssertEqual(bytes(directory + "/out.wav"), Self.oldBytes)
        XCTAssertEqual(bytes(directory + "/out.partial.wav"), Self.oldBytes)
        XCTAssertTrue(run.stderr.contains("kept as 'out.partial-2.wav'"), run.stderr)
        try assertCompleteWAV(directory + "/out.partial-2.wav")
    }

    // MARK: a full disk

    func testAnExistingOutputSurvivesAFullDisk() throws {
        let directory = try folder("full")
        let disk = directory + "/disk"
        try FileManager.default.createDirectory(atPath: disk, withIntermediateDirectories: true)
        let mount = try Harness.shell("mount -t tmpfs -o size=1m tmpfs \(disk)")
        guard mount.status == 0 else { throw XCTSkip("cannot mount a 1 MB tmpfs here (\(mount.stderr.trimmingCharacters(in: .whitespacesAndNewlines))): the full-disk case is covered only by -o /dev/full") }
        defer { try? Harness.shell("umount \(disk)") }
        try Self.oldBytes.write(to: URL(fileURLWithPath: disk + "/out.wav"))
        let run = try Harness.shell("""
            cd \(directory) && sox -n -r 44100 -c 2 -b 16 in.wav synth 10 sine 440 2>/dev/null || exit 9
            $BIN --engine identity -i in.wav -o disk/out.wav
            """)
        XCTAssertEqual(run.status, 1, run.stderr)
        XCTAssertTrue(run.stderr.contains("No space left on device"), run.stderr)
        XCTAssertEqual(bytes(disk + "/out.wav"), Self.oldBytes, "the existing -o file was replaced")
        XCTAssertTrue(run.stderr.contains("'disk/out.wav' is unchanged; the partial output is kept as"), run.stderr)
        XCTAssertEqual(try names(disk), ["out.partial.wav", "out.wav"])
        let partial = try Harness.readAudio(disk + "/out.partial.wav").channels[0].count
        XCTAssertGreaterThan(partial, 0)
        XCTAssertLessThan(partial, 10 * 44_100)
    }

    // MARK: signals with -o onto an existing file

    /// Feeds 3 s of audio and holds the pipe open, signals the filter writing `-o out.wav` over an
    /// existing file, and returns its status and stderr.
    func signalFilter(_ signal: String, in directory: String) throws -> (status: Int, stderr: String) {
        try Self.oldBytes.write(to: URL(fileURLWithPath: directory + "/out.wav"))
        let run = try Harness.shell("""
            cd \(directory) && mkfifo live
            (sox -n -r 44100 -c 2 -b 16 -t wav - synth 3 sine 440 vol 0.5 2>/dev/null; exec sleep 30) > live & feeder=$!
            $BIN --engine identity --chunk 1 --overlap 0.1 -o out.wav < live 2> err.txt & pid=$!
            sleep 2; kill -\(signal) $pid
            wait $pid; status=$?; kill $feeder 2>/dev/null; rm -f live
            echo $status
            """)
        let status = Int(String(decoding: run.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        return (status, (try? String(contentsOfFile: directory + "/err.txt", encoding: .utf8)) ?? "")
    }

    func testSignalsMidRunKeepAnExistingOutput() throws {
        for (signal, name, status) in [("TERM", "SIGTERM", 143), ("INT", "SIGINT", 130), ("HUP", "SIGHUP", 129)] {
            let directory = try folder("sig-\(signal)")
            let result = try signalFilter(signal, in: directory)
            XCTAssertEqual(result.status, status, result.stderr)
            XCTAssertEqual(result.stderr, "audiosep-stream: stopped by \(name): 3.00 s written to 'out.partial.wav', ended validly; "
                           + "the existing output file was left unchanged\n")
            XCTAssertEqual(bytes(directory + "/out.wav"), Self.oldBytes, "\(name) replaced the existing -o file")
            XCTAssertEqual(try names(directory).filter { $0.contains("out") }, ["out.partial.wav", "out.wav"])
            try assertCompleteWAV(directory + "/out.partial.wav")
            XCTAssertEqual(try Harness.readAudio(directory + "/out.partial.wav").channels[0].count, 3 * 44_100)
        }
    }

    // MARK: a second signal on > out.wav

    /// Two signals a few milliseconds apart: the second exits at once, and the header of the
    /// file on stdout still says what the file holds (never the unknown-length marker).
    func testADoubleSignalLeavesAValidHeaderOnStdout() throws {
        let directory = try folder("double")
        for attempt in 0..<5 {
            let run = try Harness.shell("""
                cd \(directory) && rm -f live; mkfifo live
                (sox -n -r 44100 -c 2 -b 16 -t wav - synth 3 sine 440 vol 0.5 2>/dev/null; exec sleep 30) > live & feeder=$!
                $BIN --engine dsp vocals --chunk 1 --overlap 0.1 < live > out-\(attempt).wav 2> err.txt & pid=$!
                sleep 2; kill -TERM $pid; sleep 0.00\(attempt); kill -TERM $pid
                wait $pid; status=$?; kill $feeder 2>/dev/null
                echo $status
                """)
            XCTAssertEqual(String(decoding: run.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines), "143",
                           "attempt \(attempt): \(run.stderr)")
            let path = directory + "/out-\(attempt).wav"
            let data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            func le32(_ at: Int) -> Int { (0..<4).reduce(0) { $0 | Int(data[at + $1]) << (8 * $1) } }
            // The input's length is unknown (a live pipe), so the header holds the 36-byte JUNK chunk
            // reserved for RF64 before `fmt `: 80 bytes.
            XCTAssertGreaterThanOrEqual(data.count, 80)
            guard data.count >= 80 else { continue }
            XCTAssertEqual(String(decoding: data[12..<16], as: UTF8.self), "JUNK")
            XCTAssertEqual(String(decoding: data[72..<76], as: UTF8.self), "data")
            let dataLength = le32(76)
            XCTAssertNotEqual(dataLength, 0x7FFF_F000 - 0x7FFF_F000 % 4, "attempt \(attempt): the unknown-length marker")
            XCTAssertEqual(dataLength % 4, 0, "whole frames")
            XCTAssertLessThanOrEqual(dataLength, data.count - 80, "the header claims no more than the file holds")
            XCTAssertEqual(le32(4), dataLength + 72, "RIFF length agrees")
            let soxi = try Harness.shell("soxi -s \(path)")
            XCTAssertEqual(soxi.status, 0, soxi.stderr)
            XCTAssertEqual(Int(String(decoding: soxi.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)),
                           dataLength / 4)
        }
    }

    // MARK: FIFOs as inputs: opened once

    func testAFIFOOnDashICompletes() throws {
        let directory = try folder("fifo-i")
        let run = try Harness.shell("""
            cd \(directory) && mkfifo in.fifo
            (sox -n -r 44100 -c 2 -b 16 -t wav - synth 3 sine 440 vol 0.5 2>/dev/null > in.fifo &)
            timeout 30 $BIN --engine identity -i in.fifo -o out.wav
            """)
        XCTAssertEqual(run.status, 0, "124 is a hang: \(run.stderr)")
        XCTAssertEqual(try Harness.readAudio(directory + "/out.wav").channels[0].count, 3 * 44_100)
    }

    func testAFIFOAsAWorkerInputCompletes() throws {
        let directory = try folder("fifo-worker")
        let separate = #"{"cmd":"separate","input":"in.fifo","output":"out.wav","text":"vocals","engine":"dsp","use_chunk":true,"chunk_seconds":1}"#
        let run = try Harness.shell("""
            cd \(directory) && mkfifo in.fifo
            (sox -n -r 44100 -c 2 -b 16 -t wav - synth 3 sine 440 vol 0.5 2>/dev/null > in.fifo &)
            echo '\(separate)' | HOME=\(directory)/home timeout 60 $BIN --worker
            """)
        XCTAssertEqual(run.status, 0, "124 is a hang: \(run.stderr)")
        let last = String(decoding: run.stdout, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? ""
        XCTAssertTrue(last.contains(#""status":"done""#), last)
        XCTAssertEqual(try Harness.readAudio(directory + "/out.wav").channels[0].count, 3 * 44_100)
    }

    func testAFIFOAsABatchInputCompletes() throws {
        let directory = try folder("fifo-batch")
        try #"{"input": "in.fifo", "output": "out.wav", "text": "vocals"}"#.appending("\n")
            .write(toFile: directory + "/jobs.jsonl", atomically: true, encoding: .utf8)
        let run = try Harness.shell("""
            cd \(directory) && mkfifo in.fifo
            (sox -n -r 44100 -c 2 -b 16 -t wav - synth 3 sine 440 vol 0.5 2>/dev/null > in.fifo &)
            timeout 60 $BIN batch --engine identity --out-dir out jobs.jsonl
            """)
        XCTAssertEqual(run.status, 0, "124 is a hang: \(run.stderr)")
        XCTAssertTrue(run.stderr.contains("1 done"), run.stderr)
        XCTAssertEqual(try Harness.readAudio(directory + "/out/out.wav").channels[0].count, 3 * 44_100)
    }

    // MARK: batch: a killed shard's temporary outputs

    func testABatchRerunRemovesAKilledShardsTemporaryOutputs() throws {
        let directory = try folder("stale")
        try #"{"input": "in.wav", "output": "out.wav", "text": "vocals"}"#.appending("\n")
            .write(toFile: directory + "/jobs.jsonl", atomically: true, encoding: .utf8)
        let run = try Harness.shell("""
            cd \(directory) && sox -n -r 16000 -c 1 -b 16 in.wav synth 2 sine 440 2>/dev/null || exit 9
            mkdir out && head -c 5000 /dev/urandom > out/.out.wav.audiosep-Ab3xYz && head -c 10 /dev/zero > out/.out.wav.audiosep-keepme-not
            $BIN batch --engine identity --out-dir out jobs.jsonl
            """)
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(try names(directory + "/out").filter { !$0.hasPrefix(".audiosep-batch") },
                       [".out.wav.audiosep-keepme-not", "out.wav"], "the killed run's temporary output removed, nothing else")
        try assertCompleteWAV(directory + "/out/out.wav")
    }

    // MARK: the worker stopped mid-job

    /// Starts a worker on a 60 s separation writing out/result.wav (over `existing` bytes when
    /// given), sends `signal` once its output holds more than 200 kB, and waits for it.
    func stopWorker(_ directory: String, signal: String, existing: Data?) throws -> (status: Int, answer: [String: Any], log: [String]) {
        let separate = #"{"cmd":"separate","input":"long.wav","output":"out/result.wav","text":"vocals","engine":"dsp","use_chunk":true,"chunk_seconds":1}"#
        try FileManager.default.createDirectory(atPath: directory + "/out", withIntermediateDirectories: true)
        if let existing { try existing.write(to: URL(fileURLWithPath: directory + "/out/result.wav")) }
        let run = try Harness.shell("""
            cd \(directory) && mkfifo commands
            sox -n -r 44100 -c 2 -b 16 long.wav synth 60 whitenoise vol 0.5 || exit 9
            # timeout passes the signal on, and kills a worker that ignores it (a failure, not a hang);
            # --foreground, or it sends the signal to the process group as well and the worker gets it twice.
            HOME=\(directory)/home timeout --foreground -s KILL 40 $BIN --worker < commands > answers.jsonl 2> log.txt & pid=$!
            exec 3> commands
            echo '\(separate)' >&3
            for i in $(seq 400); do
                [ "$(cat out/.[!.]* 2>/dev/null | wc -c)" -gt 200000 ] && break; sleep 0.05
            done
            kill -\(signal) $pid
            wait $pid; status=$?
            echo $status
            """)
        let status = Int(String(decoding: run.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        let lines = ((try? String(contentsOfFile: directory + "/answers.jsonl", encoding: .utf8)) ?? "").split(separator: "\n")
        let answer = lines.last.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] } ?? [:]
        let log = ((try? String(contentsOfFile: directory + "/log.txt", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        return (status, answer, log)
    }

    func testWorkerSignalsMidJobKeepAnExistingOutput() throws {
        for (signal, name, code) in [("TERM", "SIGTERM", 143), ("HUP", "SIGHUP", 129)] {
            let directory = try folder("worker-\(signal)")
            let stopped = try stopWorker(directory, signal: signal, existing: Self.oldBytes)
            XCTAssertEqual(stopped.status, code, "\(stopped.log)")
            XCTAssertEqual(stopped.answer["status"] as? String, "error", "\(stopped.answer)")
            let message = stopped.answer["message"] as? String ?? ""
            XCTAssertTrue(message.hasPrefix("Separation failed: stopped by a signal"), message)
            XCTAssertTrue(message.contains("/out/result.partial.wav', the output ended validly")
                          && message.contains("the existing '\(directory)/out/result.wav' was left unchanged"),
                          message)
            XCTAssertEqual(stopped.log.count, 1, "\(stopped.log)")
            XCTAssertTrue(stopped.log.first?.hasPrefix("audiosep-stream worker: stopped by \(name): ") ?? false, "\(stopped.log)")
            XCTAssertEqual(bytes(directory + "/out/result.wav"), Self.oldBytes, "\(name) replaced the existing output")
            XCTAssertEqual(try names(directory + "/out"), ["result.partial.wav", "result.wav"])
            try assertCompleteWAV(directory + "/out/result.partial.wav")
            let frames = try Harness.readAudio(directory + "/out/result.partial.wav").channels[0].count
            XCTAssertGreaterThan(frames, 0)
            XCTAssertLessThan(frames, 60 * 44_100)
        }
    }

    /// SIGHUP ends the worker as it ends the filter: the job's answer, one log line, status 129,
    /// and a new output keeps the valid partial under its name.
    func testTheWorkerEndsOnSIGHUPWithItsAnswer() throws {
        let directory = try folder("worker-hup-new")
        let stopped = try stopWorker(directory, signal: "HUP", existing: nil)
        XCTAssertEqual(stopped.status, 129, "\(stopped.log)")
        XCTAssertEqual(stopped.answer["status"] as? String, "error", "\(stopped.answer)")
        XCTAssertTrue((stopped.answer["message"] as? String ?? "").contains("/out/result.wav', the output ended validly"),
                      "\(stopped.answer)")
        XCTAssertEqual(stopped.log.count, 1, "\(stopped.log)")
        XCTAssertTrue(stopped.log.first?.hasPrefix("audiosep-stream worker: stopped by SIGHUP: ") ?? false, "\(stopped.log)")
        XCTAssertEqual(try names(directory + "/out"), ["result.wav"])
        try assertCompleteWAV(directory + "/out/result.wav")
    }
}
