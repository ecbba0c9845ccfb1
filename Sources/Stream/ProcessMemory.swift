import Foundation

/// Resident memory of this process, read from /proc/self/status (Linux), in bytes.
public enum ProcessMemory {
    /// Current resident set size (VmRSS).
    public static var residentBytes: Int { field("VmRSS:") }
    /// High-water mark of the resident set size (VmHWM).
    public static var peakResidentBytes: Int { field("VmHWM:") }

    private static func field(_ name: String) -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix(name) {
            let digits = line.dropFirst(name.count).trimmingCharacters(in: .whitespaces).split(separator: " ").first
            return (digits.flatMap { Int($0) } ?? 0) * 1024
        }
        return 0
    }
}
