import Worker
import XCTest

final class WorkerStopDetailTests: XCTestCase {
    /// A stopped list request says where every output is, the first in the packaged worker's words.
    func testAStoppedListRequestNamesEveryOutput() {
        let single = WorkerError.interrupted(output: "/o/a.wav", secondsWritten: 4.5)
        XCTAssertEqual(single.stopDetail, "4.50 s written to '/o/a.wav', the output ended validly")
        let list = WorkerError.interrupted(output: "/o/a.wav", secondsWritten: 4.5,
                                           others: ["'/o/b.wav' was left unchanged; its partial output is kept as '/o/b.partial.wav'",
                                                    "'/o/c.wav' holds the partial output"])
        XCTAssertEqual(list.stopDetail, "4.50 s written to '/o/a.wav', the output ended validly; "
                       + "'/o/b.wav' was left unchanged; its partial output is kept as '/o/b.partial.wav'; '/o/c.wav' holds the partial output")
    }
}
