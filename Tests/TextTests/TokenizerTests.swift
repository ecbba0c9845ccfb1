import Foundation
import Text
import XCTest

/// Checks `BPETokenizer` against Hugging Face: the fixtures are a small byte-level BPE
/// vocabulary and the ids, tokens and pre-tokenizer pieces that transformers'
/// RobertaTokenizerFast gives for hard strings, written by
/// tools/reference/make_tokenizer_fixtures.py.
final class TokenizerTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/tokenizer")

    struct Case: Decodable {
        let name: String
        let text: String
        let maxLength: Int
        let ids: [Int]
        let tokens: [String]
        let pieces: [String]
        enum CodingKeys: String, CodingKey {
            case name, text, maxLength = "max_length", ids, tokens, pieces
        }
    }

    struct Cases: Decodable {
        let specialIds: [String: Int]
        let cases: [Case]
        enum CodingKeys: String, CodingKey { case specialIds = "special_ids", cases }
    }

    static let cases: Cases = {
        let url = fixtures.appendingPathComponent("cases.json")
        // swiftlint:disable:next force_try
        return try! JSONDecoder().decode(Cases.self, from: Data(contentsOf: url))
    }()

    static func fixture(_ name: String) -> String { fixtures.appendingPathComponent(name).path }

    static let tokenizer: BPETokenizer = {
        // swiftlint:disable:next force_try
        try! BPETokenizer(vocabularyFile: fixture("vocab.json"), mergesFile: fixture("merges.txt"))
    }()

    func contents(_ name: String) throws -> String {
        try String(contentsOfFile: Self.fixture(name), encoding: .utf8)
    }

    /// A fresh folder per test, removed afterwards.
    var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("tokenizer-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try FileManager.default.removeItem(at: scratch)
    }

    func write(_ text: String, _ name: String) throws -> String {
        let path = scratch.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        return path
    }

    // MARK: Against Hugging Face

    func testFixturesCoverTheCategories() {
        XCTAssertGreaterThanOrEqual(Self.cases.cases.count, 150)
        let long = Self.cases.cases.first { $0.name == "long text" }
        XCTAssertEqual(long?.text.unicodeScalars.count, 3000)
        XCTAssertEqual(long?.ids.count, 512)
    }

    func testIdsMatchHuggingFaceForEveryCase() {
        let tokenizer = Self.tokenizer
        var mismatches = 0
        for testCase in Self.cases.cases {
            let ids = tokenizer.encode(testCase.text, maximumLength: testCase.maxLength)
            if ids != testCase.ids {
                mismatches += 1
                XCTFail("\(testCase.name) \(testCase.text.debugDescription): got \(ids), HF \(testCase.ids)")
            }
        }
        XCTAssertEqual(mismatches, 0)
    }

    func testTokensMatchHuggingFaceForEveryCase() {
        let tokenizer = Self.tokenizer
        for testCase in Self.cases.cases {
            XCTAssertEqual(tokenizer.tokens(testCase.text, maximumLength: testCase.maxLength), testCase.tokens, testCase.name)
        }
    }

    func testPiecesMatchTheByteLevelPreTokenizer() {
        for testCase in Self.cases.cases {
            let pieces = PreTokenizer.pieces(testCase.text)
            XCTAssertEqual(pieces, testCase.pieces, "\(testCase.name) \(testCase.text.debugDescription)")
            XCTAssertEqual(pieces.joined(), testCase.text, testCase.name)
        }
    }

    func testEveryScalarIsClassedAsTokenizersRegexEngineDoes() throws {
        struct Classes: Decodable { let letter: [[UInt32]], number: [[UInt32]], whitespace: [[UInt32]] }
        let classes = try JSONDecoder().decode(Classes.self, from: Data(contentsOf: Self.fixtures.appendingPathComponent("regex_classes.json")))
        var expected = [ScalarClass](repeating: .other, count: 0x110000)
        for (ranges, scalarClass) in [(classes.letter, ScalarClass.letter), (classes.number, .number), (classes.whitespace, .whitespace)] {
            for range in ranges {
                for value in range[0]...range[1] { expected[Int(value)] = scalarClass }
            }
        }
        var wrong: [String] = []
        for value in UInt32(0)..<0x110000 {
            guard let scalar = Unicode.Scalar(value) else { continue }
            let got = ScalarClass(scalar)
            if got != expected[Int(value)] { wrong.append("U+\(String(value, radix: 16, uppercase: true)) \(got) (tokenizers: \(expected[Int(value)]))") }
        }
        XCTAssertEqual(wrong.count, 0, wrong.prefix(20).joined(separator: "; "))
    }

    func testSpecialIdsAreRobertas() {
        let tokenizer = Self.tokenizer
        XCTAssertEqual([tokenizer.beginId, tokenizer.padId, tokenizer.endId, tokenizer.unknownId], [0, 1, 2, 3])
        XCTAssertEqual(tokenizer.maskId, Self.cases.specialIds["<mask>"])
        XCTAssertEqual(tokenizer.count, 2000)
        XCTAssertEqual(tokenizer.maskId, tokenizer.count - 1)
        XCTAssertEqual(tokenizer.maximumLength, 512)
        XCTAssertEqual(tokenizer.mergeCount, 1739)
        XCTAssertEqual(tokenizer.id(of: "Ġ"), tokenizer.encode(" ")[1])
        XCTAssertEqual(tokenizer.token(of: 0), "<s>")
    }

    func testCanonicallyEquivalentTextsKeepTheirOwnBytes() throws {
        // Swift's String == treats U+1FBB and U+0386 as equal; HF encodes their own bytes.
        let tokenizer = try BPETokenizer(directory: Self.fixtures.path)
        let oxia = tokenizer.tokens("\u{1FBB}"), tonos = tokenizer.tokens("\u{0386}")
        XCTAssertEqual(oxia, ["<s>", "á", "¾", "»", "</s>"])
        XCTAssertEqual(tonos, ["<s>", "Î", "Ĩ", "</s>"])
        XCTAssertEqual(tokenizer.tokens("\u{1FBB}"), oxia)
    }

    func testFirstWordHasNoPrefixSpace() {
        // add_prefix_space is False for RoBERTa: "dog" and " dog" differ.
        let tokenizer = Self.tokenizer
        XCTAssertFalse(tokenizer.tokens("dog")[1].hasPrefix("Ġ"))
        XCTAssertTrue(tokenizer.tokens(" dog")[1].hasPrefix("Ġ"))
        XCTAssertNotEqual(tokenizer.encode("dog"), tokenizer.encode(" dog"))
    }

    func testTruncationKeepsTheFirstTokensAndTheEnds() {
        let tokenizer = Self.tokenizer
        let text = String(repeating: "a dog barking in the rain, ", count: 200)
        let full = tokenizer.encode(text, maximumLength: 100_000)
        XCTAssertGreaterThan(full.count, 512)
        let truncated = tokenizer.encode(text)
        XCTAssertEqual(truncated.count, 512)
        XCTAssertEqual(Array(truncated.dropLast()), Array(full.prefix(511)))
        XCTAssertEqual(truncated.last, tokenizer.endId)
        XCTAssertEqual(tokenizer.encode(text, maximumLength: 2), [tokenizer.beginId, tokenizer.endId])
        let short = try? BPETokenizer(vocabularyFile: Self.fixture("vocab.json"), mergesFile: Self.fixture("merges.txt"), maximumLength: 7)
        XCTAssertEqual(short?.encode(text), Array(full.prefix(6)) + [tokenizer.endId])
    }

    // MARK: Loading

    func testLoadsFromContentsAndFolderAsFromFiles() throws {
        let vocabulary = try contents("vocab.json"), merges = try contents("merges.txt")
        let fromStrings = try BPETokenizer(vocabulary: vocabulary, merges: merges)
        let fromData = try BPETokenizer(vocabulary: Data(vocabulary.utf8), merges: Data(merges.utf8))
        let fromFolder = try BPETokenizer(directory: Self.fixtures.path)
        for testCase in Self.cases.cases where testCase.maxLength == 512 {
            XCTAssertEqual(fromStrings.encode(testCase.text), testCase.ids, testCase.name)
            XCTAssertEqual(fromData.encode(testCase.text), testCase.ids, testCase.name)
            XCTAssertEqual(fromFolder.encode(testCase.text), testCase.ids, testCase.name)
        }
    }

    func testVocabularyWithEscapesAndCRLFMerges() throws {
        // The same vocabulary with every non-ASCII scalar as a \u escape (surrogate pairs
        // included), pretty-printed; merges with Windows line ends.
        let vocabulary = try JSONSerialization.jsonObject(with: Data(contents("vocab.json").utf8)) as? [String: Int]
        var json = "{\n"
        for (token, id) in try XCTUnwrap(vocabulary).sorted(by: { $0.value < $1.value }) {
            var escaped = ""
            for unit in token.utf16 {
                switch unit {
                case 0x22: escaped += "\\\""
                case 0x5C: escaped += "\\\\"
                case 0x20..<0x7F: escaped.unicodeScalars.append(Unicode.Scalar(UInt8(unit)))
                default: escaped += String(format: "\\u%04x", unit)
                }
            }
            json += "  \"\(escaped)\" : \(id),\n"
        }
        json.removeLast(2)
        json += "\n}\n"
        let merges = try contents("merges.txt").replacingOccurrences(of: "\n", with: "\r\n")
        let tokenizer = try BPETokenizer(vocabulary: json, merges: merges)
        for testCase in Self.cases.cases where testCase.maxLength == 512 {
            XCTAssertEqual(tokenizer.encode(testCase.text), testCase.ids, testCase.name)
        }
    }

    func testMissingSpecialTokensAreAppendedAsInHF() throws {
        // transformers appends missing special tokens after the vocabulary, in the order
        // <s>, </s>, <unk>, <pad>, <mask>.
        let vocabulary = try contents("vocab.json").replacingOccurrences(of: ",\"<mask>\":1999", with: "")
        XCTAssertFalse(vocabulary.contains("<mask>"))
        let tokenizer = try BPETokenizer(vocabulary: vocabulary, merges: contents("merges.txt"))
        XCTAssertEqual(tokenizer.maskId, 1999)
        XCTAssertEqual(tokenizer.encode("a<mask>"), Self.tokenizer.encode("a<mask>"))
    }

    func testMissingFileNamesTheFile() {
        let path = scratch.appendingPathComponent("nowhere/vocab.json").path
        XCTAssertThrowsError(try BPETokenizer(vocabularyFile: path, mergesFile: Self.fixture("merges.txt"))) { error in
            XCTAssertEqual(error as? TokenizerError, .cannotRead(file: path, call: "open", errno: ENOENT))
            XCTAssertTrue("\(error)".contains(path), "\(error)")
            XCTAssertTrue("\(error)".contains("No such file"), "\(error)")
        }
        XCTAssertThrowsError(try BPETokenizer(directory: scratch.path)) { error in
            XCTAssertEqual(error as? TokenizerError, .cannotRead(file: scratch.appendingPathComponent("vocab.json").path, call: "open", errno: ENOENT))
        }
        XCTAssertThrowsError(try BPETokenizer(vocabularyFile: scratch.path, mergesFile: Self.fixture("merges.txt"))) { error in
            XCTAssertEqual(error as? TokenizerError, .cannotRead(file: scratch.path, call: "read", errno: EISDIR))
        }
    }

    func testMalformedVocabularyNamesFileLineAndColumn() throws {
        let merges = try contents("merges.txt")
        func assertInvalid(_ json: String, line: Int, column: Int, mentioning words: String,
                           file: StaticString = #filePath, sourceLine: UInt = #line) throws {
            let path = try write(json, "vocab.json")
            let mergesPath = try write(merges, "merges.txt")
            XCTAssertThrowsError(try BPETokenizer(vocabularyFile: path, mergesFile: mergesPath), file: file, line: sourceLine) { error in
                guard case .invalidVocabulary(let errorFile, let errorLine, let errorColumn, let reason)? = error as? TokenizerError else {
                    return XCTFail("\(error)", file: file, line: sourceLine)
                }
                XCTAssertEqual(errorFile, path, file: file, line: sourceLine)
                XCTAssertEqual([errorLine, errorColumn], [line, column], "\(error)", file: file, line: sourceLine)
                XCTAssertTrue(reason.contains(words), reason, file: file, line: sourceLine)
                XCTAssertTrue("\(error)".hasPrefix("\(path):\(line):\(column): "), "\(error)", file: file, line: sourceLine)
            }
        }
        try assertInvalid("{\"a\": 1,\n \"b\" 2}", line: 2, column: 6, mentioning: "':'")
        try assertInvalid("", line: 1, column: 1, mentioning: "end of file")
        try assertInvalid("[\"a\", \"b\"]", line: 1, column: 1, mentioning: "'{'")
        try assertInvalid("{\"a\": 1}\n{\"b\": 2}", line: 2, column: 1, mentioning: "after the vocabulary")
        try assertInvalid("{\"a\": 1,\n\n \"b\": -2}", line: 3, column: 7, mentioning: "'b'")
        try assertInvalid("{\"a\": 1.5}", line: 1, column: 7, mentioning: "integer")
        try assertInvalid("{\"a\": \"1\"}", line: 1, column: 7, mentioning: "integer")
        try assertInvalid("{\"a\": 1, }", line: 1, column: 10, mentioning: "token string")
        try assertInvalid("{\"a\\q\": 1}", line: 1, column: 4, mentioning: "escape")
        try assertInvalid("{\"\\ud800\": 1}", line: 1, column: 9, mentioning: "surrogate")
        try assertInvalid("{\"a\n\": 1}", line: 1, column: 4, mentioning: "control character")
        try assertInvalid("{\"a\": 99999999999}", line: 1, column: 7, mentioning: "too large")
        try assertInvalid("{\"a\": 1", line: 1, column: 8, mentioning: "end of file")
    }

    func testMergeWithWrongPartsNamesFileAndLine() throws {
        let vocabulary = try write(contents("vocab.json"), "vocab.json")
        for (bad, text) in [("Ġ t h", "Ġ t h"), ("Ġt", "Ġt"), ("", ""), ("Ġ  t", "Ġ  t"), (" t", " t")] {
            let merges = try write("#version: 0.2\ni n\n\(bad)\na r\n", "merges.txt")
            XCTAssertThrowsError(try BPETokenizer(vocabularyFile: vocabulary, mergesFile: merges)) { error in
                XCTAssertEqual(error as? TokenizerError, .invalidMerge(file: merges, line: 3, text: text))
                XCTAssertTrue("\(error)".hasPrefix("\(merges):3: "), "\(error)")
            }
        }
        // Contents rather than files: the error names the label.
        XCTAssertThrowsError(try BPETokenizer(vocabulary: contents("vocab.json"), merges: "i n\na r z\n", mergesName: "model:merges")) { error in
            XCTAssertEqual(error as? TokenizerError, .invalidMerge(file: "model:merges", line: 2, text: "a r z"))
        }
    }

    func testMergeOfUnknownTokensNamesFileAndLine() throws {
        let vocabulary = try contents("vocab.json")
        XCTAssertThrowsError(try BPETokenizer(vocabulary: vocabulary, merges: "#version: 0.2\ni n\nqx zz\n")) { error in
            XCTAssertEqual(error as? TokenizerError, .mergeTokenNotInVocabulary(file: "merges.txt", line: 3, token: "qx"))
        }
        // Both parts known, the joined token not.
        XCTAssertThrowsError(try BPETokenizer(vocabulary: vocabulary, merges: "q x\n")) { error in
            XCTAssertEqual(error as? TokenizerError, .mergeTokenNotInVocabulary(file: "merges.txt", line: 1, token: "qx"))
        }
    }

    func testVocabularyWithoutAByteSymbolOrWithDuplicateIdsIsRejected() throws {
        let vocabulary = try contents("vocab.json")
        let withoutQ = vocabulary.replacingOccurrences(of: "\"q\":", with: "\"not q\":")
        XCTAssertThrowsError(try BPETokenizer(vocabulary: withoutQ, merges: "")) { error in
            XCTAssertEqual(error as? TokenizerError, .missingByteSymbol(file: "vocab.json", byte: UInt8(ascii: "q"), symbol: "q"))
        }
        XCTAssertThrowsError(try BPETokenizer(vocabulary: "{\"<s>\": 0, \"a\": 5, \"b\": 5}", merges: "")) { error in
            XCTAssertEqual(error as? TokenizerError, .duplicateId(file: "vocab.json", id: 5, tokens: ["a", "b"]))
        }
        XCTAssertThrowsError(try BPETokenizer(vocabulary: vocabulary, merges: "", maximumLength: 1)) { error in
            XCTAssertEqual(error as? TokenizerError, .invalidMaximumLength(1))
        }
    }

    func testRepeatedMergeKeepsItsLastRank() throws {
        // Python's dict(zip(merges, range(...))) and Rust's HashMap collect both keep the last.
        let vocabulary = try contents("vocab.json")
        let merges = try contents("merges.txt")
        let lines = merges.split(separator: "\n", omittingEmptySubsequences: false)
        // Repeat the first merge at the very end: it now ranks last.
        let repeated = try BPETokenizer(vocabulary: vocabulary, merges: merges + lines[1] + "\n")
        let plain = Self.tokenizer
        XCTAssertEqual(repeated.mergeCount, plain.mergeCount + 1)
        XCTAssertEqual(repeated.encode("x"), plain.encode("x"))
    }

    // MARK: Cache and threads

    func testCachedAndConcurrentEncodingAgree() {
        let tokenizer = Self.tokenizer
        let texts = Self.cases.cases.map(\.text)
        let first = texts.map { tokenizer.encode($0, maximumLength: 100_000) }
        var results = [[[Int]]](repeating: [], count: 4)
        results.withUnsafeMutableBufferPointer { buffer in
            DispatchQueue.concurrentPerform(iterations: 4) { worker in
                buffer[worker] = texts.map { tokenizer.encode($0, maximumLength: 100_000) }
            }
        }
        for result in results { XCTAssertEqual(result, first) }
    }

    // MARK: Opt-in

    /// Thousands of texts against HF for any tokenizer folder (e.g. roberta-base): write the
    /// cases with `make_tokenizer_fixtures.py --crosscheck FOLDER OUT.json`, then run with
    /// `TOKENIZER_CROSSCHECK_DIR=FOLDER TOKENIZER_CROSSCHECK_CASES=OUT.json`.
    func testCrossCheckAFolderAgainstHuggingFace() throws {
        let environment = ProcessInfo.processInfo.environment
        guard let folder = environment["TOKENIZER_CROSSCHECK_DIR"], let casesPath = environment["TOKENIZER_CROSSCHECK_CASES"] else {
            throw XCTSkip("set TOKENIZER_CROSSCHECK_DIR and TOKENIZER_CROSSCHECK_CASES to cross-check a tokenizer folder")
        }
        struct Item: Decodable { let text: String, ids: [Int] }
        let items = try JSONDecoder().decode([Item].self, from: Data(contentsOf: URL(fileURLWithPath: casesPath)))
        let tokenizer = try BPETokenizer(directory: folder)
        var mismatches = 0
        for item in items where tokenizer.encode(item.text) != item.ids {
            mismatches += 1
            if mismatches <= 10 { XCTFail("\(item.text.debugDescription): got \(tokenizer.encode(item.text)), HF \(item.ids)") }
        }
        print("cross-check \(folder): \(items.count) texts, \(mismatches) mismatches")
        XCTAssertEqual(mismatches, 0)
    }


    /// Run with `TOKENIZER_TIMING=1 swift test -c release --filter TokenizerTests/testPrintLoadAndEncodeTimings`
    /// (and `TOKENIZER_TIMING_DIR=path/to/roberta-base` to time a real folder too).
    /// A roberta-base-sized vocabulary: the special tokens, the 256 byte symbols, 50,000 merges
    /// of earlier tokens (deterministic pseudo-random choices) and `<mask>` last.
    static func syntheticFiles(merges mergeCount: Int = 50_000) -> (vocabulary: String, merges: String) {
        // GPT-2's byte symbols: printable Latin-1 stands for itself, the rest from U+0100 on.
        var symbols: [String] = [], moved: UInt32 = 256
        for byte in UInt32(0)..<256 {
            let printable = (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
            symbols.append(String(Unicode.Scalar(printable ? byte : moved)!))
            if !printable { moved += 1 }
        }
        var tokens = ["<s>", "<pad>", "</s>", "<unk>"] + symbols
        var known = Set(tokens)
        var merges = "#version: 0.2\n"
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(bound))
        }
        while tokens.count < 4 + 256 + mergeCount {
            // Left: any earlier token; right: one of the first 300 (mostly single bytes).
            let left = tokens[4 + next(tokens.count - 4)], right = tokens[4 + next(min(300, tokens.count - 4))]
            let joined = left + right
            guard joined.unicodeScalars.count <= 12, known.insert(joined).inserted else { continue }
            tokens.append(joined)
            merges += "\(left) \(right)\n"
        }
        tokens.append("<mask>")
        let entries = tokens.enumerated().map { id, token in
            "\"\(token.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\""))\":\(id)"
        }
        return ("{" + entries.joined(separator: ",") + "}", merges)
    }

    func testPrintLoadAndEncodeTimings() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["TOKENIZER_TIMING"] == "1", "set TOKENIZER_TIMING=1 to print timings")
        func seconds(_ body: () throws -> Void) rethrows -> Double {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        let synthetic = Self.syntheticFiles()
        let vocabularyPath = try write(synthetic.vocabulary, "vocab.json")
        let mergesPath = try write(synthetic.merges, "merges.txt")
        var large: BPETokenizer?
        var loads: [Double] = []
        for _ in 0..<5 {
            loads.append(try seconds { large = try BPETokenizer(vocabularyFile: vocabularyPath, mergesFile: mergesPath) })
        }
        let tokenizer = try XCTUnwrap(large)
        print(String(format: "load %d-entry vocab.json (%.0f KB) + %d merges (%.0f KB) from files: best %.1f ms, median %.1f ms",
                     tokenizer.count, Double(synthetic.vocabulary.utf8.count) / 1024, tokenizer.mergeCount,
                     Double(synthetic.merges.utf8.count) / 1024, loads.min()! * 1e3, loads.sorted()[2] * 1e3))
        let fromStrings = try seconds { _ = try BPETokenizer(vocabulary: synthetic.vocabulary, merges: synthetic.merges) }
        print(String(format: "load the same from strings: %.1f ms", fromStrings * 1e3))
        // A real tokenizer folder (roberta-base/, or any vocab.json + merges.txt), if given.
        if let folder = ProcessInfo.processInfo.environment["TOKENIZER_TIMING_DIR"] {
            var real: BPETokenizer?
            let times = try (0..<5).map { _ in try seconds { real = try BPETokenizer(directory: folder) } }
            print(String(format: "load %@ (%d ids, %d merges): best %.1f ms, median %.1f ms", folder,
                         real?.count ?? 0, real?.mergeCount ?? 0, times.min()! * 1e3, times.sorted()[2] * 1e3))
        }

        let queries = ["a dog barking in the rain", "vocals", "someone typing on a mechanical keyboard",
                       "église cloches sonnent", "🐶 barking at 3 a.m.!"]
        for (name, current) in [("50k synthetic", tokenizer), ("fixture", Self.tokenizer)] {
            let fresh = try name == "fixture" ? BPETokenizer(directory: Self.fixtures.path) : current
            let cold = seconds { for query in queries { _ = fresh.encode(query) } } / Double(queries.count)
            let rounds = 20_000
            let warm = seconds { for round in 0..<rounds { _ = fresh.encode(queries[round % queries.count]) } } / Double(rounds)
            print(String(format: "encode a short query (%@ vocabulary): first call %.1f µs, cached %.2f µs", name, cold * 1e6, warm * 1e6))
        }
        let long = try XCTUnwrap(Self.cases.cases.first { $0.name == "long text" }).text
        let longTime = seconds { for _ in 0..<100 { _ = Self.tokenizer.encode(long) } } / 100
        print(String(format: "encode the 3000-character text (fixture vocabulary, cached): %.1f µs", longTime * 1e6))
    }
}

