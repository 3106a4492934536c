/// The version of Cohort this binary was built from.
public enum CohortVersion {
    /// Semantic version of the build, shown by `cohortd --version` and `/v1/node`.
    public static let current = "0.1.0"
}
