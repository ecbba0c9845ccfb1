import Separation
import XCTest
@testable import Worker

/// Command lines as the packaged worker's hosts send them, and the ways they go wrong.
final class WorkerRequestTests: XCTestCase {
    func testThePackagedWorkersLoadModelLineWithEveryField() throws {
        let line = #"{"cmd":"load_model","config_path":"/abs/path/config/audiosep_base.yaml","checkpoint_path":"/abs/path/checkpoint/audiosep_base_4M_steps.ckpt","clap_checkpoint_path":"/abs/path/checkpoint/music_speech_audioset_epoch_15_esc_89.98.pt","roberta_dir":"/abs/path/roberta-base","mmap":false,"use_torch_stft":"auto","auto_stft_seconds":60,"device":"mps","some_future_field":{"x":[1,2]}}"#
        guard case .loadModel(let request) = try WorkerRequest.parse(line) else { return XCTFail("not load_model") }
        XCTAssertEqual(request.configPath, "/abs/path/config/audiosep_base.yaml")
        XCTAssertEqual(request.checkpointPath, "/abs/path/checkpoint/audiosep_base_4M_steps.ckpt")
        XCTAssertEqual(request.clapCheckpointPath, "/abs/path/checkpoint/music_speech_audioset_epoch_15_esc_89.98.pt")
        XCTAssertEqual(request.robertaDirectory, "/abs/path/roberta-base")
        XCTAssertNil(request.model)
        XCTAssertFalse(request.mmap)
        XCTAssertEqual(request.useTorchSTFTMode, "auto")
        XCTAssertFalse(request.useTorchSTFTValue)
        XCTAssertEqual(request.autoSTFTSeconds, 60)
        XCTAssertEqual(request.autoChunkSeconds, 30, "the packaged worker's default threshold for use_chunk auto")
        XCTAssertEqual(request.device, "mps")
        XCTAssertNil(request.outputFormat, "absent: the worker's --output-format")
    }

