import Foundation
import Weights
import XCTest

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
