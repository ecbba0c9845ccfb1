import Engine
import XCTest

final class EngineTests: XCTestCase {
    func testIdentityReturnsItsInputAtAudioSepsRate() throws {
        let engine = try EngineFactory.make(name: "identity", query: nil, model: nil, embedding: nil)
        XCTAssertEqual(engine.sampleRate, 32_000)
        XCTAssertEqual(try engine.separate([0.5, -0.25, 0]), [0.5, -0.25, 0])
    }

    func testRemoverReturnsTheResidual() throws {
        final class Half: Separator {
            let name = "half", sampleRate = 16_000
            func separate(_ samples: [Float]) throws -> [Float] { samples.map { $0 / 2 } }
        }
        let remover = Remover(Half())
        XCTAssertEqual(remover.sampleRate, 16_000)
        XCTAssertEqual(try remover.separate([1, -2, 4]), [0.5, -1, 2])
        XCTAssertEqual(try Remover(IdentityEngine()).separate([1, 2]), [0, 0])
    }

    func testRemoverRejectsAnEngineThatChangesLength() {
        final class Short: Separator {
            let name = "short", sampleRate = 32_000
            func separate(_ samples: [Float]) throws -> [Float] { Array(samples.dropLast()) }
        }
        XCTAssertThrowsError(try Remover(Short()).separate([1, 2, 3])) {
            XCTAssertEqual($0 as? EngineError, .wrongOutputLength(engine: "short", got: 2, expected: 3))
        }
    }

    func testUnknownEngineAndMissingEngineAreTypedErrors() {
        XCTAssertThrowsError(try EngineFactory.make(name: "demucs", query: "vocals", model: nil, embedding: nil)) {
            XCTAssertEqual($0 as? EngineError, .unknownEngine("demucs"))
            XCTAssertTrue("\($0)".contains("identity"), "the message lists the known engines")
        }
        XCTAssertThrowsError(try EngineFactory.make(name: "auto", query: "a dog barking", model: nil, embedding: nil)) {
            guard case EngineError.unsupportedQuery = $0 else { return XCTFail("\($0)") }
        }
    }
}

final class ModelFilesTests: XCTestCase {
    func testFoldersFilesEnvironmentAndCache() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("model-files-\(getpid())").path
        let folder = root + "/AudioSep"
        try FileManager.default.createDirectory(atPath: folder + "/roberta-base", withIntermediateDirectories: true)
        for name in ["audiosep_base_4M_steps.ckpt", "music_speech_audioset_epoch_15_esc_89.98.pt", "other.ckpt"] {
            FileManager.default.createFile(atPath: folder + "/" + name, contents: Data([0]))
        }
        let found = try XCTUnwrap(ModelFiles.inspect(folder))
        XCTAssertEqual(found.checkpoint, folder + "/audiosep_base_4M_steps.ckpt", "upstream's file name wins")
        XCTAssertEqual(found.clapCheckpoint, folder + "/music_speech_audioset_epoch_15_esc_89.98.pt")
        XCTAssertEqual(found.robertaDirectory, folder + "/roberta-base")
        XCTAssertEqual(ModelFiles.inspect(folder + "/x.safetensors"), nil, "a missing file is no model")
        FileManager.default.createFile(atPath: root + "/m.safetensors", contents: Data([0]))
        XCTAssertEqual(ModelFiles.inspect(root + "/m.safetensors"), ModelFiles(safetensors: root + "/m.safetensors"))

        // Explicit flags beat --model, which beats AUDIOSEP_MODEL.
        XCTAssertEqual(try ModelFiles.locate(model: folder, checkpoint: "/a.ckpt", clapCheckpoint: "/c.pt", robertaDirectory: nil, environment: [:]),
                       ModelFiles(checkpoint: "/a.ckpt", clapCheckpoint: "/c.pt"))
        XCTAssertEqual(try ModelFiles.locate(model: folder, checkpoint: nil, clapCheckpoint: nil, robertaDirectory: nil,
                                             environment: ["AUDIOSEP_MODEL": root + "/m.safetensors"]), found)
        XCTAssertEqual(try ModelFiles.locate(model: nil, checkpoint: nil, clapCheckpoint: nil, robertaDirectory: nil,
                                             environment: ["AUDIOSEP_MODEL": root + "/m.safetensors"]),
                       ModelFiles(safetensors: root + "/m.safetensors"))
        XCTAssertThrowsError(try ModelFiles.locate(model: root + "/none", checkpoint: nil, clapCheckpoint: nil, robertaDirectory: nil,
                                                   environment: [:])) {
            XCTAssertEqual($0 as? ModelError, .noModel(searched: [root + "/none"]))
        }
        XCTAssertThrowsError(try ModelFiles.locate(model: nil, checkpoint: nil, clapCheckpoint: nil, robertaDirectory: nil,
                                                   environment: ["AUDIOSEP_MODEL": root + "/none"]))
    }
}

/// A model folder with several `.safetensors`: only ours (format metadata) or the documented
/// name count, and anything unclear is an error naming the candidates.
final class ModelFolderTests: XCTestCase {
    func testOnlyAConvertedOrDocumentedSafetensorsIsPicked() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("model-folder-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        func write(_ name: String, format: String?) throws {
            var writer = SafeTensorsWriter(metadata: format.map { ["format": $0] } ?? [:])
            try writer.add("t", shape: [1], floats: [0])
            try writer.write(to: folder + "/" + name)
        }
        try write("a-intermediates.safetensors", format: "pt")
        FileManager.default.createFile(atPath: folder + "/model.ckpt", contents: Data([0]))
        XCTAssertThrowsError(try ModelFiles.resolve(folder)) {
            XCTAssertEqual($0 as? ModelError, .noConvertedModel(folder: folder, found: ["a-intermediates.safetensors"]))
            XCTAssertTrue("\($0)".contains("a-intermediates.safetensors"), "\($0)")
        }
        XCTAssertNil(ModelFiles.inspect(folder), "unclear is no model, not the unrelated file")
        try write("mine.safetensors", format: ModelFiles.convertedFormat)
        XCTAssertEqual(try ModelFiles.resolve(folder), ModelFiles(safetensors: folder + "/mine.safetensors"), "the converted one, not the first")
        try write(ModelFiles.convertedName, format: nil)
        XCTAssertThrowsError(try ModelFiles.locate(model: folder, checkpoint: nil, clapCheckpoint: nil, robertaDirectory: nil, environment: [:])) {
            XCTAssertEqual($0 as? ModelError, .ambiguousModel(folder: folder, candidates: ["audiosep.safetensors", "mine.safetensors"]))
        }
        try FileManager.default.removeItem(atPath: folder + "/mine.safetensors")
        XCTAssertEqual(try ModelFiles.resolve(folder), ModelFiles(safetensors: folder + "/audiosep.safetensors"), "the documented name")
    }
}
