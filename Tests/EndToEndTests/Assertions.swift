import Foundation
import TestSupport
import XCTest

/// Asserts what every refusal through the real binary must be: exit status 1 and one line on
/// stderr, `audiosep-stream: …`, that contains `message`.
func assertOneLineError(_ run: Harness.Result, _ message: String, _ label: String,
                        file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(run.status, 1, "\(label): \(run.stderr)", file: file, line: line)
    XCTAssertEqual(run.stderr.split(separator: "\n").count, 1, "\(label): \(run.stderr)", file: file, line: line)
    XCTAssertTrue(run.stderr.hasPrefix("audiosep-stream: "), "\(label): \(run.stderr)", file: file, line: line)
    XCTAssertTrue(run.stderr.contains(message), "\(label): wanted '\(message)' in \(run.stderr)", file: file, line: line)
}

/// A WAV whose header's lengths are the file's: RIFF size = file - 8, data chunk to the end.
func assertCompleteWAV(_ path: String, file: StaticString = #filePath, line: UInt = #line) throws {
    let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    func le32(_ at: Int) -> Int { (0..<4).reduce(0) { $0 | Int(bytes[at + $1]) << (8 * $1) } }
    XCTAssertGreaterThan(bytes.count, 44, file: file, line: line)
    guard bytes.count > 44 else { return }
    XCTAssertEqual(Array(bytes[0..<4]), Array("RIFF".utf8), file: file, line: line)
    XCTAssertEqual(le32(4), bytes.count - 8, "RIFF length patched", file: file, line: line)
    var offset = 12
    while offset + 8 <= bytes.count, Array(bytes[offset..<offset + 4]) != Array("data".utf8) {
        offset += 8 + le32(offset + 4)
    }
    XCTAssertLessThanOrEqual(offset + 8, bytes.count, "a data chunk", file: file, line: line)
    guard offset + 8 <= bytes.count else { return }
    XCTAssertEqual(le32(offset + 4), bytes.count - offset - 8, "data length patched", file: file, line: line)
}
