import Benchmark
import Cohort

/// Per-operation costs of the node's hot administrative paths: loading configuration, evaluating
/// health (every `/livez`, `/readyz` and watchdog tick) and rendering `/metrics`.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .cpuTotal, .mallocCountTotal], maxDuration: .seconds(3))

    let threeNodeGuideExample = """
        cluster:
          enabled: true
          name: node-1
          failure_domain: us-east-1a
          membership:
            join_addrs: "node-2:7946,node-3:7946"
          raft:
            bootstrap_expect: 3
        """
    let loader = ConfigLoader(environment: [:], hostName: "bench", homeDirectory: "/root") { _ in [] }

    Benchmark("Config load (guide's three-node example)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try loader.load(yaml: threeNodeGuideExample))
        }
    }

    let health = HealthRegistry()
    let flags = (0..<8).map { _ in HealthFlag(.ok) }
    for (index, flag) in flags.enumerated() {
        health.register("check.\(index)", kind: .liveness) { flag.status }
    }
    Benchmark("Health evaluate + render (8 liveness checks)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(health.evaluate(.liveness).render())
        }
    }

    let metrics = CohortMetrics(version: "bench")
    Benchmark("Metrics render (/metrics body, with /proc sampling)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(metrics.render())
        }
    }
}
