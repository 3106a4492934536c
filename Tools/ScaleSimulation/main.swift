// The scale simulation as a command, for the sizes a debug test cannot afford. Build and run in release:
//   swift build -c release --product ScaleSimulation
//   .build/release/ScaleSimulation --size 1000 [--seed 1] [--compression] [--idle-window 60] [--wall-limit 3600]
// Prints one JSON object (ScaleResult) on standard output, progress on standard error.
// Benchmarks/scripts/scale_simulation.py runs it for N = 100, 1,000 and 5,000 and plots the results.
import Foundation

var configuration = ScaleConfiguration(size: 100)
var idleWindow: Duration?
var wallLimit: Duration = .seconds(3600)
var arguments = CommandLine.arguments.dropFirst()
@MainActor func value(_ flag: String) -> String {
    guard let value = arguments.popFirst() else {
        FileHandle.standardError.write(Data("\(flag) needs a value\n".utf8))
        exit(2)
    }
    return value
}
while let argument = arguments.popFirst() {
    switch argument {
    case "--size": configuration.size = Int(value(argument)) ?? 0
    case "--seed": configuration.seed = UInt64(value(argument)) ?? 1
    case "--compression": configuration.compression = true
    case "--idle-window": idleWindow = .seconds(Int(value(argument)) ?? 60)
    case "--wall-limit": wallLimit = .seconds(Int(value(argument)) ?? 3600)
    default:
        FileHandle.standardError.write(Data("usage: ScaleSimulation --size N [--seed S] [--compression] [--idle-window SECONDS] [--wall-limit SECONDS]\n".utf8))
        exit(2)
    }
}
guard configuration.size >= 10, configuration.size <= 60_000 else {
    FileHandle.standardError.write(Data("--size must be between 10 and 60000\n".utf8))
    exit(2)
}

let clock = ContinuousClock()
let started = clock.now
var scenario = ScaleScenario(configuration)
scenario.idleWindow = idleWindow
// Past the budget the run ends where it is and reports what it measured (stoppedEarly).
scenario.shouldStop = { [wallLimit] in clock.now - started > wallLimit }
var result = scenario.run { line in
    FileHandle.standardError.write(Data("[\(clock.now - started)] \(line)\n".utf8))
}
result.wallSeconds = seconds(clock.now - started)
var usage = rusage()
#if os(Linux)
getrusage(RUSAGE_SELF.rawValue, &usage)
result.peakRSSMegabytes = Double(usage.ru_maxrss) / 1024  // kilobytes on Linux
#else
getrusage(RUSAGE_SELF, &usage)
result.peakRSSMegabytes = Double(usage.ru_maxrss) / (1024 * 1024)  // bytes on macOS
#endif
let encoder = JSONEncoder()
encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
FileHandle.standardOutput.write(try encoder.encode(result) + Data("\n".utf8))
