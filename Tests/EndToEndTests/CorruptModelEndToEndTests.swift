import Foundation
import TestSupport
import XCTest

/// Broken model files through the real binary (--checkpoint, --model): one line naming the
/// file and what is wrong, a non-zero exit, nothing written. The files are copies of the tiny
/// fixture model damaged at run time.
final class CorruptModelEndToEndTests: XCTestCase {
    static let fixtures = AudioSepEndToEndTests.fixtures
    let rawMono = "-t raw -r 32000 -c 1 -b 32 -e float --out-type raw"

    func fixture(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: "\(Self.fixtures)/\(name)")))
    }

    func write(_ bytes: [UInt8], _ name: String) throws -> String {
        let path = Harness.path(name)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Safetensors bytes from a header object and a data section.
    func safetensors(_ header: [String: Any], _ data: [UInt8]) throws -> [UInt8] {
        let json = Array(try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]))
        return (0..<8).map { UInt8(truncatingIfNeeded: UInt64(json.count) >> (8 * UInt64($0))) } + json + data
    }

    func fixtureHeader() throws -> (header: [String: Any], data: [UInt8]) {
        let bytes = try fixture("tiny.safetensors")
        let length = Int(bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        let header = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + length)])) as? [String: Any])
        return (header, Array(bytes[(8 + length)...]))
    }

    /// Runs the AudioSep engine with `modelFlags` on the fixture input; expects one line with each of `messages`.
    func assertOneLine(_ modelFlags: String, _ messages: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let output = Harness.path("corrupt-out.f32")
        let run = try Harness.shell(
            "$BIN --engine audiosep \(modelFlags) --embedding \(Self.fixtures)/embedding.f32 \(rawMono) < \(Self.fixtures)/input.f32 > \(output)")
        XCTAssertEqual(run.status, 1, run.stderr, file: file, line: line)
        XCTAssertEqual(run.stderr.split(separator: "\n").count, 1, run.stderr, file: file, line: line)
        XCTAssertTrue(run.stderr.hasPrefix("audiosep-stream: "), run.stderr, file: file, line: line)
        for message in messages {
            XCTAssertTrue(run.stderr.contains(message), "wanted '\(message)' in \(run.stderr)", file: file, line: line)
        }
        let written = (try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? 0
        XCTAssertEqual(written, 0, "no audio without a model", file: file, line: line)
        XCTAssertLessThan(run.seconds, 30, file: file, line: line)
    }

    func testATruncatedCheckpoint() throws {
        let whole = try fixture("tiny.ckpt")
        let path = try write(Array(whole.prefix(whole.count / 2)), "truncated.ckpt")
        try assertOneLine("--checkpoint \(path)", [path, "zip archive cut short at \(whole.count / 2) bytes"])
    }

    func testACheckpointWithACorruptedPickle() throws {
        var bytes = try fixture("tiny.ckpt")
        // The pickle is the first stored entry: its data follows the first local header.
        let nameBytes = Int(bytes[26]) | Int(bytes[27]) << 8, extraBytes = Int(bytes[28]) | Int(bytes[29]) << 8
        let name = String(decoding: bytes[30..<(30 + nameBytes)], as: UTF8.self)
        XCTAssertTrue(name.hasSuffix("data.pkl"), name)
        bytes[30 + nameBytes + extraBytes + 2] = 0xFF
        let path = try write(bytes, "bad-pickle.ckpt")
        try assertOneLine("--checkpoint \(path)", [path, "unsupported pickle opcode 0xff at byte 2"])
    }

    func testAWrongShapeTensor() throws {
        var (header, data) = try fixtureHeader()
        var bias = try XCTUnwrap(header["ss_model.base.after_conv.bias"] as? [String: Any])
        bias["shape"] = [1, 3]
        header["ss_model.base.after_conv.bias"] = bias
        let path = try write(try safetensors(header, data), "wrong-shape.safetensors")
        try assertOneLine("--model \(path)", [path, "tensor 'ss_model.base.after_conv.bias' has shape 1×3, expected 3"])
    }

    func testASafetensorsHeaderPointingOutsideTheFile() throws {
        var (header, data) = try fixtureHeader()
        let name = "ss_model.film.decoder_block6->conv_block2->beta2.bias"
        var last = try XCTUnwrap(header[name] as? [String: Any])
        let offsets = try XCTUnwrap(last["data_offsets"] as? [Int])
        last["data_offsets"] = [offsets[0] + 1_000_000, offsets[1] + 1_000_000]
        header[name] = last
        let outside = try write(try safetensors(header, data), "outside.safetensors")
        try assertOneLine("--model \(outside)", [outside, "tensor '\(name)' byte range \(offsets[0] + 1_000_000)..<\(offsets[1] + 1_000_000) is invalid for a data section of \(data.count) bytes"])

        var lying = try fixture("tiny.safetensors")
        lying[0..<8] = [0, 0, 0, 0, 1, 0, 0, 0][...]
        let length = try write(lying, "lying-length.safetensors")
        try assertOneLine("--model \(length)", [length, "safetensors header of 4294967296 bytes does not fit a file of \(lying.count) bytes"])
    }

    /// A small file whose first layer is 4096 channels wide: every map of the forward pass would
    /// be 4096 × frames × bins floats. Refused when the network is bound.
    func testALayerWiderThanAnyModel() throws {
        var header: [String: Any] = [:]
        var data: [UInt8] = []
        func add(_ name: String, _ shape: [Int]) {
            let count = shape.reduce(1, *)
            header[name] = ["dtype": "F32", "shape": shape, "data_offsets": [data.count, data.count + 4 * count]]
            data += [UInt8](repeating: 0, count: 4 * count)
        }
        for field in ["weight", "bias", "running_mean", "running_var"] { add("ss_model.base.bn0.\(field)", [1025]) }
        add("ss_model.base.pre_conv.weight", [4096, 1, 1, 1])
        let path = try write(try safetensors(header, data), "wide.safetensors")
        try assertOneLine("--model \(path)", [path, "tensor 'ss_model.base.pre_conv.weight' makes a layer 4096 channels wide; the network takes 1 to 2048"])
    }
}
