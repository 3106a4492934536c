import Glibc

/// Whether standard error is connected to the systemd journal, so logs should go to journald with structured
/// fields rather than as plain text.
///
/// systemd sets `JOURNAL_STREAM=<device>:<inode>` for a service whose stderr is a journal stream; it is only
/// trusted when those numbers match `fstat(2)`, because a child whose stderr was redirected inherits the variable.
public func stderrIsJournal(environment: [String: String]) -> Bool {
    streamIsJournal(fileDescriptor: STDERR_FILENO, environment: environment)
}

/// Whether `fileDescriptor` is the journal stream `JOURNAL_STREAM` in `environment` names.
func streamIsJournal(fileDescriptor: Int32, environment: [String: String]) -> Bool {
    guard let value = environment["JOURNAL_STREAM"] else { return false }
    let parts = value.split(separator: ":", omittingEmptySubsequences: false)
    guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
    var status = stat()
    guard fstat(fileDescriptor, &status) == 0 else { return false }
    return UInt64(status.st_dev) == device && UInt64(status.st_ino) == inode
}
