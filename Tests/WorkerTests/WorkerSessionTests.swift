import Run
import Engines
import Foundation
import Separation
import Stream
import Weights
@testable import Worker
import XCTest

/// The session in process: answers, errors that leave it serving, the model cache, chunking.
final class WorkerSessionTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures").path
    static let clap = fixtures + "/clap-tiny"
    static let workerModel = fixtures + "/worker-tiny/audiosep.ckpt"
    static let tinySafetensors = fixtures + "/audiosep-tiny/tiny.safetensors"

    var directory = ""

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("worker-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func session(maxCachedModels: Int = 1, maxPassSeconds: Double = 60) -> WorkerSession {
        var options = WorkerOptions()
        options.maxCachedModels = maxCachedModels
        options.maxPassSeconds = maxPassSeconds
        options.threads = 1
        options.embeddingCache = nil
        options.directory = directory
        options.modelDirectory = directory
        options.environment = [:]
        return WorkerSession(options: options)
    }

    /// A stereo 16-bit WAV of two tones, `seconds` long, in the test folder.
    @discardableResult
    func makeInput(_ name: String = "in.wav", seconds: Double = 2, rate: Int = 44_100) throws -> String {
        let path = directory + "/" + name
        let frames = Int(seconds * Double(rate))
        let left = (0..<frames).map { Float(0.4 * sin(2 * Double.pi * 440 * Double($0) / Double(rate))) }
        let right = (0..<frames).map { Float(0.3 * sin(2 * Double.pi * 1250 * Double($0) / Double(rate))) }
        let sink = try WAVSink(output: try OutputFile(path: path), sampleRate: rate, channelCount: 2,
                               format: try SampleFormat(encoding: .signedInteger, bits: 16))
        try sink.write([left, right])
        try sink.finish()
        return path
    }

    func answer(_ session: WorkerSession, _ line: String, file: StaticString = #filePath, line number: UInt = #line) throws -> JSONObject {
        let reply = try XCTUnwrap(session.handle(line), "no answer", file: file, line: number)
        XCTAssertFalse(reply.line.contains("\n"), file: file, line: number)
        return reply.answer
    }

    func loadLine(checkpoint: String = WorkerSessionTests.workerModel) -> String {
        #"{"cmd":"load_model","config_path":"config/audiosep_base.yaml","checkpoint_path":"\#(checkpoint)","clap_checkpoint_path":"\#(Self.clap)/clap.pt","roberta_dir":"\#(Self.clap)/roberta-base"}"#
    }

    func testGreetingIsLoadingThenReadyOnTheCPU() {
        let lines = session().greeting
        XCTAssertEqual(lines.count, 2)
        XCTAssertEqual(lines[0]["status"], "loading")
        XCTAssertEqual(lines[1]["status"], "ready")
        XCTAssertEqual(lines[1]["device"], "cpu")
    }

    func testBlankLinesAreSkippedAndExitEnds() throws {
        let worker = session()
        XCTAssertNil(worker.handle(""))
        XCTAssertNil(worker.handle("   \r"))
        let exit = try XCTUnwrap(worker.handle(#"{"cmd":"exit"}"#))
        XCTAssertTrue(exit.exit)
        XCTAssertEqual(exit.line, #"{"status":"exiting"}"#)
    }

    func testErrorsAreAnsweredAndTheSessionKeepsServing() throws {
        let worker = session()
        try makeInput()
        let bad = ["{oops", #"{"cmd":"dance"}"#, #"{"cmd":"separate","input":"in.wav"}"#,
                   #"{"cmd":"separate","input":"missing.wav","output":"o.wav"}"#,
                   #"{"cmd":"load_model","checkpoint_path":"/nonexistent/audiosep.ckpt"}"#]
        let messages = try bad.map { try answer(worker, $0) }
        for reply in messages { XCTAssertEqual(reply["status"], "error", reply.encoded) }
        XCTAssertEqual(messages[3]["message"], .string("Input not found: \(directory)/missing.wav"))
        XCTAssertEqual(messages[4]["message"], "Checkpoint not found: /nonexistent/audiosep.ckpt")
        let good = try answer(worker, #"{"cmd":"separate","input":"in.wav","output":"out.wav","engine":"identity"}"#)
        XCTAssertEqual(good["status"], "done", good.encoded)
    }

    func testWithoutAModelTheBuiltInEngineServesTheQueriesItKnows() throws {
        let worker = session()
        try makeInput()
        let voice = try answer(worker, #"{"cmd":"separate","input":"in.wav","output":"voice.wav","text":"vocals","use_chunk":true}"#)
        XCTAssertEqual(voice["status"], "done", voice.encoded)
        XCTAssertEqual(voice["engine"], "dsp")
        guard case .string(let note)? = voice["note"] else { return XCTFail("no note: \(voice.encoded)") }
        XCTAssertTrue(note.contains("built-in engine"), note)
        XCTAssertTrue(FileManager.default.fileExists(atPath: directory + "/voice.wav"))

        let dog = try answer(worker, #"{"cmd":"separate","input":"in.wav","output":"dog.wav","text":"a dog barking"}"#)
        XCTAssertEqual(dog["status"], "error")
        guard case .string(let message)? = dog["message"] else { return XCTFail() }
        XCTAssertTrue(message.hasPrefix("Model not loaded. Use load_model first"), message)
        XCTAssertTrue(message.contains("a dog barking"), message)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/dog.wav"), "nothing written for a refused query")
    }

    func testTheAnswerAndTheFileAgreeOnLengthRateAndChannels() throws {
        let worker = session()
        try makeInput(seconds: 2.5)
        let reply = try answer(worker, #"{"cmd":"separate","input":"in.wav","output":"out.wav","engine":"identity","output_sample_rate":16000,"use_chunk":true,"chunk_seconds":1,"overlap_seconds":0.25}"#)
        XCTAssertEqual(reply["status"], "done", reply.encoded)
        XCTAssertEqual(reply["files"], .array([.string(directory + "/out.wav")]))
        XCTAssertEqual(reply["sample_rate"], 16_000)
        XCTAssertEqual(reply["channels"], 2)
        XCTAssertEqual(reply["frames"], 40_000)
        XCTAssertEqual(reply["duration"], 2.5)
        XCTAssertEqual(reply["input_duration"], 2.5)
        XCTAssertEqual(reply["use_chunk"], true)
        XCTAssertEqual(reply["chunk_seconds"], 1)
        XCTAssertEqual(reply["overlap_seconds"], 0.25)
        guard case .number(let elapsed)? = reply["elapsed"] else { return XCTFail() }
        XCTAssertGreaterThan(elapsed, 0)
        let written = try SndfileSource(.path(directory + "/out.wav"))
        XCTAssertEqual(written.description.sampleRate, 16_000)
        XCTAssertEqual(written.description.channelCount, 2)
        XCTAssertEqual(written.description.knownFrames, 40_000)
    }

    func testRemoveWithTheIdentityEngineLeavesSilence() throws {
        let worker = session()
        try makeInput(seconds: 1)
        let reply = try answer(worker, #"{"cmd":"separate","input":"in.wav","output":"rest.wav","engine":"identity","remove":true}"#)
        XCTAssertEqual(reply["remove"], true)
        let source = try SndfileSource(.path(directory + "/rest.wav"))
        let block = try source.read(maxFrames: 100_000)
        XCTAssertEqual(block[0].count, 44_100)
        XCTAssertEqual(block.flatMap { $0 }.map(abs).max(), 0)
    }

    func testUseChunkFalseIsOneWindowAsLongAsTheInput() throws {
        try makeInput(seconds: 6)
        let worker = session()
        let whole = try answer(worker, #"{"cmd":"separate","input":"in.wav","output":"a.wav","engine":"identity","use_chunk":false}"#)
        XCTAssertEqual(whole["use_chunk"], false)
        guard case .number(let window)? = whole["chunk_seconds"] else { return XCTFail() }
        XCTAssertGreaterThanOrEqual(window, 6)
        XCTAssertLessThan(window, 6.01)
        XCTAssertEqual(whole["overlap_seconds"], 0)
        XCTAssertEqual(whole["frames"], .number(6 * 44_100))

        let windows = try answer(worker, #"{"cmd":"separate","input":"in.wav","output":"b.wav","engine":"identity","use_chunk":true,"chunk_seconds":4}"#)
        XCTAssertEqual(windows["use_chunk"], true)
        XCTAssertEqual(windows["chunk_seconds"], 4)
        XCTAssertEqual(windows["overlap_seconds"], 0.4, "a tenth of the window, at most 1 s, when not given")

        let auto = try answer(worker, #"{"cmd":"separate","input":"in.wav","output":"c.wav","engine":"identity","use_chunk":"auto"}"#)
        XCTAssertEqual(auto["use_chunk"], false, "6 s is under the 30 s threshold")

        let capped = try answer(session(maxPassSeconds: 5), #"{"cmd":"separate","input":"in.wav","output":"d.wav","engine":"identity","use_chunk":false}"#)
        XCTAssertEqual(capped["use_chunk"], true, capped.encoded)
        guard case .string(let note)? = capped["note"] else { return XCTFail("no note: \(capped.encoded)") }
        XCTAssertTrue(note.contains("chunked"), note)
    }

    func testAutoChunksFromLoadModelsThreshold() throws {
        try makeInput(seconds: 3)
        let worker = session()
        let load = try answer(worker, #"{"cmd":"load_model","checkpoint_path":"\#(Self.workerModel)","chunk_seconds":2}"#)
        XCTAssertEqual(load["status"], "model_loaded", load.encoded)
        let reply = try answer(worker, #"{"cmd":"separate","input":"in.wav","output":"a.wav","engine":"identity","use_chunk":"auto"}"#)
        XCTAssertEqual(reply["use_chunk"], true, "3 s is over load_model's chunk_seconds of 2")
    }

    func testOnePassWindowIsOneAudioSepBlockCount() {
        /// AudioSep's snapping, without the network.
        final class Snapping: Separator {
            let name = "snapping", sampleRate = 32_000
            func preferredChunkFrames(near frames: Int) -> Int? {
                let blocks = max(1, Int((Double(frames) / 320 + 1) / 32 + 0.5))
                return (blocks * 32 - 1) * 320
            }
            func separate(channels: [[Float]]) throws -> [[[Float]]] { [channels] }
        }
        for seconds in [0.05, 1.0, 4.0, 9.91, 10.3, 61.7] {
            let inputFrames = Int(seconds * 44_100)
            let frames = SeparationRun.onePassFrames(inputFrames: inputFrames, inputRate: 44_100, engine: Snapping())
            XCTAssertGreaterThan(frames, inputFrames * 32_000 / 44_100, "\(seconds) s: the window holds the input")
            XCTAssertEqual((frames / 320 + 1) % 32, 0, "\(seconds) s: whole blocks of 32 STFT frames")
            XCTAssertEqual(frames % 320, 0)
            XCTAssertLessThanOrEqual(frames - inputFrames * 32_000 / 44_100, 32 * 320 + 2, "\(seconds) s: the shortest such window")
        }
        XCTAssertEqual(SeparationRun.onePassFrames(inputFrames: 317_120, inputRate: 32_000, engine: Snapping()), 317_120,
                       "9.91 s at 32 kHz is exactly one 31-block window")
        XCTAssertEqual(SeparationRun.onePassFrames(inputFrames: 1000, inputRate: 32_000, engine: IdentityEngine()), 1000)
        XCTAssertEqual(SeparationRun.onePassFrames(inputFrames: 1000, inputRate: 44_100, engine: IdentityEngine()), 727)
    }

    func testLoadModelAnswersAndTheCacheSequence() throws {
        let worker = session(maxCachedModels: 1)
        let first = try answer(worker, loadLine())
        XCTAssertEqual(first["status"], "model_loaded", first.encoded)
        XCTAssertEqual(first["cached"], false)
        XCTAssertEqual(first["device"], "cpu")
        XCTAssertEqual(first["checkpoint_path"], .string(Self.workerModel))
        XCTAssertEqual(first["clap_checkpoint_path"], .string(Self.clap + "/clap.pt"))
        XCTAssertEqual(first["roberta_dir"], .string(Self.clap + "/roberta-base"))
        XCTAssertEqual(first["config_path"], .string(directory + "/config/audiosep_base.yaml"))
        XCTAssertEqual(first["cache_size"], 1)
        XCTAssertEqual(first["max_cached_models"], 1)
        XCTAssertEqual(first["text_queries"], true)
        let again = try answer(worker, loadLine())
        XCTAssertEqual(again["cached"], true)
        // A second model evicts the first (one kept), so the first loads again.
        let other = try answer(worker, #"{"cmd":"load_model","model":"\#(Self.tinySafetensors)"}"#)
        XCTAssertEqual(other["cached"], false)
        XCTAssertEqual(other["model"], .string(Self.tinySafetensors))
        XCTAssertEqual(other["text_queries"], false)
        XCTAssertEqual(try answer(worker, loadLine())["cached"], false)

        // Paths are echoed as given (made absolute), not with their symbolic links resolved.
        let link = directory + "/linked.ckpt"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: Self.workerModel)
        let linked = try answer(worker, #"{"cmd":"load_model","checkpoint_path":"./sub/../linked.ckpt"}"#)
        XCTAssertEqual(linked["checkpoint_path"], .string(link), linked.encoded)

        let two = session(maxCachedModels: 2)
        _ = try answer(two, loadLine())
        _ = try answer(two, #"{"cmd":"load_model","model":"\#(Self.tinySafetensors)"}"#)
        let back = try answer(two, loadLine())
        XCTAssertEqual(back["cached"], true)
        XCTAssertEqual(back["cache_size"], 2)

        let none = session(maxCachedModels: 0)
        XCTAssertEqual(try answer(none, loadLine())["cached"], false)
        XCTAssertEqual(try answer(none, loadLine())["cached"], false, "0 keeps no model: every load_model loads")
        XCTAssertEqual(try answer(none, #"{"cmd":"get_status"}"#)["model_loaded"], true, "the last one loaded still serves")
    }

    func testAReplacedCheckpointLoadsAgain() throws {
        // The cache key holds the files' sizes and modification times, not only their paths.
        let copy = directory + "/audiosep.ckpt"
        try FileManager.default.copyItem(atPath: Self.workerModel, toPath: copy)
        let worker = session()
        let line = #"{"cmd":"load_model","checkpoint_path":"audiosep.ckpt"}"#
        XCTAssertEqual(try answer(worker, line)["cached"], false)
        XCTAssertEqual(try answer(worker, line)["cached"], true)
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -3600)], ofItemAtPath: copy)
        XCTAssertEqual(try answer(worker, line)["cached"], false)
    }

    func testMissingOrBrokenModelFilesAreNamed() throws {
        let worker = session()
        let readme = Self.fixtures + "/audiosep-tiny/README.md"
        let cases: [(String, String)] = [
            (#"{"cmd":"load_model","checkpoint_path":"/nope/a.ckpt"}"#, "Checkpoint not found: /nope/a.ckpt"),
            (#"{"cmd":"load_model","checkpoint_path":"\#(Self.workerModel)","clap_checkpoint_path":"/nope/c.pt"}"#,
             "CLAP checkpoint not found: /nope/c.pt"),
            (#"{"cmd":"load_model","checkpoint_path":"\#(Self.workerModel)","roberta_dir":"/nope/roberta-base"}"#,
             "RoBERTa dir not found: /nope/roberta-base"),
            (#"{"cmd":"load_model","model":"/nope/model"}"#, "Model not found: /nope/model"),
            (#"{"cmd":"load_model","checkpoint_path":"\#(readme)"}"#, "Failed to load model: "),
            (#"{"cmd":"load_model"}"#, "Missing field 'checkpoint_path'"),
        ]
        for (line, message) in cases {
            let reply = try answer(worker, line)
            XCTAssertEqual(reply["status"], "error", line)
            guard case .string(let text)? = reply["message"] else { return XCTFail(line) }
            XCTAssertTrue(text.hasPrefix(message), "\(line): \(text)")
        }
        XCTAssertEqual(try answer(worker, #"{"cmd":"get_status"}"#)["model_loaded"], false)
    }

    func testQueryEmbeddingsAreKeptAcrossCommands() throws {
        try makeInput(seconds: 1)
        let worker = session()
        XCTAssertEqual(try answer(worker, loadLine())["status"], "model_loaded")
        let first = try answer(worker, #"{"cmd":"separate","input":"in.wav","output":"a.wav","text":"vocals","use_chunk":true}"#)
        XCTAssertEqual(first["status"], "done", first.encoded)
        XCTAssertEqual(first["engine"], "audiosep")
        XCTAssertEqual(first["query_cached"], false)
        let second = try answer(worker, #"{"cmd":"separate","input":"in.wav","output":"b.wav","text":"vocals","use_chunk":true}"#)
        XCTAssertEqual(second["query_cached"], true)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: directory + "/a.wav")),
                       try Data(contentsOf: URL(fileURLWithPath: directory + "/b.wav")), "a warm run separates exactly as a cold one")
        let other = try answer(worker, #"{"cmd":"separate","input":"in.wav","output":"c.wav","text":"a dog barking","use_chunk":true}"#)
        XCTAssertEqual(other["query_cached"], false)
        XCTAssertNotEqual(try Data(contentsOf: URL(fileURLWithPath: directory + "/a.wav")),
                          try Data(contentsOf: URL(fileURLWithPath: directory + "/c.wav")))
    }

    func testTheQueryEmbeddingIsTheReferenceOne() throws {
        // clap-tiny/queries.json holds the reference embeddings of this stack (roberta-base → clap.pt →
        // AudioSep checkpoint overrides); the worker's model must encode text to the same vectors.
        struct Query: Decodable { let text: String; let embedding: [Float] }
        let queries = try JSONDecoder().decode([Query].self, from: Data(contentsOf: URL(fileURLWithPath: Self.clap + "/queries.json")))
        let query = try XCTUnwrap(queries.first { $0.text == "a dog barking in the rain" })
        let model = try LoadedModel(files: ModelFiles(checkpoint: Self.workerModel, clapCheckpoint: Self.clap + "/clap.pt",
                                                      robertaDirectory: Self.clap + "/roberta-base"))
        let (values, cached) = try model.embedding(for: query.text, disk: nil)
        XCTAssertFalse(cached)
        XCTAssertLessThanOrEqual(zip(values, query.embedding).map { abs($0 - $1) }.max()!, 1e-4)
        XCTAssertTrue(try model.embedding(for: query.text, disk: nil).cached)
    }

    func testAnEmbeddingFileWorksWithAModelThatHasNoTextEncoder() throws {
        try makeInput(seconds: 1)
        let worker = session()
        XCTAssertEqual(try answer(worker, #"{"cmd":"load_model","model":"\#(Self.tinySafetensors)"}"#)["status"], "model_loaded")
        let text = try answer(worker, #"{"cmd":"separate","input":"in.wav","output":"a.wav","text":"vocals"}"#)
        XCTAssertEqual(text["status"], "error")
        guard case .string(let message)? = text["message"] else { return XCTFail() }
        XCTAssertTrue(message.hasPrefix("Separation failed: this model cannot encode text queries"), message)
        XCTAssertTrue(message.contains("roberta_dir"), message)
        let embedded = try answer(worker, #"{"cmd":"separate","input":"in.wav","output":"a.wav","embedding":"\#(Self.fixtures)/audiosep-tiny/embedding.f32"}"#)
        XCTAssertEqual(embedded["status"], "done", embedded.encoded)
        XCTAssertEqual(embedded["engine"], "audiosep")
    }

    func testInputAndOutputMayNotBeTheSameFile() throws {
        try makeInput()
        let reply = try answer(session(), #"{"cmd":"separate","input":"in.wav","output":"./in.wav","engine":"identity"}"#)
        XCTAssertEqual(reply["status"], "error")
        XCTAssertNotNil(try SndfileSource(.path(directory + "/in.wav")).description.knownFrames, "the input is intact")
    }

    func testAnUnreadableInputIsASeparationFailure() throws {
        _ = FileManager.default.createFile(atPath: directory + "/garbage.wav", contents: Data((0..<5000).map { UInt8($0 % 251) }))
        let reply = try answer(session(), #"{"cmd":"separate","input":"garbage.wav","output":"o.wav","engine":"identity"}"#)
        XCTAssertEqual(reply["status"], "error")
        guard case .string(let message)? = reply["message"] else { return XCTFail() }
        XCTAssertTrue(message.hasPrefix("Separation failed: "), message)
    }
}
