import Processes
import ServiceLifecycle

/// Runs until the node shuts down, then terminates every process and waits for them, so processes
/// stop before the mesh and gossip they talk over.
struct ProcessRuntimeService: Service {
    let runtime: ProcessRuntime

    func run() async throws {
        try? await gracefulShutdown()
        await runtime.shutdown()
    }
}
