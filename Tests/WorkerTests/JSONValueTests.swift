import Foundation
import XCTest
@testable import Worker

final class JSONValueTests: XCTestCase {
    func testBooleansAndNumbersStayApart() throws {
        let value = try JSONValue.parse(#"{"a":true,"b":1,"c":0,"d":false,"e":1.5,"f":null,"g":"1","h":[true,2]}"#)
        let object = try XCTUnwrap(value.objectValue)
        XCTAssertEqual(object["a"], .bool(true))
        XCTAssertEqual(object["b"], .number(1))
        XCTAssertEqual(object["c"], .number(0))
        XCTAssertEqual(object["d"], .bool(false))
        XCTAssertEqual(object["e"], .number(1.5))
        XCTAssertEqual(object["f"], .null)
        XCTAssertEqual(object["g"], .string("1"))
        XCTAssertEqual(object["h"], .array([.bool(true), .number(2)]))
    }

    func testAnswersAreOneLineInInsertionOrder() throws {
        var answer = JSONObject(["status": "done", "elapsed": 0.25])
        answer["files"] = .array(["/tmp/a \"quoted\".wav"])
        answer["message"] = "line one\nline two\ttab\u{1}\\ é 🔔"
        answer["frames"] = 176_400
        answer["nothing"] = nil
        answer["bad"] = .number(.nan)
        let line = answer.encoded
        XCTAssertEqual(line, #"{"status":"done","elapsed":0.25,"files":["/tmp/a \"quoted\".wav"],"message":"line one\nline two\ttab\u0001\\ é 🔔","frames":176400,"bad":null}"#)
        XCTAssertFalse(line.contains("\n"))
        // Foundation reads back what we wrote.
        let decoded = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        XCTAssertEqual(decoded["message"] as? String, "line one\nline two\ttab\u{1}\\ é 🔔")
        XCTAssertEqual(decoded["files"] as? [String], ["/tmp/a \"quoted\".wav"])
        XCTAssertEqual(try JSONValue.parse(line).objectValue?["message"], answer["message"])
    }

    func testNumberFormats() {
        XCTAssertEqual(JSONValue.format(4), "4")
        XCTAssertEqual(JSONValue.format(-2), "-2")
        XCTAssertEqual(JSONValue.format(0.1), "0.1")
        XCTAssertEqual(JSONValue.format(9.91), "9.91")
        XCTAssertEqual(JSONValue.format(1e-5), "1e-05")
        XCTAssertEqual(JSONValue.format(.infinity), "null")
    }

    func testRemovingAKeyKeepsTheOthersInOrder() {
        var object = JSONObject(["a": 1, "b": 2, "c": 3])
        object["b"] = nil
        object["a"] = 10
        XCTAssertEqual(object.keys, ["a", "c"])
        XCTAssertEqual(object.encoded, #"{"a":10,"c":3}"#)
    }
}
