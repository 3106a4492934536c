@testable import CohortHTTP
import Testing

/// Path segments are percent-decoded without Foundation (`percentDecoded`, GroupRoutes.swift): the same answers
/// as Foundation's `removingPercentEncoding` gave.
@Suite struct PercentDecodingTests {
    @Test func escapesBecomeTheirBytesAndTheRestIsKept() {
        #expect(percentDecoded("a%2Fb") == "a/b")
        #expect(percentDecoded("a%2fb") == "a/b")
        #expect(percentDecoded("plain-name_1") == "plain-name_1")
        #expect(percentDecoded("%20lead%20") == " lead ")
        #expect(percentDecoded("caf%C3%A9") == "café")
        #expect(percentDecoded("a+b") == "a+b")  // a path, not a form: + stays
        #expect(percentDecoded("%25") == "%")
        #expect(percentDecoded("") == "")
    }

    @Test func aBrokenEscapeOrBytesThatAreNotUTF8AreRefused() {
        #expect(percentDecoded("%") == nil)
        #expect(percentDecoded("a%2") == nil)
        #expect(percentDecoded("a%zz") == nil)
        #expect(percentDecoded("%C3") == nil)  // half of a two-byte character
        #expect(percentDecoded("%FF") == nil)
    }
}
