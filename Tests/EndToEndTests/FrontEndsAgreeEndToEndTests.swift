import Foundation
import TestSupport
import XCTest

/// The filter, the worker and batch make one `SeparationRequest` each and hand it to one run: for
/// the same request (the same input, query, windows and format) they write the same bytes, for
/// every engine. And the worker's list of texts answers its files in order, each the filter's.
final class FrontEndsAgreeEndToEndTests: XCTestCase {
    static let tiny = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/audiosep-tiny").path

    func folder(_ name: String) throws -> String {
        let path = Harness.path("agree-\(name)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    func bytes(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

    func makeInput(_ path: String, seconds: Double) throws {
        let made = try Harness.shell("""
            sox -R -n -r 44100 -c 2 -b 16 \(path).tones.wav synth \(seconds) sine 220 pluck C3 vol 0.4 \
            && sox -R -n -r 44100 -c 2 -b 16 \(path).noise.wav synth \(seconds) pinknoise vol 0.2 \
            && sox -m \(path).tones.wav \(path).noise.wav \(path) && rm \(path).tones.wav \(path).noise.wav
            """)
        XCTAssertEqual(made.status, 0, made.stderr)
    }

    /// Runs the worker on `lines` (a fresh HOME), returning its JSON answers.
    func worker(_ lines: [String], in directory: String) throws -> [[String: Any]] {
        let commands = directory + "/commands.jsonl"
        try (lines.joined(separator: "\n") + "\n").write(toFile: commands, atomically: true, encoding: .utf8)
        let run = try Harness.shell("cd \(directory) && HOME=\(directory)/home $BIN worker < commands.jsonl")
        XCTAssertEqual(run.status, 0, run.stderr)
        return String(decoding: run.stdout, as: UTF8.self).split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    struct Engine {
        var name: String
        /// The filter's and batch's flags.
        var flags: String
        /// The worker's `separate` fields for the query and engine (JSON, no braces).
        var workerFields: String
        /// Lines before `separate` (a load_model).
        var workerPrelude: [String] = []
        /// The manifest row's query field (JSON, no braces).
        var manifestQuery: String
        /// The filter's query argument.
        var query: String
    }

    func assertThreeFrontEndsAgree(_ engine: Engine, seconds: Double, chunk: Double, overlap: Double,
                                   file: StaticString = #filePath, line: UInt = #line) throws {
        let directory = try folder(engine.name)
        let input = directory + "/in.wav"
        try makeInput(input, seconds: seconds)
        let filterOut = directory + "/filter.wav", workerOut = directory + "/worker.wav", batchOut = directory + "/batch.wav"

        let filter = try Harness.shell("cd \(directory) && HOME=\(directory)/home $BIN \(engine.flags) \(engine.query) --chunk \(chunk) --overlap \(overlap) -i \(input) -o \(filterOut)")
        XCTAssertEqual(filter.status, 0, "\(engine.name) filter: \(filter.stderr)", file: file, line: line)

        let separate = #"{"cmd":"separate","input":"\#(input)","output":"\#(workerOut)",\#(engine.workerFields),"use_chunk":true,"chunk_seconds":\#(chunk),"overlap_seconds":\#(overlap),"output_format":"input"}"#
        let answers = try worker(engine.workerPrelude + [separate, #"{"cmd":"exit"}"#], in: directory)
        let done = answers.first { $0["status"] as? String == "done" }
        XCTAssertNotNil(done, "\(engine.name) worker: \(answers)", file: file, line: line)
        XCTAssertEqual(done?["files"] as? [String], [workerOut], file: file, line: line)
        XCTAssertEqual(done?["engine"] as? String, engine.name, file: file, line: line)

        let manifest = #"{"input": "\#(input)", "output": "\#(batchOut)", \#(engine.manifestQuery), "chunk": \#(chunk), "overlap": \#(overlap)}"#
        try (manifest + "\n").write(toFile: directory + "/jobs.jsonl", atomically: true, encoding: .utf8)
        let batch = try Harness.shell("cd \(directory) && HOME=\(directory)/home $BIN batch \(engine.flags) jobs.jsonl")
        XCTAssertEqual(batch.status, 0, "\(engine.name) batch: \(batch.stderr)", file: file, line: line)
        XCTAssertTrue(batch.stderr.contains("1 done"), "\(engine.name) batch: \(batch.stderr)", file: file, line: line)

        let reference = bytes(filterOut)
        XCTAssertNotNil(reference, "\(engine.name): the filter wrote nothing", file: file, line: line)
        XCTAssertGreaterThan(reference?.count ?? 0, Int(seconds * 44_100) * 4, file: file, line: line)
        XCTAssertTrue(bytes(workerOut) == reference, "\(engine.name): the worker's file differs from the filter's", file: file, line: line)
        XCTAssertTrue(bytes(batchOut) == reference, "\(engine.name): batch's file differs from the filter's", file: file, line: line)
        let audio = try Harness.readAudio(filterOut)
        XCTAssertEqual(audio.channels.map(\.count), [Int(seconds * 44_100), Int(seconds * 44_100)], file: file, line: line)
    }

    func testIdentityEngineFrontEndsWriteTheSameBytes() throws {
        try assertThreeFrontEndsAgree(Engine(name: "identity", flags: "--engine identity", workerFields: #""text":"vocals","engine":"identity""#,
                                             manifestQuery: #""text": "vocals""#, query: "vocals"),
                                      seconds: 5, chunk: 1.5, overlap: 0.25)
    }

    func testDSPEngineFrontEndsWriteTheSameBytes() throws {
        try assertThreeFrontEndsAgree(Engine(name: "dsp", flags: "--engine dsp", workerFields: #""text":"vocals","engine":"dsp""#,
                                             manifestQuery: #""text": "vocals""#, query: "vocals"),
                                      seconds: 6, chunk: 2, overlap: 0.5)
    }

    func testTinyAudioSepFrontEndsWriteTheSameBytes() throws {
        let embedding = Self.tiny + "/embedding.f32"
        try assertThreeFrontEndsAgree(Engine(name: "audiosep", flags: "--engine audiosep --model \(Self.tiny)/tiny.ckpt --embedding \(embedding)",
                                             workerFields: #""embedding":"\#(embedding)","engine":"audiosep""#,
                                             workerPrelude: [#"{"cmd":"load_model","model":"\#(Self.tiny)/tiny.ckpt"}"#],
                                             manifestQuery: #""embedding": "\#(embedding)""#, query: ""),
                                      seconds: 2.5, chunk: 1, overlap: 0.25)
    }

    /// `"text": [...]` with `"output": [a, b]` (and `"rest"`): `files` in that order, each the
    /// filter's one-query run; the rest is the filter's `--rest` of the same stems.
    func testTheWorkersListOfTextsEqualsTheFiltersRuns() throws {
        let directory = try folder("list")
        let input = directory + "/in.wav"
        try makeInput(input, seconds: 6)
        let windows = "--chunk 2 --overlap 0.5"
        let a = directory + "/w-vocals.wav", b = directory + "/w-drums.wav", rest = directory + "/w-rest.wav"
        let separate = #"{"cmd":"separate","input":"\#(input)","text":["vocals","drums"],"output":["\#(a)","\#(b)"],"rest":"\#(rest)","engine":"dsp","use_chunk":true,"chunk_seconds":2,"overlap_seconds":0.5,"output_format":"input"}"#
        let pattern = #"{"cmd":"separate","input":"\#(input)","text":["drums","vocals"],"output":"\#(directory)/p-{query}.wav","engine":"dsp","use_chunk":true,"chunk_seconds":2,"overlap_seconds":0.5,"output_format":"input"}"#
        let answers = try worker([separate, pattern, #"{"cmd":"exit"}"#], in: directory)
        let done = answers.filter { $0["status"] as? String == "done" }
        XCTAssertEqual(done.count, 2, "\(answers)")
        guard done.count == 2 else { return }
        XCTAssertEqual(done[0]["files"] as? [String], [a, b, rest], "files in the request's order, the rest last")
        XCTAssertEqual(done[1]["files"] as? [String], [directory + "/p-drums.wav", directory + "/p-vocals.wav"])

        for query in ["vocals", "drums"] {
            let single = directory + "/f-\(query).wav"
            let run = try Harness.shell("$BIN --engine dsp \(query) \(windows) -i \(input) -o \(single)")
            XCTAssertEqual(run.status, 0, run.stderr)
            XCTAssertNotNil(bytes(single))
            XCTAssertTrue(bytes(directory + "/w-\(query).wav") == bytes(single), "the worker's \(query) differs from the filter's")
            XCTAssertTrue(bytes(directory + "/p-\(query).wav") == bytes(single), "the worker's {query} \(query) differs from the filter's")
        }
        let filterRest = try Harness.shell("cd \(directory) && $BIN --engine dsp vocals drums \(windows) -i in.wav -o 'r-{query}.wav' --rest f-rest.wav")
        XCTAssertEqual(filterRest.status, 0, filterRest.stderr)
        XCTAssertNotNil(bytes(directory + "/f-rest.wav"))
        XCTAssertTrue(bytes(rest) == bytes(directory + "/f-rest.wav"), "the worker's rest differs from the filter's")
        XCTAssertNotEqual(bytes(a), bytes(b), "two stems are one signal")
    }
}

/// Text queries on the tiny model through the worker's list form and the filter.
final class FrontEndsAgreeTextEndToEndTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures").path

    func testTheWorkersListOfTextQueriesEqualsTheFiltersRuns() throws {
        let directory = Harness.path("agree-text-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let made = try Harness.shell("cd \(directory) && sox -R -n -r 44100 -c 2 -b 16 in.wav synth 2.5 sine 220 pluck C3 vol 0.4")
        XCTAssertEqual(made.status, 0, made.stderr)
        let checkpoint = Self.fixtures + "/worker-tiny/audiosep.ckpt", clap = Self.fixtures + "/clap-tiny/clap.pt"
        let roberta = Self.fixtures + "/clap-tiny/roberta-base"
        let load = #"{"cmd":"load_model","checkpoint_path":"\#(checkpoint)","clap_checkpoint_path":"\#(clap)","roberta_dir":"\#(roberta)"}"#
        let separate = #"{"cmd":"separate","input":"in.wav","text":["vocals","a dog barking"],"output":"w/{query}.wav","use_chunk":true,"chunk_seconds":1,"overlap_seconds":0.25,"output_format":"input"}"#
        try ([load, separate, #"{"cmd":"exit"}"#].joined(separator: "\n") + "\n")
            .write(toFile: directory + "/commands.jsonl", atomically: true, encoding: .utf8)
        let worker = try Harness.shell("cd \(directory) && mkdir w && HOME=\(directory)/home $BIN worker < commands.jsonl")
        XCTAssertEqual(worker.status, 0, worker.stderr)
        let answers = String(decoding: worker.stdout, as: UTF8.self).split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        let done = try XCTUnwrap(answers.first { $0["status"] as? String == "done" }, "\(answers)")
        XCTAssertEqual(done["engine"] as? String, "audiosep")
        XCTAssertEqual(done["files"] as? [String], ["\(directory)/w/vocals.wav", "\(directory)/w/a-dog-barking.wav"])
        let model = "--checkpoint \(checkpoint) --clap-checkpoint \(clap) --roberta-dir \(roberta)"
        for (query, name) in [("vocals", "vocals"), ("a dog barking", "a-dog-barking")] {
            let run = try Harness.shell("cd \(directory) && HOME=\(directory)/home-cli $BIN \(model) '\(query)' --chunk 1 --overlap 0.25 -i in.wav -o f-\(name).wav")
            XCTAssertEqual(run.status, 0, run.stderr)
            let filter = FileManager.default.contents(atPath: "\(directory)/f-\(name).wav")
            XCTAssertNotNil(filter)
            XCTAssertTrue(FileManager.default.contents(atPath: "\(directory)/w/\(name).wav") == filter,
                          "the worker's '\(query)' differs from the filter's")
        }
        XCTAssertNotEqual(FileManager.default.contents(atPath: "\(directory)/w/vocals.wav"),
                          FileManager.default.contents(atPath: "\(directory)/w/a-dog-barking.wav"), "two queries, one result")
    }
}
