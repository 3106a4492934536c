@testable import Cohort
import Foundation
import Testing

/// `DurableFile.replace`: the new content whole, and an error that names the system call and the file.
@Suite struct DurableFileTests {
    @Test func replacesTheContentAndLeavesNoTemporaryFile() throws {
        let directory = NodeBootTests.temporaryDirectory() + "/nested"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try DurableFile.replace("f", in: directory, with: Array("one".utf8))
        try DurableFile.replace("f", in: directory, with: Array("two".utf8))
        #expect(FileManager.default.contents(atPath: directory + "/f").map { Array($0) } == Array("two".utf8))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["f"])
    }

    @Test func aFailedReplacementSaysWhichCallFailedOnWhichFile() throws {
        let directory = NodeBootTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try DurableFile.replace("f", in: directory, with: Array("kept".utf8))
        // A name under a folder that does not exist: the temporary file cannot be opened.
        let error = #expect(throws: DurableFileError.self) {
            try DurableFile.replace("missing/f", in: directory, with: [1])
        }
        #expect(error?.description == "open \(directory)/missing/f.tmp: No such file or directory")
        #expect(FileManager.default.contents(atPath: directory + "/f").map { Array($0) } == Array("kept".utf8))
    }
}