/// Messages quoting a broken merges.txt stay one printable line; an empty one is refused.
final class TokenizerMessageTests: XCTestCase {
    static let vocabulary = (try? String(contentsOfFile: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/tokenizer/vocab.json").path, encoding: .utf8)) ?? ""

    func testControlBytesInAMergeLineAreEscaped() {
        XCTAssertThrowsError(try BPETokenizer(vocabulary: Self.vocabulary, merges: "i n\n\u{1b}[2J x\u{7}\t y\n", mergesName: "m.txt")) {
            XCTAssertEqual($0 as? TokenizerError, .invalidMerge(file: "m.txt", line: 2, text: "\u{1b}[2J x\u{7}\t y"))
            XCTAssertEqual("\($0)", "m.txt:2: a merge is two tokens separated by one space, got '\\u{1b}[2J x\\u{7}\\t y'")
        }
        XCTAssertEqual("\(TokenizerError.mergeTokenNotInVocabulary(file: "m.txt", line: 1, token: "a\u{202E}b\r"))",
                       "m.txt:1: merge token 'a\\u{202e}b\\r' is not in the vocabulary")
    }

    func testAnEmptyMergesFileIsRefused() {
        for merges in ["", "#version: 0.2\n", "#version: 0.2"] {
            XCTAssertThrowsError(try BPETokenizer(vocabulary: Self.vocabulary, merges: merges, mergesName: "roberta/merges.txt")) {
                XCTAssertEqual($0 as? TokenizerError, .noMerges(file: "roberta/merges.txt"))
                XCTAssertTrue("\($0)".hasPrefix("roberta/merges.txt: no merges"), "\($0)")
            }
        }
    }
}
