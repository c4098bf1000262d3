"""Real S3 clients against Kiln's embedded S3 API on a real `kiln server`: the AWS CLI v2 (cp with a
100 MiB multipart upload, sync of a unicode tree, ls, rm, mb, rb), boto3 (upload_file and
download_file in parts, paginators over 1200 keys, presigned URLs fetched with curl, metadata,
errors), rclone, and the AWS SDK for JavaScript v3 (aws-chunked bodies with CRC32 trailers).

Every round trip is checked byte for byte (SHA-256 of what went up against what came back)."""
import concurrent.futures
import hashlib
import json
import os
import re
import shutil
import subprocess
import unittest

import boto3
import boto3.s3.transfer
import botocore.config
import botocore.exceptions

from kiln_harness import AWS_CLI, SOURCE_DIR, KilnTestCase

MIB = 1024 * 1024
TEST_TOOLS = os.environ.get("KILN_TEST_TOOLS_DIR") or os.path.join(SOURCE_DIR, "build", "test-tools")
JS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "js")
RCLONE = shutil.which("rclone") or "/usr/bin/rclone"
CURL = shutil.which("curl") or "/usr/bin/curl"

# Names that need percent-encoding in URLs and in SigV4's canonical request.
AWKWARD_NAMES = [
    "plain.txt",
    "dir1/nested.txt",
    "dir1/sub/deeper/data.bin",
    "ünïcødé/日本語 ファイル.txt",
    "emoji-🙂/smile.txt",
    "spaces and symbols/a+b=c&d;e,f@g$h!.txt",
    "spaces and symbols/100% done (final).txt",
    "tilde~dir/it's-quoted.txt",
    "empty/zero-bytes",
]


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(MIB), b""):
            digest.update(block)
    return digest.hexdigest()


