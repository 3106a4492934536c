// `import Cohort` is all an embedding server needs: settings, identity, health and metrics come with it.
@_exported import CohortConfig
@_exported import CohortCore
@_exported import Observability
@_exported import CoordinationCore
@_exported import GroupsCore
@_exported import PlaneCore
