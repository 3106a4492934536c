import CohortConfig
import CohortCore
import Logging
import PlaneCore
import ServiceLifecycle

/// This node's `kv.crdt` stores: one ``CRDTStoreBackend`` each, over the plane `kv:<store>`, with its
/// durable writer when the store is durable and a data directory resolves. As a service it follows every
/// plane (numbering changes for watches, queueing them for the disk) and runs the writers; when it stops,
/// each durable store writes a last snapshot.
final class CRDTStores: Service, Sendable {
    /// A durable store's files and what they held at start.
    typealias Durable = (files: CRDTStoreFiles, loaded: CRDTStoreFiles.Loaded)

    let backends: [String: CRDTStoreBackend]

    /// The stores of `declared` that are `kv.crdt`. `loaded` holds, per durable store, what
    /// ``CRDTStores/load(_:dataDirectory:logger:)`` read at start; a durable store without it (no data
    /// directory, or a node built without ``CohortNode/prepare(settings:logger:metrics:environment:nowMilliseconds:)``)
    /// keeps memory only.
    init(
        declared: [StoreSettings], loaded: [String: Durable], firstSequence: UInt64,
        metrics: CoordinationMetrics?, logger: Logger, physicalMillis: @escaping @Sendable () -> UInt64,
        plane: (String) -> any StorePlane
    ) {
        var backends: [String: CRDTStoreBackend] = [:]
        for store in declared where store.kind == .crdt {
            let plane = plane("kv:" + store.name)
            var log: CRDTStoreLog?
            if store.durable, let durable = loaded[store.name] {
                plane.load(durable.loaded.entries)
                log = CRDTStoreLog(files: durable.files, loaded: durable.loaded, plane: plane, logger: logger)
            }
            backends[store.name] = CRDTStoreBackend(
                name: store.name, plane: plane, log: log, firstSequence: firstSequence, metrics: metrics, physicalMillis: physicalMillis
            )
        }
        self.backends = backends
    }

    /// Reads the files of every durable `kv.crdt` store under `dataDirectory`: the start-up step, before
    /// the node joins. A torn last record of a log is dropped with a warning; a corrupt file throws,
    /// naming it.
    static func load(
        _ declared: [StoreSettings], dataDirectory: String, logger: Logger
    ) throws(CRDTStoreFileError) -> [String: Durable] {
        var loaded: [String: Durable] = [:]
        for store in declared where store.kind == .crdt && store.durable {
            let files = CRDTStoreFiles(dataDirectory: dataDirectory, store: store.name)
            let found = try files.load()
            if found.droppedBytes > 0 {
                logger.warning("dropped a kv.crdt store log's torn last record (a crash while writing it); peers hold what it had", metadata: [
                    "store": "\(store.name)", "path": "\(files.logPath)", "bytes": "\(found.droppedBytes)",
                ])
            }
            loaded[store.name] = (files, found)
        }
        return loaded
    }

    func run() async {
        await withDiscardingTaskGroup { group in
            // Runs until the node stops, stores or not: a service that returns ends the whole group.
            group.addTask { try? await gracefulShutdown() }
            for backend in backends.values {
                group.addTask {
                    await cancelWhenGracefulShutdown { await backend.follow() }
                }
                if let log = backend.log {
                    group.addTask { await log.run() }
                }
            }
        }
    }
}
