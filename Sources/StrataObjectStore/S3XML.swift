import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// The few XML documents S3 answers with: errors, listings, multipart upload ids.
enum S3XML {
    struct ErrorDocument: Equatable {
        let code: String
        let message: String
    }

    /// One key of a listing.
    struct ListedObject: Equatable {
        let key: String
        let size: Int64
        /// `2026-11-22T10:00:00.000Z`, the service's clock.
        let lastModified: String
    }

    struct ListPage {
        var objects: [ListedObject] = []
        /// Common prefixes, with a delimiter: the "folders" directly below the listed prefix.
        var prefixes: [String] = []
        var nextToken: String?
    }

    static func error(_ body: [UInt8]) -> ErrorDocument? {
        guard let root = Element.parse(body), root.name == "Error", let code = root.child("Code")?.text else { return nil }
        return ErrorDocument(code: code, message: root.child("Message")?.text ?? "")
    }

    static func listPage(_ body: [UInt8]) -> ListPage? {
        guard let root = Element.parse(body), root.name == "ListBucketResult" else { return nil }
        var page = ListPage()
        for child in root.children {
            switch child.name {
            case "Contents":
                guard let key = child.child("Key")?.text else { continue }
                page.objects.append(ListedObject(key: key, size: Int64(child.child("Size")?.text ?? "") ?? 0,
                                                 lastModified: child.child("LastModified")?.text ?? ""))
            case "CommonPrefixes":
                if let prefix = child.child("Prefix")?.text { page.prefixes.append(prefix) }
            default:
                continue
            }
        }
        if root.child("IsTruncated")?.text == "true" { page.nextToken = root.child("NextContinuationToken")?.text }
        return page
    }

    static func uploadID(_ body: [UInt8]) -> String? {
        Element.parse(body)?.child("UploadId")?.text
    }

    /// A parsed element: name, text, children. Enough for S3's small, namespace-free documents.
    final class Element {
        let name: String
        var text = ""
        var children: [Element] = []

        init(name: String) { self.name = name }

        func child(_ name: String) -> Element? { children.first { $0.name == name } }

        static func parse(_ bytes: [UInt8]) -> Element? {
            guard !bytes.isEmpty else { return nil }
            let builder = TreeBuilder()
            let parser = XMLParser(data: Data(bytes))
            parser.delegate = builder
            guard parser.parse() else { return nil }
            return builder.root
        }
    }

    private final class TreeBuilder: NSObject, XMLParserDelegate {
        var root: Element?
        private var stack: [Element] = []

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String] = [:]) {
            let element = Element(name: name)
            if let parent = stack.last { parent.children.append(element) } else { root = element }
            stack.append(element)
        }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            stack.removeLast()
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            stack.last?.text += string
        }
    }
}
