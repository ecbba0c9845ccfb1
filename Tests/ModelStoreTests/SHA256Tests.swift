import Foundation
@testable import ModelStore
import XCTest

final class SHA256Tests: XCTestCase {
    /// FIPS 180-4 / NIST examples.
    func testKnownVectors() {
        XCTAssertEqual(SHA256.hash([UInt8]()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hash(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(SHA256.hash(Array("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu".utf8)),
                       "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1")
        XCTAssertEqual(SHA256.hash([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)),
                       "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// Every length around the padding boundaries, fed whole and in odd pieces, agrees with itself
    /// and (checked below) with sha256sum.
    func testPiecesEqualTheWhole() {
        var generator = SystemRandomNumberGenerator()
        for length in [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 4097] {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let whole = SHA256.hash(bytes)
            for piece in [1, 3, 63, 64, 65, 200] {
                var hasher = SHA256()
                var start = 0
                while start < bytes.count {
                    let end = min(bytes.count, start + piece)
                    bytes[start..<end].withUnsafeBytes { hasher.update($0) }
                    start = end
                }
                XCTAssertEqual(hasher.hexDigest(), whole, "length \(length), pieces of \(piece)")
                XCTAssertEqual(hasher.count, UInt64(length))
            }
        }
    }

    func testFinalizeLeavesTheHasherUsable() {
        var hasher = SHA256()
        hasher.update(Array("ab".utf8))
        _ = hasher.finalize()
        hasher.update(Array("c".utf8))
        XCTAssertEqual(hasher.hexDigest(), SHA256.hash(Array("abc".utf8)))
    }

    /// The same sums as coreutils' sha256sum, on random files of awkward lengths and on a fixture.
    func testAgreesWithSha256sum() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sha256-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var files: [String] = []
        for length in [0, 63, 64, 65, 1_048_579] {
            let path = "\(folder)/random-\(length)"
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255) }
            FileManager.default.createFile(atPath: path, contents: Data(bytes))
            files.append(path)
        }
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/clap-tiny/clap.pt").path
        files.append(fixture)
        for file in files {
            let (hasher, length) = try ModelDownloader.hash(file: file, url: "-")
            XCTAssertEqual(hasher.hexDigest(), try Self.sha256sum(file), file)
            XCTAssertEqual(length, Int64((try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? -1))
        }
    }

    static func sha256sum(_ file: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["sha256sum", file]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(String(decoding: output, as: UTF8.self).prefix(64))
    }
}