    func testOutputFormatOnSeparateAndLoadModel() throws {
        guard case .separate(let bare) = try WorkerRequest.parse(#"{"cmd":"separate","input":"i","output":"o"}"#) else { return XCTFail() }
        XCTAssertNil(bare.outputFormat)
        guard case .separate(let input) = try WorkerRequest.parse(#"{"cmd":"separate","input":"i","output":"o","output_format":"input"}"#)
        else { return XCTFail() }
        XCTAssertEqual(input.outputFormat, .input)
        guard case .loadModel(let load) = try WorkerRequest.parse(#"{"cmd":"load_model","output_format":"Packaged"}"#) else { return XCTFail() }
        XCTAssertEqual(load.outputFormat, .packaged)
        XCTAssertThrowsError(try WorkerRequest.parse(#"{"cmd":"load_model","output_format":"wav"}"#)) { error in
            XCTAssertEqual(error as? WorkerError, .invalidField(field: "output_format", value: "wav", expected: "packaged or input"))
        }
        XCTAssertEqual(OutputFormat.default, .packaged)
    }

    func testLoadModelDefaultsAndLooseTypes() throws {
        guard case .loadModel(let plain) = try WorkerRequest.parse(#"{"cmd":"load_model","model":"/m"}"#) else { return XCTFail() }
        XCTAssertEqual(plain.model, "/m")
        XCTAssertEqual(plain.useTorchSTFTMode, "force")
        XCTAssertEqual(plain.autoSTFTSeconds, 60)
        // The packaged worker takes float(x) and bool(x): numbers as strings, 0/1 for flags.
        let loose = #"{"cmd":"load_model","checkpoint_path":"c","use_torch_stft":1,"mmap":"true","auto_stft_seconds":"90","chunk_seconds":12.5}"#
        guard case .loadModel(let request) = try WorkerRequest.parse(loose) else { return XCTFail() }
        XCTAssertEqual(request.useTorchSTFTMode, "force")
        XCTAssertTrue(request.useTorchSTFTValue)
        XCTAssertTrue(request.mmap)
        XCTAssertEqual(request.autoSTFTSeconds, 90)
        XCTAssertEqual(request.autoChunkSeconds, 12.5)
    }

    func testThePackagedWorkersSeparateLine() throws {
        let line = #"{"cmd":"separate","input":"/path/to/test_4s.wav","output":"/tmp/audiosep_4s.wav","text":"vocals","use_chunk":true}"#
        guard case .separate(let request) = try WorkerRequest.parse(line) else { return XCTFail("not separate") }
        XCTAssertEqual(request.input, "/path/to/test_4s.wav")
        XCTAssertEqual(request.output, "/tmp/audiosep_4s.wav")
        XCTAssertEqual(request.text, "vocals")
        XCTAssertEqual(request.chunking, .on)
        XCTAssertNil(request.chunkSeconds)
        XCTAssertNil(request.overlapSeconds)
        XCTAssertNil(request.outputSampleRate)
        XCTAssertFalse(request.remove)
        XCTAssertEqual(request.engine, .auto)
    }

    func testUseChunkValues() throws {
        func chunking(_ value: String) throws -> SeparateRequest.Chunking {
            let line = #"{"cmd":"separate","input":"i","output":"o""# + (value.isEmpty ? "" : #","use_chunk":"# + value) + "}"
            guard case .separate(let request) = try WorkerRequest.parse(line) else { throw WorkerError.unknownCommand("?") }
            return request.chunking
        }
        XCTAssertEqual(try chunking("true"), .on)
        XCTAssertEqual(try chunking("false"), .off)
        XCTAssertEqual(try chunking(#""auto""#), .auto)
        XCTAssertEqual(try chunking(#""AUTO""#), .auto)
        XCTAssertEqual(try chunking("1"), .on)
        XCTAssertEqual(try chunking("0"), .off)
        XCTAssertEqual(try chunking(""), .auto, "absent: one pass for short inputs, windows for long ones")
        XCTAssertEqual(try chunking("null"), .auto)
        XCTAssertThrowsError(try chunking(#""sometimes""#)) { error in
            XCTAssertEqual(error as? WorkerError, .invalidField(field: "use_chunk", value: #""sometimes""#, expected: "true or false"))
        }
        XCTAssertThrowsError(try chunking("2"))
    }

    func testSeparateOptionalFields() throws {
        let line = #"{"cmd":"separate","input":"i","output":"o","chunk_seconds":"5","overlap_seconds":0.5,"output_sample_rate":48000,"remove":true,"downmix":1,"engine":"dsp","embedding":"e.f32"}"#
        guard case .separate(let request) = try WorkerRequest.parse(line) else { return XCTFail() }
        XCTAssertEqual(request.chunkSeconds, 5)
        XCTAssertEqual(request.overlapSeconds, 0.5)
        XCTAssertEqual(request.outputSampleRate, 48_000)
        XCTAssertTrue(request.remove)
        XCTAssertTrue(request.downmix)
        XCTAssertEqual(request.engine, .dsp)
        XCTAssertEqual(request.embedding, "e.f32")
        guard case .separate(let bare) = try WorkerRequest.parse(#"{"cmd":"separate","input":"i","output":"o"}"#) else { return XCTFail() }
        XCTAssertEqual(bare.text, "speech", "the packaged worker's default query")
    }

    func testEveryMalformedLineIsATypedError() {
        let cases: [(String, WorkerError)] = [
            ("{bad json", .invalidJSON(line: "{bad json")),
            (#"{"cmd":"separate","input":"i""#, .invalidJSON(line: #"{"cmd":"separate","input":"i""#)),
            ("[1,2]", .notAnObject(line: "[1,2]")),
            ("42", .notAnObject(line: "42")),
            (#"{"text":"vocals"}"#, .missingField(command: "the command", field: "cmd")),
            (#"{"cmd":5}"#, .invalidField(field: "cmd", value: "5", expected: "a string")),
            (#"{"cmd":"frobnicate"}"#, .unknownCommand("frobnicate")),
            (#"{"cmd":"separate","output":"o"}"#, .missingField(command: "separate", field: "input")),
            (#"{"cmd":"separate","input":"i"}"#, .missingField(command: "separate", field: "output")),
            (#"{"cmd":"separate","input":"","output":"o"}"#, .missingField(command: "separate", field: "input")),
            (#"{"cmd":"separate","input":7,"output":"o"}"#, .invalidField(field: "input", value: "7", expected: "a string")),
            (#"{"cmd":"separate","input":"i","output":"o","chunk_seconds":0}"#,
             .invalidField(field: "chunk_seconds", value: "0", expected: "the window length, above 0 s and at most 3600 s")),
            (#"{"cmd":"separate","input":"i","output":"o","overlap_seconds":-1}"#,
             .invalidField(field: "overlap_seconds", value: "-1", expected: "the overlap, 0 s or more, and at most half the window")),
            (#"{"cmd":"separate","input":"i","output":"o","chunk_seconds":"ten"}"#,
             .invalidField(field: "chunk_seconds", value: #""ten""#, expected: "a number")),
            (#"{"cmd":"separate","input":"i","output":"o","output_sample_rate":44100.5}"#,
             .invalidField(field: "output_sample_rate", value: "44100.5",
                           expected: "a sample rate, a whole number of hz from 1 to 4000000")),
            (#"{"cmd":"separate","input":"i","output":"o","engine":"magic"}"#,
             .invalidField(field: "engine", value: "magic", expected: "auto, audiosep, dsp, identity")),
            (#"{"cmd":"load_model","mmap":"perhaps"}"#, .invalidField(field: "mmap", value: #""perhaps""#, expected: "true or false")),
        ]
        for (line, expected) in cases {
            XCTAssertThrowsError(try WorkerRequest.parse(line), line) { error in
                XCTAssertEqual(error as? WorkerError, expected, line)
            }
        }
    }

    func testMessagesStartAsThePackagedWorkersDo() {
        XCTAssertTrue(WorkerError.invalidJSON(line: "{").description.hasPrefix("Invalid JSON"))
        XCTAssertTrue(WorkerError.unknownCommand("x").description.hasPrefix("Unknown command: x"))
        XCTAssertEqual(WorkerError.fileNotFound(kind: "Checkpoint", path: "/c").description, "Checkpoint not found: /c")
        XCTAssertEqual(WorkerError.inputNotFound(path: "/i").description, "Input not found: /i")
        XCTAssertTrue(WorkerError.loadFailed(.other("r")).description.hasPrefix("Failed to load model: "))
        XCTAssertTrue(WorkerError.separationFailed(reason: "r").description.hasPrefix("Separation failed: "))
        XCTAssertTrue(WorkerError.modelNotLoaded(reason: "r").description.hasPrefix("Model not loaded. Use load_model first"))
        let long = String(repeating: "x", count: 500)
        XCTAssertLessThan(WorkerError.invalidJSON(line: long).description.count, 100, "a long bad line is quoted in part")
    }

    func testOtherCommands() throws {
        XCTAssertEqual(try WorkerRequest.parse(#"{"cmd":"exit"}"#), .exit)
        XCTAssertEqual(try WorkerRequest.parse(#" {"cmd" : "get_status", "verbose": true} "#), .getStatus)
    }
}
