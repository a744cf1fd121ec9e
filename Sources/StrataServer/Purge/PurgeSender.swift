import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import StrataCore

/// Sends one purge to one target and says how it went: nil, or why it failed. Blocking: called on
/// a purge worker's thread, never on an event loop.
struct PurgeSender: Sendable {
    let client: HTTPClient
    static let timeout = TimeAmount.seconds(10)
    static let commandTimeout: TimeInterval = 60

    func send(_ purge: PurgeRequest, to target: PurgeTarget) -> String? {
        switch target.kind {
        case .command(let command): return run(command, purge)
        case .varnishPurge: return request(target, method: .RAW(value: "PURGE"), headers: [("xkey-purge", purge.tag)], body: nil)
        case .varnishBan: return request(target, method: .RAW(value: "BAN"), headers: [("xkey-purge", purge.tag)], body: nil)
        case .cloudflare(let token):
            return request(target, method: .POST, headers: [("Authorization", "Bearer \(token)"), ("Content-Type", "application/json")],
                           body: Self.json(["tags": [purge.tag]]))
        case .fastly(let token):
            return request(target, method: .POST, headers: [("Fastly-Key", token), ("Content-Type", "application/json"), ("Accept", "application/json")],
                           body: Self.json(["surrogate_keys": [purge.tag]]))
        }
    }

    private static func json(_ object: [String: [String]]) -> String {
        String(decoding: (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data(), as: UTF8.self)
    }

    private func request(_ target: PurgeTarget, method: HTTPMethod, headers: [(String, String)], body: String?) -> String? {
        guard let url = target.url else { return "no URL" }
        do {
            var headerFields = HTTPHeaders(headers)
            headerFields.add(name: "User-Agent", value: "strata")
            let request = try HTTPClient.Request(url: url, method: method, headers: headerFields, body: body.map { .string($0) })
            let response = try client.execute(request: request, deadline: .now() + Self.timeout).wait()
            let text = response.body.map { String(buffer: $0) } ?? ""
            guard (200..<300).contains(response.status.code) else {
                return "\(response.status.code) \(response.status.reasonPhrase)" + Self.excerpt(text)
            }
            // Cloudflare and Fastly answer JSON; Cloudflare says `"success": false` when it refused.
            if let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], object["success"] as? Bool == false {
                return "\(response.status.code) but success: false" + Self.excerpt(text)
            }
            return nil
        } catch {
            return "\(error)"
        }
    }

    /// The first line of an error body, short, for the log.
    private static func excerpt(_ body: String) -> String {
        let line = body.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        return line.isEmpty ? "" : ": " + String(line.prefix(200))
    }

    /// `sh -c CMD strata-on-flip <channel> <release> <previous>`, with the same in the environment.
    private func run(_ command: String, _ purge: PurgeRequest) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command, "strata-on-flip", purge.channel, purge.release ?? "", purge.previous ?? ""]
        var environment = ProcessInfo.processInfo.environment
        environment["STRATA_CHANNEL"] = purge.channel
        environment["STRATA_RELEASE"] = purge.release ?? ""
        environment["STRATA_PREVIOUS_RELEASE"] = purge.previous ?? ""
        environment["STRATA_CACHE_TAG"] = purge.tag
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        let errors = Pipe()
        process.standardError = errors
        let finished = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in finished.signal() }
        do { try process.run() } catch { return "cannot run /bin/sh: \(error)" }
        // Read what it says as it says it: a full pipe would stall the command.
        let said = SaidText()
        let reading = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            said.text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            reading.signal()
        }
        if finished.wait(timeout: .now() + Self.commandTimeout) == .timedOut {
            process.terminate()
            return "still running after \(Int(Self.commandTimeout)) s; stopped"
        }
        _ = reading.wait(timeout: .now() + 1)
        guard process.terminationStatus == 0 else { return "exit \(process.terminationStatus)" + Self.excerpt(said.text) }
        return nil
    }
}

/// A command's standard error, handed from the thread that reads it.
private final class SaidText: @unchecked Sendable {
    var text = ""
}
