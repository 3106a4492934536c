import CoordinationCore
import Testing

@Suite("Coordination core (placeholder until the first suite lands)")
struct CoordinationCorePlaceholderTests {
    @Test func targetBuilds() {}
}
