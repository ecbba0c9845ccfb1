import Foundation
@testable import ModelStore
import XCTest

final class ModelFileTableTests: XCTestCase {
    /// The built-in table: AudioSep's two checkpoints from AudioSep's Hugging Face Space and the
    /// four roberta-base files, under the names the model folder is searched for, the checkpoint last.
    func testTheBuiltInTableIsWhatAudioSepUsersDownload() throws {
        let table = ModelFileTable.audioSep
        try ModelFileTable.validate(table, origin: "built-in")
        XCTAssertEqual(table.map(\.path), ["roberta-base/config.json", "roberta-base/vocab.json", "roberta-base/merges.txt",
                                           "roberta-base/pytorch_model.bin", "music_speech_audioset_epoch_15_esc_89.98.pt",
                                           "audiosep_base_4M_steps.ckpt"])
        let urls = try table.map { try ModelFileTable.url(base: ModelFileTable.defaultBaseURL, relative: $0.url).absoluteString }
        XCTAssertEqual(urls, [
            "https://huggingface.co/FacebookAI/roberta-base/resolve/e2da8e2f811d1448a5b465c236feacd80ffbac7b/config.json",
            "https://huggingface.co/FacebookAI/roberta-base/resolve/e2da8e2f811d1448a5b465c236feacd80ffbac7b/vocab.json",
            "https://huggingface.co/FacebookAI/roberta-base/resolve/e2da8e2f811d1448a5b465c236feacd80ffbac7b/merges.txt",
            "https://huggingface.co/FacebookAI/roberta-base/resolve/e2da8e2f811d1448a5b465c236feacd80ffbac7b/pytorch_model.bin",
            "https://huggingface.co/spaces/Audio-AGI/AudioSep/resolve/5638854dccfaea5c5fa4f634c00fe74fbb119244/checkpoint/music_speech_audioset_epoch_15_esc_89.98.pt",
            "https://huggingface.co/spaces/Audio-AGI/AudioSep/resolve/5638854dccfaea5c5fa4f634c00fe74fbb119244/checkpoint/audiosep_base_4M_steps.ckpt",
        ])
        for entry in table {
            XCTAssertNotNil(entry.sha256, "\(entry.path): a published sum was found for every file")
        }
        // Published sizes: the three small roberta-base files' (pinned with their sums at this
        // revision) and the checkpoints' exact ones (their LFS pointers); none for pytorch_model.bin.
        XCTAssertEqual(table.map(\.size), [481, 898_823, 456_318, nil, 2_352_471_003, 1_264_844_076])
    }

    /// Every file names its repository and a fixed revision; no URL follows the moving `main`.
    func testEveryFileIsFetchedAtAFixedRevision() throws {
        for entry in ModelFileTable.audioSep {
            let repository = try XCTUnwrap(entry.repository, entry.path)
            let revision = try XCTUnwrap(entry.revision, entry.path)
            let file = try XCTUnwrap(entry.file, entry.path)
            XCTAssertEqual(revision.count, 40, entry.path)
            XCTAssertTrue(revision.allSatisfy { $0.isHexDigit && !$0.isUppercase }, revision)
            XCTAssertEqual(entry.url, "\(repository)/resolve/\(revision)/\(file)")
            XCTAssertFalse(entry.url.contains("/resolve/main/"), entry.url)
            XCTAssertFalse(try ModelFileTable.url(base: ModelFileTable.defaultBaseURL, relative: entry.url).absoluteString.contains("/resolve/main/"))
        }
        XCTAssertEqual(Set(ModelFileTable.audioSep.compactMap(\.revision)), [ModelFileTable.robertaRevision, ModelFileTable.audioSepRevision])
        XCTAssertEqual(ModelFileTable.robertaRevision, "e2da8e2f811d1448a5b465c236feacd80ffbac7b")
        XCTAssertEqual(ModelFileTable.audioSepRevision, "5638854dccfaea5c5fa4f634c00fe74fbb119244")
    }

    /// The plan `--print-table` prints: final paths under the folder, whole URLs, sizes and sums.
    func testTheDownloadPlan() throws {
        let plan = try DownloadPlan(entries: ModelFileTable.audioSep, baseURL: "http://127.0.0.1:9/mirror/", destination: "/m")
        XCTAssertEqual(plan.files.map(\.target), ModelFileTable.audioSep.map { "/m/" + $0.path })
        XCTAssertEqual(plan.files[3].url, "http://127.0.0.1:9/mirror/FacebookAI/roberta-base/resolve/e2da8e2f811d1448a5b465c236feacd80ffbac7b/pytorch_model.bin")
        let lines = plan.table.split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(lines.count, 9, "two comments, six rows, and the final newline")
        XCTAssertEqual(lines[2], "/m/roberta-base/config.json\thttp://127.0.0.1:9/mirror/FacebookAI/roberta-base/resolve/e2da8e2f811d1448a5b465c236feacd80ffbac7b/config.json\t481\tef0185e2aae6e06c5f105a285006952c340e20c7dbf43c86ec82601b13fc45e9")
        XCTAssertEqual(lines[5].split(separator: "\t")[2], "-", "no published size for pytorch_model.bin")
        XCTAssertThrowsError(try DownloadPlan(entries: ModelFileTable.audioSep, baseURL: "ftp://x", destination: "/m"))
    }

