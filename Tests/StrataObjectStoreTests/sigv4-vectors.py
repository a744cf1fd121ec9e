#!/usr/bin/env python3
"""Prints botocore's S3 SigV4 Authorization header for the requests SignatureV4Tests signs, so the
Swift signer is compared with the signer every AWS tool uses: python3 sigv4-vectors.py"""
import datetime
from unittest import mock
from urllib.parse import quote, urlencode

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

CASES = [
    # name, method, host, path, query, headers, body, region, session token, time
    ("aws-get-object", "GET", "examplebucket.s3.amazonaws.com", "/test.txt", [], {"Range": "bytes=0-9"},
     b"", "us-east-1", None, (2013, 5, 24, 0, 0, 0)),
    ("put-if-none-match", "PUT", "127.0.0.1:9000", "/strata-bucket/site/content/ab/a b+é.txt", [],
     {"If-None-Match": "*", "Content-Type": "application/octet-stream", "Content-Length": "5"},
     b"hello", "eu-central-1", "session/token+1=", (2026, 11, 22, 9, 5, 7)),
    ("list-with-token", "GET", "127.0.0.1:9000", "/strata-bucket", [("list-type", "2"), ("prefix", "site/releases/"),
     ("continuation-token", "a/b=c d")], {}, b"",
     "us-east-1", None, (2026, 1, 2, 3, 4, 5)),
]

# botocore hashes the body itself (x-amz-content-sha256), as the Swift tests pass the body's SHA-256.
for name, method, host, path, query, headers, body, region, token, when in CASES:
    url = f"http://{host}{quote(path, safe='/~')}"
    if query:
        url += "?" + urlencode(query, quote_via=quote, safe="~")
    request = AWSRequest(method=method, url=url, headers=dict(headers), data=body)
    credentials = Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", token)
    with mock.patch("botocore.auth.get_current_datetime", return_value=datetime.datetime(*when)):
        S3SigV4Auth(credentials, "s3", region).add_auth(request)
    print(name, request.headers["Authorization"].split("Signature=")[1], request.headers["Authorization"].split(", ")[1])
