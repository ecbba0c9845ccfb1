import AudioSep
import Foundation
import Text
import Weights
import TestSupport
import XCTest

/// Broken model files, made at run time from the tiny fixture model: truncated or corrupted
/// checkpoints, wrong shapes, safetensors ranges outside the file, and sizes that would make a
/// small file allocate without bound. Each is one typed error naming the file and the tensor.
final class CorruptModelTests: XCTestCase {
    static let tiny = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/audiosep-tiny")

    var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("corrupt-model-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try FileManager.default.removeItem(at: scratch)
    }

    func write(_ bytes: [UInt8], _ name: String) throws -> String {
        let path = scratch.appendingPathComponent(name).path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    func fixtureBytes(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: Self.tiny.appendingPathComponent(name)))
    }

    // MARK: Checkpoints

    func testATruncatedCheckpointIsCutShort() throws {
        let whole = try fixtureBytes("tiny.ckpt")
        for fraction in [0.001, 0.1, 0.5, 0.9, 0.9999] {
            let length = Int(Double(whole.count) * fraction)
            let path = try write(Array(whole.prefix(length)), "cut.ckpt")
            XCTAssertThrowsError(try ResUNet30(files: ModelFiles(checkpoint: path)), "cut at \(length)") {
                XCTAssertEqual($0 as? WeightsError, .truncatedZip(file: path, fileBytes: length))
            }
        }
    }

    func testACorruptedPickleIsATypedErrorNamingTheByte() throws {
        var bytes = try fixtureBytes("tiny.ckpt")
        let original = try write(bytes, "original.ckpt")
        let archive = try ZipArchive(file: MappedFile(path: original))
        let pickle = try archive.dataRange(of: XCTUnwrap(archive.entries.first { $0.name.hasSuffix("data.pkl") }))
        // Past the protocol header, an opcode no pickle has.
        bytes[pickle.lowerBound + 2] = 0xFF
        let path = try write(bytes, "bad-opcode.ckpt")
        XCTAssertThrowsError(try ResUNet30(files: ModelFiles(checkpoint: path))) {
            XCTAssertEqual($0 as? WeightsError, .pickleUnknownOpcode(file: path, opcode: 0xFF, offset: 2))
        }
        // Random damage anywhere in the pickle or the zip directory: a typed error or, where
        // the damage happens to be harmless, a network; never a crash.
        var generator = SeededGenerator(seed: 99)
        let directoryStart = archive.entries.map(\.localHeaderOffset).max()!
        var errors = 0
        for round in 0..<150 {
            var damaged = try fixtureBytes("tiny.ckpt")
            let region = round % 2 == 0 ? pickle : directoryStart..<damaged.count
            for _ in 0..<(1 + Int(generator.next() % 3)) {
                damaged[region.lowerBound + Int(generator.next() % UInt64(region.count))] = UInt8(truncatingIfNeeded: generator.next())
            }
            let path = try write(damaged, "damaged.ckpt")
            do {
                _ = try ResUNet30(files: ModelFiles(checkpoint: path))
            } catch is WeightsError {
                errors += 1
            } catch is ModelError {
                errors += 1
            }
        }
        XCTAssertGreaterThan(errors, 30, "most damage is noticed")
    }

    // MARK: Safetensors

    /// The fixture's safetensors header, parsed; and a writer for a changed one.
    func header(_ bytes: [UInt8]) throws -> (json: [String: Any], data: ArraySlice<UInt8>) {
        let length = Int(bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + length)])) as? [String: Any])
        return (json, bytes[(8 + length)...])
    }

    func safetensors(_ json: [String: Any], _ data: ArraySlice<UInt8>) throws -> [UInt8] {
        let text = Array(try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]))
        return (0..<8).map { UInt8(truncatingIfNeeded: UInt64(text.count) >> (8 * UInt64($0))) } + text + data
    }

    func testAWrongShapeIsNamedWithWhatWasExpected() throws {
        var (json, data) = try header(try fixtureBytes("tiny.safetensors"))
        var bias = try XCTUnwrap(json["ss_model.base.after_conv.bias"] as? [String: Any])
        bias["shape"] = [1, 3]  // the same 12 bytes, one dimension too many
        json["ss_model.base.after_conv.bias"] = bias
        let path = try write(try safetensors(json, data), "wrong-shape.safetensors")
        XCTAssertThrowsError(try ResUNet30(files: ModelFiles(safetensors: path))) {
            XCTAssertEqual($0 as? ModelError, .wrongShape(file: path, key: "ss_model.base.after_conv.bias", got: [1, 3], expected: [3]))
        }
    }

    func testASafetensorsRangeOutsideTheFileIsRefused() throws {
        let bytes = try fixtureBytes("tiny.safetensors")
        var (json, data) = try header(bytes)
        let name = "ss_model.film.decoder_block6->conv_block2->beta2.bias"
        var last = try XCTUnwrap(json[name] as? [String: Any])
        let offsets = try XCTUnwrap(last["data_offsets"] as? [Int])
        last["data_offsets"] = [offsets[0] + 4096, offsets[1] + 4096]
        json[name] = last
        let path = try write(try safetensors(json, data), "outside.safetensors")
        XCTAssertThrowsError(try ResUNet30(files: ModelFiles(safetensors: path))) {
            XCTAssertEqual($0 as? WeightsError, .tensorOutOfRange(file: path, tensor: name, begin: offsets[0] + 4096,
                                                                  end: offsets[1] + 4096, dataBytes: data.count))
        }
        // A header length past the end of the file.
        var lying = bytes
        lying[0..<8] = [0, 0, 0, 0, 1, 0, 0, 0][...]
        let lyingPath = try write(lying, "lying-length.safetensors")
        XCTAssertThrowsError(try ResUNet30(files: ModelFiles(safetensors: lyingPath))) {
            XCTAssertEqual($0 as? WeightsError, .headerTooLarge(file: lyingPath, headerBytes: 1 << 32, fileBytes: bytes.count))
        }
        // Cut inside the data section: the last tensors no longer fit.
        let cutPath = try write(Array(bytes.prefix(bytes.count - 100)), "cut.safetensors")
        XCTAssertThrowsError(try ResUNet30(files: ModelFiles(safetensors: cutPath))) {
            guard case .tensorOutOfRange(cutPath, _, _, _, data.count - 100)? = $0 as? WeightsError else { return XCTFail("\($0)") }
        }
    }

    /// Seeded mutations of a safetensors header (digits, brackets, the length field) and of a
    /// small checkpoint, as tools/fuzz does for hours: a typed error or tensors whose values fit
    /// the file, never a crash.
    func testMutatedWeightFilesAreTypedErrorsOrFit() throws {
        let weights = URL(fileURLWithPath: Fixtures.path("weights"))
        let seeds = [try Array(Data(contentsOf: weights.appendingPathComponent("python.safetensors"))),
                     try Array(Data(contentsOf: weights.appendingPathComponent("module_prefixed.pt")))]
        var generator = SeededGenerator(seed: 4242)
        let interesting: [UInt8] = Array("0123456789[]{},:\"-e.".utf8) + [0x00, 0xFF, 0x7F, 0x80]
        var outcomes = (errors: 0, opened: 0)
        for round in 0..<1_500 {
            var bytes = seeds[round % 2]
            for _ in 0..<(1 + Int(generator.next() % 4)) {
                let at = Int(generator.next() % UInt64(bytes.count))
                switch generator.next() % 4 {
                case 0: bytes[at] = interesting[Int(generator.next() % UInt64(interesting.count))]
                case 1: bytes[at] = UInt8(truncatingIfNeeded: generator.next())
                case 2: bytes[Int(generator.next() % 8)] = UInt8(truncatingIfNeeded: generator.next())  // the length field
                default: bytes = Array(bytes.prefix(at))
                }
                if bytes.isEmpty { break }
            }
            let path = try write(bytes, round % 2 == 0 ? "mutated.safetensors" : "mutated.pt")
            do {
                let tensors = round % 2 == 0 ? try SafeTensorsFile(path: path).tensors : try TorchCheckpoint(path: path).tensors
                for (name, view) in tensors {
                    XCTAssertLessThanOrEqual(view.elementCount, bytes.count, "round \(round): \(name) \(view.shape)")
                    XCTAssertEqual(try view.floats().count, view.elementCount)
                }
                outcomes.opened += 1
            } catch is WeightsError {
                outcomes.errors += 1
            }
        }
        XCTAssertGreaterThan(outcomes.errors, 500)
        XCTAssertGreaterThan(outcomes.opened, 50, "some mutations are harmless and must still read")
    }

    // MARK: Sizes a small file must not be able to claim

    func testABroadcastViewLargerThanItsFileIsRefused() throws {
        let path = try write([UInt8](repeating: 0, count: 64), "storage.bin")
        let file = try MappedFile(path: path)
        XCTAssertThrowsError(try TensorView(name: "w", dtype: .f32, shape: [1 << 40], strides: [0], storageOffset: 0,
                                            file: file, storageByteOffset: 0, storageByteCount: 4)) {
            XCTAssertEqual($0 as? WeightsError, .tensorLargerThanFile(file: path, tensor: "w", shape: [1 << 40],
                                                                      elementCount: 1 << 40, fileBytes: 64))
        }
        // A broadcast view the file can afford still reads, every value the one stored.
        let small = try TensorView(name: "w", dtype: .f32, shape: [4, 4], strides: [0, 0], storageOffset: 0,
                                   file: file, storageByteOffset: 0, storageByteCount: 4)
        XCTAssertEqual(try small.floats(), [Float](repeating: 0, count: 16))
        let deep = [Int](repeating: 1, count: TensorView.maximumRank + 1)
        XCTAssertThrowsError(try TensorView(name: "deep", dtype: .f32, shape: deep, strides: deep, storageOffset: 0,
                                            file: file, storageByteOffset: 0, storageByteCount: 4)) {
            XCTAssertEqual($0 as? WeightsError, .invalidLayout(file: path, tensor: "deep", shape: deep, strides: deep))
        }
    }

    /// A pickle that memoises one list of 20,000 pairs and hands it to `OrderedDict` 5,000
    /// times would build 100 million dict entries from 80 KB; the copy budget stops it.
    func testAPickleCannotCopyOneContainerWithoutBound() throws {
        func pickle(pairs: Int, calls: Int) -> [UInt8] {
            var bytes: [UInt8] = [0x80, 0x02]
            bytes += Array("ccollections\nOrderedDict\n".utf8) + [0x71, 0x00]     // GLOBAL, BINPUT 0
            bytes += [0x5D, 0x71, 0x01, 0x28]                                    // EMPTY_LIST, BINPUT 1, MARK
            for _ in 0..<pairs { bytes += [0x4E, 0x4E, 0x86] }                   // (None, None)
            bytes += [0x65, 0x30]                                                // APPENDS, POP
            for _ in 0..<calls { bytes += [0x68, 0x00, 0x68, 0x01, 0x85, 0x52, 0x30] }  // OrderedDict(list); POP
            return bytes + [0x4E, 0x2E]                                          // None, STOP
        }
        let fine = pickle(pairs: 20_000, calls: 2)
        let graph = try fine.withUnsafeBytes { try Pickle(bytes: $0, file: "fine.pkl") }
        XCTAssertEqual(graph.dicts.filter { $0.keys.count == 20_000 }.count, 2)
        let hostile = pickle(pairs: 20_000, calls: 5_000)
        let started = Date()
        XCTAssertThrowsError(try hostile.withUnsafeBytes { try Pickle(bytes: $0, file: "hostile.pkl") }) {
            guard case .pickleMalformed("hostile.pkl", _, let reason)? = $0 as? WeightsError else { return XCTFail("\($0)") }
            XCTAssertTrue(reason.contains("copies more members than a pickle of \(hostile.count) bytes can hold"), reason)
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 10)
    }

    /// Opens a checkpoint of `records` tensor records (written here, no Python) the way the
    /// filter does and binds the network, which refuses it; returns the seconds it took.
    func secondsToRefuse(records: Int, sharedStorage: Bool) throws -> Double {
        let path = try write(CheckpointBuilder.manyRecords(records, sharedStorage: sharedStorage), "many-\(records).ckpt")
        let started = Date()
        XCTAssertThrowsError(try ResUNet30(MappedWeights(files: ModelFiles(checkpoint: path)))) {
            XCTAssertEqual($0 as? ModelError, .missingTensor(file: path, key: "ss_model.base.bn0.weight"))
        }
        return Date().timeIntervalSince(started)
    }

    /// 100,000 tensor records (one SETITEMS, as torch writes a state dict) are refused in time
    /// linear in their number: each record's MARK used to copy the whole pending stack (every
    /// record before it). Ten times the records may take at most 20 times as long (the best of
    /// two runs each): here linear measures 12–14, the quadratic step measured 26–35 (and far
    /// more in the binary, where 100k records took over a minute).
    func testACheckpointWithVeryManyRecordsIsRefusedInLinearTime() throws {
        for shared in [false, true] {
            _ = try secondsToRefuse(records: 2_000, sharedStorage: shared)  // warm up
            let small = try (0..<2).map { _ in try secondsToRefuse(records: 10_000, sharedStorage: shared) }.min()!
            let large = try (0..<2).map { _ in try secondsToRefuse(records: 100_000, sharedStorage: shared) }.min()!
            XCTAssertLessThan(large / small, 20, "10k records: \(small) s, 100k: \(large) s (shared storage: \(shared))")
        }
    }

    func testALayerWidthNoModelHasIsRefusedBeforeAnythingIsAllocated() throws {
        let bins = 1025
        var tensors: [String: (shape: [Int], values: [Float])] = [:]
        for name in ["weight", "bias", "running_mean", "running_var"] {
            tensors["ss_model.base.bn0.\(name)"] = ([bins], [Float](repeating: 1, count: bins))
        }
        // Shapes only: the width is checked before any value is read.
        tensors["ss_model.base.pre_conv.weight"] = ([1_000_000, 1, 1, 1], [])
        let weights = InMemoryWeights(tensors: tensors, origin: "wide.ckpt")
        XCTAssertThrowsError(try ResUNet30(weights)) {
            XCTAssertEqual($0 as? ModelError, .implausibleWidth(file: "wide.ckpt", key: "ss_model.base.pre_conv.weight",
                                                                 width: 1_000_000, maximum: ResUNet30.maximumWidth))
        }
        tensors["ss_model.base.pre_conv.weight"] = ([0, 1, 1, 1], [])
        XCTAssertThrowsError(try ResUNet30(InMemoryWeights(tensors: tensors, origin: "empty.ckpt"))) {
            guard case .implausibleWidth(_, _, 0, _)? = $0 as? ModelError else { return XCTFail("\($0)") }
        }
    }

    func testAttentionHeadsThatCannotSplitTheWidthAreAnError() throws {
        let key = "query_encoder.model.text_branch.embeddings.word_embeddings.weight"
        let weights = InMemoryWeights(tensors: [key: ([8, 4], [Float](repeating: 0, count: 32))], origin: "text.safetensors")
        for heads in [0, -2, 5] {
            XCTAssertThrowsError(try TextEncoder(weights, heads: heads), "\(heads) heads") {
                XCTAssertEqual($0 as? ModelError, .invalidAttentionHeads(file: "text.safetensors", heads: heads, hidden: 4))
            }
        }
        XCTAssertThrowsError(try TextEncoder(weights, heads: 3)) {
            guard case .wrongShape(_, key, [8, 4], _)? = $0 as? ModelError else { return XCTFail("\($0)") }
        }
    }
}