    func testJSONRoundTrip() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("manifest-\(UUID().uuidString).json").path
        defer { unlink(path) }
        var entries = ModelFileTable.audioSep
        entries[0].size = 475
        try ModelFileTable.json(entries).write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertEqual(try ModelFileTable.load(path: path), entries)
    }

    func testBadManifestsAreRefusedWithTheReason() throws {
        func refused(_ entries: [ManifestEntry], _ fragment: String, line: UInt = #line) {
            XCTAssertThrowsError(try ModelFileTable.validate(entries, origin: "m.json"), line: line) { error in
                XCTAssertTrue("\(error)".contains(fragment), "\(error)", line: line)
                XCTAssertTrue("\(error)".hasPrefix("manifest m.json: "), "\(error)", line: line)
            }
        }
        refused([], "no files")
        refused([ManifestEntry(path: "../evil", url: "a")], "not a plain relative path")
        refused([ManifestEntry(path: "/etc/passwd", url: "a")], "not a plain relative path")
        refused([ManifestEntry(path: "a", url: "x//y")], "not a plain relative path")
        refused([ManifestEntry(path: "a.part", url: "a")], ".part")
        refused([ManifestEntry(path: "a", url: "a", sha256: "ABC")], "64 lower-case hex")
        refused([ManifestEntry(path: "a", url: "a", size: -1)], "negative")
        refused([ManifestEntry(path: "a", url: "a"), ManifestEntry(path: "a", url: "b")], "twice")
        var moved = ManifestEntry(path: "a", repository: "o/r", revision: String(repeating: "0", count: 40), file: "a", size: nil, sha256: nil)
        moved.url = "o/r/resolve/main/a"
        refused([moved], "not repository/resolve/revision/file")
        var partial = ManifestEntry(path: "a", url: "o/r/resolve/x/a")
        partial.revision = "x"
        refused([partial], "not repository/resolve/revision/file")

        let path = FileManager.default.temporaryDirectory.appendingPathComponent("bad-\(UUID().uuidString).json").path
        defer { unlink(path) }
        try "{\"files\": 3}".write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try ModelFileTable.load(path: path)) { XCTAssertTrue("\($0)".contains("not a manifest"), "\($0)") }
        XCTAssertThrowsError(try ModelFileTable.load(path: "/nonexistent/m.json")) { XCTAssertTrue("\($0)".contains("cannot read"), "\($0)") }
    }

    /// The base URL replaces host and path prefix; the relative paths stay.
    func testBaseURLReplacesHostAndPrefix() throws {
        XCTAssertEqual(try ModelFileTable.url(base: "http://127.0.0.1:8080/mirror/", relative: "a/b.ckpt").absoluteString,
                       "http://127.0.0.1:8080/mirror/a/b.ckpt")
        XCTAssertEqual(try ModelFileTable.url(base: "https://hf-mirror.com", relative: "x/music_speech_audioset_epoch_15_esc_89.98.pt").absoluteString,
                       "https://hf-mirror.com/x/music_speech_audioset_epoch_15_esc_89.98.pt")
        for bad in ["", "huggingface.co", "ftp://host/x", "file:///tmp", "http://", "https://host/?q=1"] {
            XCTAssertThrowsError(try ModelFileTable.url(base: bad, relative: "a"), bad) { error in
                XCTAssertEqual(error as? DownloadError, .badBaseURL(bad))
            }
        }
    }

    func testContentRange() {
        XCTAssertEqual(HTTPFetcher.contentRange("bytes 100-199/200").map { [$0.0, $0.1 ?? -1] }, [100, 200])
        XCTAssertEqual(HTTPFetcher.contentRange("bytes 0-0/*").map { [$0.0, $0.1 ?? -1] }, [0, -1])
        XCTAssertNil(HTTPFetcher.contentRange("bytes */200"))
        XCTAssertNil(HTTPFetcher.contentRange("items 1-2/3"))
    }

    /// Every error is one line naming the file and the URL.
    func testErrorsAreOneLineNamingFileAndURL() {
        let url = "http://127.0.0.1:1/x/a.ckpt"
        let errors: [DownloadError] = [
            .httpStatus(file: "a.ckpt", url: url, status: 404),
            .connectionFailed(file: "a.ckpt", url: url, reason: "connection refused"),
            .incomplete(file: "a.ckpt", url: url, got: 1, expected: 2),
            .sizeMismatch(file: "a.ckpt", url: url, expected: 2, got: 3),
            .tooLong(file: "a.ckpt", url: url, expected: 2),
            .checksumMismatch(file: "a.ckpt", url: url, expected: String(repeating: "0", count: 64), got: String(repeating: "1", count: 64)),
            .writeFailed(file: "a.ckpt.part", url: url, call: "write", errno: ENOSPC),
        ]
        for error in errors {
            let text = error.description
            XCTAssertFalse(text.contains("\n"), text)
            XCTAssertTrue(text.contains("a.ckpt"), text)
            XCTAssertTrue(text.contains(url), text)
        }
        XCTAssertTrue(DownloadError.writeFailed(file: "f", url: url, call: "write", errno: ENOSPC).description.contains("No space left on device"))
        XCTAssertTrue(DownloadError.httpStatus(file: "f", url: url, status: 500).description.contains("HTTP 500 (Internal Server Error)"))
    }
}
