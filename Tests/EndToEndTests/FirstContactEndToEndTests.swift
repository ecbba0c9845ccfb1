import Foundation
import TestSupport
import XCTest

/// What a newcomer met on a fresh clone (issue "first contact"): each case through the real binary.
final class FirstContactEndToEndTests: XCTestCase {
    func tone(_ name: String, seconds: Double = 1) throws -> String {
        let path = Harness.path(name)
        try Harness.shell("sox -n -r 44100 -c 2 -b 16 \(path) synth \(seconds) sine 440")
        return path
    }

    /// sox's W64 on a pipe carries its header where libsndfile reads audio: refused in one line.
    func testSoxsPipedW64IsRefusedInOneLine() throws {
        let run = try Harness.shell("sox -n -r 22050 -c 1 -b 16 -t w64 - synth 1 sine 300 | $BIN --engine identity > /dev/null")
        assertOneLineError(run, "W64 cannot be read exactly from a pipe", "sox -t w64 -")
        // A whole W64 file sent down a pipe states its sizes and is read exactly.
        let file = Harness.path("whole.w64")
        try Harness.shell("sox -n -r 22050 -c 1 -b 16 \(file) synth 1 sine 300")
        let copy = Harness.path("whole-out.wav")
        let whole = try Harness.shell("cat \(file) | $BIN --engine identity > \(copy) && soxi -s \(copy)")
        XCTAssertEqual(whole.status, 0, whole.stderr)
        XCTAssertEqual(String(decoding: whole.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines), "22050")
    }

