import Foundation
import TestSupport
import XCTest

/// The packaged AudioSep worker's own regression check (`verify_output_format.py` in
/// ostinsolo/AudioSep-cxfreeze), spoken to the real binary: load_model, separate with
/// `"use_chunk": false`, exit; then the output is read back. Its assertions: stereo, 44.1 kHz,
/// a valid WAV, as long as the input within 0.05 s. And load_model as that worker takes it:
/// relative paths from the executable's folder, its default text files, its fields echoed.
final class WorkerPackagedFormatEndToEndTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures").path
    static let checkpoint = fixtures + "/worker-tiny/audiosep.ckpt"
    static let clap = fixtures + "/clap-tiny/clap.pt"
    static let roberta = fixtures + "/clap-tiny/roberta-base"

    /// verify_output_format.py's load_model line, with the fixture model's files.
    static func loadModel(extra: String = "") -> String {
        #"{"cmd":"load_model","config_path":"/tmp/audiosep_models/config/audiosep_base.yaml","checkpoint_path":"\#(checkpoint)","clap_checkpoint_path":"\#(clap)","roberta_dir":"\#(roberta)","use_torch_stft":"auto","auto_stft_seconds":60,"mmap":false\#(extra)}"#
    }

    static func separate(_ input: String, _ output: String, extra: String = "") -> String {
        #"{"cmd":"separate","input":"\#(input)","output":"\#(output)","text":"vocals","use_chunk":false\#(extra)}"#
    }

    /// Runs `binary` (the built one unless given) with `lines` on stdin in `folder`; the answers.
    func worker(_ lines: [String], flags: String = "--worker", binary: String = "$BIN", in folder: String? = nil,
                environment: String = "") throws -> (answers: [[String: Any]], run: Harness.Result) {
        let commands = Harness.path("commands-\(UUID().uuidString).jsonl")
        try (lines.joined(separator: "\n") + "\n").write(toFile: commands, atomically: true, encoding: .utf8)
        let home = Harness.path("home-\(UUID().uuidString)")
        let change = folder.map { "cd \($0) && " } ?? ""
        let run = try Harness.shell("\(change)HOME=\(home) \(environment) \(binary) \(flags) < \(commands)")
        var answers: [[String: Any]] = []
        for line in String(decoding: run.stdout, as: UTF8.self).split(separator: "\n") {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            answers.append(try XCTUnwrap(object, "not a JSON object: \(line)"))
        }
        return (answers, run)
    }

    func makeInput(_ name: String, seconds: Double, rate: Int, channels: Int, bits: Int = 16) throws -> String {
        let path = Harness.path(name)
        let made = try Harness.shell("sox -n -r \(rate) -c \(channels) -b \(bits) \(path) synth \(seconds) pluck C3 sine 1250 vol 0.5")
        XCTAssertEqual(made.status, 0, made.stderr)
        return path
    }

    /// The fmt chunk of a WAV file, read from its bytes: format tag, channels, rate, bits.
    struct WAVHeader: Equatable { var tag: Int, channels: Int, rate: Int, bits: Int }

    func header(_ path: String) throws -> WAVHeader {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        func le(_ at: Int, _ count: Int) -> Int { (0..<count).reduce(0) { $0 | Int(bytes[at + $1]) << (8 * $1) } }
        XCTAssertEqual(String(decoding: bytes[0..<4], as: UTF8.self), "RIFF")
        XCTAssertEqual(String(decoding: bytes[8..<12], as: UTF8.self), "WAVE")
        var at = 12
        while at + 8 <= bytes.count {
            let size = le(at + 4, 4)
            if String(decoding: bytes[at..<at + 4], as: UTF8.self) == "fmt " {
                return WAVHeader(tag: le(at + 8, 2), channels: le(at + 10, 2), rate: le(at + 12, 4), bits: le(at + 22, 2))
            }
            at += 8 + size + size % 2
        }
        throw CocoaError(.fileReadCorruptFile)
    }

    func testThePackagedWorkersRegressionCheckPassesForMonoAndStereoInputs() throws {
        let inputs = [("mono 16 kHz", try makeInput("verify-mono16k.wav", seconds: 3, rate: 16_000, channels: 1, bits: 24), 16_000),
                      ("stereo 48 kHz", try makeInput("verify-stereo48k.wav", seconds: 3, rate: 48_000, channels: 2), 48_000),
                      ("stereo 44.1 kHz", try makeInput("verify-stereo44k.wav", seconds: 3, rate: 44_100, channels: 2), 44_100)]
        for (label, input, rate) in inputs {
            let output = Harness.path("audiosep_verify_output-\(rate).wav")
            let session = try worker([Self.loadModel(), Self.separate(input, output), #"{"cmd":"exit"}"#])
            XCTAssertEqual(session.run.status, 0, "\(label): \(session.run.stderr)")
            XCTAssertEqual(session.answers.map { $0["status"] as? String }, ["loading", "ready", "model_loaded", "done", "exiting"],
                           "\(label): \(session.run.stderr)")
            guard session.answers.count == 5 else { continue }
            let done = session.answers[3]
            XCTAssertEqual(done["output_format"] as? String, "packaged", label)
            XCTAssertEqual(done["sample_rate"] as? Int, 44_100, label)
            XCTAssertEqual(done["channels"] as? Int, 2, label)
            XCTAssertEqual(done["bits"] as? Int, 16, label)
            XCTAssertEqual(done["encoding"] as? String, "signed-integer", label)
            XCTAssertEqual(done["use_chunk"] as? Bool, false, label)
            XCTAssertEqual(done["engine"] as? String, "audiosep", label)
            // What verify_output_format.py checks, and the header's own fields.
            XCTAssertEqual(try header(output), WAVHeader(tag: 1, channels: 2, rate: 44_100, bits: 16), label)
            let audio = try Harness.readAudio(output)
            XCTAssertEqual(audio.rate, 44_100, label)
            XCTAssertEqual(audio.channels.count, 2, label)
            XCTAssertEqual(audio.format.bits, 16, label)
            let inputAudio = try Harness.readAudio(input)
            let inputSeconds = Double(inputAudio.channels[0].count) / Double(inputAudio.rate)
            let outputSeconds = Double(audio.channels[0].count) / Double(audio.rate)
            XCTAssertLessThanOrEqual(abs(inputSeconds - outputSeconds), 0.05, label)
            XCTAssertEqual(audio.channels[0].count, 3 * 44_100, "\(label): exactly as long")
            XCTAssertGreaterThan(audio.channels[0].map(abs).max() ?? 0, 0, "\(label): something was separated")
            if inputAudio.channels.count == 1 {
                XCTAssertEqual(audio.channels[0], audio.channels[1], "\(label): the mono result on both channels")
            } else {
                XCTAssertNotEqual(audio.channels[0], audio.channels[1], "\(label): each channel separated on its own")
            }
        }
    }

    func testOutputFormatInputWritesTheInputsOwnFormat() throws {
        let mono = try makeInput("keep-mono16k.wav", seconds: 2, rate: 16_000, channels: 1, bits: 24)
        let stereo = try makeInput("keep-stereo48k.wav", seconds: 2, rate: 48_000, channels: 2)
        let outputs = (0..<5).map { Harness.path("keep-out-\($0).wav") }
        // On separate; on load_model for the session, which separate's own field overrides.
        let perCommand = try worker([Self.loadModel(), Self.separate(mono, outputs[0], extra: #","output_format":"input""#),
                                     Self.loadModel(extra: #","output_format":"input""#), Self.separate(stereo, outputs[1]),
                                     Self.separate(mono, outputs[2]), Self.separate(mono, outputs[3], extra: #","output_format":"packaged""#),
                                     #"{"cmd":"exit"}"#])
        XCTAssertEqual(perCommand.run.status, 0, perCommand.run.stderr)
        let done = perCommand.answers.filter { $0["status"] as? String == "done" }
        XCTAssertEqual(done.map { $0["output_format"] as? String }, ["input", "input", "input", "packaged"], "\(perCommand.answers)")
        XCTAssertEqual(perCommand.answers.filter { $0["status"] as? String == "model_loaded" }.map { $0["output_format"] as? String },
                       ["packaged", "input"])
        // The flag, for every command of the worker.
        let flagged = try worker([Self.loadModel(), Self.separate(mono, outputs[4]), #"{"cmd":"exit"}"#],
                                 flags: "--worker --output-format input")
        XCTAssertEqual(flagged.run.status, 0, flagged.run.stderr)
        let expected = [(outputs[0], 16_000, 1, 24), (outputs[1], 48_000, 2, 16), (outputs[2], 16_000, 1, 24),
                        (outputs[3], 44_100, 2, 16), (outputs[4], 16_000, 1, 24)]
        for (output, rate, channels, bits) in expected {
            let audio = try Harness.readAudio(output)
            XCTAssertEqual(audio.rate, rate, output)
            XCTAssertEqual(audio.channels.count, channels, output)
            XCTAssertEqual(audio.format.bits, bits, output)
            XCTAssertEqual(audio.channels[0].count, 2 * rate, output)
        }
        XCTAssertEqual(done.first?["bits"] as? Int, 24)
        XCTAssertEqual(done.first?["sample_rate"] as? Int, 16_000)
        let bad = try worker([#"{"cmd":"exit"}"#], flags: "--worker --output-format mp3")
        XCTAssertEqual(bad.run.status, 1)
        XCTAssertTrue(bad.run.stderr.contains("--output-format must be packaged or input"), bad.run.stderr)
    }

    /// A copy of the binary in its own folder, laid out as the packaged worker's folder is:
    /// checkpoint/ with both checkpoints, roberta-base/ beside it.
    func makePackagedFolder() throws -> String {
        let folder = Harness.path("packaged-\(UUID().uuidString)")
        let manager = FileManager.default
        try manager.createDirectory(atPath: folder + "/checkpoint", withIntermediateDirectories: true)
        try manager.copyItem(atPath: Harness.binary, toPath: folder + "/audiosep-stream")
        try manager.copyItem(atPath: Self.checkpoint, toPath: folder + "/checkpoint/audiosep_base_4M_steps.ckpt")
        try manager.copyItem(atPath: Self.clap, toPath: folder + "/checkpoint/music_speech_audioset_epoch_15_esc_89.98.pt")
        try manager.copyItem(atPath: Self.roberta, toPath: folder + "/roberta-base")
        return folder
    }

    func testLoadModelPathsAndDefaultsAreTakenFromTheExecutablesFolder() throws {
        let folder = try makePackagedFolder()
        let elsewhere = Harness.path("current-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
        _ = try makeInput("relative-in.wav", seconds: 1, rate: 32_000, channels: 1)
        try FileManager.default.copyItem(atPath: Harness.path("relative-in.wav"), toPath: elsewhere + "/in.wav")
        let session = try worker([
            #"{"cmd":"load_model","checkpoint_path":"checkpoint/audiosep_base_4M_steps.ckpt"}"#,
            #"{"cmd":"separate","input":"in.wav","output":"out.wav","text":"vocals","use_chunk":false}"#,
            #"{"cmd":"load_model","checkpoint_path":"checkpoint/nothere.ckpt"}"#,
            #"{"cmd":"load_model"}"#,
            #"{"cmd":"exit"}"#,
        ], binary: folder + "/audiosep-stream", in: elsewhere)
        XCTAssertEqual(session.run.status, 0, session.run.stderr)
        let answers = Array(session.answers.dropFirst(2))
        XCTAssertEqual(answers.map { $0["status"] as? String }, ["model_loaded", "done", "error", "model_loaded", "exiting"],
                       "\(session.answers) \(session.run.stderr)")
        guard answers.count == 5 else { return }
        XCTAssertEqual(answers[0]["checkpoint_path"] as? String, folder + "/checkpoint/audiosep_base_4M_steps.ckpt")
        XCTAssertEqual(answers[0]["clap_checkpoint_path"] as? String, folder + "/checkpoint/music_speech_audioset_epoch_15_esc_89.98.pt")
        XCTAssertEqual(answers[0]["roberta_dir"] as? String, folder + "/roberta-base")
        XCTAssertEqual(answers[0]["text_queries"] as? Bool, true, "the packaged worker's default text files")
        // separate's paths are the current folder's, and the text query was encoded.
        XCTAssertEqual(answers[1]["files"] as? [String], [elsewhere + "/out.wav"])
        XCTAssertEqual(answers[1]["engine"] as? String, "audiosep")
        XCTAssertEqual(answers[1]["query_cached"] as? Bool, false)
        XCTAssertTrue(FileManager.default.fileExists(atPath: elsewhere + "/out.wav"))
        XCTAssertEqual(answers[2]["message"] as? String, "Checkpoint not found: \(folder)/checkpoint/nothere.ckpt (a relative path "
                       + "in load_model is taken from the worker's folder, \(folder))")
        XCTAssertEqual(answers[3]["checkpoint_path"] as? String, folder + "/checkpoint/audiosep_base_4M_steps.ckpt",
                       "no checkpoint_path: the packaged worker's default")
    }

    func testACheckpointAloneFindsTheTextFilesBesideIt() throws {
        let folder = Harness.path("beside-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.checkpoint, toPath: folder + "/audiosep_base_4M_steps.ckpt")
        try FileManager.default.copyItem(atPath: Self.clap, toPath: folder + "/music_speech_audioset_epoch_15_esc_89.98.pt")
        try FileManager.default.copyItem(atPath: Self.roberta, toPath: folder + "/roberta-base")
        let input = try makeInput("beside-in.wav", seconds: 1, rate: 44_100, channels: 2)
        let output = Harness.path("beside-out.wav")
        let session = try worker([#"{"cmd":"load_model","checkpoint_path":"\#(folder)/audiosep_base_4M_steps.ckpt"}"#,
                                  Self.separate(input, output), #"{"cmd":"exit"}"#])
        XCTAssertEqual(session.run.status, 0, session.run.stderr)
        let loaded = try XCTUnwrap(session.answers.first { $0["status"] as? String == "model_loaded" }, "\(session.answers)")
        XCTAssertEqual(loaded["text_queries"] as? Bool, true)
        XCTAssertEqual(loaded["clap_checkpoint_path"] as? String, folder + "/music_speech_audioset_epoch_15_esc_89.98.pt")
        XCTAssertEqual(loaded["roberta_dir"] as? String, folder + "/roberta-base")
        let done = try XCTUnwrap(session.answers.first { $0["status"] as? String == "done" }, "\(session.answers)")
        XCTAssertEqual(done["engine"] as? String, "audiosep")
        XCTAssertTrue(session.run.stderr.contains("clap_checkpoint_path not given: using \(folder)/"), session.run.stderr)
    }

    func testModelLoadedEchoesMmapDeviceAndChunkSeconds() throws {
        let session = try worker([#"{"cmd":"load_model","checkpoint_path":"\#(Self.checkpoint)","mmap":true,"device":"cuda","chunk_seconds":12}"#,
                                  #"{"cmd":"exit"}"#])
        XCTAssertEqual(session.run.status, 0, session.run.stderr)
        let loaded = try XCTUnwrap(session.answers.first { $0["status"] as? String == "model_loaded" }, "\(session.answers)")
        XCTAssertEqual(loaded["mmap"] as? Bool, true)
        XCTAssertEqual(loaded["chunk_seconds"] as? Double, 12)
        XCTAssertEqual(loaded["device"] as? String, "cpu")
        XCTAssertEqual(loaded["device_requested"] as? String, "cuda")
        let note = loaded["note"] as? String ?? ""
        XCTAssertTrue(note.contains("\"cuda\"") && note.contains("CPU"), note)
    }
}
