import ArgumentParser
import Foundation
import StrataCore
import SystemPackage

struct Password: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Add, change or remove a user in a credentials file for `strata serve --protect`.",
        discussion: """
            The password is read from standard input (one line) and kept as scrypt, never as
            given. The file is created with mode 0600 if missing and replaced atomically; a
            running server reads it again within a second.

            Examples:
              printf '%s\\n' "$PREVIEW_PASSWORD" | strata password /etc/strata/preview.users alice
              strata password /etc/strata/preview.users alice --delete
              strata serve --channel preview --protect preview=/etc/strata/preview.users
            """)

    @Argument(help: "The credentials file.")
    var file: String

    @Argument(help: "The user name (no ':').")
    var user: String

    @Flag(help: "Remove the user instead.")
    var delete = false

    func run() throws {
        try CredentialFile.validateUser(user)
        let path = FilePath(file)
        var credentials = CredentialFile()
        if let bytes = try FileSystem.readFile(path) {
            guard let text = String(validating: bytes, as: UTF8.self) else { throw StrataError(.invalidInput, "'\(file)' is not a credentials file") }
            credentials = try CredentialFile.parse(text, name: file)
        }
        if delete {
            guard credentials.remove(user) else { throw StrataError(.notFound, "'\(file)' has no user '\(user)'") }
        } else {
            guard let line = readLine(strippingNewline: true), !line.isEmpty else {
                throw StrataError(.invalidInput, "no password on standard input (give it as one line)")
            }
            credentials.set(user, try PasswordHash.make(line))
        }
        try FileSystem.writeAtomically(path, permissions: [.ownerRead, .ownerWrite]) { file in
            try file.writeAll(Array(credentials.rendered.utf8))
        }
        Output.note(delete ? "removed \(user) from \(file)" : "set the password of \(user) in \(file)")
    }
}
