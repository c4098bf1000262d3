// A round trip through an S3 endpoint with the AWS SDK for JavaScript v3, run by
// tests/integration/test_s3_clients.py against a real `kiln server`:
//   CreateBucket; PutObject of a file stream with ChecksumAlgorithm CRC32 (the SDK sends it as an
//   aws-chunked body with the checksum in a trailer); PutObject of an in-memory body (checksum in
//   a header); a 10 MiB multipart upload through @aws-sdk/lib-storage; GetObject with ChecksumMode
//   ENABLED; ListObjectsV2 (paginated); DeleteObjects; DeleteBucket.
// Every step checks what came back and throws on any difference. On success it prints one JSON
// line with what it saw, for the Python test to check again.
//
// Environment: S3_ENDPOINT, S3_BUCKET, WORK_DIR, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_REGION. The SDK is found through NODE_PATH (<repo>/build/test-tools/node_modules).
"use strict";

const assert = require("node:assert/strict");
const crypto = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");

const {
  S3Client,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  paginateListObjectsV2,
} = require("@aws-sdk/client-s3");
const { Upload } = require("@aws-sdk/lib-storage");

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

// CRC-32 (IEEE 802.3, as S3's ChecksumCRC32), base64 of the big-endian 4 bytes.
const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32Base64(buffer) {
  let crc = 0xffffffff;
  for (const byte of buffer) crc = CRC_TABLE[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  const out = Buffer.alloc(4);
  out.writeUInt32BE((crc ^ 0xffffffff) >>> 0);
  return out.toString("base64");
}

const sha256 = (buffer) => crypto.createHash("sha256").update(buffer).digest("hex");
const md5 = (buffer) => crypto.createHash("md5").update(buffer).digest("hex");

async function bodyBytes(response) {
  return Buffer.from(await response.Body.transformToByteArray());
}

async function main() {
  const bucket = env("S3_BUCKET");
  const workDir = env("WORK_DIR");
  const client = new S3Client({
    endpoint: env("S3_ENDPOINT"),
    region: env("AWS_REGION"),
    credentials: {
      accessKeyId: env("AWS_ACCESS_KEY_ID"),
      secretAccessKey: env("AWS_SECRET_ACCESS_KEY"),
    },
    forcePathStyle: true,
    maxAttempts: 1,  // a failure must show, not be retried away
  });

  // Records every request as it goes on the wire (after checksums and signing).
  const sent = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      sent.push({
        command: context.commandName,
        method: args.request.method,
        path: args.request.path,
        headers: { ...args.request.headers },
      });
      return next(args);
    },
    { step: "deserialize", name: "kilnRecordRequests", priority: "low" });
  const lastSent = (command) => sent.filter((r) => r.command === command).at(-1);

  const seen = {};

  // CreateBucket.
  await client.send(new CreateBucketCommand({ Bucket: bucket }));

  // PutObject from a file stream with CRC32: aws-chunked body, checksum in the trailer.
  const streamed = crypto.randomBytes(300 * 1024 + 17);
  const streamedPath = path.join(workDir, "streamed.bin");
  fs.writeFileSync(streamedPath, streamed);
  const streamedKey = "js/streamed/ünïcode file.bin";
  const putStreamed = await client.send(new PutObjectCommand({
    Bucket: bucket,
    Key: streamedKey,
    Body: fs.createReadStream(streamedPath),
    ContentLength: streamed.length,
    ContentType: "application/x-kiln-js",
    Metadata: { origin: "sdk-js-v3" },
    ChecksumAlgorithm: "CRC32",
  }));
  const chunkedRequest = lastSent("PutObjectCommand");
  assert.match(chunkedRequest.headers["content-encoding"], /aws-chunked/);
  assert.equal(chunkedRequest.headers["x-amz-trailer"], "x-amz-checksum-crc32");
  assert.equal(chunkedRequest.headers["x-amz-content-sha256"], "STREAMING-UNSIGNED-PAYLOAD-TRAILER");
  assert.equal(chunkedRequest.headers["x-amz-decoded-content-length"], String(streamed.length));
  assert.equal(putStreamed.ChecksumCRC32, crc32Base64(streamed),
    "PutObject (aws-chunked) answered with a different CRC32");
  assert.equal(putStreamed.ETag, `"${md5(streamed)}"`);
  seen.streamed = {
    content_encoding: chunkedRequest.headers["content-encoding"],
    trailer: chunkedRequest.headers["x-amz-trailer"],
    put_crc32: putStreamed.ChecksumCRC32,
  };

  // PutObject from memory: the SDK puts the CRC32 in an x-amz-checksum-crc32 header.
  const small = Buffer.from("hello from the AWS SDK for JavaScript v3\n");
  const putSmall = await client.send(new PutObjectCommand({
    Bucket: bucket, Key: "js/small.txt", Body: small, ChecksumAlgorithm: "CRC32",
  }));
  assert.equal(lastSent("PutObjectCommand").headers["x-amz-checksum-crc32"], crc32Base64(small));
  assert.equal(putSmall.ChecksumCRC32, crc32Base64(small));

  // GetObject with ChecksumMode ENABLED: the stored CRC32 comes back (and the SDK validates the
  // body against it).
  const got = await client.send(new GetObjectCommand({
    Bucket: bucket, Key: streamedKey, ChecksumMode: "ENABLED",
  }));
  const gotBytes = await bodyBytes(got);
  assert.equal(sha256(gotBytes), sha256(streamed), "GetObject returned different bytes");
  assert.equal(got.ChecksumCRC32, crc32Base64(streamed), "GetObject did not return the CRC32");
  assert.equal(got.ContentType, "application/x-kiln-js");
  assert.deepEqual(got.Metadata, { origin: "sdk-js-v3" });
  assert.equal(got.ContentLength, streamed.length);
  seen.get_crc32 = got.ChecksumCRC32;

  // A 10 MiB multipart upload in 5 MiB parts through lib-storage.
  const big = crypto.randomBytes(10 * 1024 * 1024);
  const upload = new Upload({
    client,
    params: { Bucket: bucket, Key: "js/big.bin", Body: big, ChecksumAlgorithm: "CRC32" },
    partSize: 5 * 1024 * 1024,
    queueSize: 2,
    leavePartsOnError: false,
  });
  const uploaded = await upload.done();
  assert.match(uploaded.ETag, /^"[0-9a-f]{32}-2"$/, `multipart ETag ${uploaded.ETag}`);
  assert.equal(sent.filter((r) => r.command === "UploadPartCommand").length, 2);
  const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: "js/big.bin" }));
  assert.equal(head.ContentLength, big.length);
  assert.equal(head.ETag, uploaded.ETag);
  const bigBack = await bodyBytes(
    await client.send(new GetObjectCommand({ Bucket: bucket, Key: "js/big.bin" })));
  assert.equal(sha256(bigBack), sha256(big), "the multipart object came back different");
  seen.multipart_etag = uploaded.ETag;

  // ListObjectsV2: one page, then paginated two keys at a time.
  const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "js/" }));
  const keys = (listed.Contents || []).map((o) => o.Key);
  assert.deepEqual(keys, ["js/big.bin", "js/small.txt", streamedKey]);
  assert.equal(listed.KeyCount, 3);
  assert.equal(listed.IsTruncated, false);
  const sizes = Object.fromEntries(listed.Contents.map((o) => [o.Key, o.Size]));
  assert.deepEqual(sizes, {
    "js/big.bin": big.length, "js/small.txt": small.length, [streamedKey]: streamed.length,
  });
  const paged = [];
  let pages = 0;
  for await (const page of paginateListObjectsV2(
    { client, pageSize: 2 }, { Bucket: bucket, Prefix: "js/" })) {
    pages++;
    for (const o of page.Contents || []) paged.push(o.Key);
  }
  assert.deepEqual(paged, keys);
  assert.equal(pages, 2);
  const delimited = await client.send(
    new ListObjectsV2Command({ Bucket: bucket, Prefix: "js/", Delimiter: "/" }));
  assert.deepEqual((delimited.CommonPrefixes || []).map((p) => p.Prefix), ["js/streamed/"]);
  assert.deepEqual((delimited.Contents || []).map((o) => o.Key), ["js/big.bin", "js/small.txt"]);
  seen.keys = keys;

  // DeleteObjects (the SDK sends Content-MD5 or a checksum header, as S3 requires), then the
  // bucket is empty and can be deleted.
  const deleted = await client.send(new DeleteObjectsCommand({
    Bucket: bucket,
    Delete: { Objects: [...keys, "js/never-existed"].map((Key) => ({ Key })) },
  }));
  assert.deepEqual((deleted.Deleted || []).map((d) => d.Key).sort(),
    [...keys, "js/never-existed"].sort());
  assert.deepEqual(deleted.Errors || [], []);
  const after = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
  assert.equal(after.KeyCount, 0);
  await client.send(new DeleteBucketCommand({ Bucket: bucket }));
  seen.deleted = (deleted.Deleted || []).length;

  console.log(JSON.stringify(seen));
}

main().catch((error) => {
  const meta = error.$metadata ? ` (HTTP ${error.$metadata.httpStatusCode})` : "";
  console.error(`s3_round_trip.js failed: ${error.name}: ${error.message}${meta}`);
  if (error.$response) console.error(`response: ${JSON.stringify(error.$response.headers)}`);
  if (error.stack) console.error(error.stack);
  process.exit(1);
});
