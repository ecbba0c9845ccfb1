import Foundation
import TestSupport
import XCTest

/// `tools/package` builds a Debian package that runs without Swift: its control fields, its files,
/// a binary that links no Swift runtime and separates through a pipe from an unpacked root, a man
/// page that renders without warnings and completions bash loads. The package is built once (a
/// static release build of its own, minutes on 2 cores) and shared by every test here.
final class PackageEndToEndTests: XCTestCase {
    struct Built {
        var deb: String
        var root: String
        var output: String
    }

    static let repository = Fixtures.tests.deletingLastPathComponent().path

    /// Builds the package into a temporary folder and unpacks it, once.
    static let built: Result<Built, Error> = Result {
        let folder = Harness.path("package")
        let build = try Harness.shell("rm -rf \(folder) && mkdir -p \(folder)/out && \(repository)/tools/package \(folder)/out")
        let output = String(decoding: build.stdout, as: UTF8.self)
        guard build.status == 0 else {
            throw PackageError.failed("tools/package exited with \(build.status):\n\(output)\n\(build.stderr.suffix(4000))")
        }
        let deb = output.split(separator: "\n").last.map(String.init) ?? ""
        let unpack = try Harness.shell("dpkg-deb -x '\(deb)' \(folder)/root")
        guard unpack.status == 0 else { throw PackageError.failed("dpkg-deb -x: \(unpack.stderr)") }
        return Built(deb: deb, root: folder + "/root", output: output)
    }

    enum PackageError: Error { case failed(String) }

    func package() throws -> Built {
        if let sanitizer = ProcessInfo.processInfo.environment["AUDIOSEP_SANITIZER"] {
            throw XCTSkip("the package is a separate, unsanitized release build; not rebuilt under the \(sanitizer) sanitizer run")
        }
        guard try Harness.shell("command -v dpkg-deb").status == 0 else {
            throw XCTSkip("dpkg-deb is missing: the package cannot be built or unpacked here")
        }
        return try Self.built.get()
    }

    func shell(_ command: String) throws -> (status: Int32, stdout: String, stderr: String) {
        let run = try Harness.shell(command)
        return (run.status, String(decoding: run.stdout, as: UTF8.self), run.stderr)
    }

