import StrataCore

/// One large content object uploaded in parts (S3's multipart upload), each part hashed for its
/// own signature and the whole re-hashed on the way: a file that changed since it was hashed is
/// aborted, never completed.
struct MultipartUpload {
    let client: S3Client
    let key: String
    let partSize: Int

    func upload(_ file: OpenFile, expecting entry: Manifest.Entry) throws {
        let started = try client.send(.POST, key: key, query: [("uploads", "")], headers: [("Content-Type", "application/octet-stream")])
        guard started.status == 200, let uploadID = S3XML.uploadID(started.body) else {
            throw client.failure(started, "start uploading \(client.describe(key))")
        }
        do {
            var hasher = ContentHasher()
            var parts: [(number: Int, tag: String)] = []
            while true {
                var part = [UInt8](repeating: 0, count: partSize)
                var filled = 0
                while filled < partSize {
                    let count = try part.withUnsafeMutableBytes { try file.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[filled...])) }
                    if count == 0 { break }
                    filled += count
                }
                if filled == 0 { break }
                part.removeLast(partSize - filled)
                hasher.update(part)
                let number = parts.count + 1
                let reply = try client.send(.PUT, key: key, query: [("partNumber", String(number)), ("uploadId", uploadID)], body: part)
                guard reply.status == 200, let tag = reply.entityTag else { throw client.failure(reply, "upload part \(number) of \(client.describe(key))") }
                parts.append((number, tag))
                if filled < partSize { break }
            }
            guard hasher.size == entry.size, hasher.hex() == entry.sha256 else {
                throw StrataError(.conflict, "'\(Escaped.path(entry.path))' changed while it was being published; publish again")
            }
            let document = "<CompleteMultipartUpload>"
                + parts.map { "<Part><PartNumber>\($0.number)</PartNumber><ETag>\($0.tag)</ETag></Part>" }.joined()
                + "</CompleteMultipartUpload>"
            let completed = try client.send(.POST, key: key, query: [("uploadId", uploadID)], headers: [("If-None-Match", "*")],
                                            body: Array(document.utf8))
            // 412: the object exists already, written by another publisher: the same bytes. A 200 may
            // still carry an error document (S3 reports late failures that way).
            let finished = completed.status == 412 || (completed.status == 200 && S3XML.error(completed.body) == nil)
            guard finished else {
                throw client.failure(completed, "finish uploading \(client.describe(key))")
            }
        } catch {
            _ = try? client.send(.DELETE, key: key, query: [("uploadId", uploadID)])
            throw error
        }
    }
}
