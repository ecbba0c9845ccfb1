import Foundation

/// One file of the model: where it goes under the model folder, where it is under the base URL, and
/// what it must be. A nil size or sum is one nobody has published where we could read it: the
/// download is then checked against what the server says it sends, and its SHA-256 is printed.
public struct ManifestEntry: Codable, Equatable, Sendable {
    /// Path under the model folder (`roberta-base/vocab.json`).
    public var path: String
    /// Path under the base URL (`FacebookAI/roberta-base/resolve/main/vocab.json`).
    public var url: String
    /// Bytes, when known.
    public var size: Int64?
    /// SHA-256 as 64 lower-case hex digits, when known.
    public var sha256: String?

    public init(path: String, url: String, size: Int64? = nil, sha256: String? = nil) {
        self.path = path
        self.url = url
        self.size = size
        self.sha256 = sha256
    }
}

/// The files `audiosep-stream model download` fetches: exactly what AudioSep's users download.
public enum Manifest {
    /// Hugging Face: both repositories live under it, so one base URL (or one mirror) serves all.
    public static let defaultBaseURL = "https://huggingface.co"

    /// The table (also in README.md, "Getting the model"). Order matters: the AudioSep checkpoint
    /// comes last, because a folder counts as a model once it holds that file, so an interrupted
    /// first download never leaves a folder that looks like a model but lacks the CLAP weights.
    ///
    /// Where the values come from (nothing here was computed from the files by us; there was no
    /// network to fetch them):
    /// - roberta-base `config.json`, `vocab.json`, `merges.txt`, `pytorch_model.bin` SHA-256: the
    ///   same four sums pinned in two unrelated public repositories, a download script that checks
    ///   `sha256sum` after `wget https://huggingface.co/roberta-base/resolve/main/FILE` and a test
    ///   recording the file digests of a roberta-base snapshot; the `vocab.json` and `merges.txt`
    ///   sums also equal the SRI hashes of a Nix `fetchurl` of those URLs (laion_clap packaging),
    ///   and the `pytorch_model.bin` sum is the LFS object id in its `cdn-lfs.huggingface.co` URL
    ///   quoted in a third repository's README. (Found with the public-code search of our
    ///   sessions, whose hits name no repository; their file ids there: 16168342136 the script,
    ///   67395569350 the test, 33678771302 the Nix file, 898430216 the README.)
    /// - Sizes: not found for these files (roberta-base's `model.safetensors` is 498,818,054 bytes
    ///   in a quoted transformers traceback, file id 6844902335, but we fetch `pytorch_model.bin`,
    ///   whose sum is known).
    /// - The AudioSep checkpoint and the CLAP checkpoint, size and SHA-256: the Git LFS pointers of
    ///   a public GitHub mirror of AudioSep's Hugging Face Space (camenduru/AudioSep-hf, commit
    ///   5638854, `checkpoint/audiosep_base_4M_steps.ckpt` and
    ///   `checkpoint/music_speech_audioset_epoch_15_esc_89.98.pt`): an LFS pointer's `oid sha256`
    ///   is the SHA-256 of the whole file and its `size` the exact byte count, and Hugging Face
    ///   serves a Space's LFS files by the same object. Their sizes agree with the "1.26 GB" and
    ///   "2.35 GB" that listings of the Space show.
    public static let audioSep: [ManifestEntry] = [
        ManifestEntry(path: "roberta-base/config.json", url: "FacebookAI/roberta-base/resolve/main/config.json",
                      sha256: "ef0185e2aae6e06c5f105a285006952c340e20c7dbf43c86ec82601b13fc45e9"),
        ManifestEntry(path: "roberta-base/vocab.json", url: "FacebookAI/roberta-base/resolve/main/vocab.json",
                      sha256: "9e7f63c2d15d666b52e21d250d2e513b87c9b713cfa6987a82ed89e5e6e50655"),
        ManifestEntry(path: "roberta-base/merges.txt", url: "FacebookAI/roberta-base/resolve/main/merges.txt",
                      sha256: "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5"),
        ManifestEntry(path: "roberta-base/pytorch_model.bin", url: "FacebookAI/roberta-base/resolve/main/pytorch_model.bin",
                      sha256: "278b7a95739c4392fae9b818bb5343dde20be1b89318f37a6d939e1e1b9e461b"),
        ManifestEntry(path: "music_speech_audioset_epoch_15_esc_89.98.pt",
                      url: "spaces/Audio-AGI/AudioSep/resolve/main/checkpoint/music_speech_audioset_epoch_15_esc_89.98.pt",
                      size: 2_352_471_003, sha256: "51c68f12f9d7ea25fdaaccf741ec7f81e93ee594455410f3bca4f47f88d8e006"),
        ManifestEntry(path: "audiosep_base_4M_steps.ckpt",
                      url: "spaces/Audio-AGI/AudioSep/resolve/main/checkpoint/audiosep_base_4M_steps.ckpt",
                      size: 1_264_844_076, sha256: "f8cda01bfd0ebd141eef45d41db7a3ada23a56568465840d3cff04b8010ce82c"),
    ]

