import Foundation

/// The committed fixtures (`Tests/Fixtures`) and the test servers (`Tests/Servers`).
public enum Fixtures {
    /// `Tests/`, found from this file's place in the tree.
    public static let tests = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()

    /// `Tests/Fixtures`, or a path under it.
    public static func path(_ relative: String = "") -> String {
        relative.isEmpty ? tests.appendingPathComponent("Fixtures").path
            : tests.appendingPathComponent("Fixtures").appendingPathComponent(relative).path
    }
}