def write_random_file(path, size, block=MIB):
    """Writes `size` random bytes; returns their SHA-256."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    digest = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left:
            data = os.urandom(min(block, left))
            f.write(data)
            digest.update(data)
            left -= len(data)
    return digest.hexdigest()


def multipart_etag(path, part_size):
    """The ETag S3 gives an object uploaded from `path` in parts of `part_size` bytes."""
    md5s = []
    with open(path, "rb") as f:
        for part in iter(lambda: f.read(part_size), b""):
            md5s.append(hashlib.md5(part).digest())
    return f'"{hashlib.md5(b"".join(md5s)).hexdigest()}-{len(md5s)}"'


def make_tree(root, names=AWKWARD_NAMES, mtime=1_600_000_000):
    """Writes one small file per relative name (zero bytes for names containing 'zero');
    all get the same old mtime, so sync decisions never depend on clock granularity."""
    for i, name in enumerate(names):
        path = os.path.join(root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        data = b"" if "zero" in name else f"{i}: {name}\n".encode() * (i + 1)
        with open(path, "wb") as f:
            f.write(data)
        os.utime(path, (mtime, mtime))


def tree_hashes(root):
    """{relative path: SHA-256} of every file below root."""
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            out[os.path.relpath(path, root)] = sha256_file(path)
    return out


class S3ClientTestCase(KilnTestCase):
    """A fresh `kiln server` per test, with a boto3 S3 client and a scratch dir."""

    def setUp(self):
        super().setUp()
        self.work = os.path.join(self.tmp, "work")
        os.makedirs(self.work)
        self.region = self.server.credentials["region"]
        self.s3 = self.server.client(
            "s3", s3={"addressing_style": "path"}, signature_version="s3v4")
        self.addCleanup(self.s3.close)

    def create_bucket(self, name):
        kwargs = {"Bucket": name}
        if self.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        self.s3.create_bucket(**kwargs)

    def keys(self, bucket, prefix=""):
        paginator = self.s3.get_paginator("list_objects_v2")
        return [o["Key"] for page in paginator.paginate(Bucket=bucket, Prefix=prefix)
                for o in page.get("Contents", [])]

    def run_tool(self, argv, env, timeout=300, check=True, input=None):
        result = subprocess.run(argv, env=env, capture_output=True, timeout=timeout, input=input)
        if check and result.returncode != 0:
            self.fail(f"{argv[0]} {' '.join(argv[1:4])}... exited {result.returncode}:\n"
                      f"stdout: {result.stdout.decode(errors='replace')[-3000:]}\n"
                      f"stderr: {result.stderr.decode(errors='replace')[-3000:]}")
        return result


class AwsCliTest(S3ClientTestCase):
    """/usr/bin/aws (v2), which ignores AWS_ENDPOINT_URL: every call passes --endpoint-url."""

    def aws(self, *args, check=True, timeout=300):
        env = self.server.env()
        env["LC_ALL"] = "C.UTF-8"  # unicode keys in `ls` output
        result = self.run_tool([AWS_CLI, "--endpoint-url", self.server.endpoint, *args], env,
                               timeout=timeout, check=check)
        return result.returncode, result.stdout.decode(), result.stderr.decode()

    def ls_recursive(self, url):
        """(size, key) pairs printed by `aws s3 ls --recursive`."""
        _, out, _ = self.aws("s3", "ls", "--recursive", url)
        entries = []
        for line in out.splitlines():
            m = re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +(\d+) (.*)$", line)
            self.assertIsNotNone(m, f"unexpected ls line {line!r}")
            entries.append((int(m.group(1)), m.group(2)))
        return entries

    def test_cp_of_100_mib_goes_multipart_and_comes_back_byte_identical(self):
        self.aws("s3", "mb", "s3://big")
        src = os.path.join(self.work, "big.bin")
        digest = write_random_file(src, 100 * MIB)
        _, out, _ = self.aws("s3", "cp", "--no-progress", src, "s3://big/nested/big.bin")
        self.assertIn("upload: ", out)

        head = self.s3.head_object(Bucket="big", Key="nested/big.bin")
        self.assertEqual(head["ContentLength"], 100 * MIB)
        # The CLI splits anything above its 8 MiB threshold into 8 MiB parts: 13 of them here.
        self.assertEqual(head["ETag"], multipart_etag(src, 8 * MIB))

        dest = os.path.join(self.work, "down", "big.bin")
        os.makedirs(os.path.dirname(dest))
        self.aws("s3", "cp", "--no-progress", "s3://big/nested/big.bin", dest)
        self.assertEqual(sha256_file(dest), digest)
        self.assertEqual(self.ls_recursive("s3://big"), [(100 * MIB, "nested/big.bin")])

    def test_sync_uploads_a_nested_unicode_tree_that_ls_rm_and_sync_back_agree_on(self):
        self.aws("s3", "mb", "s3://trees")
        src = os.path.join(self.work, "src")
        make_tree(src)
        _, out, _ = self.aws("s3", "sync", "--no-progress", src, "s3://trees/t/")
        self.assertEqual(out.count("upload: "), len(AWKWARD_NAMES), out)

        expected = sorted((os.path.getsize(os.path.join(src, n)), "t/" + n) for n in AWKWARD_NAMES)
        self.assertEqual(sorted(self.ls_recursive("s3://trees/t/")), expected)
        # Listings are sorted bytewise by UTF-8 key.
        keys = [k for _, k in self.ls_recursive("s3://trees")]
        self.assertEqual(keys, sorted(keys, key=lambda k: k.encode()))

        # Nothing changed, so a second sync uploads nothing (sizes and times agree).
        _, out, _ = self.aws("s3", "sync", "--no-progress", src, "s3://trees/t/")
        self.assertEqual(out.strip(), "")

        # One file changes size, one goes away: sync --delete sends exactly those two changes.
        with open(os.path.join(src, "dir1/nested.txt"), "ab") as f:
            f.write(b"more\n")
        os.unlink(os.path.join(src, AWKWARD_NAMES[3]))
        _, out, _ = self.aws("s3", "sync", "--no-progress", "--delete", src, "s3://trees/t/")
        lines = sorted(out.strip().splitlines())
        self.assertEqual(len(lines), 2, out)
        self.assertTrue(lines[0].startswith("delete: s3://trees/t/" + AWKWARD_NAMES[3]), lines)
        self.assertTrue(lines[1].startswith("upload: "), lines)
        self.assertIn("dir1/nested.txt", lines[1])

        back = os.path.join(self.work, "back")
        self.aws("s3", "sync", "--no-progress", "s3://trees/t/", back)
        self.assertEqual(tree_hashes(back), tree_hashes(src))

        _, out, _ = self.aws("s3", "rm", "--recursive", "s3://trees/t/")
        self.assertEqual(out.count("delete: "), len(AWKWARD_NAMES) - 1, out)
        self.assertEqual(self.ls_recursive("s3://trees"), [])
        self.assertEqual(self.keys("trees"), [])

    def test_mb_and_rb_create_and_remove_buckets(self):
        _, out, _ = self.aws("s3", "mb", "s3://made-by-cli")
        self.assertEqual(out.strip(), "make_bucket: made-by-cli")
        _, out, _ = self.aws("s3", "ls")
        self.assertRegex(out, r"(?m)^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d made-by-cli$")
        self.s3.head_bucket(Bucket="made-by-cli")

        # A bucket with an object in it is not removed...
        self.s3.put_object(Bucket="made-by-cli", Key="x", Body=b"x")
        code, _, err = self.aws("s3", "rb", "s3://made-by-cli", check=False)
        self.assertNotEqual(code, 0)
        self.assertIn("BucketNotEmpty", err)
        self.s3.head_bucket(Bucket="made-by-cli")

        # ...until --force empties it first.
        _, out, _ = self.aws("s3", "rb", "--force", "s3://made-by-cli")
        self.assertIn("remove_bucket: made-by-cli", out)
        _, out, _ = self.aws("s3", "ls")
        self.assertNotIn("made-by-cli", out)
        with self.assertRaises(botocore.exceptions.ClientError) as e:
            self.s3.head_bucket(Bucket="made-by-cli")
        self.assertEqual(e.exception.response["Error"]["Code"], "404")

        code, _, err = self.aws("s3", "ls", "s3://made-by-cli", check=False)
        self.assertNotEqual(code, 0)
        self.assertIn("NoSuchBucket", err)


class Boto3Test(S3ClientTestCase):
    """Debian's boto3 (1.26) with path-style addressing and SigV4."""

    def test_upload_file_and_download_file_in_5_mib_parts_round_trip(self):
        self.create_bucket("transfers")
        src = os.path.join(self.work, "data.bin")
        digest = write_random_file(src, 23 * MIB)
        config = boto3.s3.transfer.TransferConfig(
            multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB, max_concurrency=4)
        self.s3.upload_file(src, "transfers", "parts/data.bin", Config=config, ExtraArgs={
            "ContentType": "application/x-kiln-parts", "Metadata": {"source": "upload_file"}})

        head = self.s3.head_object(Bucket="transfers", Key="parts/data.bin")
        self.assertEqual(head["ContentLength"], 23 * MIB)
        self.assertEqual(head["ETag"], multipart_etag(src, 5 * MIB))  # 5 parts: 5+5+5+5+3 MiB
        self.assertEqual(head["ContentType"], "application/x-kiln-parts")
        self.assertEqual(head["Metadata"], {"source": "upload_file"})

        dest = os.path.join(self.work, "down.bin")
        self.s3.download_file("transfers", "parts/data.bin", dest, Config=config)  # ranged GETs
        self.assertEqual(sha256_file(dest), digest)

        ranged = self.s3.get_object(Bucket="transfers", Key="parts/data.bin",
                                    Range=f"bytes={5 * MIB - 3}-{5 * MIB + 2}")
        self.assertEqual(ranged["ResponseMetadata"]["HTTPStatusCode"], 206)
        self.assertEqual(ranged["ContentRange"], f"bytes {5 * MIB - 3}-{5 * MIB + 2}/{23 * MIB}")
        with open(src, "rb") as f:
            f.seek(5 * MIB - 3)
            self.assertEqual(ranged["Body"].read(), f.read(6))

    def test_list_objects_v2_paginator_over_1200_keys_with_prefix_and_delimiter(self):
        self.create_bucket("many")
        keys = [f"data/d{i // 100:02d}/k{i % 100:03d}" for i in range(1200)]
        extra = ["data/top.txt", "data0", "other/x"]
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda k: self.s3.put_object(Bucket="many", Key=k, Body=k.encode()),
                          keys + extra))
        data_keys = sorted(keys + ["data/top.txt"])
        paginator = self.s3.get_paginator("list_objects_v2")

        pages = list(paginator.paginate(Bucket="many", Prefix="data/"))
        self.assertEqual([p["KeyCount"] for p in pages], [1000, 201])
        self.assertEqual([p["IsTruncated"] for p in pages], [True, False])
        self.assertEqual([o["Key"] for p in pages for o in p["Contents"]], data_keys)
        self.assertTrue(all(o["Size"] == len(o["Key"]) for p in pages for o in p["Contents"]))

        pages = list(paginator.paginate(Bucket="many", Prefix="data/",
                                        PaginationConfig={"PageSize": 250}))
        self.assertEqual([p["KeyCount"] for p in pages], [250, 250, 250, 250, 201])
        self.assertEqual([o["Key"] for p in pages for o in p["Contents"]], data_keys)

        pages = list(paginator.paginate(Bucket="many", Prefix="data/", Delimiter="/"))
        self.assertEqual(len(pages), 1)
        self.assertEqual([c["Prefix"] for c in pages[0]["CommonPrefixes"]],
                         [f"data/d{j:02d}/" for j in range(12)])
        self.assertEqual([o["Key"] for o in pages[0]["Contents"]], ["data/top.txt"])

        # Small pages: each common prefix is listed once, on exactly one page.
        pages = list(paginator.paginate(Bucket="many", Prefix="data/", Delimiter="/",
                                        PaginationConfig={"PageSize": 5}))
        self.assertEqual(len(pages), 3)
        prefixes = [c["Prefix"] for p in pages for c in p.get("CommonPrefixes", [])]
        self.assertEqual(prefixes, [f"data/d{j:02d}/" for j in range(12)])
        self.assertEqual([o["Key"] for p in pages for o in p.get("Contents", [])], ["data/top.txt"])

        top = self.s3.list_objects_v2(Bucket="many", Delimiter="/")
        self.assertEqual([c["Prefix"] for c in top["CommonPrefixes"]], ["data/", "other/"])
        self.assertEqual([o["Key"] for o in top["Contents"]], ["data0"])

        everything = keys + extra
        for start in range(0, len(everything), 1000):
            batch = everything[start:start + 1000]
            deleted = self.s3.delete_objects(Bucket="many", Delete={
                "Objects": [{"Key": k} for k in batch], "Quiet": True})
            self.assertEqual(deleted.get("Errors", []), [])
        self.assertEqual(self.keys("many"), [])

    def curl(self, *args):
        """(HTTP status, body) of a curl request."""
        out = os.path.join(self.work, "curl.out")
        result = self.run_tool([CURL, "-sS", "-o", out, "-w", "%{http_code}", *args],
                               dict(os.environ), timeout=120)
        with open(out, "rb") as f:
            return int(result.stdout), f.read()

    def test_presigned_urls_work_with_curl_and_tampered_ones_are_refused(self):
        self.create_bucket("shared")
        body = os.urandom(3 * MIB + 5)
        self.s3.put_object(Bucket="shared", Key="reports/q1 ü.bin", Body=body)
        self.s3.put_object(Bucket="shared", Key="reports/other.bin", Body=b"not yours")
        url = self.s3.generate_presigned_url(
            "get_object", Params={"Bucket": "shared", "Key": "reports/q1 ü.bin"}, ExpiresIn=600)
        self.assertIn("X-Amz-Signature=", url)

        status, got = self.curl(url)
        self.assertEqual(status, 200)
        self.assertEqual(hashlib.sha256(got).hexdigest(), hashlib.sha256(body).hexdigest())

        signature = re.search(r"X-Amz-Signature=([0-9a-f]{64})", url).group(1)
        flipped = signature[:-1] + ("0" if signature[-1] != "0" else "1")
        tampered = {
            "signature": url.replace(signature, flipped),
            "key": url.replace("q1%20%C3%BC.bin", "other.bin"),
            "expiry": url.replace("X-Amz-Expires=600", "X-Amz-Expires=604800"),
        }
        self.assertNotEqual(tampered["key"], url)
        for what, bad in tampered.items():
            status, got = self.curl(bad)
            self.assertEqual(status, 403, f"{what}: {got[:300]!r}")
            self.assertIn(b"<Code>SignatureDoesNotMatch</Code>", got, what)

        # A presigned PUT: curl uploads a file with no AWS credentials of its own.
        src = os.path.join(self.work, "upload.bin")
        digest = write_random_file(src, 2 * MIB + 1)
        put_url = self.s3.generate_presigned_url(
            "put_object", Params={"Bucket": "shared", "Key": "incoming/by-curl.bin"},
            ExpiresIn=600)
        status, got = self.curl("-T", src, put_url)
        self.assertEqual(status, 200, got[:300])
        back = self.s3.get_object(Bucket="shared", Key="incoming/by-curl.bin")["Body"].read()
        self.assertEqual(hashlib.sha256(back).hexdigest(), digest)

    def test_user_metadata_content_type_and_headers_round_trip(self):
        self.create_bucket("meta")
        body = b'{"a": 1}'
        self.s3.put_object(
            Bucket="meta", Key="doc.json", Body=body,
            ContentType="application/json; charset=utf-8",
            ContentDisposition='attachment; filename="doc.json"', CacheControl="max-age=60",
            ContentEncoding="identity",
            Metadata={"owner": "alice", "purpose": "round trip test", "Mixed-Case": "Value"})
        head = self.s3.head_object(Bucket="meta", Key="doc.json")
        got = self.s3.get_object(Bucket="meta", Key="doc.json")
        for response in (head, got):
            self.assertEqual(response["ContentType"], "application/json; charset=utf-8")
            self.assertEqual(response["ContentDisposition"], 'attachment; filename="doc.json"')
            self.assertEqual(response["CacheControl"], "max-age=60")
            self.assertEqual(response["ContentEncoding"], "identity")
            # S3 lower-cases user metadata names.
            self.assertEqual(response["Metadata"],
                             {"owner": "alice", "purpose": "round trip test",
                              "mixed-case": "Value"})
            self.assertEqual(response["ContentLength"], 8)
            self.assertEqual(response["ETag"], f'"{hashlib.md5(body).hexdigest()}"')
        self.assertEqual(got["Body"].read(), body)

    def test_missing_buckets_and_keys_and_bad_credentials_are_the_s3_errors(self):
        def error_of(call, **kwargs):
            with self.assertRaises(botocore.exceptions.ClientError) as e:
                call(**kwargs)
            return (e.exception.response["ResponseMetadata"]["HTTPStatusCode"],
                    e.exception.response["Error"]["Code"])

        self.assertEqual(error_of(self.s3.head_bucket, Bucket="no-such-bucket"), (404, "404"))
        self.assertEqual(error_of(self.s3.list_objects_v2, Bucket="no-such-bucket"),
                         (404, "NoSuchBucket"))
        self.create_bucket("present")
        self.assertEqual(error_of(self.s3.head_object, Bucket="present", Key="nope"),
                         (404, "404"))
        self.assertEqual(error_of(self.s3.get_object, Bucket="present", Key="nope"),
                         (404, "NoSuchKey"))

        def client_with(access_key, secret_key):
            client = boto3.client(
                "s3", endpoint_url=self.server.endpoint, region_name=self.region,
                aws_access_key_id=access_key, aws_secret_access_key=secret_key,
                config=botocore.config.Config(s3={"addressing_style": "path"},
                                              signature_version="s3v4",
                                              retries={"max_attempts": 1}))
            self.addCleanup(client.close)
            return client

        wrong_secret = client_with(self.server.credentials["access_key_id"], "not-the-secret")
        self.assertEqual(error_of(wrong_secret.list_objects_v2, Bucket="present"),
                         (403, "SignatureDoesNotMatch"))
        unknown_key = client_with("AKIDUNKNOWN000000000", "whatever")
        self.assertEqual(error_of(unknown_key.list_objects_v2, Bucket="present"),
                         (403, "InvalidAccessKeyId"))


