#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Standard error without Foundation's `FileHandle`: one `write(2)` per line, so lines written at the same
/// time from several threads do not interleave within a line.
public enum StandardError {
    /// Writes `line` and a newline (retrying a short or interrupted write).
    public static func write(_ line: String) {
        writeLine(line)
    }
}

private func writeLine(_ line: String) {
    var bytes = Array(line.utf8)
    bytes.append(UInt8(ascii: "\n"))
    bytes.withUnsafeBytes { buffer in
        var offset = 0
        while offset < buffer.count {
            let written = write(STDERR_FILENO, buffer.baseAddress! + offset, buffer.count - offset)
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return }
            offset += written
        }
    }
}
