import Foundation
import Weights
import TestSupport
import XCTest

/// Reads the fixtures that tools/reference/make_weights_fixtures.py writes with torch and
/// safetensors, and checks every tensor against the values PyTorch reported.
final class WeightsTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/weights")

    struct Expected: Decodable {
        let dtype: String
        let shape: [Int]
        let values: [Double]
    }

    static let expected: [String: [String: Expected]] = {
        let url = fixtures.appendingPathComponent("expected.json")
        // swiftlint:disable:next force_try
        return try! JSONDecoder().decode([String: [String: Expected]].self, from: Data(contentsOf: url))
    }()

    func fixture(_ name: String) -> String { Self.fixtures.appendingPathComponent(name).path }

    /// A fresh folder per test, removed afterwards.
    var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("weights-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try FileManager.default.removeItem(at: scratch)
    }

    func temporaryPath(_ name: String) -> String { scratch.appendingPathComponent(name).path }

    /// Same names, dtypes and shapes as PyTorch, and bit-identical float32 values.
    func assertMatchesExpected(_ tensors: [String: TensorView], _ fixtureName: String,
                               file: StaticString = #filePath, line: UInt = #line) throws {
        let expected = try XCTUnwrap(Self.expected[fixtureName], file: file, line: line)
        XCTAssertEqual(Set(tensors.keys), Set(expected.keys), fixtureName, file: file, line: line)
        for (name, want) in expected {
            guard let tensor = tensors[name] else { continue }
            XCTAssertEqual(tensor.name, name, file: file, line: line)
            XCTAssertEqual(tensor.dtype.rawValue, want.dtype, name, file: file, line: line)
            XCTAssertEqual(tensor.shape, want.shape, name, file: file, line: line)
            XCTAssertEqual(tensor.elementCount, want.values.count, name, file: file, line: line)
            let values = try tensor.floats()
            XCTAssertEqual(values.map(\.bitPattern), want.values.map { Float($0).bitPattern },
                           "\(fixtureName): \(name)", file: file, line: line)
            let viaClosure = try tensor.withFloats { Array($0) }
            XCTAssertEqual(viaClosure.map(\.bitPattern), values.map(\.bitPattern), name, file: file, line: line)
        }
    }

    // MARK: PyTorch checkpoints

    func testLightningCheckpointMatchesPyTorchExactly() throws {
        let checkpoint = try TorchCheckpoint(path: fixture("lightning.ckpt"))
        try assertMatchesExpected(checkpoint.tensors, "lightning.ckpt")
    }

    func testProtocol5CheckpointMatchesPyTorchExactly() throws {
        let checkpoint = try TorchCheckpoint(path: fixture("lightning_protocol5.ckpt"))
        try assertMatchesExpected(checkpoint.tensors, "lightning_protocol5.ckpt")
    }

    func testViewsShareStorageAndKeepTheirLayout() throws {
        let checkpoint = try TorchCheckpoint(path: fixture("lightning.ckpt"))
        let base = try checkpoint.tensor("ss_model.base")
        let transposed = try checkpoint.tensor("ss_model.transposed")
        let sliced = try checkpoint.tensor("ss_model.sliced")
        let strided = try checkpoint.tensor("ss_model.strided")
        let expanded = try checkpoint.tensor("ss_model.expanded")
        XCTAssertTrue(base.isContiguous)
        XCTAssertFalse(transposed.isContiguous)
        XCTAssertEqual(transposed.strides, [1, 6])
        XCTAssertEqual(sliced.storageOffset, 8)
        XCTAssertEqual(strided.strides, [12, 2])
        XCTAssertEqual(expanded.strides, [1, 0])
        for view in [transposed, sliced, strided] {
            XCTAssertEqual(view.storageByteOffset, base.storageByteOffset, "\(view.name) shares base's storage")
        }
        // Zero copy: the contiguous float32 tensor is the mapping itself.
        let mapped = try XCTUnwrap(base.contiguousFloat32)
        XCTAssertEqual(UnsafeRawPointer(mapped.baseAddress!), base.storageBase)
        XCTAssertNil(transposed.contiguousFloat32)
        XCTAssertNil(try checkpoint.tensor("query_encoder.half").contiguousFloat32)
        XCTAssertEqual(try checkpoint.tensor("query_encoder.scalar").shape, [])
        XCTAssertEqual(try checkpoint.tensor("query_encoder.empty").floats(), [])
    }

    func testOpaqueExtrasAreSkipped() throws {
        // Optimizer state, callbacks, hyper-parameters (a Namespace, numpy values, a datetime,
        // sets, bytes, a 2⁷⁰ integer) and a complex tensor outside the state dict are all parsed
        // past and none of their tensors appear.
        let checkpoint = try TorchCheckpoint(path: fixture("lightning.ckpt"))
        XCTAssertEqual(checkpoint.tensors.count, Self.expected["lightning.ckpt"]!.count)
        XCTAssertThrowsError(try checkpoint.tensor("exp_avg")) {
            XCTAssertEqual($0 as? WeightsError, .missingTensor(file: checkpoint.path, tensor: "exp_avg"))
        }

        let archive = try ZipArchive(file: MappedFile(path: fixture("lightning.ckpt")))
        let pickle = try Pickle(bytes: archive.data(named: "lightning/data.pkl"), file: "lightning.ckpt")
        let hyper = try XCTUnwrap(pickle.value(forKey: "hyper_parameters", inDict: pickle.root))
        let namespace = try XCTUnwrap(pickle.value(forKey: "namespace", inDict: hyper))
        guard case .opaque(let className) = pickle.node(namespace) else { return XCTFail("\(pickle.node(namespace))") }
        XCTAssertEqual(className, "argparse.Namespace")
        guard case .float(let lr) = pickle.node(try XCTUnwrap(pickle.value(forKey: "lr", inDict: hyper))) else {
            return XCTFail("lr")
        }
        XCTAssertEqual(lr, 1e-3)
        guard case .bigInt = pickle.node(try XCTUnwrap(pickle.value(forKey: "big", inDict: hyper))) else { return XCTFail("big") }
        guard case .int(let negative) = pickle.node(try XCTUnwrap(pickle.value(forKey: "negative", inDict: hyper))) else {
            return XCTFail("negative")
        }
        XCTAssertEqual(negative, -(1 << 40))
        guard case .opaque = pickle.node(try XCTUnwrap(pickle.value(forKey: "date", inDict: hyper))) else { return XCTFail("date") }
    }

    func testModulePrefixIsStripped() throws {
        let checkpoint = try TorchCheckpoint(path: fixture("module_prefixed.pt"))
        try assertMatchesExpected(checkpoint.tensors, "module_prefixed.pt")
        XCTAssertNotNil(checkpoint.tensors["text_projection.0.weight"])
    }

    func testBareAndNestedStateDicts() throws {
        try assertMatchesExpected(TorchCheckpoint(path: fixture("bare_state_dict.pt")).tensors, "bare_state_dict.pt")
        try assertMatchesExpected(TorchCheckpoint(path: fixture("nested_model.pt")).tensors, "nested_model.pt")
    }

    func testZip64RecordsAndExtraFields() throws {
        let archive = try ZipArchive(file: MappedFile(path: fixture("zip64.pt")))
        XCTAssertTrue(archive.entries.contains { $0.name == "module_prefixed/data.pkl" })
        XCTAssertTrue(archive.entries.allSatisfy { $0.localHeaderOffset >= 0 && $0.method == 0 })
        let checkpoint = try TorchCheckpoint(path: fixture("zip64.pt"))
        try assertMatchesExpected(checkpoint.tensors, "zip64.pt")
        // Data is 64-byte aligned through the local header's padding extra field.
        for tensor in checkpoint.tensors.values { XCTAssertEqual(tensor.storageByteOffset % 64, 0, tensor.name) }
    }

    /// Opt-in: `WEIGHTS_TIMING_CHECKPOINT=/path/audiosep_base_4M_steps.ckpt swift test -c release
    /// --filter WeightsTests/testOpeningALargeCheckpointIsFast` (or a file from
    /// `make_weights_fixtures.py --benchmark`). Opening must not touch tensor data.
    func testOpeningALargeCheckpointIsFast() throws {
        guard let path = ProcessInfo.processInfo.environment["WEIGHTS_TIMING_CHECKPOINT"] else {
            throw XCTSkip("set WEIGHTS_TIMING_CHECKPOINT to time a large checkpoint")
        }
        let start = Date()
        let checkpoint = try TorchCheckpoint(path: path)
        let seconds = Date().timeIntervalSince(start)
        XCTAssertFalse(checkpoint.tensors.isEmpty)
        XCTAssertLessThan(seconds, 1, "opened \(checkpoint.tensors.count) tensors in \(seconds) s")
        let elements = try checkpoint.tensors.values.reduce(0) { $0 + (try $1.floats()).count }
        XCTAssertEqual(elements, checkpoint.tensors.values.reduce(0) { $0 + $1.elementCount })
    }

    // MARK: Safetensors

    func testSafeTensorsWrittenByPython() throws {
        let file = try SafeTensorsFile(path: fixture("python.safetensors"))
        XCTAssertEqual(file.metadata, ["format": "pt", "source": "fixture"])
        try assertMatchesExpected(file.tensors, "python.safetensors")
        XCTAssertEqual(Set(file.names), Set(file.tensors.keys))
    }

    func testSafeTensorsRoundTrip() throws {
        let path = temporaryPath("roundtrip.safetensors")
        var writer = SafeTensorsWriter(metadata: ["model": "ResUNet30", "quote\"key": "line\nbreak"])
        let weights: [Float] = [0, -0.0, 1.5, -3.25, .pi, 1e-30, 3.4e38, -1]
        try writer.add("conv.weight", shape: [2, 4], floats: weights)
        try writer.add("bias", shape: [3], floats: [1, 2, 3])
        try writer.add("scalar", shape: [], floats: [7])
        try writer.add("empty", shape: [0, 5], floats: [])
        try writer.add("half.precision", shape: [5], bfloat16: [1, 1.00390625, 1.005859375, -2.5, 65536])
        try writer.write(to: path)
        if let keep = ProcessInfo.processInfo.environment["WEIGHTS_TESTS_KEEP_SAFETENSORS"] {
            try? FileManager.default.removeItem(atPath: keep)
            try FileManager.default.copyItem(atPath: path, toPath: keep)  // for checking with Python by hand
        }

        let file = try SafeTensorsFile(path: path)
        XCTAssertEqual(file.metadata, ["model": "ResUNet30", "quote\"key": "line\nbreak"])
        XCTAssertEqual(try file.tensor("conv.weight").floats().map(\.bitPattern), weights.map(\.bitPattern))
        XCTAssertEqual(try file.tensor("conv.weight").shape, [2, 4])
        XCTAssertEqual(try file.tensor("bias").floats(), [1, 2, 3])
        XCTAssertEqual(try file.tensor("scalar").floats(), [7])
        XCTAssertEqual(try file.tensor("empty").shape, [0, 5])
        let bf16 = try file.tensor("half.precision")
        XCTAssertEqual(bf16.dtype, .bf16)
        // 1 + 2⁻⁸ is a tie and rounds to even (1); 1 + 3·2⁻⁹ rounds up to 1 + 2⁻⁷.
        XCTAssertEqual(try bf16.floats(), [1, 1, 1.0078125, -2.5, 65536])

        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let headerBytes = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        XCTAssertEqual((8 + headerBytes) % 8, 0, "the data section is 8-byte aligned")
        for tensor in file.tensors.values {
            XCTAssertEqual(tensor.storageByteOffset % tensor.dtype.byteWidth, 0, tensor.name)
        }
        XCTAssertNotNil(try file.tensor("conv.weight").contiguousFloat32, "aligned float32 is mapped without copying")
    }

    func testSafeTensorsWriterRejectsBadInput() throws {
        var writer = SafeTensorsWriter()
        XCTAssertThrowsError(try writer.add("w", shape: [2, 2], floats: [1, 2, 3])) {
            XCTAssertEqual($0 as? WeightsError,
                           .shapeMismatch(file: "(safetensors writer)", tensor: "w", shape: [2, 2], elementCount: 3))
        }
        try writer.add("w", shape: [1], floats: [1])
        XCTAssertThrowsError(try writer.add("w", shape: [1], bfloat16: [1])) {
            XCTAssertEqual($0 as? WeightsError, .duplicateTensor(file: "(safetensors writer)", tensor: "w"))
        }
        XCTAssertThrowsError(try writer.write(to: "/nonexistent-dir/x.safetensors")) {
            XCTAssertEqual($0 as? WeightsError, .outputFolderMissing(file: "/nonexistent-dir/x.safetensors", folder: "/nonexistent-dir"))
        }
    }

    func testBFloat16RoundingMatchesTheReference() {
        XCTAssertEqual(SafeTensorsWriter.bfloat16Bits(1), 0x3F80)
        XCTAssertEqual(SafeTensorsWriter.bfloat16Bits(-2), 0xC000)
        XCTAssertEqual(SafeTensorsWriter.bfloat16Bits(Float(bitPattern: 0x3F80_8000)), 0x3F80, "tie to even (down)")
        XCTAssertEqual(SafeTensorsWriter.bfloat16Bits(Float(bitPattern: 0x3F81_8000)), 0x3F82, "tie to even (up)")
        XCTAssertEqual(SafeTensorsWriter.bfloat16Bits(Float(bitPattern: 0x3F80_8001)), 0x3F81)
        XCTAssertEqual(SafeTensorsWriter.bfloat16Bits(.infinity), 0x7F80)
        XCTAssertEqual(SafeTensorsWriter.bfloat16Bits(.greatestFiniteMagnitude), 0x7F80, "overflows to infinity")
        XCTAssertTrue(Float(bitPattern: UInt32(SafeTensorsWriter.bfloat16Bits(.nan)) << 16).isNaN)
    }

    // MARK: Typed errors

    func assertError(_ expected: WeightsError, file: StaticString = #filePath, line: UInt = #line,
                     _ body: () throws -> Void) {
        XCTAssertThrowsError(try body(), file: file, line: line) {
            XCTAssertEqual($0 as? WeightsError, expected, file: file, line: line)
        }
    }

    func testBrokenCheckpointsGiveTypedErrors() throws {
        let whole = try Data(contentsOf: URL(fileURLWithPath: fixture("lightning.ckpt")))
        let truncated = temporaryPath("truncated.ckpt")
        try whole.prefix(whole.count / 2).write(to: URL(fileURLWithPath: truncated))
        assertError(.truncatedZip(file: truncated, fileBytes: whole.count / 2)) { _ = try TorchCheckpoint(path: truncated) }

        var generator = SeededGenerator(seed: 7)
        let random = temporaryPath("random.bin")
        try Data((0..<10_000).map { _ in UInt8(truncatingIfNeeded: generator.next()) }).write(to: URL(fileURLWithPath: random))
        assertError(.notAZip(file: random)) { _ = try TorchCheckpoint(path: random) }

        let json = fixture("expected.json")
        assertError(.notAZip(file: json)) { _ = try TorchCheckpoint(path: json) }
        let empty = temporaryPath("empty.ckpt")
        try Data().write(to: URL(fileURLWithPath: empty))
        assertError(.notAZip(file: empty)) { _ = try TorchCheckpoint(path: empty) }

        let halfPickle = fixture("truncated_pickle.pt")
        XCTAssertThrowsError(try TorchCheckpoint(path: halfPickle)) {
            guard case .pickleTruncated(halfPickle, _)? = $0 as? WeightsError else { return XCTFail("\($0)") }
        }
        let compressed = fixture("compressed.pt")
        assertError(.compressedEntry(file: compressed, entry: "bare_state_dict/data.pkl", method: 8)) {
            _ = try TorchCheckpoint(path: compressed)
        }
        let bigEndian = fixture("big_endian.pt")
        assertError(.unsupportedByteOrder(file: bigEndian, byteOrder: "big")) { _ = try TorchCheckpoint(path: bigEndian) }
        let shortStorage = fixture("short_storage.pt")
        assertError(.storageSizeMismatch(file: shortStorage, tensor: "0.weight", entry: "bare_state_dict/data/0", dtype: "f32",
                                         elementCount: 6, storageBytes: 4)) {
            _ = try TorchCheckpoint(path: shortStorage)
        }
        let outside = fixture("storage_outside.pt")
        XCTAssertThrowsError(try TorchCheckpoint(path: outside)) {
            guard case .storageUnavailable(outside, "logit_scale_a", "module_prefixed/data/2", let reason)? = $0 as? WeightsError else {
                return XCTFail("\($0)")
            }
            XCTAssertTrue(reason.hasSuffix("lie outside the file (2709 bytes)"), reason)
        }
        let noPickle = fixture("no_data_pickle.pt")
        assertError(.noDataPickle(file: noPickle)) { _ = try TorchCheckpoint(path: noPickle) }
        let complex = fixture("complex.pt")
        assertError(.unknownStorageType(file: complex, tensor: "spectrum", storageType: "torch.ComplexFloatStorage")) {
            _ = try TorchCheckpoint(path: complex)
        }
        let missing = temporaryPath("does-not-exist.ckpt")
        assertError(.cannotOpen(file: missing, call: "open", errno: ENOENT)) { _ = try TorchCheckpoint(path: missing) }
        let directory = Self.fixtures.path
        assertError(.notARegularFile(file: directory)) { _ = try TorchCheckpoint(path: directory) }
        let safetensors = fixture("python.safetensors")
        assertError(.notAZip(file: safetensors)) { _ = try TorchCheckpoint(path: safetensors) }

        // Messages name the file, and say why the storage does not fit.
        XCTAssertEqual("\(WeightsError.storageSizeMismatch(file: "c.pt", tensor: "w", entry: "a/data/0", dtype: "f64", elementCount: 6, storageBytes: 24))",
                       "c.pt: storage 'a/data/0' of tensor 'w' is saved as 6 f64 values (48 bytes) but its entry holds 24 bytes")
        XCTAssertTrue("\(WeightsError.storageOutOfRange(file: shortStorage, tensor: "0.weight", neededBytes: 24, storageBytes: 4))"
            .contains("short_storage.pt"))
    }

    func testEveryTruncationOfACheckpointIsATypedError() throws {
        let whole = try Data(contentsOf: URL(fileURLWithPath: fixture("module_prefixed.pt")))
        let path = temporaryPath("cut.pt")
        for length in stride(from: 0, to: whole.count, by: 7) {
            try whole.prefix(length).write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try TorchCheckpoint(path: path)) {
                XCTAssertNotNil($0 as? WeightsError, "cut at \(length): \($0)")
            }
        }
    }

    /// Safetensors bytes: header length, JSON, then `dataBytes` zero bytes.
    func safetensors(_ json: String, dataBytes: Int, headerBytes: UInt64? = nil) throws -> String {
        let header = Array(json.utf8)
        let length = headerBytes ?? UInt64(header.count)
        var bytes = (0..<8).map { UInt8(truncatingIfNeeded: length >> (8 * UInt64($0))) }
        bytes += header + [UInt8](repeating: 0, count: dataBytes)
        let path = temporaryPath("case-\(UUID().uuidString).safetensors")
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    func testBrokenSafeTensorsGiveTypedErrors() throws {
        var path = try safetensors(#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, dataBytes: 8)
        XCTAssertEqual(try SafeTensorsFile(path: path).tensor("w").floats(), [0, 0])

        path = try safetensors(#"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, dataBytes: 8)
        assertError(.tensorOutOfRange(file: path, tensor: "w", begin: 0, end: 16, dataBytes: 8)) {
            _ = try SafeTensorsFile(path: path)
        }
        let valid = #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        path = try safetensors(valid, dataBytes: 8, headerBytes: 1 << 40)
        assertError(.headerTooLarge(file: path, headerBytes: 1 << 40, fileBytes: 8 + valid.utf8.count + 8)) {
            _ = try SafeTensorsFile(path: path)
        }
        path = try safetensors(#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, dataBytes: 8, headerBytes: .max)
        XCTAssertThrowsError(try SafeTensorsFile(path: path)) {
            guard case .headerTooLarge? = $0 as? WeightsError else { return XCTFail("\($0)") }
        }
        path = try safetensors(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
                               dataBytes: 12)
        assertError(.tensorsNotContiguous(file: path, tensor: "b", begin: 4, expected: 8)) { _ = try SafeTensorsFile(path: path) }
        path = try safetensors(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#,
                               dataBytes: 12)
        assertError(.tensorsNotContiguous(file: path, tensor: "b", begin: 8, expected: 4)) { _ = try SafeTensorsFile(path: path) }
        // A shape or dtype that disagrees with the range is said as such, not as a bad range.
        path = try safetensors(#"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, dataBytes: 8)
        assertError(.byteCountMismatch(file: path, tensor: "w", shape: [3], dtype: "F32", byteCount: 8, expectedBytes: 12)) {
            _ = try SafeTensorsFile(path: path)
        }
        path = try safetensors(#"{"w":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}}"#, dataBytes: 8)
        assertError(.byteCountMismatch(file: path, tensor: "w", shape: [2], dtype: "F64", byteCount: 8, expectedBytes: 16)) {
            _ = try SafeTensorsFile(path: path)
        }
        XCTAssertTrue("\(WeightsError.byteCountMismatch(file: "m", tensor: "w", shape: [2], dtype: "F64", byteCount: 8, expectedBytes: 16))"
            == "m: tensor 'w' of shape [2] and dtype F64 needs 16 bytes, its data holds 8")
        path = try safetensors(#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, dataBytes: 8)
        assertError(.tensorOutOfRange(file: path, tensor: "w", begin: 8, end: 0, dataBytes: 8)) { _ = try SafeTensorsFile(path: path) }
        path = try safetensors(#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, dataBytes: 12)
        assertError(.tensorOutOfRange(file: path, tensor: "w", begin: 0, end: 8, dataBytes: 12)) { _ = try SafeTensorsFile(path: path) }
        path = try safetensors(#"{"w":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}}"#, dataBytes: 8)
        assertError(.unsupportedDType(file: path, tensor: "w", dtype: "C64")) { _ = try SafeTensorsFile(path: path) }
        path = try safetensors(#"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, dataBytes: 4)
        XCTAssertThrowsError(try SafeTensorsFile(path: path)) {
            guard case .invalidHeader? = $0 as? WeightsError else { return XCTFail("\($0)") }
        }
        path = try safetensors(#"{"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,0]}}"#, dataBytes: 0)
        assertError(.shapeOverflow(file: path, tensor: "w", shape: [4611686018427387904, 4], dtype: "F32")) {
            _ = try SafeTensorsFile(path: path)
        }
        path = try safetensors("{not json", dataBytes: 0)
        assertError(.invalidHeader(file: path, reason: "not JSON")) { _ = try SafeTensorsFile(path: path) }
        path = try safetensors(#"{"__metadata__":{"a":1}}"#, dataBytes: 0)
        XCTAssertThrowsError(try SafeTensorsFile(path: path)) {
            guard case .invalidHeader? = $0 as? WeightsError else { return XCTFail("\($0)") }
        }
        let tiny = temporaryPath("tiny.safetensors")
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: tiny))
        XCTAssertThrowsError(try SafeTensorsFile(path: tiny)) {
            guard case .headerTooLarge? = $0 as? WeightsError else { return XCTFail("\($0)") }
        }
        let checkpoint = fixture("lightning.ckpt")
        XCTAssertThrowsError(try SafeTensorsFile(path: checkpoint)) { XCTAssertNotNil($0 as? WeightsError) }
    }

    // MARK: Tensor views

    func testTensorViewRejectsLayoutsOutsideItsStorage() throws {
        let path = temporaryPath("storage.bin")
        try Data((0..<64).map { UInt8($0) }).write(to: URL(fileURLWithPath: path))
        let file = try MappedFile(path: path)
        func view(_ shape: [Int], _ strides: [Int], offset: Int = 0, bytes: Int = 16) throws -> TensorView {
            try TensorView(name: "t", dtype: .f32, shape: shape, strides: strides, storageOffset: offset,
                           file: file, storageByteOffset: 8, storageByteCount: bytes)
        }
        XCTAssertEqual(try view([2, 2], [2, 1]).elementCount, 4)
        assertError(.storageOutOfRange(file: path, tensor: "t", neededBytes: 20, storageBytes: 16)) { _ = try view([2, 2], [2, 1], offset: 1) }
        assertError(.storageOutOfRange(file: path, tensor: "t", neededBytes: 32, storageBytes: 16)) { _ = try view([2, 2], [1, 6]) }
        assertError(.invalidLayout(file: path, tensor: "t", shape: [2], strides: [-1])) { _ = try view([2], [-1]) }
        // A bad storage offset is named, with the storage it misses.
        for offset in [-1, 4, 1 << 62] {
            assertError(.badStorageOffset(file: path, tensor: "t", offset: offset, dtype: "f32", storageBytes: 16)) {
                _ = try view([1], [1], offset: offset)
            }
        }
        XCTAssertEqual(String(describing: WeightsError.badStorageOffset(file: "m.ckpt", tensor: "t", offset: -5, dtype: "f32", storageBytes: 16)),
                       "m.ckpt: tensor 't' starts at storage offset -5 (f32 elements), outside its storage of 16 bytes")
        assertError(.invalidLayout(file: path, tensor: "t", shape: [2, 2], strides: [1])) { _ = try view([2, 2], [1]) }
        assertError(.shapeOverflow(file: path, tensor: "t", shape: [Int.max, 4], dtype: "f32")) { _ = try view([Int.max, 4], [4, 1]) }
        assertError(.readOutOfRange(file: path, offset: 8, byteCount: 100, fileBytes: 64)) { _ = try view([1], [1], bytes: 100) }
        XCTAssertEqual(try view([0, 3], [3, 1]).floats(), [])
        // An unaligned float32 view is read correctly but not handed out as a Float pointer.
        let unaligned = try TensorView(name: "u", dtype: .f32, shape: [2], strides: [1], storageOffset: 0,
                                       file: file, storageByteOffset: 1, storageByteCount: 8)
        XCTAssertNil(unaligned.contiguousFloat32)
        XCTAssertEqual(try unaligned.floats().map(\.bitPattern), [0x0403_0201, 0x0807_0605])
    }

    func testHalfConversionIsExactForEveryBitPattern() throws {
        #if !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
        let path = temporaryPath("halves.bin")
        try Data((0...UInt16.max).flatMap { [UInt8(truncatingIfNeeded: $0), UInt8($0 >> 8)] }).write(to: URL(fileURLWithPath: path))
        let halves = try TensorView(name: "halves", dtype: .f16, shape: [65_536], strides: [1], storageOffset: 0,
                                    file: MappedFile(path: path), storageByteOffset: 0, storageByteCount: 131_072)
        let converted = try halves.floats()
        for bits in 0...UInt16.max {
            let reference = Float(Float16(bitPattern: bits))
            let ours = converted[Int(bits)]
            if reference.isNaN {
                XCTAssertTrue(ours.isNaN, "\(bits)")
            } else {
                XCTAssertEqual(ours.bitPattern, reference.bitPattern, "\(bits)")
            }
        }
        #endif
    }

    // MARK: The pickle machine against hostile input

    func run(_ bytes: [UInt8]) throws -> Pickle {
        try bytes.withUnsafeBytes { try Pickle(bytes: $0, file: "test.pkl") }
    }

    func testPickleHostileInputsAreTypedErrors() {
        let cases: [(String, [UInt8])] = [
            ("empty", []),
            ("no STOP", [0x80, 0x02, 0x4E]),
            ("huge BINUNICODE", [0x80, 0x02, 0x58, 0xFF, 0xFF, 0xFF, 0x7F, 0x61]),
            ("huge BINUNICODE8", [0x8D] + [UInt8](repeating: 0xFF, count: 8) + [0x2E]),
            ("huge LONG4", [0x8B, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x2E]),
            ("huge BINBYTES8", [0x8E, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x2E]),
            ("stack underflow", [0x2E]),
            ("STOP below mark", [0x4E, 0x28, 0x2E]),
            ("TUPLE1 below mark", [0x4E, 0x28, 0x85, 0x2E]),
            ("memo miss", [0x68, 0x05, 0x2E]),
            ("unknown opcode", [0xFF]),
            ("out-of-band buffer", [0x97, 0x2E]),
            ("protocol 6", [0x80, 0x06, 0x4E, 0x2E]),
            ("odd SETITEMS", [0x7D, 0x28, 0x4E, 0x75, 0x2E]),
            ("APPEND to an int", [0x4B, 0x01, 0x4B, 0x02, 0x61, 0x2E]),
            ("STACK_GLOBAL of ints", [0x4B, 0x01, 0x4B, 0x02, 0x93, 0x2E]),
            ("tensor without storage", Array("ctorch._utils\n_rebuild_tensor_v2\n".utf8) + [0x28, 0x4E, 0x4B, 0, 0x29, 0x29, 0x74, 0x52, 0x2E]),
            ("GLOBAL without newline", Array("cfoo".utf8)),
        ]
        for (label, bytes) in cases {
            XCTAssertThrowsError(try run(bytes), label) {
                XCTAssertNotNil($0 as? WeightsError, "\(label): \($0)")
            }
        }
    }

    func testPickleSurvivesCyclesAndDeepNesting() throws {
        // l = []; l.append(l)
        let cycle = try run([0x80, 0x02, 0x5D, 0x71, 0x00, 0x68, 0x00, 0x61, 0x2E])
        guard case .list(let index) = cycle.node(cycle.root) else { return XCTFail("not a list") }
        XCTAssertEqual(cycle.lists[index], [cycle.root])
        // 200,000 nested one-tuples: no recursion when built, read or freed.
        let deep = try run([0x4E] + [UInt8](repeating: 0x85, count: 200_000) + [0x2E])
        XCTAssertEqual(deep.nodes.count, 200_001)
        // Protocol 0 text opcodes.
        let text = try run(Array("(lp0\nI42\naL12345678901234567890L\naF1.5\naS'hi'\na(dp1\nVk\nI01\nsa.".utf8))
        guard case .list(let items) = text.node(text.root) else { return XCTFail("not a list") }
        let nodes = text.lists[items].map { text.node($0) }
        guard nodes.count == 5, case .int(42) = nodes[0], case .bigInt = nodes[1], case .float(1.5) = nodes[2],
              case .string("hi") = nodes[3], case .dict = nodes[4] else { return XCTFail("\(nodes)") }
    }

    func testPickleMutationsNeverCrash() throws {
        let archive = try ZipArchive(file: MappedFile(path: fixture("lightning_protocol5.ckpt")))
        let original = Array(try archive.data(named: "lightning_protocol5/data.pkl"))
        for length in 0..<original.count where length % 3 == 0 {
            XCTAssertThrowsError(try run(Array(original.prefix(length))))
        }
        var generator = SeededGenerator(seed: 11)
        for _ in 0..<1_000 {
            var bytes = original
            for _ in 0..<(1 + Int(generator.next() % 4)) {
                bytes[Int(generator.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: generator.next())
            }
            do { _ = try run(bytes) } catch { XCTAssertNotNil(error as? WeightsError, "\(error)") }
        }
    }
    // MARK: Globals a checkpoint has no use for

    /// Pickles that would run code when Python loads them, each written here byte by byte as
    /// the value of an extra key beside a valid state dict: every one is refused, naming the
    /// global, whichever opcode names it (GLOBAL, STACK_GLOBAL, INST) and whichever calls it
    /// (REDUCE, NEWOBJ, BUILD, OBJ, INST).
    func testACheckpointNamingACodeRunningGlobalIsRefused() throws {
        let cases: [(String, String, String, (inout PickleBytes) -> Void)] = [
            ("GLOBAL + REDUCE", "os", "system", { $0.global("os", "system"); $0.string("touch /tmp/pwned"); $0.tuple1(); $0.reduce() }),
            ("STACK_GLOBAL + REDUCE", "builtins", "eval", { $0.stackGlobal("builtins", "eval"); $0.string("1+1"); $0.tuple1(); $0.reduce() }),
            ("Python 2 name", "__builtin__", "eval", { $0.stackGlobal("__builtin__", "eval"); $0.string("1"); $0.tuple1(); $0.reduce() }),
            ("GLOBAL + NEWOBJ", "subprocess", "Popen", { $0.global("subprocess", "Popen"); $0.emptyTuple(); $0.newObj() }),
            ("STACK_GLOBAL + NEWOBJ + BUILD", "subprocess", "Popen", {
                $0.stackGlobal("subprocess", "Popen"); $0.emptyTuple(); $0.newObj(); $0.emptyDict(); $0.build()
            }),
            ("BUILD with a callable state", "posix", "system", {
                $0.global("argparse", "Namespace"); $0.emptyTuple(); $0.newObj(); $0.global("posix", "system"); $0.build()
            }),
            ("INST", "os", "system", { $0.mark(); $0.string("id"); $0.inst("os", "system") }),
            ("OBJ", "builtins", "exec", { $0.mark(); $0.global("builtins", "exec"); $0.string("print(1)"); $0.obj() }),
            ("STACK_GLOBAL + OBJ", "builtins", "getattr", { $0.mark(); $0.stackGlobal("builtins", "getattr"); $0.obj() }),
            ("inside a tensor's hooks", "os", "system", {
                $0.global("torch._utils", "_rebuild_tensor_v2")
                $0.mark(); $0.mark(); $0.string("storage"); $0.global("torch", "FloatStorage"); $0.string("0"); $0.string("cpu")
                $0.int(4); $0.tuple(); $0.binPersId(); $0.int(0); $0.int(4); $0.tuple1(); $0.int(1); $0.tuple1(); $0.newFalse()
                $0.global("os", "system"); $0.string("id"); $0.tuple1(); $0.reduce(); $0.tuple(); $0.reduce()
            }),
        ]
        for (label, module, name, hostile) in cases {
            let path = temporaryPath("evil.ckpt")
            try Data(CheckpointBuilder.stateDict(withExtra: hostile)).write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try TorchCheckpoint(path: path), label) { error in
                guard case .pickleForbiddenGlobal(let file, _, let gotModule, let gotName)? = error as? WeightsError else {
                    return XCTFail("\(label): \(error)")
                }
                XCTAssertEqual([file, gotModule, gotName], [path, module, name], label)
                let line = "\(error)"
                XCTAssertTrue(line.contains("\(module).\(name)"), line)
                XCTAssertFalse(line.contains("\n"), line)
            }
            XCTAssertThrowsError(try MappedWeights(files: ModelFiles(checkpoint: path)), label)
        }
        // The same file with a harmless extra (a Lightning hyper-parameter namespace) loads.
        let path = temporaryPath("fine.ckpt")
        try Data(CheckpointBuilder.stateDict { $0.global("argparse", "Namespace"); $0.emptyTuple(); $0.newObj(); $0.emptyDict(); $0.build() })
            .write(to: URL(fileURLWithPath: path))
        let checkpoint = try TorchCheckpoint(path: path)
        XCTAssertEqual(Array(checkpoint.tensors.keys), ["weight"])
        XCTAssertEqual(try checkpoint.tensor("weight").floats(), [0, 0, 0, 0])
    }

    /// Every global our PyTorch-written fixtures name is allowed, and a few that must not be are not.
    func testTheAllowListHoldsWhatTorchWritesAndNothingThatRunsCode() {
        for (module, name) in [("collections", "OrderedDict"), ("torch._utils", "_rebuild_tensor_v2"),
                               ("torch._utils", "_rebuild_parameter"), ("torch", "BFloat16Storage"), ("torch", "Size"),
                               ("__builtin__", "set"), ("builtins", "frozenset"), ("_codecs", "encode"), ("torch", "float32"),
                               ("numpy._core.multiarray", "_reconstruct"), ("argparse", "Namespace")] {
            XCTAssertTrue(Pickle.isAllowedGlobal(module: module, name: name), "\(module).\(name)")
        }
        for (module, name) in [("os", "system"), ("posix", "system"), ("builtins", "eval"), ("builtins", "exec"),
                               ("builtins", "getattr"), ("builtins", "__import__"), ("subprocess", "Popen"),
                               ("torch", "load"), ("numpy", "load"), ("copyreg", "_reconstructor"), ("builtins", "dict"),
                               ("functools", "partial"), ("torch.serialization", "load"), ("webbrowser", "open")] {
            XCTAssertFalse(Pickle.isAllowedGlobal(module: module, name: name), "\(module).\(name)")
        }
        // EXT1/2/4 name a global through copyreg's registry, out of sight: refused like an unknown opcode.
        for opcode: UInt8 in [0x82, 0x83, 0x84] {
            XCTAssertThrowsError(try run([0x80, 0x02, opcode, 1, 0, 0, 0, 0x29, 0x52, 0x2E])) {
                guard case .pickleUnknownOpcode(_, opcode, _)? = $0 as? WeightsError else { return XCTFail("\($0)") }
            }
        }
    }
}

