import Glibc
import Systemd
import Testing

@Suite struct JournalStreamTests {
    private func stderrIdentity() throws -> (device: UInt64, inode: UInt64) {
        var status = stat()
        try #require(fstat(STDERR_FILENO, &status) == 0)
        return (UInt64(status.st_dev), UInt64(status.st_ino))
    }

    @Test func trueWhenJournalStreamNamesStderr() throws {
        let identity = try stderrIdentity()
        #expect(stderrIsJournal(environment: ["JOURNAL_STREAM": "\(identity.device):\(identity.inode)"]))
    }

    @Test func falseWhenJournalStreamNamesAnotherFile() throws {
        let identity = try stderrIdentity()
        #expect(!stderrIsJournal(environment: ["JOURNAL_STREAM": "\(identity.device):\(identity.inode &+ 1)"]))
        #expect(!stderrIsJournal(environment: ["JOURNAL_STREAM": "\(identity.device &+ 1):\(identity.inode)"]))
    }

    @Test(arguments: ["", "12", "12:", ":34", "a:b", "1:2:3", " 1:2"])
    func falseWhenJournalStreamIsMalformed(value: String) {
        #expect(!stderrIsJournal(environment: ["JOURNAL_STREAM": value]))
    }

    @Test func falseWhenJournalStreamIsUnset() {
        #expect(!stderrIsJournal(environment: [:]))
    }
}
