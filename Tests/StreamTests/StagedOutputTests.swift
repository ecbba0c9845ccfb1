import Foundation
@testable import Stream
import XCTest

/// StagedOutput's one rule for outputs that are not whole, and the temporary names it leaves.
final class StagedOutputTests: XCTestCase {
    var folder = ""

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("staged-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: folder) }

    func names() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: folder).sorted() }
    func contents(_ name: String) -> String? {
        FileManager.default.contents(atPath: folder + "/" + name).map { String(decoding: $0, as: UTF8.self) }
    }

    func testPartialNames() {
        XCTAssertEqual(StagedOutput.partialName(for: "out.wav"), "out.partial.wav")
        XCTAssertEqual(StagedOutput.partialName(for: "out.wav", attempt: 3), "out.partial-3.wav")
        XCTAssertEqual(StagedOutput.partialName(for: "out"), "out.partial")
        XCTAssertEqual(StagedOutput.partialName(for: ".hidden"), ".hidden.partial")
        XCTAssertEqual(StagedOutput.partialName(for: "a.b.raw"), "a.b.partial.raw")
        // A legal name of 250 bytes keeps a legal partial name, its extension and its beginning.
        let long = String(repeating: "é", count: 123) + ".wav"
        let partial = StagedOutput.partialName(for: long)
        XCTAssertLessThanOrEqual(partial.utf8.count, StagedOutput.longestName)
        XCTAssertTrue(partial.hasPrefix(String(repeating: "é", count: 100)) && partial.hasSuffix(".partial.wav"), partial)
        XCTAssertNotEqual(partial, StagedOutput.partialName(for: String(repeating: "é", count: 122) + "e.wav"))
    }

    func testAPartialOfANewFileTakesItsName() throws {
        let staged = try StagedOutput(path: folder + "/new.wav")
        XCTAssertFalse(staged.replacesExistingFile)
        try staged.file.write(Array("partial".utf8))
        XCTAssertEqual(try staged.commitPartial(), .underName)
        XCTAssertEqual(try names(), ["new.wav"])
        XCTAssertEqual(contents("new.wav"), "partial")
    }

    func testAPartialNeverReplacesAnExistingFileNorAnExistingPartial() throws {
        try "old".write(toFile: folder + "/out.wav", atomically: false, encoding: .utf8)
        try "older partial".write(toFile: folder + "/out.partial.wav", atomically: false, encoding: .utf8)
        let staged = try StagedOutput(path: folder + "/out.wav")
        XCTAssertTrue(staged.replacesExistingFile)
        try staged.file.write(Array("partial".utf8))
        XCTAssertEqual(try staged.commitPartial(), .keptBeside(folder + "/out.partial-2.wav"))
        XCTAssertEqual(try names(), ["out.partial-2.wav", "out.partial.wav", "out.wav"], "no temporary file left")
        XCTAssertEqual(contents("out.wav"), "old")
        XCTAssertEqual(contents("out.partial.wav"), "older partial")
        XCTAssertEqual(contents("out.partial-2.wav"), "partial")
        // Settled: a later commit or discard changes nothing.
        try staged.commit()
        staged.discard()
        XCTAssertEqual(contents("out.wav"), "old")
    }

    func testAWholeOutputStillReplacesAnExistingFile() throws {
        try "old".write(toFile: folder + "/out.wav", atomically: false, encoding: .utf8)
        let staged = try StagedOutput(path: folder + "/out.wav")
        try staged.file.write(Array("whole".utf8))
        try staged.commit()
        XCTAssertEqual(try names(), ["out.wav"])
        XCTAssertEqual(contents("out.wav"), "whole")
    }

    func testAPartialThroughASymbolicLinkIsKeptBesideItsTarget() throws {
        try "old".write(toFile: folder + "/real.wav", atomically: false, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: folder + "/link.wav", withDestinationPath: "real.wav")
        let staged = try StagedOutput(path: folder + "/link.wav")
        try staged.file.write(Array("partial".utf8))
        XCTAssertEqual(try staged.commitPartial(), .keptBeside(folder + "/real.partial.wav"))
        XCTAssertEqual(contents("real.wav"), "old")
        XCTAssertEqual(contents("real.partial.wav"), "partial")
    }

    func testStaleTemporaryFilesAreFoundAndRemovedAndNothingElse() throws {
        let staged = try StagedOutput(path: folder + "/out.wav")
        let temporary = try XCTUnwrap(staged.temporaryPath)
        for name in [".out.wav.audiosep-1234567", ".other.wav.audiosep-ABCDEF", "out.wav"] {
            try "x".write(toFile: folder + "/" + name, atomically: false, encoding: .utf8)
        }
        try FileManager.default.createDirectory(atPath: folder + "/.out.wav.audiosep-folder", withIntermediateDirectories: false)
        XCTAssertEqual(StagedOutput.temporaryFiles(for: folder + "/out.wav"), [temporary, folder + "/.out.wav.audiosep-folder"].sorted())
        XCTAssertEqual(StagedOutput.removeStaleTemporaryFiles(for: folder + "/out.wav"), [temporary])
        XCTAssertEqual(try names(), [".other.wav.audiosep-ABCDEF", ".out.wav.audiosep-1234567", ".out.wav.audiosep-folder", "out.wav"])
    }

    func testALongLegalNameGetsAShortenedTemporaryNameThatCleanupStillFinds() throws {
        // 250 bytes (two-byte characters at the cut, so it must fall on a character): legal, but
        // `.NAME.audiosep-XXXXXX` would be 267.
        let name = String(repeating: "a", count: 228) + String(repeating: "é", count: 9) + ".wav"
        let sibling = String(repeating: "a", count: 228) + String(repeating: "é", count: 9) + "x.wav"
        XCTAssertEqual(name.utf8.count, 250)
        XCTAssertEqual(StagedOutput.temporaryStem(for: "out.wav"), "out.wav", "a short name is kept whole")
        let stem = StagedOutput.temporaryStem(for: name)
        XCTAssertNotEqual(stem, StagedOutput.temporaryStem(for: sibling), "two long names with one beginning differ")
        XCTAssertTrue(stem.hasPrefix(String(repeating: "a", count: 228)), stem)
        let staged = try StagedOutput(path: folder + "/" + name)
        let temporary = try XCTUnwrap(staged.temporaryPath)
        let temporaryName = (temporary as NSString).lastPathComponent
        XCTAssertLessThanOrEqual(temporaryName.utf8.count, 255)
        XCTAssertTrue(temporaryName.hasPrefix(".\(stem).audiosep-"), temporaryName)
        // Another long name's leftover is not this one's.
        try "x".write(toFile: folder + "/.\(StagedOutput.temporaryStem(for: sibling)).audiosep-ABCDEF", atomically: false, encoding: .utf8)
        XCTAssertEqual(StagedOutput.temporaryFiles(for: folder + "/" + name), [temporary])
        try staged.file.write(Array("whole".utf8))
        try staged.commit()
        XCTAssertEqual(contents(name), "whole")
    }
}
