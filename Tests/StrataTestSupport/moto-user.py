#!/usr/bin/env python3
"""Creates an S3 user in a fresh moto_server and prints its access key id and secret.

    moto-user.py ENDPOINT

moto started with INITIAL_NO_AUTH_ACTION_COUNT=3 lets three unsigned requests through: a user,
a policy allowing everything, an access key. After them every request must be signed. Used by
the tests (MotoServer.swift) and the object-store benchmark.
"""
import re, sys, urllib.parse, urllib.request
endpoint = sys.argv[1]
def iam(params):
    params["Version"] = "2010-05-08"
    request = urllib.request.Request(endpoint + "/", data=urllib.parse.urlencode(params).encode(), headers={
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0"})
    return urllib.request.urlopen(request).read().decode()
iam({"Action": "CreateUser", "UserName": "strata"})
iam({"Action": "PutUserPolicy", "UserName": "strata", "PolicyName": "everything",
     "PolicyDocument": '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'})
made = iam({"Action": "CreateAccessKey", "UserName": "strata"})
print(re.search("<AccessKeyId>(.*?)</AccessKeyId>", made).group(1), re.search("<SecretAccessKey>(.*?)</SecretAccessKey>", made).group(1))
