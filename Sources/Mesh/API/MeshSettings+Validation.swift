import MeshCore

extension MeshSettings {
    /// Checks the settings; the error names the field, the value and the fix.
    public func validate() throws(MeshError) {
        let nameBytes = nodeID.rawValue.utf8.count
        guard (1...255).contains(nameBytes) else {
            throw .invalidSettings("nodeID is \(nameBytes) bytes; it must be 1…255 bytes of UTF-8")
        }
        if let bad = keyring.first(where: { ![16, 24, 32].contains($0.count) }) {
            throw .invalidSettings("a keyring key is \(bad.count) bytes; cluster keys must be 16, 24 or 32 bytes")
        }
        guard (0...65_535).contains(bindPort) else {
            throw .invalidSettings("bindPort \(bindPort) is not a port; use 0…65535 (0 picks 7950…7959, then any)")
        }
        guard chunkBytes >= 1024, chunkBytes + FrameHeader.size + SessionCipher.tagBytes <= maxFrameBytes else {
            throw .invalidSettings("chunkBytes \(chunkBytes) must be at least 1024 and fit a frame of maxFrameBytes \(maxFrameBytes)")
        }
        guard maxFrameBytes <= Int(UInt32.max), maxMessageBytes >= chunkBytes else {
            throw .invalidSettings("maxFrameBytes must fit 32 bits and maxMessageBytes (\(maxMessageBytes)) must be at least chunkBytes")
        }
        for trafficClass in TrafficClass.allCases {
            let limit = queues[trafficClass]
            guard limit.maxMessages > 0, limit.maxBytes > 0 else {
                throw .invalidSettings("queues.\(trafficClass) limits must be positive")
            }
        }
        guard queues.relay.policy == .dropNewest else {
            throw .invalidSettings("queues.relay.policy must be dropNewest: relay is reliable and in order")
        }
        guard socketBufferBytes >= 0 else {
            throw .invalidSettings("socketBufferBytes \(socketBufferBytes) must be 0 (kernel default) or a positive size")
        }
        if let idleTimeout, idleTimeout <= .zero {
            throw .invalidSettings("idleTimeout \(idleTimeout) must be positive, or nil to keep connections open")
        }
        guard ackEveryMessages > 0, maxConcurrentRequests > 0, maxInboundConnections > 0 else {
            throw .invalidSettings("ackEveryMessages, maxConcurrentRequests and maxInboundConnections must be positive")
        }
    }
}
