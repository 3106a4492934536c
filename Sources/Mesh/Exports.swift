// `import Mesh` brings the mesh's pure types too (traffic classes, endpoints): its API is made of them.
@_exported import MeshCore
