import Foundation
import Weights
import TestSupport
import XCTest

/// The model's files through the real binary where they could be misused: `convert -o` onto
/// something a rename must not replace, non-finite weights and embeddings, messages quoting
/// file content, and a model folder with several `.safetensors`. Each refusal is one line and
/// exit 1, and leaves everything as it was.
final class ModelHardeningEndToEndTests: XCTestCase {
    static let fixtures = AudioSepEndToEndTests.fixtures
    var folder: String!

    override func setUpWithError() throws {
        folder = Harness.path("hardening-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: "\(Self.fixtures)/tiny.ckpt", toPath: "\(folder!)/x.ckpt")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// Runs `command` in `folder`; expects exit 1 and one line holding each of `messages`.
    @discardableResult
    func assertRefused(_ command: String, _ messages: [String], file: StaticString = #filePath, line: UInt = #line) throws -> Harness.Result {
        let run = try Harness.shell("cd \(folder!) && \(command)")
        XCTAssertEqual(run.status, 1, run.stderr, file: file, line: line)
        XCTAssertEqual(run.stderr.split(separator: "\n").count, 1, run.stderr, file: file, line: line)
        XCTAssertTrue(run.stderr.hasPrefix("audiosep-stream: "), run.stderr, file: file, line: line)
        for message in messages {
            XCTAssertTrue(run.stderr.contains(message), "wanted '\(message)' in \(run.stderr)", file: file, line: line)
        }
        return run
    }

    func names() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: folder).sorted() }

    func kind(_ name: String) throws -> FileAttributeType? {
        try FileManager.default.attributesOfItem(atPath: "\(folder!)/\(name)")[.type] as? FileAttributeType
    }

