import SystemPackage

/// Creates the folders a release's files need, once each, and remembers them.
struct FolderMaker {
    let root: FilePath
    private var known: Set<String> = []

    init(root: FilePath) {
        self.root = root
    }

    /// Ensures the parent folders of `path` (relative, `/`-separated) exist; returns the file's full path.
    mutating func prepare(for path: String) throws -> FilePath {
        var folder = root
        var relative = ""
        let components = path.split(separator: "/", omittingEmptySubsequences: false)
        for component in components.dropLast() {
            folder.append(String(component))
            relative += relative.isEmpty ? String(component) : "/" + component
            if known.insert(relative).inserted {
                try FileSystem.makeDirectory(folder)
            }
        }
        return root.appending(path)
    }
}
