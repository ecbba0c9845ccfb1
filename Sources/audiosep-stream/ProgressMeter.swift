import Foundation
import Stream

/// Progress on stderr: on a terminal one line redrawn in place (`\r`); elsewhere (a log file,
/// a pipe) a full line every few seconds, so a log reads as a list rather than one long line.
/// With a known length (a file, or a pipe whose WAV header states it) it shows the total, the
/// percentage and the time left.
final class ProgressMeter {
    private let terminal: Bool
    private var lastLine = Date.distantPast
    /// Seconds between two lines when stderr is not a terminal.
    static let logInterval = 5.0

    init(terminal: Bool) { self.terminal = terminal }

    /// A report held back by the interval, printed by `end` so that a log ends at 100%.
    private var unshown: ProgressReport?

    func show(_ report: ProgressReport) {
        if !terminal {
            let now = Date()
            guard now.timeIntervalSince(lastLine) >= Self.logInterval else {
                unshown = report
                return
            }
            lastLine = now
        }
        unshown = nil
        print(report)
    }

    private func print(_ report: ProgressReport) {
        var line = String(format: "%8.1f s", report.secondsDone)
        if let total = report.totalSeconds, total > 0 {
            line += String(format: " of %.1f s (%3.0f%%)", total, min(100, 100 * report.secondsDone / total))
        }
        line += String(format: " done  %6.1fx real time  %5.0f MB", report.realtimeFactor, Double(report.residentBytes) / 1e6)
        if let eta = report.etaSeconds { line += "  ETA " + Self.clock(eta) }
        Console.error(terminal ? "\r" + line : line + "\n")
    }

    /// Ends the in-place line, or prints the last report a log has not had.
    func end() {
        if terminal { Console.error("\n") }
        if let unshown {
            self.unshown = nil
            print(unshown)
        }
    }

    /// h:mm:ss, or m:ss under an hour.
    static func clock(_ seconds: Double) -> String {
        let whole = Int(seconds.rounded())
        if whole >= 3600 { return String(format: "%d:%02d:%02d", whole / 3600, whole / 60 % 60, whole % 60) }
        return String(format: "%d:%02d", whole / 60, whole % 60)
    }
}
