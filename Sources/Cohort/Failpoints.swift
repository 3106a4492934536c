#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Observability

/// Test-only failpoints, in the spirit of etcd's gofail: when the environment names a file, a health
/// check called `failpoint` fails while that file exists. Integration tests use them to drive the real
/// daemon's `/livez`, `/readyz`, `READY=1` and watchdog without a test-only code path in the checks.
///
/// - `COHORT_FAILPOINT_LIVEZ_FILE=/path`: liveness check `failpoint` fails while `/path` exists.
/// - `COHORT_FAILPOINT_READYZ_FILE=/path`: readiness check `failpoint` fails while `/path` exists.
enum Failpoints {
    static let livezVariable = "COHORT_FAILPOINT_LIVEZ_FILE"
    static let readyzVariable = "COHORT_FAILPOINT_READYZ_FILE"

    static func register(environment: [String: String], with health: HealthRegistry) {
        for (variable, kind) in [(livezVariable, HealthKind.liveness), (readyzVariable, .readiness)] {
            guard let path = environment[variable], !path.isEmpty else { continue }
            health.register("failpoint", kind: kind) {
                access(path, F_OK) == 0 ? .fail("failpoint file \(path) exists") : .ok
            }
        }
    }
}
