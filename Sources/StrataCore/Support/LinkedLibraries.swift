import CArchive
import CZlib

/// Versions of the C libraries Strata links against, shown by `strata version`.
///
/// Calling into both libraries here also proves at build time that they link.
public enum LinkedLibraries {
    public static var libarchive: String { String(cString: archive_version_string()) }
    public static var zlib: String { String(cString: zlibVersion()) }
}
