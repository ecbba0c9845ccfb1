import Foundation
import Weights
import XCTest

/// What a rename may replace: a regular file or a new name, never a device, a FIFO or a folder,
/// nor a file being read; a symbolic link is written through.
final class ReplacedFileTests: XCTestCase {
    func testDevicesFoldersMissingFoldersAndInputsAreRefused() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("replaced-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        // Only checked, never written: a character device as root would otherwise become a file.
        XCTAssertThrowsError(try ReplacedFile(path: "/dev/null")) {
            XCTAssertEqual($0 as? WeightsError, .outputNotRegularFile(file: "/dev/null"))
        }
        XCTAssertThrowsError(try ReplacedFile(path: scratch)) {
            XCTAssertEqual($0 as? WeightsError, .outputNotRegularFile(file: scratch))
        }
        XCTAssertThrowsError(try ReplacedFile(path: scratch + "/no/file")) {
            XCTAssertEqual($0 as? WeightsError, .outputFolderMissing(file: scratch + "/no/file", folder: scratch + "/no"))
        }
        let input = scratch + "/in.ckpt"
        FileManager.default.createFile(atPath: input, contents: Data([1, 2, 3]))
        XCTAssertEqual(symlink(input, scratch + "/alias"), 0)
        XCTAssertThrowsError(try ReplacedFile(path: scratch + "/alias", inputs: [scratch + "/missing", input])) {
            XCTAssertEqual($0 as? WeightsError, .outputIsInput(file: scratch + "/alias", input: input))
        }
        XCTAssertEqual(try ReplacedFile(path: "bare-name").target, "bare-name")

        // Through the link: the link stays, its target is replaced, with its permissions kept.
        chmod(input, 0o640)
        var writer = SafeTensorsWriter(metadata: ["format": "audiosep-stream/1"])
        try writer.add("t", shape: [2], floats: [1, 2])
        try writer.write(to: ReplacedFile(path: scratch + "/alias"))
        XCTAssertEqual(try SafeTensorsFile(path: input).tensor("t").floats(), [1, 2])
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: scratch + "/alias"), input)
        XCTAssertEqual((try FileManager.default.attributesOfItem(atPath: input)[.posixPermissions] as? Int), 0o640)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: scratch).sorted(), ["alias", "in.ckpt"])
    }
}