class RcloneTest(S3ClientTestCase):
    """rclone (Debian's 1.60) configured entirely through RCLONE_CONFIG_KILN_* variables. It cannot
    run with AWS_CA_BUNDLE set (LoadCustomCABundleError), so that variable is removed."""

    def rclone(self, *args, check=True):
        env = dict(os.environ)
        env.pop("AWS_CA_BUNDLE", None)
        creds = self.server.credentials
        env.update({
            "RCLONE_CONFIG": os.path.join(self.work, "rclone.conf"),  # never the user's config
            "XDG_CACHE_HOME": os.path.join(self.work, "cache"),
            "TZ": "UTC",
            "RCLONE_CONFIG_KILN_TYPE": "s3",
            "RCLONE_CONFIG_KILN_PROVIDER": "Other",
            "RCLONE_CONFIG_KILN_ENV_AUTH": "false",
            "RCLONE_CONFIG_KILN_ACCESS_KEY_ID": creds["access_key_id"],
            "RCLONE_CONFIG_KILN_SECRET_ACCESS_KEY": creds["secret_access_key"],
            "RCLONE_CONFIG_KILN_REGION": self.region,
            "RCLONE_CONFIG_KILN_ENDPOINT": self.server.endpoint,
            "RCLONE_CONFIG_KILN_FORCE_PATH_STYLE": "true",
        })
        result = self.run_tool([RCLONE, *args], env, check=check)
        return result.returncode, result.stdout.decode(), result.stderr.decode()

    def test_copy_lsl_cat_check_sync_and_purge_round_trip(self):
        if not os.access(RCLONE, os.X_OK):
            self.fail("rclone is not installed (scripts/setup.sh installs it)")
        src = os.path.join(self.work, "src")
        make_tree(src)
        big = os.path.join(src, "large/blob.bin")
        digest = write_random_file(big, 12 * MIB + 7)
        os.utime(big, (1_650_000_000.25, 1_650_000_000.25))

        self.rclone("mkdir", "kiln:rcb")
        self.s3.head_bucket(Bucket="rcb")
        # Parts of 5 MiB above a 5 MiB cutoff: the 12 MiB file goes up as a 3-part upload.
        self.rclone("copy", "--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M", src, "kiln:rcb/t")
        head = self.s3.head_object(Bucket="rcb", Key="t/large/blob.bin")
        self.assertEqual(head["ETag"], multipart_etag(big, 5 * MIB))

        # lsl shows every file with its size and its modification time, which rclone keeps in
        # user metadata (X-Amz-Meta-Mtime) and reads back.
        _, out, _ = self.rclone("lsl", "kiln:rcb/t")
        listed = {}
        for line in out.splitlines():
            m = re.match(r"^ *(\d+) (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+) (.*)$", line)
            self.assertIsNotNone(m, f"unexpected lsl line {line!r}")
            listed[m.group(3)] = (int(m.group(1)), m.group(2))
        expected = {n: (os.path.getsize(os.path.join(src, n)), "2020-09-13 12:26:40.000000000")
                    for n in AWKWARD_NAMES}
        expected["large/blob.bin"] = (12 * MIB + 7, "2022-04-15 05:20:00.250000000")
        self.assertEqual(listed, expected)

        _, out, _ = self.rclone("cat", "kiln:rcb/t/" + AWKWARD_NAMES[3])
        with open(os.path.join(src, AWKWARD_NAMES[3]), encoding="utf-8") as f:
            self.assertEqual(out, f.read())
        # `check` compares sizes and MD5 hashes of every file on both sides.
        self.rclone("check", src, "kiln:rcb/t")

        # Change the tree (one file edited, one removed, one added) and sync it.
        with open(os.path.join(src, "plain.txt"), "wb") as f:
            f.write(b"edited\n")
        os.unlink(os.path.join(src, AWKWARD_NAMES[4]))
        with open(os.path.join(src, "dir1/new file ñ.txt"), "wb") as f:
            f.write(b"new\n")
        self.rclone("sync", src, "kiln:rcb/t")
        _, out, _ = self.rclone("lsf", "-R", "--files-only", "kiln:rcb/t")
        self.assertEqual(sorted(out.splitlines()), sorted(tree_hashes(src)))
        self.assertEqual(sorted(self.keys("rcb", "t/")), sorted("t/" + k for k in tree_hashes(src)))

        back = os.path.join(self.work, "back")
        self.rclone("copy", "kiln:rcb/t", back)
        self.assertEqual(tree_hashes(back), tree_hashes(src))
        self.assertEqual(sha256_file(os.path.join(back, "large/blob.bin")), digest)

        self.rclone("purge", "kiln:rcb")
        _, out, _ = self.rclone("lsd", "kiln:")
        self.assertNotIn("rcb", out)
        with self.assertRaises(botocore.exceptions.ClientError):
            self.s3.head_bucket(Bucket="rcb")