    /// `-o out.flac` wrote WAV bytes under a .flac name; now it writes FLAC, and a name the tool
    /// cannot write (or one that contradicts --out-type) is refused before anything is made.
    func testAnOutputNamedForAnotherContainerIsRefused() throws {
        let input = try tone("container-in.wav")
        let flac = Harness.path("named.flac")
        let named = try Harness.shell("$BIN --engine identity -i \(input) -o \(flac) && soxi -t \(flac)")
        XCTAssertEqual(named.status, 0, named.stderr)
        XCTAssertEqual(String(decoding: named.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines), "flac")
        for (flags, name, message) in [("--out-type wav", "out.flac", "a .flac name promises FLAC"), ("", "out.MP3", "not .MP3"),
                                       ("--out-type raw", "out.wav", "a .wav name promises a header")] {
            let output = Harness.path(name)
            let run = try Harness.shell("$BIN --engine identity \(flags) -i \(input) -o \(output)")
            assertOneLineError(run, message, name)
            XCTAssertFalse(FileManager.default.fileExists(atPath: output), "\(name) was created")
        }
        for (flags, name) in [("", "fine.wav"), ("--out-type raw", "fine.raw"), ("", "no-extension")] {
            let run = try Harness.shell("$BIN --engine identity \(flags) -i \(input) -o \(Harness.path(name))")
            XCTAssertEqual(run.status, 0, "\(name): \(run.stderr)")
        }
        // A batch row naming such an output fails, and the other rows run.
        let work = Harness.path("container-batch")
        try? FileManager.default.removeItem(atPath: work)
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let rows = "{\"input\": \"\(input)\", \"output\": \"\(work)/a.mp3\", \"text\": \"x\"}\n"
            + "{\"input\": \"\(input)\", \"output\": \"\(work)/b.wav\", \"text\": \"x\"}\n"
        try rows.write(toFile: work + "/jobs.jsonl", atomically: true, encoding: .utf8)
        let batch = try Harness.shell("$BIN batch --engine identity -q \(work)/jobs.jsonl")
        XCTAssertEqual(batch.status, 1, batch.stderr)
        XCTAssertTrue(batch.stderr.contains("job 0 failed") && batch.stderr.contains("not .mp3"), batch.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: work + "/a.mp3"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: work + "/b.wav"))
    }

    /// Errors point at the help page that has the flags; bare `audiosep-stream` at a terminal is usage.
    func testErrorsPointAtTheirHelpPageAndBareInvocationPrintsUsage() throws {
        let filter = try Harness.shell("$BIN vocals --chunk x < /dev/null")
        XCTAssertEqual(filter.status, 1)
        XCTAssertTrue(filter.stderr.hasSuffix("(see audiosep-stream help separate)\n"), filter.stderr)
        let tune = try Harness.shell("$BIN tune --seconds x")
        XCTAssertEqual(tune.status, 1)
        XCTAssertTrue(tune.stderr.hasSuffix("(see audiosep-stream help tune)\n"), tune.stderr)
        // At a terminal (script gives it one), no arguments: the usage, not a refusal to write audio there.
        let bare = try Harness.shell("script -qec \"$BIN\" /dev/null")
        let text = String(decoding: bare.stdout, as: UTF8.self)
        XCTAssertEqual(bare.status, 1, text)
        XCTAssertTrue(text.contains("USAGE") && text.contains("separate"), text)
        XCTAssertFalse(text.contains("refusing to write binary audio"), text)
    }

    /// `--embedding` without a model, or naming no file, says so.
    func testEmbeddingErrorsSayWhatIsMissing() throws {
        let input = try tone("embedding-in.wav")
        let home = Harness.path("embedding-home")
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        let embedding = Fixtures.path("audiosep-tiny/embedding.f32")
        let noModel = try Harness.shell("env -u AUDIOSEP_MODEL HOME=\(home) $BIN --embedding \(embedding) < \(input) > /dev/null")
        assertOneLineError(noModel, "--embedding is a query for the AudioSep model, and no AudioSep model was found", "no model")
        XCTAssertTrue(noModel.stderr.contains("audiosep-stream model download"), noModel.stderr)
        let missing = try Harness.shell("$BIN --embedding \(home)/missing.f32 < \(input) > /dev/null")
        assertOneLineError(missing, "missing.f32", "missing file")
        XCTAssertTrue(missing.stderr.contains("no such file"), missing.stderr)
    }

    /// batch refuses a query the built-in engine cannot take before the first job.
    func testBatchRefusesAnUnknownQueryBeforeTheFirstJob() throws {
        let work = Harness.path("batch-query")
        try? FileManager.default.removeItem(atPath: work)
        try FileManager.default.createDirectory(atPath: work + "/in", withIntermediateDirectories: true)
        for index in 0..<3 { try Harness.shell("sox -n -r 22050 -c 1 \(work)/in/\(index).wav synth 0.5 sine 440") }
        let run = try Harness.shell("env -u AUDIOSEP_MODEL HOME=\(work) $BIN batch --engine dsp --query 'a cat' --out-dir \(work)/out \(work)/in")
        assertOneLineError(run, "cannot separate 'a cat'", "batch --query 'a cat'")
        let made = (try? FileManager.default.contentsOfDirectory(atPath: work + "/out")) ?? []
        XCTAssertTrue(made.filter { $0.hasSuffix(".wav") }.isEmpty, "no job ran: \(made)")
    }

    /// A WAV cut short is a warning naming both lengths, and the audio that arrived is kept.
    func testATruncatedInputIsAWarningAndItsAudioIsKept() throws {
        let whole = try tone("long.wav", seconds: 8)
        let cut = Harness.path("cut.wav"), output = Harness.path("cut-out.wav")
        try Harness.shell("head -c \(44 + 44_100 * 4 * 17 / 10) \(whole) > \(cut)")
        let run = try Harness.shell("$BIN --engine identity -i \(cut) -o \(output)")
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stderr.contains("its header states 8.00 s but it ended after 1.70 s"), run.stderr)
        XCTAssertEqual(try Harness.readAudio(output).channels[0].count, 44_100 * 17 / 10)
    }

    /// `--progress` into a log (stderr not a terminal) ends at 100%.
    func testProgressInALogEndsAtOneHundredPercent() throws {
        let input = try tone("progress-in.wav", seconds: 3)
        let run = try Harness.shell("$BIN --engine identity --progress -i \(input) -o \(Harness.path("progress-out.wav"))")
        XCTAssertEqual(run.status, 0, run.stderr)
        let last = run.stderr.split(separator: "\n").last.map(String.init) ?? ""
        XCTAssertTrue(last.contains("of 3.0 s (100%)"), run.stderr)
    }
}
