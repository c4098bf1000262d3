"""Kiln's embedded S3 REST API and STS GetCallerIdentity, driven by Debian's boto3, curl, the AWS
CLI and hand-built signed requests (aws-chunked bodies, virtual-host style)."""
import base64
import hashlib
import hmac
import http.client
import json
import os
import shutil
import subprocess
import tempfile
import unittest
import urllib.parse
import zlib

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.credentials
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from awscrt import checksums as crt_checksums  # where botocore's CRC32C comes from
from botocore.exceptions import ClientError

from kiln_harness import AWS_CLI, KilnServer

MIB = 1024 * 1024


def md5_hex(data):
    return hashlib.md5(data).hexdigest()


class S3ApiTest(unittest.TestCase):
    """One server for the class; every test uses its own buckets."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="kiln-s3-")
        os.chmod(cls.tmp, 0o755)
        cls.server = KilnServer(os.path.join(cls.tmp, "data")).start()
        cls.port = urllib.parse.urlsplit(cls.server.endpoint).port
        cls.creds = cls.server.credentials
        cls.s3 = cls.client()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def run(self, result=None):
        before = len(result.errors) + len(result.failures) if result is not None else 0
        outcome = super().run(result)
        if result is not None and len(result.errors) + len(result.failures) > before:
            print(self.server.log())
        return outcome

    @classmethod
    def client(cls, endpoint=None, **config):
        return boto3.client(
            "s3", endpoint_url=endpoint or cls.server.endpoint,
            region_name=cls.creds["region"], aws_access_key_id=cls.creds["access_key_id"],
            aws_secret_access_key=cls.creds["secret_access_key"],
            config=Config(retries={"max_attempts": 1}, **config))

    def error(self, call, *args, **kwargs):
        with self.assertRaises(ClientError) as ctx:
            call(*args, **kwargs)
        return ctx.exception.response

    def bucket(self, name):
        self.s3.create_bucket(Bucket=name)
        return name

    # --- raw signed requests -------------------------------------------------------------------

    def signed_request(self, method, path, body=b"", headers=None, host=None, payload_hash=None,
                       query=""):
        """Signs like botocore (SigV4, service s3) and sends it; returns (status, headers, body)."""
        host = host or f"127.0.0.1:{self.port}"
        url = f"http://{host}{path}" + (f"?{query}" if query else "")
        headers = dict(headers or {})
        headers["X-Amz-Content-SHA256"] = payload_hash or hashlib.sha256(
            body if isinstance(body, bytes) else b"").hexdigest()
        request = botocore.awsrequest.AWSRequest(method=method, url=url, data=body,
                                                 headers=headers)
        creds = botocore.credentials.Credentials(self.creds["access_key_id"],
                                                 self.creds["secret_access_key"])
        botocore.auth.SigV4Auth(creds, "s3", self.creds["region"]).add_auth(request)
        prepared = dict(request.headers.items())
        return self.send_raw(method, path + (f"?{query}" if query else ""), body, prepared,
                             host), prepared

    def signed_headers(self, method, path, query="", headers=None, body=b""):
        """The headers botocore's SigV4 signer gives a request (for sending by hand)."""
        headers = dict(headers or {})
        headers["X-Amz-Content-SHA256"] = hashlib.sha256(body).hexdigest()
        url = f"http://127.0.0.1:{self.port}{path}" + (f"?{query}" if query else "")
        request = botocore.awsrequest.AWSRequest(method=method, url=url, data=body,
                                                 headers=headers)
        creds = botocore.credentials.Credentials(self.creds["access_key_id"],
                                                 self.creds["secret_access_key"])
        botocore.auth.SigV4Auth(creds, "s3", self.creds["region"]).add_auth(request)
        return dict(request.headers.items())

    def send_without_length(self, method, target, headers):
        """Sends a request with neither Content-Length nor Transfer-Encoding."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", f"127.0.0.1:{self.port}")
            for name, value in headers.items():
                if name.lower() not in ("host", "content-length", "transfer-encoding"):
                    conn.putheader(name, value)
            conn.endheaders()
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    def send_raw(self, method, target, body, headers, host=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", host or f"127.0.0.1:{self.port}")
            for name, value in headers.items():
                if name.lower() != "host":
                    conn.putheader(name, value)
            chunked = headers.get("Transfer-Encoding") == "chunked"
            if not chunked and "Content-Length" not in headers:
                conn.putheader("Content-Length", str(len(body) if isinstance(body, bytes) else 0))
            conn.endheaders()
            if isinstance(body, bytes) and body:
                if chunked:
                    conn.send(f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n")
                else:
                    conn.send(body)
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    def signing_key(self, date):
        key = ("AWS4" + self.creds["secret_access_key"]).encode()
        for part in (date, self.creds["region"], "s3", "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        return key

    # --- buckets -------------------------------------------------------------------------------

    def test_bucket_lifecycle_and_errors(self):
        self.s3.create_bucket(Bucket="life")
        names = [b["Name"] for b in self.s3.list_buckets()["Buckets"]]
        self.assertIn("life", names)
        self.s3.head_bucket(Bucket="life")
        self.assertIsNone(self.s3.get_bucket_location(Bucket="life")["LocationConstraint"])
        self.s3.create_bucket(Bucket="life-eu",
                              CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        self.assertEqual(self.s3.get_bucket_location(Bucket="life-eu")["LocationConstraint"],
                         "eu-west-1")
        err = self.error(self.s3.create_bucket, Bucket="life")
        self.assertEqual((err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]),
                         ("BucketAlreadyOwnedByYou", 409))
        self.s3.put_object(Bucket="life", Key="k", Body=b"x")
        err = self.error(self.s3.delete_bucket, Bucket="life")
        self.assertEqual((err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]),
                         ("BucketNotEmpty", 409))
        self.s3.delete_object(Bucket="life", Key="k")
        self.s3.delete_bucket(Bucket="life")
        err = self.error(self.s3.head_bucket, Bucket="life")
        self.assertEqual((err["Error"]["Code"], err["Error"]["Message"]), ("404", "Not Found"))
        err = self.error(self.s3.list_objects_v2, Bucket="life")
        self.assertEqual(err["Error"]["Code"], "NoSuchBucket")
        self.assertEqual(err["Error"]["BucketName"], "life")
        err = self.error(self.s3.create_bucket, Bucket="ab")
        self.assertEqual(err["Error"]["Code"], "InvalidBucketName")
        (status, _, body), _ = self.signed_request("PUT", "/malformed", b"<Nope")
        self.assertEqual(status, 400)
        self.assertIn(b"<Code>MalformedXML</Code>", body)

    def test_head_bucket_checks_expected_bucket_owner(self):
        self.bucket("owned")
        self.s3.head_bucket(Bucket="owned", ExpectedBucketOwner=self.creds.get(
            "account_id", "000000000000"))
        err = self.error(self.s3.head_bucket, Bucket="owned", ExpectedBucketOwner="111111111111")
        self.assertEqual(err["ResponseMetadata"]["HTTPStatusCode"], 403)
        (status, _, body), _ = self.signed_request("HEAD", "/no-such-bucket-here")
        self.assertEqual((status, body), (404, b""))

    def test_bucket_subresource_reads_and_unsupported_writes(self):
        self.bucket("subres")
        self.assertNotIn("Status", self.s3.get_bucket_versioning(Bucket="subres"))
        acl = self.s3.get_bucket_acl(Bucket="subres")
        self.assertEqual(acl["Grants"][0]["Permission"], "FULL_CONTROL")
        err = self.error(self.s3.put_bucket_policy, Bucket="subres", Policy="{}")
        self.assertEqual((err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]),
                         ("NotImplemented", 501))
        err = self.error(self.s3.get_bucket_policy, Bucket="subres")
        self.assertEqual(err["Error"]["Code"], "NoSuchBucketPolicy")

    # --- objects -------------------------------------------------------------------------------

    def test_put_get_head_keep_metadata_and_content_type(self):
        self.bucket("objs")
        body = b"hello kiln\n" * 100
        put = self.s3.put_object(Bucket="objs", Key="dir/a file+é.txt", Body=body,
                                 ContentType="text/plain", Metadata={"Owner": "me", "x": "1"},
                                 CacheControl="max-age=60", ContentDisposition="inline")
        self.assertEqual(put["ETag"], f'"{md5_hex(body)}"')
        got = self.s3.get_object(Bucket="objs", Key="dir/a file+é.txt")
        self.assertEqual(got["Body"].read(), body)
        self.assertEqual(got["ContentType"], "text/plain")
        self.assertEqual(got["Metadata"], {"owner": "me", "x": "1"})
        self.assertEqual(got["CacheControl"], "max-age=60")
        self.assertEqual(got["ContentDisposition"], "inline")
        self.assertEqual(got["ETag"], put["ETag"])
        head = self.s3.head_object(Bucket="objs", Key="dir/a file+é.txt")
        self.assertEqual(head["ContentLength"], len(body))
        self.assertEqual(head["Metadata"]["owner"], "me")
        err = self.error(self.s3.get_object, Bucket="objs", Key="missing")
        self.assertEqual((err["Error"]["Code"], err["Error"]["Key"]), ("NoSuchKey", "missing"))
        err = self.error(self.s3.head_object, Bucket="objs", Key="missing")
        self.assertEqual(err["Error"]["Code"], "404")
        self.s3.put_object(Bucket="objs", Key="empty", Body=b"")
        self.assertEqual(self.s3.get_object(Bucket="objs", Key="empty")["Body"].read(), b"")

    def test_range_and_conditional_gets(self):
        self.bucket("ranges")
        body = bytes(range(256)) * 4
        etag = self.s3.put_object(Bucket="ranges", Key="r", Body=body)["ETag"]
        got = self.s3.get_object(Bucket="ranges", Key="r", Range="bytes=2-5")
        self.assertEqual(got["Body"].read(), body[2:6])
        self.assertEqual(got["ContentRange"], f"bytes 2-5/{len(body)}")
        self.assertEqual(got["ResponseMetadata"]["HTTPStatusCode"], 206)
        self.assertEqual(self.s3.get_object(Bucket="ranges", Key="r", Range="bytes=-3")["Body"]
                         .read(), body[-3:])
        self.assertEqual(self.s3.get_object(Bucket="ranges", Key="r", Range="bytes=1000-")["Body"]
                         .read(), body[1000:])
        err = self.error(self.s3.get_object, Bucket="ranges", Key="r", Range="bytes=5000-")
        self.assertEqual((err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]),
                         ("InvalidRange", 416))
        err = self.error(self.s3.get_object, Bucket="ranges", Key="r", IfNoneMatch=etag)
        self.assertEqual(err["ResponseMetadata"]["HTTPStatusCode"], 304)
        err = self.error(self.s3.get_object, Bucket="ranges", Key="r", IfMatch='"nope"')
        self.assertEqual((err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]),
                         ("PreconditionFailed", 412))
        self.assertEqual(self.s3.get_object(Bucket="ranges", Key="r", IfMatch=etag)["Body"].read(),
                         body)
        modified = self.s3.head_object(Bucket="ranges", Key="r")["LastModified"]
        err = self.error(self.s3.get_object, Bucket="ranges", Key="r", IfModifiedSince=modified)
        self.assertEqual(err["ResponseMetadata"]["HTTPStatusCode"], 304)

    def test_several_ranges_in_one_header_serve_the_whole_object_as_s3_does(self):
        # S3 does not support multiple ranges: it ignores the header and answers 200 with the
        # whole object (no Content-Range).
        self.bucket("multirange")
        body = bytes(range(256))
        self.s3.put_object(Bucket="multirange", Key="r", Body=body)
        got = self.s3.get_object(Bucket="multirange", Key="r", Range="bytes=0-1,4-5")
        self.assertEqual(got["ResponseMetadata"]["HTTPStatusCode"], 200)
        self.assertNotIn("ContentRange", got)
        self.assertEqual(got["ContentLength"], len(body))
        self.assertEqual(got["Body"].read(), body)

    def test_objects_stored_without_a_content_type_are_served_as_binary_octet_stream(self):
        self.bucket("ctype")
        (status, _, body), _ = self.signed_request("PUT", "/ctype/untyped", b"some bytes")
        self.assertEqual(status, 200, body)
        self.assertEqual(self.s3.head_object(Bucket="ctype", Key="untyped")["ContentType"],
                         "binary/octet-stream")
        self.assertEqual(self.s3.get_object(Bucket="ctype", Key="untyped")["ContentType"],
                         "binary/octet-stream")
        upload = self.s3.create_multipart_upload(Bucket="ctype", Key="untyped-multi")["UploadId"]
        (status, _, body), _ = self.signed_request(
            "PUT", "/ctype/untyped-multi", b"part", query=f"partNumber=1&uploadId={upload}")
        self.assertEqual(status, 200, body)
        self.s3.complete_multipart_upload(
            Bucket="ctype", Key="untyped-multi", UploadId=upload,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": f'"{md5_hex(b"part")}"'}]})
        self.assertEqual(self.s3.head_object(Bucket="ctype", Key="untyped-multi")["ContentType"],
                         "binary/octet-stream")

    def test_missing_keys_that_mention_a_bucket_are_no_such_key(self):
        self.bucket("wordy")
        for key in ("bucket", "my-bucket/data", "NoSuchBucket: bucket"):
            err = self.error(self.s3.get_object, Bucket="wordy", Key=key)
            self.assertEqual((err["Error"]["Code"], err["Error"]["Key"]), ("NoSuchKey", key))
            err = self.error(self.s3.copy_object, Bucket="wordy", Key="dst",
                             CopySource={"Bucket": "wordy", "Key": key})
            self.assertEqual(err["Error"]["Code"], "NoSuchKey")
        err = self.error(self.s3.get_object, Bucket="no-such-bucket-here", Key="bucket")
        self.assertEqual((err["Error"]["Code"], err["Error"]["BucketName"]),
                         ("NoSuchBucket", "no-such-bucket-here"))
        err = self.error(self.s3.list_parts, Bucket="wordy", Key="bucket", UploadId="bucket")
        self.assertEqual(err["Error"]["Code"], "NoSuchUpload")

    def test_uploads_without_content_length_are_refused_with_411(self):
        self.bucket("nolength")
        status, _, body = self.send_without_length(
            "PUT", "/nolength/k", self.signed_headers("PUT", "/nolength/k"))
        self.assertEqual(status, 411)
        self.assertIn(b"<Code>MissingContentLength</Code>", body)
        upload = self.s3.create_multipart_upload(Bucket="nolength", Key="k")["UploadId"]
        query = f"partNumber=1&uploadId={upload}"
        status, _, body = self.send_without_length(
            "PUT", f"/nolength/k?{query}", self.signed_headers("PUT", "/nolength/k", query))
        self.assertEqual(status, 411)
        self.assertIn(b"<Code>MissingContentLength</Code>", body)
        self.assertNotIn("Contents", self.s3.list_objects_v2(Bucket="nolength"))
        # Chunked transfer-encoding states no length and is fine; so is an empty body with one.
        (status, _, body), _ = self.signed_request(
            "PUT", "/nolength/chunked", b"chunked body", {"Transfer-Encoding": "chunked"})
        self.assertEqual(status, 200, body)
        self.assertEqual(self.s3.get_object(Bucket="nolength", Key="chunked")["Body"].read(),
                         b"chunked body")
        self.s3.put_object(Bucket="nolength", Key="empty", Body=b"")
        self.assertEqual(self.s3.head_object(Bucket="nolength", Key="empty")["ContentLength"], 0)

    def test_delete_objects_needs_content_md5_or_a_checksum(self):
        self.bucket("bulk")
        for key in ("a", "b", "c"):
            self.s3.put_object(Bucket="bulk", Key=key, Body=b"x")

        def delete(key, headers):
            body = f"<Delete><Object><Key>{key}</Key></Object></Delete>".encode()
            headers = {name: value(body) for name, value in headers.items()}
            (status, _, response), _ = self.signed_request("POST", "/bulk", body, headers,
                                                           query="delete")
            return status, response

        status, body = delete("a", {})
        self.assertEqual(status, 400)
        self.assertIn(b"<Code>InvalidRequest</Code>", body)
        md5 = lambda body: base64.b64encode(hashlib.md5(body).digest()).decode()  # noqa: E731
        crc32 = lambda body: base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()  # noqa: E731,E501
        self.assertEqual(delete("a", {"Content-MD5": md5})[0], 200)
        self.assertEqual(delete("b", {"x-amz-checksum-crc32": crc32})[0], 200)
        status, body = delete("c", {"x-amz-checksum-crc32": lambda body: "AAAAAA=="})
        self.assertEqual(status, 400)
        self.assertIn(b"<Code>BadDigest</Code>", body)
        self.assertEqual([o["Key"] for o in self.s3.list_objects_v2(Bucket="bulk")["Contents"]],
                         ["c"])

    def test_copy_and_delete_objects(self):
        self.bucket("copies")
        self.s3.put_object(Bucket="copies", Key="a", Body=b"AAA", ContentType="text/a",
                           Metadata={"m": "1"})
        self.s3.put_object(Bucket="copies", Key="b", Body=b"BBB")
        copied = self.s3.copy_object(Bucket="copies", Key="c", CopySource="copies/a")
        self.assertEqual(copied["CopyObjectResult"]["ETag"], f'"{md5_hex(b"AAA")}"')
        head = self.s3.head_object(Bucket="copies", Key="c")
        self.assertEqual((head["ContentType"], head["Metadata"]), ("text/a", {"m": "1"}))
        self.s3.copy_object(Bucket="copies", Key="d", CopySource={"Bucket": "copies", "Key": "a"},
                            MetadataDirective="REPLACE", ContentType="text/d",
                            Metadata={"n": "2"})
        head = self.s3.head_object(Bucket="copies", Key="d")
        self.assertEqual((head["ContentType"], head["Metadata"]), ("text/d", {"n": "2"}))
        err = self.error(self.s3.copy_object, Bucket="copies", Key="e", CopySource="copies/zz")
        self.assertEqual(err["Error"]["Code"], "NoSuchKey")
        deleted = self.s3.delete_objects(Bucket="copies", Delete={"Objects": [
            {"Key": "a"}, {"Key": "b"}, {"Key": "never-existed"}]})
        self.assertEqual(sorted(d["Key"] for d in deleted["Deleted"]), ["a", "b", "never-existed"])
        keys = [o["Key"] for o in self.s3.list_objects_v2(Bucket="copies")["Contents"]]
        self.assertEqual(keys, ["c", "d"])
        self.s3.delete_object(Bucket="copies", Key="c")
        self.s3.delete_object(Bucket="copies", Key="c")  # deleting a missing key succeeds

    def test_list_objects_v2_and_v1(self):
        self.bucket("lists")
        keys = ["a/1", "a/2", "b/1", "c", "d e+f", "é/x"]
        for key in keys:
            self.s3.put_object(Bucket="lists", Key=key, Body=key.encode())
        everything = self.s3.list_objects_v2(Bucket="lists")
        self.assertEqual([o["Key"] for o in everything["Contents"]], sorted(
            keys, key=lambda k: k.encode()))
        self.assertEqual(everything["KeyCount"], len(keys))
        pages = list(self.s3.get_paginator("list_objects_v2").paginate(
            Bucket="lists", PaginationConfig={"PageSize": 2}))
        self.assertEqual(len(pages), 3)
        self.assertEqual([o["Key"] for p in pages for o in p["Contents"]],
                         [o["Key"] for o in everything["Contents"]])
        grouped = self.s3.list_objects_v2(Bucket="lists", Delimiter="/")
        self.assertEqual([p["Prefix"] for p in grouped["CommonPrefixes"]], ["a/", "b/", "é/"])
        self.assertEqual([o["Key"] for o in grouped["Contents"]], ["c", "d e+f"])
        prefixed = self.s3.list_objects_v2(Bucket="lists", Prefix="a/", StartAfter="a/1")
        self.assertEqual([o["Key"] for o in prefixed["Contents"]], ["a/2"])
        # Raw encoding-type=url: keys come back percent-encoded.
        (status, _, body), _ = self.signed_request(
            "GET", "/lists", query="list-type=2&prefix=d&encoding-type=url")
        self.assertEqual(status, 200)
        self.assertIn(b"<Key>d%20e%2Bf</Key>", body)
        v1 = self.s3.list_objects(Bucket="lists", Marker="b/1", MaxKeys=2)
        self.assertEqual([o["Key"] for o in v1["Contents"]], ["c", "d e+f"])
        self.assertTrue(v1["IsTruncated"])
        v1_pages = list(self.s3.get_paginator("list_objects").paginate(
            Bucket="lists", PaginationConfig={"PageSize": 4}))
        self.assertEqual(sum(len(p["Contents"]) for p in v1_pages), len(keys))
        empty = self.s3.list_objects_v2(Bucket="lists", MaxKeys=0)
        self.assertNotIn("Contents", empty)

    # --- multipart -----------------------------------------------------------------------------

    def test_multipart_upload_complete_list_and_abort(self):
        self.bucket("multi")
        part1 = os.urandom(5 * MIB)
        part2 = b"tail" * 1000
        upload = self.s3.create_multipart_upload(Bucket="multi", Key="big", ContentType="x/y",
                                                 Metadata={"k": "v"})
        upload_id = upload["UploadId"]
        e1 = self.s3.upload_part(Bucket="multi", Key="big", UploadId=upload_id, PartNumber=1,
                                 Body=part1)["ETag"]
        e2 = self.s3.upload_part(Bucket="multi", Key="big", UploadId=upload_id, PartNumber=2,
                                 Body=part2)["ETag"]
        self.assertEqual(e1, f'"{md5_hex(part1)}"')
        parts = self.s3.list_parts(Bucket="multi", Key="big", UploadId=upload_id)["Parts"]
        self.assertEqual([(p["PartNumber"], p["Size"]) for p in parts],
                         [(1, len(part1)), (2, len(part2))])
        uploads = self.s3.list_multipart_uploads(Bucket="multi")["Uploads"]
        self.assertEqual([(u["Key"], u["UploadId"]) for u in uploads], [("big", upload_id)])
        err = self.error(self.s3.complete_multipart_upload, Bucket="multi", Key="big",
                         UploadId=upload_id, MultipartUpload={"Parts": [
                             {"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": '"00"'}]})
        self.assertEqual(err["Error"]["Code"], "InvalidPart")
        err = self.error(self.s3.complete_multipart_upload, Bucket="multi", Key="big",
                         UploadId=upload_id, MultipartUpload={"Parts": [
                             {"PartNumber": 2, "ETag": e2}, {"PartNumber": 1, "ETag": e1}]})
        self.assertEqual(err["Error"]["Code"], "InvalidPartOrder")
        done = self.s3.complete_multipart_upload(
            Bucket="multi", Key="big", UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1},
                                       {"PartNumber": 2, "ETag": e2}]})
        expected = hashlib.md5(hashlib.md5(part1).digest() + hashlib.md5(part2).digest())
        self.assertEqual(done["ETag"], f'"{expected.hexdigest()}-2"')
        got = self.s3.get_object(Bucket="multi", Key="big")
        self.assertEqual(got["Body"].read(), part1 + part2)
        self.assertEqual((got["ContentType"], got["Metadata"]), ("x/y", {"k": "v"}))
        self.assertEqual(got["ETag"], done["ETag"])

        small = self.s3.create_multipart_upload(Bucket="multi", Key="small")["UploadId"]
        s1 = self.s3.upload_part(Bucket="multi", Key="small", UploadId=small, PartNumber=1,
                                 Body=b"tiny")["ETag"]
        s2 = self.s3.upload_part(Bucket="multi", Key="small", UploadId=small, PartNumber=2,
                                 Body=b"tiny")["ETag"]
        err = self.error(self.s3.complete_multipart_upload, Bucket="multi", Key="small",
                         UploadId=small, MultipartUpload={"Parts": [
                             {"PartNumber": 1, "ETag": s1}, {"PartNumber": 2, "ETag": s2}]})
        self.assertEqual(err["Error"]["Code"], "EntityTooSmall")
        self.s3.abort_multipart_upload(Bucket="multi", Key="small", UploadId=small)
        err = self.error(self.s3.list_parts, Bucket="multi", Key="small", UploadId=small)
        self.assertEqual((err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]),
                         ("NoSuchUpload", 404))

    def test_get_and_head_with_part_number_serve_one_part(self):
        self.bucket("byparts")
        parts = [os.urandom(5 * MIB), os.urandom(5 * MIB + 7), b"the last part"]
        upload = self.s3.create_multipart_upload(Bucket="byparts", Key="m")["UploadId"]
        etags = [self.s3.upload_part(Bucket="byparts", Key="m", UploadId=upload, PartNumber=i + 1,
                                     Body=data)["ETag"] for i, data in enumerate(parts)]
        done = self.s3.complete_multipart_upload(
            Bucket="byparts", Key="m", UploadId=upload,
            MultipartUpload={"Parts": [{"PartNumber": i + 1, "ETag": e}
                                       for i, e in enumerate(etags)]})
        total = sum(len(p) for p in parts)
        offset = 0
        for number, data in enumerate(parts, start=1):
            got = self.s3.get_object(Bucket="byparts", Key="m", PartNumber=number)
            self.assertEqual(got["ResponseMetadata"]["HTTPStatusCode"], 206)
            self.assertEqual(got["ContentRange"],
                             f"bytes {offset}-{offset + len(data) - 1}/{total}")
            self.assertEqual(got["ContentLength"], len(data))
            self.assertEqual(got["PartsCount"], 3)
            self.assertEqual(got["ETag"], done["ETag"])
            self.assertEqual(got["Body"].read(), data)
            head = self.s3.head_object(Bucket="byparts", Key="m", PartNumber=number)
            self.assertEqual(head["ResponseMetadata"]["HTTPStatusCode"], 206)
            self.assertEqual((head["ContentLength"], head["PartsCount"]), (len(data), 3))
            offset += len(data)
        self.assertNotIn("PartsCount", self.s3.head_object(Bucket="byparts", Key="m"))
        err = self.error(self.s3.get_object, Bucket="byparts", Key="m", PartNumber=4)
        self.assertEqual((err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]),
                         ("InvalidPartNumber", 416))
        err = self.error(self.s3.head_object, Bucket="byparts", Key="m", PartNumber=4)
        self.assertEqual(err["ResponseMetadata"]["HTTPStatusCode"], 416)
        err = self.error(self.s3.get_object, Bucket="byparts", Key="m", PartNumber=1,
                         Range="bytes=0-1")
        self.assertEqual((err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]),
                         ("InvalidRequest", 400))
        (status, _, body), _ = self.signed_request("GET", "/byparts/m", query="partNumber=0")
        self.assertEqual(status, 400)
        self.assertIn(b"<Code>InvalidArgument</Code>", body)

        # A single-part object is its own part 1, served as a range of the whole object.
        self.s3.put_object(Bucket="byparts", Key="single", Body=b"0123456789")
        got = self.s3.get_object(Bucket="byparts", Key="single", PartNumber=1)
        self.assertEqual(got["ResponseMetadata"]["HTTPStatusCode"], 206)
        self.assertEqual(got["ContentRange"], "bytes 0-9/10")
        self.assertNotIn("PartsCount", got)
        self.assertEqual(got["Body"].read(), b"0123456789")
        err = self.error(self.s3.get_object, Bucket="byparts", Key="single", PartNumber=2)
        self.assertEqual((err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]),
                         ("InvalidPartNumber", 416))

    def test_multipart_checksums_are_composite_for_every_algorithm(self):
        self.bucket("mpsums")

        def raw_checksum(algorithm, data):
            if algorithm == "CRC32":
                return zlib.crc32(data).to_bytes(4, "big")
            if algorithm == "CRC32C":
                return crt_checksums.crc32c(data).to_bytes(4, "big")
            return hashlib.new(algorithm.lower(), data).digest()

        parts = [os.urandom(5 * MIB), b"tail of the object"]
        for algorithm in ("CRC32", "CRC32C", "SHA1", "SHA256"):
            key = f"obj-{algorithm}"
            field = f"Checksum{algorithm}"
            created = self.s3.create_multipart_upload(Bucket="mpsums", Key=key,
                                                      ChecksumAlgorithm=algorithm)
            self.assertEqual(created.get("ChecksumAlgorithm"), algorithm)
            upload = created["UploadId"]
            listed = []
            for number, data in enumerate(parts, start=1):
                put = self.s3.upload_part(Bucket="mpsums", Key=key, UploadId=upload,
                                          PartNumber=number, Body=data,
                                          ChecksumAlgorithm=algorithm)
                expected = base64.b64encode(raw_checksum(algorithm, data)).decode()
                self.assertEqual(put.get(field), expected)
                listed.append({"PartNumber": number, "ETag": put["ETag"], field: put[field]})
            composite = base64.b64encode(raw_checksum(algorithm, b"".join(
                raw_checksum(algorithm, p) for p in parts))).decode() + "-2"

            err = self.error(self.s3.complete_multipart_upload, Bucket="mpsums", Key=key,
                             UploadId=upload, MultipartUpload={"Parts": [
                                 {"PartNumber": p["PartNumber"], "ETag": p["ETag"]}
                                 for p in listed]})
            self.assertEqual(err["Error"]["Code"], "InvalidRequest")
            wrong = [dict(listed[0]), listed[1]]
            wrong[0][field] = base64.b64encode(raw_checksum(algorithm, b"other")).decode()
            err = self.error(self.s3.complete_multipart_upload, Bucket="mpsums", Key=key,
                             UploadId=upload, MultipartUpload={"Parts": wrong})
            self.assertEqual(err["Error"]["Code"], "InvalidPart")

            done = self.s3.complete_multipart_upload(Bucket="mpsums", Key=key, UploadId=upload,
                                                     MultipartUpload={"Parts": listed})
            self.assertEqual(done.get(field), composite, algorithm)
            head = self.s3.head_object(Bucket="mpsums", Key=key, ChecksumMode="ENABLED")
            self.assertEqual(head.get(field), composite)
            self.assertEqual(head["ResponseMetadata"]["HTTPHeaders"].get("x-amz-checksum-type"),
                             "COMPOSITE")
            got = self.s3.get_object(Bucket="mpsums", Key=key, ChecksumMode="ENABLED")
            self.assertEqual(got.get(field), composite)
            self.assertEqual(got["Body"].read(), b"".join(parts))
            self.assertNotIn(field, self.s3.head_object(Bucket="mpsums", Key=key))
            # One part with checksum mode: that part's own checksum (botocore verifies the body).
            part = self.s3.get_object(Bucket="mpsums", Key=key, PartNumber=2,
                                      ChecksumMode="ENABLED")
            self.assertEqual(part.get(field), listed[1][field])
            self.assertEqual(part["Body"].read(), parts[1])

        # Parts sent without a checksum header still get the upload's algorithm.
        upload = self.s3.create_multipart_upload(Bucket="mpsums", Key="implicit",
                                                 ChecksumAlgorithm="CRC32")["UploadId"]
        (status, headers, body), _ = self.signed_request(
            "PUT", "/mpsums/implicit", b"no header", query=f"partNumber=1&uploadId={upload}")
        self.assertEqual(status, 200, body)
        crc = base64.b64encode(zlib.crc32(b"no header").to_bytes(4, "big")).decode()
        self.assertEqual(headers.get("x-amz-checksum-crc32"), crc)
        self.s3.abort_multipart_upload(Bucket="mpsums", Key="implicit", UploadId=upload)

    def test_large_bodies_stream_past_the_json_limit(self):
        self.bucket("large")
        data = os.urandom(24 * MIB)  # larger than the 16 MiB JSON body limit
        path = os.path.join(self.tmp, "large.bin")
        with open(path, "wb") as f:
            f.write(data)
        self.s3.put_object(Bucket="large", Key="one-shot", Body=data)
        got = self.s3.get_object(Bucket="large", Key="one-shot")["Body"].read()
        self.assertEqual(md5_hex(got), md5_hex(data))
        config = TransferConfig(multipart_threshold=8 * MIB, multipart_chunksize=8 * MIB)
        self.s3.upload_file(path, "large", "multi", Config=config)
        out = os.path.join(self.tmp, "large.out")
        self.s3.download_file("large", "multi", out, Config=config)
        with open(out, "rb") as f:
            self.assertEqual(md5_hex(f.read()), md5_hex(data))
        self.assertTrue(self.s3.head_object(Bucket="large", Key="multi")["ETag"].endswith('-3"'))

    # --- auth and checksums --------------------------------------------------------------------

    def test_presigned_urls_work_with_curl(self):
        self.bucket("presign")
        self.s3.put_object(Bucket="presign", Key="p/q.txt", Body=b"presigned!")
        # Debian's botocore presigns S3 with SigV2 unless told otherwise; Kiln speaks SigV4 only.
        presigner = self.client(signature_version="s3v4")
        url = presigner.generate_presigned_url("get_object", Params={"Bucket": "presign",
                                                                  "Key": "p/q.txt"},
                                             ExpiresIn=300)
        out = subprocess.run(["curl", "-sf", url], capture_output=True, check=True)
        self.assertEqual(out.stdout, b"presigned!")
        put_url = presigner.generate_presigned_url("put_object", Params={"Bucket": "presign",
                                                                      "Key": "up.txt"},
                                                 ExpiresIn=300)
        src = os.path.join(self.tmp, "up.txt")
        with open(src, "wb") as f:
            f.write(b"uploaded by curl")
        subprocess.run(["curl", "-sf", "-X", "PUT", "--upload-file", src, put_url], check=True)
        self.assertEqual(self.s3.get_object(Bucket="presign", Key="up.txt")["Body"].read(),
                         b"uploaded by curl")
        tampered = url.replace("q.txt", "r.txt")
        out = subprocess.run(["curl", "-s", tampered], capture_output=True)
        self.assertIn(b"<Code>SignatureDoesNotMatch</Code>", out.stdout)

    def test_bad_credentials_are_rejected_with_s3_codes(self):
        self.bucket("authz")
        bad = boto3.client("s3", endpoint_url=self.server.endpoint, region_name="us-east-1",
                           aws_access_key_id=self.creds["access_key_id"],
                           aws_secret_access_key="wrong" * 8)
        err = self.error(bad.list_objects_v2, Bucket="authz")
        self.assertEqual((err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]),
                         ("SignatureDoesNotMatch", 403))
        unknown = boto3.client("s3", endpoint_url=self.server.endpoint, region_name="us-east-1",
                               aws_access_key_id="AKIANOTAKEY000000000",
                               aws_secret_access_key="x" * 40)
        err = self.error(unknown.list_buckets)
        self.assertEqual(err["Error"]["Code"], "InvalidAccessKeyId")
        status, _, body = self.send_raw("GET", "/authz", b"", {})
        self.assertEqual(status, 403)
        self.assertIn(b"<Code>AccessDenied</Code>", body)

    def test_content_md5_and_checksum_headers_are_verified(self):
        self.bucket("sums")
        data = b"123456789"
        put = self.s3.put_object(Bucket="sums", Key="sha", Body=data, ChecksumAlgorithm="SHA256")
        self.assertEqual(put.get("ChecksumSHA256"),
                         base64.b64encode(hashlib.sha256(data).digest()).decode())
        head = self.s3.head_object(Bucket="sums", Key="sha", ChecksumMode="ENABLED")
        self.assertEqual(head.get("ChecksumSHA256"), put["ChecksumSHA256"])
        crc32c = base64.b64encode(bytes.fromhex("e3069283")).decode()
        (status, headers, _), _ = self.signed_request(
            "PUT", "/sums/crc", data, {"x-amz-checksum-crc32c": crc32c})
        self.assertEqual(status, 200)
        self.assertEqual(headers.get("x-amz-checksum-crc32c"), crc32c)
        (status, _, body), _ = self.signed_request(
            "PUT", "/sums/bad-crc", data, {"x-amz-checksum-crc32": "AAAAAA=="})
        self.assertEqual(status, 400)
        self.assertIn(b"<Code>BadDigest</Code>", body)
        wrong_md5 = base64.b64encode(hashlib.md5(b"other").digest()).decode()
        (status, _, body), _ = self.signed_request("PUT", "/sums/bad-md5", data,
                                                   {"Content-MD5": wrong_md5})
        self.assertEqual(status, 400)
        self.assertIn(b"<Code>BadDigest</Code>", body)
        (status, _, body), _ = self.signed_request("PUT", "/sums/bad-md5", data,
                                                   {"Content-MD5": "nonsense"})
        self.assertIn(b"<Code>InvalidDigest</Code>", body)
        (status, _, body), _ = self.signed_request("PUT", "/sums/bad-sha", data,
                                                   payload_hash="0" * 64)
        self.assertIn(b"<Code>XAmzContentSHA256Mismatch</Code>", body)
        keys = [o["Key"] for o in self.s3.list_objects_v2(Bucket="sums")["Contents"]]
        self.assertEqual(keys, ["crc", "sha"])  # nothing stored for the failures

    def test_aws_chunked_signed_upload_verifies_chunk_signatures(self):
        self.bucket("chunked")
        chunks = [os.urandom(64 * 1024), os.urandom(1000), b""]

        def upload(key, tamper=False):
            data = b"".join(chunks)
            _, _, body, headers = self.chunked_body(key, chunks, len(data), tamper)
            return self.send_raw("PUT", f"/chunked/{key}", body, headers)

        status, _, body = upload("good")
        self.assertEqual(status, 200, body)
        got = self.s3.get_object(Bucket="chunked", Key="good")
        self.assertEqual(got["Body"].read(), b"".join(chunks))
        self.assertNotIn("ContentEncoding", got)
        status, _, body = upload("bad", tamper=True)
        self.assertEqual(status, 403)
        self.assertIn(b"<Code>SignatureDoesNotMatch</Code>", body)
        err = self.error(self.s3.head_object, Bucket="chunked", Key="bad")
        self.assertEqual(err["Error"]["Code"], "404")

    def chunked_body(self, key, chunks, decoded_length, tamper):
        """Builds a STREAMING-AWS4-HMAC-SHA256-PAYLOAD request: seed signature from botocore's
        signer, then the chunk signature chain."""
        headers = {"Content-Encoding": "aws-chunked",
                   "X-Amz-Decoded-Content-Length": str(decoded_length),
                   "X-Amz-Content-SHA256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"}
        framed_length = sum(len(f"{len(c):x};chunk-signature=".encode()) + 64 + 4 + len(c)
                            for c in chunks)
        headers["Content-Length"] = str(framed_length)
        request = botocore.awsrequest.AWSRequest(
            method="PUT", url=f"http://127.0.0.1:{self.port}/chunked/{key}", headers=headers)
        creds = botocore.credentials.Credentials(self.creds["access_key_id"],
                                                 self.creds["secret_access_key"])
        botocore.auth.SigV4Auth(creds, "s3", self.creds["region"]).add_auth(request)
        signed = dict(request.headers.items())
        seed = signed["Authorization"].rsplit("Signature=", 1)[1]
        amz_date = signed["X-Amz-Date"]
        scope = f"{amz_date[:8]}/{self.creds['region']}/s3/aws4_request"
        key_bytes = self.signing_key(amz_date[:8])
        previous = seed
        body = b""
        empty = hashlib.sha256(b"").hexdigest()
        for chunk in chunks:
            to_sign = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, previous, empty,
                                 hashlib.sha256(chunk).hexdigest()])
            signature = hmac.new(key_bytes, to_sign.encode(), hashlib.sha256).hexdigest()
            sent = chunk
            if tamper and chunk:
                sent = bytes([chunk[0] ^ 1]) + chunk[1:]
            body += f"{len(chunk):x};chunk-signature={signature}\r\n".encode() + sent + b"\r\n"
            previous = signature
        self.assertEqual(len(body), framed_length)
        return amz_date, seed, body, signed

    def test_unsigned_trailer_upload_with_chunked_transfer_encoding(self):
        self.bucket("trailer")
        data = os.urandom(100_000)
        crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()

        def put(key, checksum):
            framed = (f"{len(data):x}\r\n".encode() + data + b"\r\n0\r\n" +
                      f"x-amz-checksum-crc32:{checksum}\r\n\r\n".encode())
            headers = {"Content-Encoding": "aws-chunked", "X-Amz-Trailer": "x-amz-checksum-crc32",
                       "X-Amz-Decoded-Content-Length": str(len(data)),
                       "Transfer-Encoding": "chunked", "Expect": "100-continue"}
            request = botocore.awsrequest.AWSRequest(
                method="PUT", url=f"http://127.0.0.1:{self.port}/trailer/{key}",
                headers=dict(headers, **{
                    "X-Amz-Content-SHA256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER"}))
            creds = botocore.credentials.Credentials(self.creds["access_key_id"],
                                                     self.creds["secret_access_key"])
            botocore.auth.SigV4Auth(creds, "s3", self.creds["region"]).add_auth(request)
            return self.send_raw("PUT", f"/trailer/{key}", framed, dict(request.headers.items()))

        status, headers, body = put("good", crc)
        self.assertEqual(status, 200, body)
        self.assertEqual(headers.get("x-amz-checksum-crc32"), crc)
        self.assertEqual(self.s3.get_object(Bucket="trailer", Key="good")["Body"].read(), data)
        status, _, body = put("bad", "AAAAAA==")
        self.assertEqual(status, 400)
        self.assertIn(b"<Code>BadDigest</Code>", body)
        self.assertEqual([o["Key"] for o in self.s3.list_objects_v2(Bucket="trailer")["Contents"]],
                         ["good"])

    # --- addressing ----------------------------------------------------------------------------

    def test_virtual_host_style_requests(self):
        self.bucket("vhost")
        host = f"vhost.localhost:{self.port}"
        (status, _, _), _ = self.signed_request("PUT", "/v/key.txt", b"virtual", host=host)
        self.assertEqual(status, 200)
        self.assertEqual(self.s3.get_object(Bucket="vhost", Key="v/key.txt")["Body"].read(),
                         b"virtual")
        (status, _, body), _ = self.signed_request("GET", "/", host=host, query="list-type=2")
        self.assertEqual(status, 200)
        self.assertIn(b"<Name>vhost</Name>", body)
        self.assertIn(b"<Key>v/key.txt</Key>", body)
        # boto3 with virtual addressing, reaching the server as its HTTP proxy.
        virtual = self.client(endpoint=f"http://localhost:{self.port}",
                              s3={"addressing_style": "virtual"},
                              proxies={"http": self.server.endpoint})
        virtual.put_object(Bucket="vhost", Key="boto", Body=b"via boto3")
        self.assertEqual(virtual.get_object(Bucket="vhost", Key="boto")["Body"].read(),
                         b"via boto3")

    # --- STS -----------------------------------------------------------------------------------

    def test_sts_get_caller_identity_with_boto3_and_aws_cli(self):
        sts = boto3.client("sts", endpoint_url=self.server.endpoint,
                           region_name=self.creds["region"],
                           aws_access_key_id=self.creds["access_key_id"],
                           aws_secret_access_key=self.creds["secret_access_key"])
        identity = sts.get_caller_identity()
        account = self.creds.get("account_id", "000000000000")
        self.assertEqual(identity["Account"], account)
        self.assertEqual(identity["UserId"], self.creds["access_key_id"])
        self.assertEqual(identity["Arn"], f"arn:aws:iam::{account}:user/kiln")
        out = subprocess.run([AWS_CLI, "sts", "get-caller-identity", "--endpoint-url",
                              self.server.endpoint], env=self.server.env(), capture_output=True,
                             check=True)
        self.assertEqual(json.loads(out.stdout)["Account"], account)
        bad = boto3.client("sts", endpoint_url=self.server.endpoint, region_name="us-east-1",
                           aws_access_key_id="AKIANOTAKEY000000000", aws_secret_access_key="x" * 40)
        err = self.error(bad.get_caller_identity)
        self.assertEqual(err["Error"]["Code"], "InvalidClientTokenId")

    def test_sagemaker_json_api_still_answers_on_the_same_port(self):
        sm = self.server.client()
        self.assertEqual(sm.list_processing_jobs()["ProcessingJobSummaries"], [])


if __name__ == "__main__":
    unittest.main()
