#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One reading of this process's resource use, taken from `/proc/self`.
public struct ProcessSample: Sendable, Equatable {
    /// User plus system CPU time, in seconds.
    public var cpuSeconds: Double
    /// Resident set size, in bytes.
    public var residentBytes: Int
    /// Virtual memory size, in bytes.
    public var virtualBytes: Int
    /// Open file descriptors.
    public var openFileDescriptors: Int
    /// The soft limit on open file descriptors.
    public var maxFileDescriptors: Int
    /// Process start, in seconds since the Unix epoch.
    public var startTimeSeconds: Double

    /// Reads the current process. Fields that cannot be read are zero.
    public static func current() -> ProcessSample {
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let pageSize = sysconf(Int32(_SC_PAGESIZE))
        var sample = ProcessSample(
            cpuSeconds: 0, residentBytes: 0, virtualBytes: 0,
            openFileDescriptors: countOpenFileDescriptors(), maxFileDescriptors: 0, startTimeSeconds: 0
        )
        if let stat = readSmallFile("/proc/self/stat"), let parsed = ProcStat(parsing: stat) {
            sample.cpuSeconds = Double(parsed.utimeTicks + parsed.stimeTicks) / ticks
            sample.virtualBytes = parsed.virtualBytes
            sample.residentBytes = parsed.residentPages * pageSize
            if let boot = bootTimeSeconds() {
                sample.startTimeSeconds = Double(boot) + Double(parsed.startTicks) / ticks
            }
        }
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 {
            sample.maxFileDescriptors = Int(clamping: limit.rlim_cur)
        }
        return sample
    }

    private static func countOpenFileDescriptors() -> Int {
        guard let dir = opendir("/proc/self/fd") else { return 0 }
        defer { closedir(dir) }
        var count = 0
        while let entry = readdir(dir) {
            let first = withUnsafeBytes(of: entry.pointee.d_name) { $0.first ?? 0 }
            if first != UInt8(ascii: ".") { count += 1 }
        }
        return max(0, count - 1)  // the descriptor opendir itself holds
    }

    private static func bootTimeSeconds() -> Int? {
        guard let text = readSmallFile("/proc/stat") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("btime ") {
            return Int(line.dropFirst(6).trimmingSpaces())
        }
        return nil
    }

    static func readSmallFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while bytes.count < 1 << 20 {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// The fields of `/proc/<pid>/stat` that Cohort reads.
struct ProcStat: Equatable {
    var utimeTicks: Int
    var stimeTicks: Int
    var startTicks: Int
    var virtualBytes: Int
    var residentPages: Int

    /// Parses the line; the command name (field 2) may contain spaces and parentheses, so fields are
    /// counted from the last `)`.
    init?(parsing text: String) {
        guard let close = text.lastIndex(of: ")") else { return nil }
        let rest = text[text.index(after: close)...].split(separator: " ", omittingEmptySubsequences: true)
        // rest[0] is field 3 (state); field n is rest[n - 3].
        func field(_ n: Int) -> Int? { n - 3 < rest.count ? Int(rest[n - 3]) : nil }
        guard let utime = field(14), let stime = field(15), let start = field(22),
              let vsize = field(23), let rss = field(24) else { return nil }
        utimeTicks = utime
        stimeTicks = stime
        startTicks = start
        virtualBytes = vsize
        residentPages = rss
    }
}

extension Substring {
    func trimmingSpaces() -> Substring {
        var s = self
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " || s.last == "\n" { s = s.dropLast() }
        return s
    }
}