class JsSdkTest(S3ClientTestCase):
    """The AWS SDK for JavaScript v3 (@aws-sdk/client-s3 and lib-storage from npm, installed by
    scripts/install-test-tools.sh) running tests/integration/js/s3_round_trip.js."""

    def test_sdk_round_trip_with_aws_chunked_crc32_trailers(self):
        modules = os.path.join(TEST_TOOLS, "node_modules")
        if not os.path.isdir(os.path.join(modules, "@aws-sdk", "client-s3")):
            self.fail(f"@aws-sdk/client-s3 is not in {modules}: run scripts/install-test-tools.sh")
        node = shutil.which("node")
        if node is None:
            self.fail("node is not on PATH")
        work = os.path.join(self.work, "js")
        os.makedirs(work)
        creds = self.server.credentials
        env = dict(os.environ)
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
            env.pop(name, None)
        env.update({
            "NODE_PATH": modules,
            "S3_ENDPOINT": self.server.endpoint,
            "S3_BUCKET": "js-sdk",
            "WORK_DIR": work,
            "AWS_ACCESS_KEY_ID": creds["access_key_id"],
            "AWS_SECRET_ACCESS_KEY": creds["secret_access_key"],
            "AWS_REGION": self.region,
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        })
        result = self.run_tool([node, os.path.join(JS_DIR, "s3_round_trip.js")], env)
        seen = json.loads(result.stdout.decode().strip().splitlines()[-1])

        self.assertIn("aws-chunked", seen["streamed"]["content_encoding"])
        self.assertEqual(seen["streamed"]["trailer"], "x-amz-checksum-crc32")
        self.assertEqual(seen["get_crc32"], seen["streamed"]["put_crc32"])
        self.assertRegex(seen["multipart_etag"], r'^"[0-9a-f]{32}-2"$')
        self.assertEqual(seen["keys"],
                         ["js/big.bin", "js/small.txt", "js/streamed/ünïcode file.bin"])
        self.assertEqual(seen["deleted"], 4)
        # The script deleted its bucket at the end.
        with self.assertRaises(botocore.exceptions.ClientError):
            self.s3.head_bucket(Bucket="js-sdk")


if __name__ == "__main__":
    unittest.main()
