import ArgumentParser
import Foundation
import StrataCore

struct Keygen: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make an Ed25519 key pair for signing releases.",
        discussion: """
            Writes the secret key to FILE (mode 0600, OpenSSH's format, unencrypted) and the public
            key to FILE.pub (one `ssh-ed25519 …` line). Neither is printed; existing files are never
            replaced. Sign with `publish --sign FILE` (or STRATA_SIGNING_KEY=FILE); give FILE.pub to
            `serve`, `import` and `verify` as --trust. `ssh-keygen -Y verify` checks the same
            signatures (README, "Signing").

            Example:
              strata keygen ~/.config/strata/release-key
            """)

    @Argument(help: "Where to write the secret key; the public key goes to FILE.pub.")
    var file: String

    @Option(help: "A comment stored with the key (default: user@host).")
    var comment: String?

    func run() throws {
        let key = SigningKey.generate(comment: comment ?? ProcessIdentity.actor())
        try key.write(to: file)
        Output.note("wrote secret key \(file) (0600) and public key \(file).pub (\(key.publicKey.fingerprint))")
    }
}

/// `--trust`, for the commands that refuse releases not signed by a trusted key.
struct TrustOption: ParsableArguments {
    @Option(name: .customLong("trust"),
            help: ArgumentHelp("Accept only releases signed by a key in this .pub file (repeatable).", valueName: "pubkey"))
    var files: [String] = []

    /// The keys, or nil when no --trust was given.
    func keys() throws -> TrustedKeys? {
        files.isEmpty ? nil : try TrustedKeys(files: files)
    }
}

/// `--sign`, for the commands that make a release.
struct SigningOption: ParsableArguments {
    @Option(name: .customLong("sign"),
            help: ArgumentHelp("Sign the release with this secret key (`strata keygen`); default $STRATA_SIGNING_KEY.", valueName: "key"))
    var file: String?

    func key() throws -> SigningKey? {
        let path = file ?? ProcessInfo.processInfo.environment["STRATA_SIGNING_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        return try path.map(SigningKey.load)
    }
}
