/// How the descriptor limit is shared between connections, files kept open, and a reserve for the
/// rest (listeners, event loops, logs, manifests being read). Under a high limit (the usual case,
/// once the soft limit is raised to the hard one) the configured numbers stand. Under a lower one,
/// files kept open give way first, quietly, down to `comfortableFilesPerThread`; under a low one
/// (`ulimit -n 64`) both shrink, and it is said, so `accept` keeps finding a descriptor and a
/// connection over the cap is closed at once.
struct DescriptorBudget {
    static let reserve = 32
    /// Enough for most sites; fewer is worth a warning.
    static let comfortableFilesPerThread = 4096
    let connections: Int
    let openFilesPerThread: Int
    let isReduced: Bool

    init(limit: Int, maxConnections: Int, openFilesPerThread: Int, threads: Int) {
        let available = max(limit - Self.reserve, 2)
        let threads = max(threads, 1)
        let filesThatFit = (available - maxConnections) / threads
        if filesThatFit >= min(openFilesPerThread, Self.comfortableFilesPerThread) {
            connections = maxConnections
            self.openFilesPerThread = min(openFilesPerThread, filesThatFit)
            isReduced = false
            return
        }
        isReduced = true
        connections = max(1, min(maxConnections, available * 3 / 4))
        self.openFilesPerThread = max(1, min(openFilesPerThread, (available - connections) / threads))
    }
}
