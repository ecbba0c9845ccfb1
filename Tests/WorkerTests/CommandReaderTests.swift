import Foundation
import Stream
import XCTest
@testable import Worker

/// Command lines read in bounded pieces: lines split anywhere, the cap, what follows a long line.
final class CommandReaderTests: XCTestCase {
    /// Everything `reader` yields up to the end of `bytes`, written to a pipe from another thread.
    func events(_ bytes: [UInt8], maxLineBytes: Int, pieceBytes: Int) throws -> [CommandReader.Event] {
        var descriptors: [Int32] = [-1, -1]
        XCTAssertEqual(pipe(&descriptors), 0)
        let writeEnd = descriptors[1]
        let writer = Thread {
            bytes.withUnsafeBytes { buffer in
                var done = 0
                while done < buffer.count {
                    let count = write(writeEnd, buffer.baseAddress! + done, buffer.count - done)
                    if count <= 0 { break }
                    done += count
                }
            }
            close(writeEnd)
        }
        writer.start()
        defer { close(descriptors[0]) }
        let reader = CommandReader(descriptor: descriptors[0], maxLineBytes: maxLineBytes, pieceBytes: pieceBytes,
                                   shouldStop: { false })
        var seen: [CommandReader.Event] = []
        while true {
            let event = try reader.next()
            if event == .end { return seen }
            seen.append(event)
        }
    }

    func testLinesSplitAcrossPiecesAndALastLineWithoutNewline() throws {
        let text = Array("one\ntwo two\n\nthree".utf8)
        for piece in [1, 2, 3, 5, 64] {
            XCTAssertEqual(try events(text, maxLineBytes: 100, pieceBytes: piece), [.line("one"), .line("two two"), .line(""), .line("three")],
                           "pieces of \(piece) bytes")
        }
    }

    func testTheCapIsOnTheLineWithoutItsNewline() throws {
        let exactly = [UInt8](repeating: UInt8(ascii: "a"), count: 10)
        for piece in [1, 4, 64] {
            XCTAssertEqual(try events(exactly + [10] + exactly + [UInt8(ascii: "b"), 10], maxLineBytes: 10, pieceBytes: piece),
                           [.line(String(repeating: "a", count: 10)), .tooLong], "pieces of \(piece) bytes")
        }
    }

    func testALongLineIsReportedOnceAndTheNextLineIsServed() throws {
        let long = [UInt8](repeating: UInt8(ascii: "x"), count: 5000) + Array("\n{\"cmd\":\"get_status\"}\n".utf8)
        for piece in [7, 100, 4096, 10_000] {
            XCTAssertEqual(try events(long, maxLineBytes: 1000, pieceBytes: piece), [.tooLong, .line(#"{"cmd":"get_status"}"#)],
                           "pieces of \(piece) bytes")
        }
        // Cut off by the end of input, it is still answered once.
        XCTAssertEqual(try events([UInt8](repeating: 0x41, count: 3000), maxLineBytes: 1000, pieceBytes: 256), [.tooLong])
    }

    func testAStopRequestEndsTheWait() throws {
        var descriptors: [Int32] = [-1, -1]
        XCTAssertEqual(pipe(&descriptors), 0)
        defer { close(descriptors[0]); close(descriptors[1]) }
        let reader = CommandReader(descriptor: descriptors[0], shouldStop: { true })
        XCTAssertEqual(try reader.next(), .stopped, "asked before blocking in read")
    }

    func testAnUnreadableDescriptorIsATypedError() {
        XCTAssertThrowsError(try CommandReader(descriptor: -1, shouldStop: { false }).next()) { error in
            guard case StreamError.readFailed? = error as? StreamError else { return XCTFail("\(error)") }
        }
    }

    func testTheWorkersCapIsOneMebibyte() {
        XCTAssertEqual(CommandReader.maxLineBytes, 1_048_576)
        XCTAssertEqual(WorkerError.lineTooLong(limitBytes: CommandReader.maxLineBytes).description,
                       "Command line too long: more than 1048576 bytes")
    }
}