    private struct File: Codable {
        var files: [ManifestEntry]
    }

    /// Reads a manifest file (for a mirror that serves other files, and for tests):
    /// `{"files": [{"path": "...", "url": "...", "size": 123, "sha256": "..."}]}`, size and sha256
    /// optional. Throws `DownloadError.badManifest`.
    public static func load(path: String) throws -> [ManifestEntry] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DownloadError.badManifest(file: path, reason: "cannot read it")
        }
        let entries: [ManifestEntry]
        do {
            entries = try JSONDecoder().decode(File.self, from: data).files
        } catch {
            throw DownloadError.badManifest(file: path, reason: "not a manifest ({\"files\": [{\"path\", \"url\", \"size\", \"sha256\"}]})")
        }
        try validate(entries, origin: path)
        return entries
    }

    /// The manifest as `load` reads it.
    public static func json(_ entries: [ManifestEntry]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(File(files: entries))) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// Paths stay inside the model folder and under the base URL; sums are 64 hex digits.
    public static func validate(_ entries: [ManifestEntry], origin: String) throws {
        guard !entries.isEmpty else { throw DownloadError.badManifest(file: origin, reason: "it lists no files") }
        var seen = Set<String>()
        for entry in entries {
            for (what, value) in [("path", entry.path), ("url", entry.url)] {
                let parts = value.split(separator: "/", omittingEmptySubsequences: false)
                if value.isEmpty || value.hasPrefix("/") || parts.contains("..") || parts.contains("") || parts.contains(".")
                    || value.contains("\\") || value.unicodeScalars.contains(where: { $0.value < 0x20 }) {
                    throw DownloadError.badManifest(file: origin, reason: "\(what) '\(value)' is not a plain relative path")
                }
            }
            if entry.path.hasSuffix(".part") {
                throw DownloadError.badManifest(file: origin, reason: "path '\(entry.path)' ends in .part, the name of unfinished downloads")
            }
            if let sum = entry.sha256 {
                guard sum.count == 64, sum.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
                    throw DownloadError.badManifest(file: origin, reason: "sha256 of \(entry.path) is not 64 lower-case hex digits")
                }
            }
            if let size = entry.size, size < 0 {
                throw DownloadError.badManifest(file: origin, reason: "size of \(entry.path) is negative")
            }
            guard seen.insert(entry.path).inserted else {
                throw DownloadError.badManifest(file: origin, reason: "\(entry.path) is listed twice")
            }
        }
    }

    /// `base` + "/" + `relative`; `base` must be an http(s) URL with a host.
    public static func url(base: String, relative: String) throws -> URL {
        var trimmed = base
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        guard let parsed = URL(string: trimmed), let scheme = parsed.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = parsed.host, !host.isEmpty, parsed.query == nil, parsed.fragment == nil else {
            throw DownloadError.badBaseURL(base)
        }
        let encoded = relative.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? relative
        guard let joined = URL(string: trimmed + "/" + encoded) else { throw DownloadError.badBaseURL(base) }
        return joined
    }
}
