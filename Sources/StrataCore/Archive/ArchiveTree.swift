/// The tree an archive's entries describe, checked entry by entry as they arrive, before anything
/// is written: the same path twice, a path that is both a file and a folder, and paths through a
/// symlink (the classic way to write outside the target) are refused. Symlinks are resolved at the
/// end, when every entry is known, strictly inside the tree.
struct ArchiveTree {
    enum Node {
        case file
        case folder
        case symlink(target: [String], shown: String)
    }

    /// A file of the release: its path, and the path of the staged file that holds its content.
    struct Placement: Equatable {
        let path: String
        let contentPath: String
    }

    private var nodes: [String: Node] = ["": .folder]
    private var children: [String: [String]] = [:]
    private var symlinks: [String] = []

    /// Adds an entry. Folders may repeat (archivers often list them again); nothing else may.
    mutating func insert(_ components: [String], as node: Node) throws {
        var folder = ""
        for component in components.dropLast() {
            let path = folder.isEmpty ? component : folder + "/" + component
            switch nodes[path] {
            case nil:
                nodes[path] = .folder
                children[folder, default: []].append(component)
            case .folder?:
                break
            case .file?:
                throw StrataError(.invalidInput, "archive entry '\(Escaped.path(path))' is both a file and a folder")
            case .symlink?:
                throw StrataError(.invalidInput, "archive entry '\(Escaped.path(components.joined(separator: "/")))' lies inside symlink '\(Escaped.path(path))'")
            }
            folder = path
        }
        guard let name = components.last else { return }  // the root folder itself
        let path = folder.isEmpty ? name : folder + "/" + name
        switch (nodes[path], node) {
        case (nil, _):
            nodes[path] = node
            children[folder, default: []].append(name)
            if case .symlink = node { symlinks.append(path) }
        case (.folder?, .folder):
            break
        case (.folder?, _), (_, .folder):
            throw StrataError(.invalidInput, "archive entry '\(Escaped.path(path))' is both a file and a folder")
        default:
            throw StrataError(.invalidInput, "archive entry '\(Escaped.path(path))' appears twice")
        }
    }

    func isFile(_ path: String) -> Bool {
        if case .file? = nodes[path] { return true }
        return false
    }

    /// What every symlink becomes: a link to a file is that file's content; a link to a folder is
    /// that folder's files under the link's name, as for a folder being published. `limit` caps the
    /// number of files links may add, so links cannot multiply a small archive into a huge tree.
    func resolveSymlinks(limit: Int) throws -> [Placement] {
        var placements: [Placement] = []
        for link in symlinks {
            switch try resolve(link, from: link) {
            case .file(let target):
                placements.append(Placement(path: link, contentPath: target))
            case .folder(let target):
                if target.isEmpty || link.hasPrefix(target + "/") {
                    throw StrataError(.invalidInput, "symlink '\(Escaped.path(link))' points at a folder that contains it (a loop)")
                }
                try expand(folder: target, as: link, ancestors: [target], link: link, into: &placements, limit: limit)
            }
            if placements.count > limit {
                throw StrataError(.invalidInput, "symlinks in the archive expand to more than \(limit) files (the entry limit, --max-entries)")
            }
        }
        return placements
    }

    private enum Resolved {
        case file(String)
        case folder(String)
    }

    /// Follows `path` from the root the way the kernel would, symlinks included, never above the root.
    private func resolve(_ path: String, from link: String) throws -> Resolved {
        var pending = path.split(separator: "/").map(String.init)
        var current: [String] = []
        var hops = 0
        var followed = ""  // the last link target taken, for the error message
        while !pending.isEmpty {
            let component = pending.removeFirst()
            if component == ".." {
                guard !current.isEmpty else {
                    throw StrataError(.invalidInput, "symlink '\(Escaped.path(link))' leads outside the archive (to '\(followed)')")
                }
                current.removeLast()
                continue
            }
            current.append(component)
            let here = current.joined(separator: "/")
            switch nodes[here] {
            case nil:
                throw StrataError(.invalidInput, "symlink '\(Escaped.path(link))' is dangling (nothing at '\(Escaped.path(here))' in the archive)")
            case .folder?:
                continue
            case .file?:
                guard pending.isEmpty else {
                    throw StrataError(.invalidInput, "symlink '\(Escaped.path(link))' is dangling ('\(Escaped.path(here))' is a file, not a folder)")
                }
            case .symlink(let target, let shown)?:
                hops += 1
                guard hops <= 40 else { throw StrataError(.invalidInput, "symlink '\(Escaped.path(link))' loops") }
                current.removeLast()
                followed = shown
                pending = target + pending
            }
        }
        let result = current.joined(separator: "/")
        return isFile(result) ? .file(result) : .folder(result)
    }

    private func expand(folder: String, as linkPath: String, ancestors: Set<String>, link: String,
                        into placements: inout [Placement], limit: Int) throws {
        for name in children[folder] ?? [] {
            let source = folder + "/" + name
            let destination = linkPath + "/" + name
            switch try resolve(source, from: link) {
            case .file(let target):
                placements.append(Placement(path: destination, contentPath: target))
                if placements.count > limit {
                    throw StrataError(.invalidInput, "symlinks in the archive expand to more than \(limit) files (the entry limit, --max-entries)")
                }
            case .folder(let target):
                if ancestors.contains(target) || target.isEmpty {
                    throw StrataError(.invalidInput, "symlink '\(Escaped.path(link))' points at a folder that contains it (a loop)")
                }
                try expand(folder: target, as: destination, ancestors: ancestors.union([target]), link: link, into: &placements, limit: limit)
            }
        }
    }
}
