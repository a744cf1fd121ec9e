import NIOCore
import StrataCore

/// Everything the connections of one event loop share. Only that loop's thread uses it.
final class LoopServices {
    let responder: Responder
    let releases: LoopReleases
    let registry: ReleaseRegistry
    let releaseNames: ReleaseNames
    let bodies: HotBodies
    let openFiles: OpenFiles
    let date = DateLine()
    /// Response heads are written here. Once the socket has taken a head, NIO lets go of the
    /// buffer and the next response reuses its memory; a head still queued makes `clear()`
    /// allocate afresh, so sharing is never a hazard.
    var heads = ByteBufferAllocator().buffer(capacity: 1024)
    let accessLog: AccessLog?
    let metrics: LoopMetrics
    let headerTimeout: TimeAmount
    let idleTimeout: TimeAmount
    /// Limits on a request head: bytes (request line included) and header lines.
    let maxHeadBytes: Int
    let maxHeaderCount: Int
    let events: EventLog

    init(responder: Responder, releases: LoopReleases, registry: ReleaseRegistry, releaseNames: ReleaseNames, bodies: HotBodies, openFiles: OpenFiles,
         accessLog: AccessLog?, metrics: LoopMetrics, headerTimeout: TimeAmount, idleTimeout: TimeAmount,
         maxHeadBytes: Int, maxHeaderCount: Int, events: EventLog) {
        self.maxHeadBytes = maxHeadBytes
        self.maxHeaderCount = maxHeaderCount
        self.events = events
        self.metrics = metrics
        self.responder = responder
        self.releases = releases
        self.registry = registry
        self.releaseNames = releaseNames
        self.bodies = bodies
        self.openFiles = openFiles
        self.accessLog = accessLog
        self.headerTimeout = headerTimeout
        self.idleTimeout = idleTimeout
        releases.onForget = { [openFiles] in openFiles.closeAll() }
    }
}
