import Testing

/// The Raft cluster simulations: CPU-bound and synchronous, so they run one at a time and never starve
/// the cooperative pool that suites waiting on sockets and processes need on a 2-core machine.
@Suite(.serialized) struct RaftSimulations {}