    func field(_ name: String, _ built: Built) throws -> String {
        let run = try shell("dpkg-deb -f '\(built.deb)' \(name)")
        XCTAssertEqual(run.status, 0, run.stderr)
        return run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func testTheLastLineIsTheDebNamedForItsVersionAndArchitecture() throws {
        let built = try package()
        XCTAssertTrue(FileManager.default.fileExists(atPath: built.deb), built.output)
        let version = try field("Version", built), architecture = try field("Architecture", built)
        XCTAssertEqual((built.deb as NSString).lastPathComponent, "audiosep-stream_\(version)_\(architecture).deb")
    }

    func testControlFieldsAndTheVersionTheBinaryPrints() throws {
        let built = try package()
        XCTAssertEqual(try field("Package", built), "audiosep-stream")
        let printed = try shell("'\(built.root)/usr/bin/audiosep-stream' --version")
        XCTAssertEqual(printed.status, 0, printed.stderr)
        let version = try field("Version", built)
        XCTAssertEqual(printed.stdout, "audiosep-stream \(version)\n")
        // A valid Debian version, and the source's own version first.
        XCTAssertNotNil(version.range(of: #"^[0-9][A-Za-z0-9.+~]*$"#, options: .regularExpression), version)
        let source = try String(contentsOfFile: Self.repository + "/Sources/audiosep-stream/AudioSepStream.swift", encoding: .utf8)
        let base = source.components(separatedBy: "static let version = \"").dropFirst().first?.prefix { $0 != "\"" } ?? ""
        XCTAssertFalse(base.isEmpty)
        XCTAssertTrue(version == base || version.hasPrefix(base + "+"), "\(version) against the source's \(base)")
        XCTAssertEqual(try field("Architecture", built), try shell("dpkg --print-architecture").stdout.trimmingCharacters(in: .whitespacesAndNewlines))

        let depends = try field("Depends", built)
        for library in ["libsndfile1", "libsamplerate0", "libfftw3-single3", "libopenblas", "libcurl4", "libc6"] {
            XCTAssertTrue(depends.contains(library), "\(library) missing from Depends: \(depends)")
        }
        XCTAssertFalse(depends.lowercased().contains("swift"), depends)
        // Versioned, as built against: libsndfile1 (>= …).
        XCTAssertNotNil(depends.range(of: #"libsndfile1 \(>= [0-9]"#, options: .regularExpression), depends)
        XCTAssertNotNil(try field("Maintainer", built).range(of: #"^.+ <[^<>@ ]+@[^<>@ ]+>$"#, options: .regularExpression))
        let description = try field("Description", built)
        XCTAssertTrue(description.hasPrefix("separate the sound you describe"), description)
        XCTAssertGreaterThan(description.split(separator: "\n").count, 3, "a long description too")
        let installedSize = Int(try field("Installed-Size", built)) ?? 0
        let binaryKiB = (try FileManager.default.attributesOfItem(atPath: built.root + "/usr/bin/audiosep-stream")[.size] as? Int ?? 0) / 1024
        XCTAssertGreaterThanOrEqual(installedSize, binaryKiB)
    }

    func testTheFileList() throws {
        let built = try package()
        let list = try shell("dpkg-deb -c '\(built.deb)'")
        XCTAssertEqual(list.status, 0, list.stderr)
        let entries = list.stdout.split(separator: "\n").map { String($0) }
        let files = Set(entries.compactMap { $0.split(separator: " ", omittingEmptySubsequences: true).last.map(String.init) })
        for file in ["./usr/bin/audiosep-stream", "./usr/share/man/man1/audiosep-stream.1.gz",
                     "./usr/share/bash-completion/completions/audiosep-stream",
                     "./usr/share/zsh/vendor-completions/_audiosep-stream",
                     "./usr/share/fish/vendor_completions.d/audiosep-stream.fish",
                     "./usr/share/doc/audiosep-stream/copyright", "./usr/share/doc/audiosep-stream/changelog.gz",
                     "./usr/share/doc/audiosep-stream/README.md.gz", "./usr/share/doc/audiosep-stream/docs/cli.md.gz"] {
            XCTAssertTrue(files.contains(file), "\(file) is not in the package:\n\(list.stdout)")
        }
        // Everything under /usr, owned by root, the binary executable.
        for entry in entries {
            XCTAssertTrue(entry.contains(" root/root "), entry)
            let path = entry.split(separator: " ").last.map(String.init) ?? ""
            XCTAssertTrue(path == "./" || path.hasPrefix("./usr/"), entry)
        }
        XCTAssertTrue(entries.contains { $0.hasPrefix("-rwxr-xr-x") && $0.hasSuffix("./usr/bin/audiosep-stream") }, list.stdout)
        // Every doc page of the tree is shipped.
        let pages = try FileManager.default.contentsOfDirectory(atPath: Self.repository + "/docs").filter { $0.hasSuffix(".md") }
        for page in pages {
            XCTAssertTrue(files.contains("./usr/share/doc/audiosep-stream/docs/\(page)") || files.contains("./usr/share/doc/audiosep-stream/docs/\(page).gz"), page)
        }
    }

    func testTheBinaryLinksNoSwiftRuntime() throws {
        let built = try package()
        let ldd = try shell("env -u LD_LIBRARY_PATH ldd '\(built.root)/usr/bin/audiosep-stream'")
        XCTAssertEqual(ldd.status, 0, ldd.stderr)
        for runtime in ["libswift", "libFoundation", "lib_Foundation", "libdispatch", "libBlocksRuntime", "/opt/swift", "not found"] {
            XCTAssertFalse(ldd.stdout.contains(runtime), "\(runtime) in ldd's output:\n\(ldd.stdout)")
        }
        for library in ["libsndfile.so.1", "libsamplerate.so.0", "libfftw3f.so.3", "libopenblas.so.0", "libcurl.so.4"] {
            XCTAssertTrue(ldd.stdout.contains(library), "\(library) not in ldd's output:\n\(ldd.stdout)")
        }
        let rpath = try shell("readelf -d '\(built.root)/usr/bin/audiosep-stream' | grep -E 'RPATH|RUNPATH' || true")
        XCTAssertEqual(rpath.stdout, "", "no library search path of its own")
    }

    func testTheUnpackedBinarySeparatesThroughAPipe() throws {
        let built = try package()
        let bin = "'\(built.root)/usr/bin/audiosep-stream'"
        // (sox reads the piped output; soxi cannot read this "unknown length" extensible header
        // from a pipe, with any build.)
        let info = try shell("sox -n -t wav - synth 1 sine 440 | env -u LD_LIBRARY_PATH \(bin) --engine identity | sox -t wav - -n stat 2>&1")
        XCTAssertEqual(info.status, 0, info.stderr)
        XCTAssertTrue(info.stdout.contains("Samples read:             48000"), info.stdout)
        XCTAssertTrue(info.stdout.contains("Length (seconds):      1.000000"), info.stdout)
        // The identity engine returns its input: the same samples, bit for bit.
        let same = try shell("""
            sox -n -t wav -b 16 in.wav synth 1 sine 440 && env -u LD_LIBRARY_PATH \(bin) --engine identity < in.wav > out.wav \
            && cmp <(sox in.wav -t raw -) <(sox out.wav -t raw -)
            """)
        XCTAssertEqual(same.status, 0, same.stderr + same.stdout)
        // And the built-in engine, which needs FFTW and OpenBLAS from the system.
        let dsp = try shell("sox -n -t wav - synth 2 sine 440 | env -u LD_LIBRARY_PATH \(bin) -q --engine dsp vocals | sox -t wav - -n stat 2>&1")
        XCTAssertEqual(dsp.status, 0, dsp.stderr)
        XCTAssertTrue(dsp.stdout.contains("Samples read:             96000"), dsp.stdout)
    }

    func testTheManPageRendersWithoutWarningsAndCoversEverySubcommand() throws {
        let built = try package()
        let page = "'\(built.root)/usr/share/man/man1/audiosep-stream.1.gz'"
        let render = try shell("command -v man >/dev/null && MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings -E UTF-8 -l \(page) "
                               + "|| zcat \(page) | groff -mandoc -ww -Tutf8")
        XCTAssertEqual(render.status, 0, render.stderr)
        XCTAssertEqual(render.stderr, "", "warnings while rendering the man page")
        XCTAssertTrue(render.stdout.contains("audiosep-stream"), render.stdout)
        let source = try shell("zcat \(page)").stdout
        for subcommand in ["separate", "batch", "convert", "embed", "tune", "model", "download", "manifest", "worker"] {
            XCTAssertTrue(source.contains(".It Em \(subcommand)\n"), "no section for \(subcommand)")
        }
        // Generated from the binary's own help: a flag of a subcommand appears as its help says.
        XCTAssertTrue(source.contains("Fl -max-cached-models"), "worker's flags")
        XCTAssertTrue(source.contains("Fl -print-table"), "model download's flags")
        XCTAssertTrue(render.stdout.contains("--max-cached-models"), "rendered as a flag")
    }

    func testCompletionsLoad() throws {
        let built = try package()
        let completions = built.root + "/usr/share"
        let bash = try shell("bash -c 'source \(completions)/bash-completion/completions/audiosep-stream && complete -p audiosep-stream'")
        XCTAssertEqual(bash.status, 0, bash.stderr)
        XCTAssertTrue(bash.stdout.hasPrefix("complete "), bash.stdout)
        let zsh = try String(contentsOfFile: completions + "/zsh/vendor-completions/_audiosep-stream", encoding: .utf8)
        XCTAssertTrue(zsh.hasPrefix("#compdef audiosep-stream"), String(zsh.prefix(80)))
        let fish = try String(contentsOfFile: completions + "/fish/vendor_completions.d/audiosep-stream.fish", encoding: .utf8)
        XCTAssertTrue(fish.contains("complete -c 'audiosep-stream'") || fish.contains("complete -c audiosep-stream"), String(fish.prefix(400)))
        for flag in ["--engine", "--chunk"] {
            XCTAssertTrue(zsh.contains(flag) && fish.contains(flag.dropFirst(2)), flag)
        }
    }

    /// `model download` from the packaged binary (FoundationNetworking linked in, Debian's libcurl
    /// underneath) against the loopback mirror of DownloadEndToEndTests, into the default place;
    /// a later run of the packaged binary finds the model there with no flag and separates
    /// exactly as the build under test does.
    func testModelDownloadPutsTheModelWhereLaterRunsFindIt() throws {
        let built = try package()
        let bin = "env -u LD_LIBRARY_PATH -u AUDIOSEP_MODEL '\(built.root)/usr/bin/audiosep-stream'"
        let work = Harness.path("package-download")
        let mirror = work + "/mirror", home = work + "/home"
        try? FileManager.default.removeItem(atPath: work)
        try FileManager.default.createDirectory(atPath: mirror, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let printed = try Harness.shell("\(bin) model manifest")
        XCTAssertEqual(printed.status, 0, printed.stderr)
        var table = try XCTUnwrap(JSONSerialization.jsonObject(with: printed.stdout) as? [String: Any])
        var files = try XCTUnwrap(table["files"] as? [[String: Any]])
        for index in files.indices {
            let path = try XCTUnwrap(files[index]["path"] as? String), url = try XCTUnwrap(files[index]["url"] as? String)
            let source = DownloadEndToEndTests.fixtures + "/" + (try XCTUnwrap(DownloadEndToEndTests.sources[path], path))
            let served = mirror + "/" + url
            try FileManager.default.createDirectory(atPath: (served as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: source, toPath: served)
            files[index]["size"] = try Data(contentsOf: URL(fileURLWithPath: source)).count
            files[index]["sha256"] = try DownloadEndToEndTests.sha256sum(source)
        }
        table["files"] = files
        let manifest = work + "/manifest.json"
        try JSONSerialization.data(withJSONObject: table).write(to: URL(fileURLWithPath: manifest))
        let server: ModelServer
        do {
            server = try ModelServer(root: mirror, log: work + "/requests.jsonl", lifetime: 120)
        } catch is ModelServer.DidNotStart {
            throw XCTSkip("the test server did not start (python3 missing?)")
        }
        defer { server.stop() }

        let download = try shell("HOME=\(home) \(bin) model download --base-url \(server.base)/ok --manifest \(manifest)")
        XCTAssertEqual(download.status, 0, download.stderr)
        for (path, source) in DownloadEndToEndTests.sources {
            XCTAssertEqual(FileManager.default.contents(atPath: home + "/.cache/audiosep-stream/" + path),
                           FileManager.default.contents(atPath: DownloadEndToEndTests.fixtures + "/" + source), path)
        }
        let input = "\(DownloadEndToEndTests.fixtures)/audiosep-tiny/input.f32"
        let query = "'a dog barking in the rain' \(DownloadEndToEndTests.rawMono) --no-cache"
        let packaged = try shell("HOME=\(home) \(bin) \(query) < \(input) > \(work)/packaged.f32")
        XCTAssertEqual(packaged.status, 0, packaged.stderr)
        XCTAssertFalse(packaged.stderr.contains("built-in engine"), "the packaged binary did not find the model: \(packaged.stderr)")
        let tested = try shell("HOME=\(home) env -u AUDIOSEP_MODEL $BIN \(query) < \(input) > \(work)/tested.f32")
        XCTAssertEqual(tested.status, 0, tested.stderr)
        let output = try XCTUnwrap(FileManager.default.contents(atPath: work + "/packaged.f32"))
        XCTAssertEqual(output.count, 31676)
        XCTAssertNotEqual(output, FileManager.default.contents(atPath: input), "something was separated")
        // (The tested build may be a debug one: equal to float rounding, not bit for bit.)
        let got = try Harness.readRaw(work + "/packaged.f32", channels: 1, format: DownloadEndToEndTests.float32)[0]
        let expected = try Harness.readRaw(work + "/tested.f32", channels: 1, format: DownloadEndToEndTests.float32)[0]
        XCTAssertEqual(got.count, expected.count)
        XCTAssertGreaterThan(snr(expected, got), 90, "the packaged and the tested build separate alike")
    }

    func testLintianFindsNoError() throws {
        let built = try package()
        guard try Harness.shell("command -v lintian").status == 0 else {
            throw XCTSkip("lintian is not installed (apt-get install lintian)")
        }
        let lint = try shell("lintian --no-tag-display-limit '\(built.deb)'; true")
        let errors = lint.stdout.split(separator: "\n").filter { $0.hasPrefix("E:") }
        XCTAssertEqual(errors, [], lint.stdout + lint.stderr)
    }
}