    func metadata(_ path: String) throws -> [String: String] {
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        let length = Int(bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        let header = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + length)])) as? [String: Any])
        return try XCTUnwrap(header["__metadata__"] as? [String: String])
    }

    // MARK: convert -o

    /// A rename onto a FIFO (or a device: /dev/full as root) would replace it with a regular file.
    func testConvertRefusesAFIFOAndAFolderAndCreatesNothing() throws {
        XCTAssertEqual(mkfifo("\(folder!)/pipe", 0o644), 0)
        try FileManager.default.createDirectory(atPath: "\(folder!)/sub", withIntermediateDirectories: false)
        try assertRefused("$BIN convert --checkpoint x.ckpt -o pipe", ["cannot write 'pipe': not a regular file"])
        try assertRefused("$BIN convert --checkpoint x.ckpt -o sub", ["cannot write 'sub': not a regular file"])
        XCTAssertEqual(try kind("pipe"), .typeUnknown, "still a FIFO (Foundation has no name for it)")
        XCTAssertEqual(try kind("sub"), .typeDirectory)
        XCTAssertEqual(try names(), ["pipe", "sub", "x.ckpt"], "no temporary file left")
    }

    func testConvertRefusesItsOwnInputThroughAnyName() throws {
        let before = try Data(contentsOf: URL(fileURLWithPath: "\(folder!)/x.ckpt"))
        XCTAssertEqual(symlink("x.ckpt", "\(folder!)/link.ckpt"), 0)
        XCTAssertEqual(link("\(folder!)/x.ckpt", "\(folder!)/hard.ckpt"), 0)
        try assertRefused("$BIN convert --checkpoint x.ckpt -o x.ckpt", ["cannot write 'x.ckpt': it is the input file 'x.ckpt'"])
        try assertRefused("$BIN convert --checkpoint x.ckpt -o link.ckpt", ["cannot write 'link.ckpt': it is the input file 'x.ckpt'"])
        try assertRefused("$BIN convert --model hard.ckpt -o x.ckpt", ["cannot write 'x.ckpt': it is the input file 'hard.ckpt'"])
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: "\(folder!)/x.ckpt")), before, "the checkpoint is untouched")
        XCTAssertEqual(try kind("link.ckpt"), .typeSymbolicLink)
        XCTAssertEqual(try names(), ["hard.ckpt", "link.ckpt", "x.ckpt"])
    }

    func testConvertRefusesAMissingFolderBeforeReadingTheModel() throws {
        try assertRefused("$BIN convert --checkpoint x.ckpt -o nowhere/out.safetensors",
                          ["cannot write 'nowhere/out.safetensors': folder 'nowhere' does not exist"])
        // The output is checked before any work: a broken model is not even opened.
        XCTAssertEqual(mkfifo("\(folder!)/pipe", 0o644), 0)
        try assertRefused("$BIN convert --checkpoint \(Self.fixtures)/README.md -o pipe", ["'pipe': not a regular file"])
    }

    /// The link stays a link; the file it points to (also one not there yet) gets the model.
    func testConvertWritesThroughASymbolicLink() throws {
        try FileManager.default.createDirectory(atPath: "\(folder!)/store", withIntermediateDirectories: false)
        FileManager.default.createFile(atPath: "\(folder!)/store/model.safetensors", contents: Data("old".utf8))
        XCTAssertEqual(symlink("store/model.safetensors", "\(folder!)/current.safetensors"), 0)
        XCTAssertEqual(symlink("store/new.safetensors", "\(folder!)/dangling.safetensors"), 0)
        for name in ["current", "dangling"] {
            let run = try Harness.shell("cd \(folder!) && $BIN convert --checkpoint x.ckpt -o \(name).safetensors")
            XCTAssertEqual(run.status, 0, run.stderr)
            XCTAssertEqual(try kind("\(name).safetensors"), .typeSymbolicLink, name)
        }
        for target in ["model", "new"] {
            XCTAssertEqual(try metadata("\(folder!)/store/\(target).safetensors")["format"], "audiosep-stream/1")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: "\(folder!)/store").sorted(),
                       ["model.safetensors", "new.safetensors"], "no temporary file left")
        let separated = try Harness.shell("cd \(folder!) && $BIN --engine audiosep --model current.safetensors --embedding \(Self.fixtures)/embedding.f32 "
                                          + "-t raw -r 32000 -c 1 -b 32 -e float --out-type raw < \(Self.fixtures)/input.f32 | wc -c")
        XCTAssertEqual(separated.status, 0, separated.stderr)
    }

    /// A write that fails half-way (the file-size limit) leaves no temporary file and no output.
    func testAFailedWriteRemovesItsTemporaryFile() throws {
        let run = try assertRefused("trap '' XFSZ; ulimit -f 64; $BIN convert --checkpoint x.ckpt -o out.safetensors",
                                    ["out.safetensors: write failed: File too large"])
        XCTAssertFalse(run.stderr.contains("wrote"))
        XCTAssertEqual(try names(), ["x.ckpt"])
    }

    // MARK: Non-finite weights and embeddings

    /// A copy of `source`, in `folder`, with every value of float32 tensors `names` set by `value`.
    func damaged(_ source: String, _ names: [String], value: (Int) -> Float) throws -> String {
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: source)))
        for name in names {
            let view = try source.hasSuffix(".safetensors") ? SafeTensorsFile(path: source).tensor(name) : TorchCheckpoint(path: source).tensor(name)
            XCTAssertTrue(view.dtype == .f32 && view.isContiguous, name)
            for index in 0..<view.elementCount {
                let bits = value(index).bitPattern, at = view.storageByteOffset + (view.storageOffset + index) * 4
                for byte in 0..<4 { bytes[at + byte] = UInt8(truncatingIfNeeded: bits >> (8 * UInt32(byte))) }
            }
        }
        let path = "\(folder!)/\((source as NSString).lastPathComponent)"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    let separate = "--engine audiosep -t raw -r 32000 -c 1 -b 32 -e float --out-type raw"

    func testANaNWeightIsOneLineNamingTheTensorAndValue() throws {
        let path = try damaged("\(Self.fixtures)/tiny.safetensors", ["ss_model.base.after_conv.bias"]) { $0 == 1 ? .nan : 0.5 }
        try assertRefused("$BIN \(separate) --model \(path) --embedding \(Self.fixtures)/embedding.f32 < \(Self.fixtures)/input.f32 > out.f32",
                          ["\(path): tensor 'ss_model.base.after_conv.bias' holds nan at index 1"])
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: "\(folder!)/out.f32")).count, 0, "no audio")
        try assertRefused("$BIN convert --model \(path) -o out.safetensors", ["holds nan at index 1"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(folder!)/out.safetensors"))
    }

    /// 1e38 is finite but no embedding: the FiLM layers would turn it into infinities.
    func testAnEmbeddingFileWithAnAbsurdValueIsRefused() throws {
        var values = Array(try Data(contentsOf: URL(fileURLWithPath: "\(Self.fixtures)/embedding.f32")))
        let bits = Float(1e38).bitPattern
        for byte in 0..<4 { values[17 * 4 + byte] = UInt8(truncatingIfNeeded: bits >> (8 * UInt32(byte))) }
        try Data(values).write(to: URL(fileURLWithPath: "\(folder!)/huge.f32"))
        try assertRefused("$BIN \(separate) --model x.ckpt --embedding huge.f32 < \(Self.fixtures)/input.f32 > out.f32",
                          ["huge.f32: query embedding value 17 is 1e+38; a query embedding holds finite values within ±10000"])
    }

    /// Finite weights whose products overflow (the last projection, all 3e38, on ReLU outputs):
    /// the computed embedding is inf / inf = NaN, refused rather than printed or cached.
    func testAComputedTextEmbeddingThatOverflowsIsRefused() throws {
        let clap = AudioSepEndToEndTests.fixtures + "/../clap-tiny"
        let path = try damaged("\(clap)/clap.pt", ["text_projection.2.weight"]) { _ in 3e38 }
        let run = try assertRefused("HOME=\(folder!) $BIN embed \"a dog\" --checkpoint \(clap)/audiosep.ckpt --clap-checkpoint \(path) --roberta-dir \(clap)/roberta-base",
                                    ["the text embedding of 'a dog' (\(clap)/audiosep.ckpt + \(path)): query embedding value 0 is ", "nan; a query embedding holds finite values"])
        XCTAssertEqual(run.stdout.count, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(folder!)/.cache/audiosep-stream/embeddings"), "nothing cached")
    }

    // MARK: Messages

    /// A file with no tensors at all: the missing tensor's message names it (it used to begin ": tensor").
    func testAMissingTensorNamesTheFileEvenWhenItHoldsNone() throws {
        let header = Array(#"{"__metadata__":{"format":"audiosep-stream/1"}}"#.utf8)
        let bytes = (0..<8).map { UInt8(truncatingIfNeeded: UInt64(header.count) >> (8 * UInt64($0))) } + header
        try Data(bytes).write(to: URL(fileURLWithPath: "\(folder!)/empty.safetensors"))
        let run = try assertRefused("$BIN \(separate) --model empty.safetensors --embedding \(Self.fixtures)/embedding.f32 < \(Self.fixtures)/input.f32",
                                    ["audiosep-stream: empty.safetensors: tensor 'ss_model.", "' is missing"])
        XCTAssertFalse(run.stderr.contains(": : "), run.stderr)
    }

    /// A broken merges.txt is quoted with its control bytes escaped; an empty one is refused.
    func testABrokenOrEmptyMergesFileIsOnePrintableLine() throws {
        let clap = AudioSepEndToEndTests.fixtures + "/../clap-tiny"
        try FileManager.default.createDirectory(atPath: "\(folder!)/roberta", withIntermediateDirectories: false)
        for name in ["vocab.json", "config.json", "pytorch_model.bin"] {
            try FileManager.default.copyItem(atPath: "\(clap)/roberta-base/\(name)", toPath: "\(folder!)/roberta/\(name)")
        }
        let flags = "--checkpoint \(clap)/audiosep.ckpt --clap-checkpoint \(clap)/clap.pt --roberta-dir roberta --no-cache"
        try Data("#version: 0.2\n\u{1b}]0;pwned\u{7} x y\n".utf8).write(to: URL(fileURLWithPath: "\(folder!)/roberta/merges.txt"))
        let run = try assertRefused("$BIN embed dog \(flags)", ["roberta/merges.txt:2: a merge is two tokens separated by one space, got '\\u{1b}]0;pwned\\u{7} x y'"])
        XCTAssertFalse(run.stderr.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" }, "no raw control bytes")
        try Data("#version: 0.2\n".utf8).write(to: URL(fileURLWithPath: "\(folder!)/roberta/merges.txt"))
        try assertRefused("$BIN embed dog \(flags)", ["roberta/merges.txt: no merges"])
    }

    // MARK: Model folders

    /// The fixture folder's two .safetensors are the tiny model (format "pt") and reference
    /// intermediates: neither is ours, so --model must not take the first by name.
    func testAModelFolderWithUnrelatedSafetensorsIsRefusedNamingThem() throws {
        try assertRefused("$BIN \(separate) --model \(Self.fixtures) --embedding \(Self.fixtures)/embedding.f32 < \(Self.fixtures)/input.f32",
                          ["\(Self.fixtures): no converted model among intermediates.safetensors, tiny.safetensors"])
        let models = "\(folder!)/models"
        try FileManager.default.createDirectory(atPath: models, withIntermediateDirectories: false)
        try FileManager.default.copyItem(atPath: "\(Self.fixtures)/intermediates.safetensors", toPath: "\(models)/a.safetensors")
        let convert = try Harness.shell("cd \(folder!) && $BIN convert --checkpoint x.ckpt -o models/z.safetensors")
        XCTAssertEqual(convert.status, 0, convert.stderr)
        let run = try Harness.shell("cd \(folder!) && $BIN \(separate) --model models --embedding \(Self.fixtures)/embedding.f32 < \(Self.fixtures)/input.f32 | wc -c")
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(String(decoding: run.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines),
                       "\(try Data(contentsOf: URL(fileURLWithPath: "\(Self.fixtures)/input.f32")).count)", "the converted one was used")
        XCTAssertEqual(try Harness.shell("cd \(folder!) && $BIN convert --checkpoint x.ckpt -o models/y.safetensors").status, 0)
        try assertRefused("$BIN \(separate) --model models --embedding \(Self.fixtures)/embedding.f32 < \(Self.fixtures)/input.f32",
                          ["models: several models (y.safetensors, z.safetensors); give --model one of them"])
    }
    // MARK: Hostile pickles and very many records

    /// A checkpoint whose pickle names os.system (beside a valid state dict) is refused by the
    /// filter and by `convert`, in one line naming it; `convert` writes nothing.
    func testACheckpointNamingOsSystemIsRefusedAndNeverConverted() throws {
        let evil = CheckpointBuilder.stateDict { $0.global("os", "system"); $0.string("touch pwned"); $0.tuple1(); $0.reduce() }
        try Data(evil).write(to: URL(fileURLWithPath: "\(folder!)/evil.ckpt"))
        try assertRefused("$BIN \(separate) --checkpoint evil.ckpt --embedding \(Self.fixtures)/embedding.f32 < \(Self.fixtures)/input.f32",
                          ["evil.ckpt: refused: its pickle names os.system"])
        try assertRefused("$BIN convert --checkpoint evil.ckpt -o out.safetensors", ["evil.ckpt: refused: its pickle names os.system"])
        let stacked = CheckpointBuilder.stateDict { $0.stackGlobal("subprocess", "Popen"); $0.emptyTuple(); $0.newObj() }
        try Data(stacked).write(to: URL(fileURLWithPath: "\(folder!)/stacked.ckpt"))
        try assertRefused("$BIN convert --checkpoint stacked.ckpt -o out.safetensors", ["stacked.ckpt: refused: its pickle names subprocess.Popen"])
        XCTAssertEqual(try names(), ["evil.ckpt", "stacked.ckpt", "x.ckpt"], "nothing written, nothing run")
    }

    /// The filter refuses a checkpoint of 100,000 tensor records in time linear in their number
    /// (it took over a minute; `convert` 0.3 s): at most 20 times as long as 10,000 records.
    func testTheFilterRefusesVeryManyRecordsInLinearTime() throws {
        func seconds(_ records: Int) throws -> Double {
            try Data(CheckpointBuilder.manyRecords(records)).write(to: URL(fileURLWithPath: "\(folder!)/many.ckpt"))
            let run = try assertRefused("$BIN \(separate) --checkpoint many.ckpt --embedding \(Self.fixtures)/embedding.f32 < \(Self.fixtures)/input.f32",
                                        ["many.ckpt: tensor 'ss_model.base.bn0.weight' is missing"])
            return run.seconds
        }
        let small = try (0..<2).map { _ in try seconds(10_000) }.min()!
        let large = try seconds(100_000)
        XCTAssertLessThan(large / small, 20, "10k records: \(small) s, 100k: \(large) s")
    }
}
