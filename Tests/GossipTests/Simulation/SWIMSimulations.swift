import Testing

/// The SWIM cluster simulations: CPU-bound and synchronous, so they run one at a time. Run in parallel
/// they would occupy every thread of the cooperative pool on a 2-core machine and starve the suites that
/// wait on real sockets and processes with deadlines.
@Suite(.serialized) struct SWIMSimulations {}
