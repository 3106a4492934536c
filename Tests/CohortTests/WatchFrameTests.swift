import Cohort
@testable import CohortHTTP
import Foundation
import NIOCore
import Testing

@Suite("Watch events as Server-Sent Events")
struct WatchFrameTests {
    /// Keys and values that exercise every escaping rule: quotes, backslashes, slashes, each control
    /// character, DEL, multi-byte UTF-8 (including U+2028), and bytes that are not UTF-8 (sent as base64).
    static let keys = [
        "plain", "", "with \"quotes\"", "back\\slash", "a/b/c", "tab\tnew\nline\rcr", "\u{8}\u{C}",
        (0..<32).map { String(UnicodeScalar(UInt8($0))) }.joined(), "del\u{7F}", "ünïcødé ✓ 🚀", "line\u{2028}sep",
    ]
    static let values: [[UInt8]?] = [nil, [], Array("v".utf8), Array("{\"json\": [1, 2]}\\".utf8), [0xFF, 0x00, 0xC3], Array("é\n".utf8)]

    @Test("the hand-written frame carries exactly the JSON that JSONEncoder writes, for every escaping case")
    func frameMatchesJSONEncoder() throws {
        var version: UInt64 = 0
        for key in Self.keys {
            for value in Self.values {
                version = version &* 31 &+ 7
                let event = StoreEvent(kind: value == nil ? .delete : .put, store: "s", key: key, value: value, version: version)
                let view = WatchEventView(event)
                let frame = view.frame(kind: event.kind)
                let expected = "event: \(event.kind.rawValue)\ndata: \(try view.jsonLine())\n\n"
                #expect(String(buffer: frame) == expected, "key \(key.debugDescription), value \(String(describing: value))")
            }
        }
        let last = WatchEventView(StoreEvent(kind: .put, store: "s", key: "k", value: [1], version: .max))
        #expect(String(buffer: last.frame(kind: .put)).contains("\"version\":\(UInt64.max)}"))
    }
}
