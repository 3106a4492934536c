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
/// - `COHORT_FAILPOINT_NAME_CACHE_DROP_FIRST_ROUND=1`: the node ignores the name-cache updates it hears in
///   their first round, as if every transmission had been lost; it can only learn a change from the
///   leader's repeats (docs/names.md).
enum Failpoints {
    static let livezVariable = "COHORT_FAILPOINT_LIVEZ_FILE"
    static let readyzVariable = "COHORT_FAILPOINT_READYZ_FILE"
    static let nameCacheDropFirstRoundVariable = "COHORT_FAILPOINT_NAME_CACHE_DROP_FIRST_ROUND"

    static func dropsNameCacheFirstRound(environment: [String: String]) -> Bool {
        environment[nameCacheDropFirstRoundVariable] == "1"
    }

    static func register(environment: [String: String], with health: HealthRegistry) {
        for (variable, kind) in [(livezVariable, HealthKind.liveness), (readyzVariable, .readiness)] {
            guard let path = environment[variable], !path.isEmpty else { continue }
            health.register("failpoint", kind: kind) {
                access(path, F_OK) == 0 ? .fail("failpoint file \(path) exists") : .ok
            }
        }
    }
}
