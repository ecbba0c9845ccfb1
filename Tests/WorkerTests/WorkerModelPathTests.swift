import Foundation
import Stream
@testable import Worker
import XCTest

/// load_model as the packaged worker takes it: relative paths from the worker's own folder, its
/// default CLAP checkpoint and roberta-base/ (else those beside the checkpoint, else the model
/// store's), and the fields it is given echoed in `model_loaded`.
final class WorkerModelPathTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures").path
    static let workerModel = fixtures + "/worker-tiny/audiosep.ckpt"
    static let clapFolder = fixtures + "/clap-tiny"

    /// The current folder of the session (separate's paths) and the worker's own folder (load_model's).
    var current = "", workerFolder = ""

    override func setUpWithError() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("worker-paths-\(UUID().uuidString)").path
        current = root + "/current"
        workerFolder = root + "/bin"
        for folder in [current, workerFolder] {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        }
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: (current as NSString).deletingLastPathComponent)
    }

    func session(environment: [String: String] = [:]) -> WorkerSession {
        var options = WorkerOptions()
        options.threads = 1
        options.embeddingCache = nil
        options.directory = current
        options.modelDirectory = workerFolder
        options.environment = environment
        return WorkerSession(options: options)
    }

    func answer(_ session: WorkerSession, _ line: String) throws -> JSONObject {
        try XCTUnwrap(session.handle(line), "no answer").answer
    }

    /// The packaged worker's layout in `folder`: checkpoint/ with both checkpoints, roberta-base/ beside it.
    func makePackagedLayout(in folder: String) throws {
        let manager = FileManager.default
        try manager.createDirectory(atPath: folder + "/checkpoint", withIntermediateDirectories: true)
        try manager.createSymbolicLink(atPath: folder + "/checkpoint/audiosep_base_4M_steps.ckpt", withDestinationPath: Self.workerModel)
        try manager.createSymbolicLink(atPath: folder + "/checkpoint/music_speech_audioset_epoch_15_esc_89.98.pt",
                                       withDestinationPath: Self.clapFolder + "/clap.pt")
        try manager.createSymbolicLink(atPath: folder + "/roberta-base", withDestinationPath: Self.clapFolder + "/roberta-base")
    }

    func testRelativeLoadModelPathsAreTakenFromTheWorkersFolderAndSeparatePathsFromTheCurrentOne() throws {
        try FileManager.default.copyItem(atPath: Self.workerModel, toPath: workerFolder + "/model.ckpt")
        let worker = session()
        let loaded = try answer(worker, #"{"cmd":"load_model","checkpoint_path":"model.ckpt","config_path":"config/audiosep_base.yaml"}"#)
        XCTAssertEqual(loaded["status"], "model_loaded", loaded.encoded)
        XCTAssertEqual(loaded["checkpoint_path"], .string(workerFolder + "/model.ckpt"))
        XCTAssertEqual(loaded["config_path"], .string(workerFolder + "/config/audiosep_base.yaml"))

        // The same name in the current folder only is not found, and the message names the folder used.
        let worker2 = session()
        try FileManager.default.copyItem(atPath: Self.workerModel, toPath: current + "/here.ckpt")
        let missing = try answer(worker2, #"{"cmd":"load_model","checkpoint_path":"here.ckpt"}"#)
        XCTAssertEqual(missing["message"], .string("Checkpoint not found: \(workerFolder)/here.ckpt (a relative path in load_model "
                                                   + "is taken from the worker's folder, \(workerFolder))"))
        let clap = try answer(worker2, #"{"cmd":"load_model","checkpoint_path":"\#(Self.workerModel)","clap_checkpoint_path":"c.pt"}"#)
        XCTAssertEqual(clap["message"], .string("CLAP checkpoint not found: \(workerFolder)/c.pt (a relative path in load_model "
                                                + "is taken from the worker's folder, \(workerFolder))"))
        let absolute = try answer(worker2, #"{"cmd":"load_model","checkpoint_path":"/nope/a.ckpt"}"#)
        XCTAssertEqual(absolute["message"], "Checkpoint not found: /nope/a.ckpt", "an absolute path needs no folder")

        // separate's input and output are the current folder's, as the packaged worker opens them.
        let sink = try WAVSink(output: try OutputFile(path: current + "/in.wav"), sampleRate: 32_000, channelCount: 1,
                               format: try SampleFormat(encoding: .signedInteger, bits: 16))
        try sink.write([[Float](repeating: 0.1, count: 3_200)])
        try sink.finish()
        let done = try answer(worker, #"{"cmd":"separate","input":"in.wav","output":"out.wav","engine":"identity"}"#)
        XCTAssertEqual(done["files"], .array([.string(current + "/out.wav")]), done.encoded)
    }

    func testOnlyACheckpointFindsTheCLAPCheckpointAndRobertaBesideIt() throws {
        // A model folder: the checkpoint, the CLAP checkpoint and roberta-base/ side by side.
        let folder = (current as NSString).deletingLastPathComponent + "/model"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: folder + "/audiosep.ckpt", withDestinationPath: Self.workerModel)
        try FileManager.default.createSymbolicLink(atPath: folder + "/clap.pt", withDestinationPath: Self.clapFolder + "/clap.pt")
        try FileManager.default.createSymbolicLink(atPath: folder + "/roberta-base", withDestinationPath: Self.clapFolder + "/roberta-base")
        let loaded = try answer(session(), #"{"cmd":"load_model","checkpoint_path":"\#(folder)/audiosep.ckpt"}"#)
        XCTAssertEqual(loaded["status"], "model_loaded", loaded.encoded)
        XCTAssertEqual(loaded["clap_checkpoint_path"], .string(folder + "/clap.pt"))
        XCTAssertEqual(loaded["roberta_dir"], .string(folder + "/roberta-base"))
        XCTAssertEqual(loaded["text_queries"], true)
        // Only the missing one is looked for: a named CLAP checkpoint is kept.
        let named = try answer(session(), #"{"cmd":"load_model","checkpoint_path":"\#(folder)/audiosep.ckpt","clap_checkpoint_path":"\#(Self.clapFolder)/clap.pt"}"#)
        XCTAssertEqual(named["clap_checkpoint_path"], .string(Self.clapFolder + "/clap.pt"))
        XCTAssertEqual(named["roberta_dir"], .string(folder + "/roberta-base"))
    }

    func testThePackagedWorkersDefaultsInItsFolderComeFirst() throws {
        try makePackagedLayout(in: workerFolder)
        // Even for a checkpoint elsewhere, as the packaged worker does.
        let worker = session()
        let loaded = try answer(worker, #"{"cmd":"load_model","checkpoint_path":"\#(Self.workerModel)"}"#)
        XCTAssertEqual(loaded["clap_checkpoint_path"],
                       .string(workerFolder + "/checkpoint/music_speech_audioset_epoch_15_esc_89.98.pt"), loaded.encoded)
        XCTAssertEqual(loaded["roberta_dir"], .string(workerFolder + "/roberta-base"))
        XCTAssertEqual(loaded["text_queries"], true)
        // With no checkpoint_path at all: the packaged worker's default checkpoint.
        let bare = try answer(session(), #"{"cmd":"load_model"}"#)
        XCTAssertEqual(bare["checkpoint_path"], .string(workerFolder + "/checkpoint/audiosep_base_4M_steps.ckpt"), bare.encoded)
        XCTAssertEqual(bare["text_queries"], true)
        // The worker separates a text query with them.
        let sink = try WAVSink(output: try OutputFile(path: current + "/in.wav"), sampleRate: 32_000, channelCount: 1,
                               format: try SampleFormat(encoding: .signedInteger, bits: 16))
        try sink.write([(0..<16_000).map { Float(0.3 * sin(Double($0) * 0.05)) }])
        try sink.finish()
        let done = try answer(worker, #"{"cmd":"separate","input":"in.wav","output":"out.wav","text":"vocals","use_chunk":false}"#)
        XCTAssertEqual(done["engine"], "audiosep", done.encoded)
        XCTAssertEqual(done["query_cached"], false, "the text encoder ran")
    }

    func testTheModelStoresFilesServeACheckpointThatHasNoneBesideIt() throws {
        // worker-tiny/ holds the checkpoint alone; the store (AUDIOSEP_MODEL) has what `model download` puts there.
        let store = (current as NSString).deletingLastPathComponent + "/store"
        try FileManager.default.createDirectory(atPath: store, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: store + "/music_speech_audioset_epoch_15_esc_89.98.pt",
                                                   withDestinationPath: Self.clapFolder + "/clap.pt")
        try FileManager.default.createSymbolicLink(atPath: store + "/roberta-base", withDestinationPath: Self.clapFolder + "/roberta-base")
        let line = #"{"cmd":"load_model","checkpoint_path":"\#(Self.workerModel)"}"#
        let without = try answer(session(), line)
        XCTAssertEqual(without["text_queries"], false, without.encoded)
        XCTAssertEqual(without["clap_checkpoint_path"], .null)
        let with = try answer(session(environment: ["AUDIOSEP_MODEL": store]), line)
        XCTAssertEqual(with["clap_checkpoint_path"], .string(store + "/music_speech_audioset_epoch_15_esc_89.98.pt"), with.encoded)
        XCTAssertEqual(with["roberta_dir"], .string(store + "/roberta-base"))
        XCTAssertEqual(with["text_queries"], true)
        // HOME's ~/.cache/audiosep-stream is the store when AUDIOSEP_MODEL is not set.
        let home = (current as NSString).deletingLastPathComponent + "/home"
        try FileManager.default.createDirectory(atPath: home + "/.cache", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: home + "/.cache/audiosep-stream", withDestinationPath: store)
        let cached = try answer(session(environment: ["HOME": home]), line)
        XCTAssertEqual(cached["text_queries"], true, cached.encoded)
    }

    func testModelLoadedEchoesMmapDeviceAndChunkSecondsAndSaysAGPURanOnTheCPU() throws {
        let worker = session()
        let asked = try answer(worker, #"{"cmd":"load_model","checkpoint_path":"\#(Self.workerModel)","mmap":true,"device":"cuda","chunk_seconds":12.5}"#)
        XCTAssertEqual(asked["mmap"], true, asked.encoded)
        XCTAssertEqual(asked["chunk_seconds"], 12.5)
        XCTAssertEqual(asked["device"], "cpu", "what it computes on")
        XCTAssertEqual(asked["device_requested"], "cuda")
        guard case .string(let note)? = asked["note"] else { return XCTFail("no note: \(asked.encoded)") }
        XCTAssertTrue(note.contains("\"cuda\"") && note.contains("CPU"), note)

        let plain = try answer(worker, #"{"cmd":"load_model","checkpoint_path":"\#(Self.workerModel)","device":"cpu"}"#)
        XCTAssertEqual(plain["mmap"], false)
        XCTAssertEqual(plain["chunk_seconds"], 30, "the packaged worker's default")
        XCTAssertEqual(plain["device_requested"], "cpu")
        XCTAssertNil(plain["note"], "the CPU asked for is the CPU used")
        let mps = try answer(worker, #"{"cmd":"load_model","checkpoint_path":"\#(Self.workerModel)","device":"mps"}"#)
        XCTAssertNotNil(mps["note"])
    }

    func testTheExecutablesFolderIsAnAbsoluteFolder() {
        let folder = WorkerOptions.executableDirectory
        XCTAssertTrue(folder.hasPrefix("/"), folder)
        var isDirectory: ObjCBool = false
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory) && isDirectory.boolValue, folder)
    }
}
