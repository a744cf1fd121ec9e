import Foundation
import StrataObjectStore
import Testing

/// The S3 request signer against AWS's documented example and botocore's signer on the same
/// requests (`sigv4-vectors.py` prints botocore's signatures for these cases).
@Suite struct SignatureV4Tests {
    let credentials = SignatureV4.Credentials(accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")

    func date(_ year: Int, _ month: Int, _ day: Int, _ hour: Int, _ minute: Int, _ second: Int) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar.date(from: DateComponents(year: year, month: month, day: day, hour: hour, minute: minute, second: second))!
    }

    func authorization(_ headers: [(String, String)]) -> String {
        headers.first { $0.0 == "Authorization" }!.1
    }

    @Test func awsDocumentedGetObjectExample() {
        let signer = SignatureV4(credentials: credentials, region: "us-east-1")
        let added = signer.headers(method: "GET", path: "/test.txt", headers: [("Host", "examplebucket.s3.amazonaws.com"), ("Range", "bytes=0-9")],
                                   payloadHash: SignatureV4.emptyPayloadHash, date: date(2013, 5, 24, 0, 0, 0))
        #expect(authorization(added) == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            + "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        #expect(added.contains { $0 == ("x-amz-date", "20130524T000000Z") })
    }

    @Test func aConditionalPutWithASessionTokenMatchesBotocore() {
        let withToken = SignatureV4.Credentials(accessKeyID: credentials.accessKeyID, secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                                                sessionToken: "session/token+1=")
        let signer = SignatureV4(credentials: withToken, region: "eu-central-1")
        let added = signer.headers(method: "PUT", path: "/strata-bucket/site/content/ab/a b+é.txt",
                                   headers: [("Host", "127.0.0.1:9000"), ("If-None-Match", "*"), ("Content-Type", "application/octet-stream"),
                                             ("Content-Length", "5")],
                                   payloadHash: "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", date: date(2026, 11, 22, 9, 5, 7))
        #expect(authorization(added).hasSuffix("SignedHeaders=content-length;content-type;host;if-none-match;x-amz-content-sha256;x-amz-date;"
            + "x-amz-security-token, Signature=337e4f15bae69702fdfe522244e35ab861faca537b26641f5d1a0a77569719e9"))
    }

    @Test func aListingWithAnAwkwardContinuationTokenMatchesBotocore() {
        let signer = SignatureV4(credentials: credentials, region: "us-east-1")
        let added = signer.headers(method: "GET", path: "/strata-bucket",
                                   query: [("list-type", "2"), ("prefix", "site/releases/"), ("continuation-token", "a/b=c d")],
                                   headers: [("Host", "127.0.0.1:9000")], payloadHash: SignatureV4.emptyPayloadHash, date: date(2026, 1, 2, 3, 4, 5))
        #expect(authorization(added).hasSuffix("Signature=d2015ea75ab35ef38bc9f78950fb3bc0aa33780427c925929587a8be53962327"))
    }

    @Test func credentialsNeverPrintTheirSecret() {
        let withToken = SignatureV4.Credentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "very-secret", sessionToken: "token-secret")
        var dumped = ""
        dump(withToken, to: &dumped)
        for text in ["\(withToken)", String(describing: withToken), String(reflecting: withToken), dumped] {
            #expect(!text.contains("very-secret") && !text.contains("token-secret"), "\(text)")
        }
    }
}
