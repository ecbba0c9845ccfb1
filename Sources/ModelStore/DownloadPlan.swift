import Foundation

/// What `model download` would fetch, without fetching: for each file its final path, the URL it
/// comes from, and the size and SHA-256 it must have. `model download --print-table` prints it,
/// so that a machine without internet can have the files fetched elsewhere and copied in.
public struct DownloadPlan: Equatable, Sendable {
    /// One file of the plan.
    public struct File: Equatable, Sendable {
        /// Where the file must end up (the model folder joined with the manifest's path).
        public var target: String
        /// The whole URL, base URL included.
        public var url: String
        /// Bytes, when known.
        public var size: Int64?
        /// SHA-256 as 64 lower-case hex digits, when known.
        public var sha256: String?
    }

    /// The model folder the files go into.
    public let destination: String
    /// The files, in the manifest's order.
    public let files: [File]

    /// Resolves every entry against the base URL and the folder. Throws `DownloadError.badManifest`
    /// or `.badBaseURL`, as the download itself would.
    public init(entries: [ManifestEntry], baseURL: String, destination: String) throws {
        try ModelFileTable.validate(entries, origin: "the manifest")
        self.destination = destination
        files = try entries.map { entry in
            File(target: (destination as NSString).appendingPathComponent(entry.path),
                 url: try ModelFileTable.url(base: baseURL, relative: entry.url).absoluteString,
                 size: entry.size, sha256: entry.sha256)
        }
    }

    /// The plan as tab-separated lines, `TARGET<TAB>URL<TAB>BYTES<TAB>SHA256` (`-` for an unknown
    /// size or sum), after two comment lines starting with `#`: what `--print-table` writes.
    public var table: String {
        var text = "# audiosep-stream model download: \(files.count) files into \(destination)\n"
        text += "# final path\tURL\tbytes\tSHA-256\n"
        for file in files {
            text += [file.target, file.url, file.size.map(String.init) ?? "-", file.sha256 ?? "-"].joined(separator: "\t") + "\n"
        }
        return text
    }
}
