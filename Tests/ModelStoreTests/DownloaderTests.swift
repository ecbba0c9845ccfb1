import Foundation
@testable import ModelStore
import TestSupport
import XCTest

/// The downloader as a library, against Tests/Servers/model_server.py on loopback.
final class DownloaderTests: XCTestCase {
    var folder: String!
    var server: ModelServer!
    var port = 0
    var log: String { folder + "/requests.jsonl" }
    let fixture = Fixtures.path("clap-tiny/clap.pt")

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("downloader-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder + "/mirror/x", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: fixture, toPath: folder + "/mirror/x/clap.pt")
        do {
            server = try ModelServer(root: folder + "/mirror", log: log, lifetime: 60)
        } catch is ModelServer.DidNotStart {
            throw XCTSkip("the test server did not start")
        }
        port = server.port
    }

    override func tearDown() {
        server?.stop()
        try? FileManager.default.removeItem(atPath: folder)
    }

    func ranges() -> [String] {
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["range"] as? String
        }
    }

    /// A file larger than one request comes in consecutive ranges, byte-identical, with progress
    /// and the SHA-256 reported; with no published sum, the sum is computed and reported unverified.
    func testAFileComesInConsecutiveRanges() throws {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: fixture))
        var events: [DownloadEvent] = []
        let downloader = try ModelDownloader(entries: [ManifestEntry(path: "c/clap.pt", url: "x/clap.pt")],
                                             baseURL: "http://127.0.0.1:\(port)/ok", destination: folder + "/model",
                                             report: { events.append($0) })
        downloader.requestBytes = 400_000
        downloader.progressInterval = 0
        let summary = try downloader.run()
        XCTAssertEqual(summary, ModelDownloader.Summary(present: 0, downloaded: 1, unverified: ["c/clap.pt"]))
        XCTAssertEqual(FileManager.default.contents(atPath: folder + "/model/c/clap.pt"), bytes)
        XCTAssertEqual(ranges(), ["bytes=0-399999", "bytes=400000-799999", "bytes=800000-1199999", "bytes=1200000-1552586"])
        guard case .finished(_, let size, let sum, let verified)? = events.last else { return XCTFail("\(events)") }
        XCTAssertEqual(size, Int64(bytes.count))
        XCTAssertEqual(sum, SHA256.hash(bytes))
        XCTAssertFalse(verified)
        XCTAssertTrue(events.contains { if case .progress(_, let done, let total, _, _) = $0 { return done == 400_000 && total == 1_552_587 } else { return false } })
    }

    /// A `.part` longer than the file (a different, bigger file was there) is started over; one
    /// with the wrong bytes fails the SHA-256 and is removed.
    func testAPartThatCannotBeResumedIsNotTrusted() throws {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: fixture))
        let sum = SHA256.hash(bytes)
        try FileManager.default.createDirectory(atPath: folder + "/model", withIntermediateDirectories: true)
        let part = folder + "/model/clap.pt.part"
        FileManager.default.createFile(atPath: part, contents: Data(count: bytes.count + 10))
        let entry = ManifestEntry(path: "clap.pt", url: "x/clap.pt", size: Int64(bytes.count), sha256: sum)
        _ = try ModelDownloader(entries: [entry], baseURL: "http://127.0.0.1:\(port)/ok", destination: folder + "/model").run()
        XCTAssertEqual(FileManager.default.contents(atPath: folder + "/model/clap.pt"), bytes)
        XCTAssertFalse(FileManager.default.fileExists(atPath: part))

        try FileManager.default.removeItem(atPath: folder + "/model/clap.pt")
        FileManager.default.createFile(atPath: part, contents: Data(count: 1000))  // zeros, not the file's first bytes
        XCTAssertThrowsError(try ModelDownloader(entries: [entry], baseURL: "http://127.0.0.1:\(port)/ok", destination: folder + "/model").run()) { error in
            guard case .checksumMismatch(let file, _, let expected, _)? = error as? DownloadError else { return XCTFail("\(error)") }
            XCTAssertEqual(file, "clap.pt")
            XCTAssertEqual(expected, sum)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: part), "a .part with wrong bytes is removed")
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/model/clap.pt"))
    }

    /// A file under the final name that does not match is downloaded again and replaced only when whole.
    func testAWrongFileUnderTheFinalNameIsReplaced() throws {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: fixture))
        try FileManager.default.createDirectory(atPath: folder + "/model", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: folder + "/model/clap.pt", contents: Data("old".utf8))
        var events: [DownloadEvent] = []
        let entry = ManifestEntry(path: "clap.pt", url: "x/clap.pt", size: Int64(bytes.count), sha256: SHA256.hash(bytes))
        let summary = try ModelDownloader(entries: [entry], baseURL: "http://127.0.0.1:\(port)/ok", destination: folder + "/model",
                                          report: { events.append($0) }).run()
        XCTAssertEqual(summary.downloaded, 1)
        XCTAssertEqual(FileManager.default.contents(atPath: folder + "/model/clap.pt"), bytes)
        XCTAssertTrue(events.contains { if case .replacing = $0 { return true } else { return false } })
    }
}
