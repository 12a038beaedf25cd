package org.pathlingrelay.backfill;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.AbortMultipartUploadRequest;
import software.amazon.awssdk.services.s3.model.CompleteMultipartUploadRequest;
import software.amazon.awssdk.services.s3.model.CompletedMultipartUpload;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.CopyObjectRequest;
import software.amazon.awssdk.services.s3.model.CreateMultipartUploadRequest;
import software.amazon.awssdk.services.s3.model.Delete;
import software.amazon.awssdk.services.s3.model.DeleteObjectsRequest;
import software.amazon.awssdk.services.s3.model.ListMultipartUploadsRequest;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Request;
import software.amazon.awssdk.services.s3.model.ObjectIdentifier;
import software.amazon.awssdk.services.s3.model.PutObjectRequest;
import software.amazon.awssdk.services.s3.model.S3Object;
import software.amazon.awssdk.services.s3.model.UploadPartRequest;

/**
 * Staging on S3 ({@code s3://bucket/prefix}), read by Pathling as {@code s3a://bucket/prefix}.
 * Each file streams up as a multipart upload in 8 MiB parts, so memory stays flat whatever the
 * file's size; an upload that is not completed (a crash) leaves no object behind, so Pathling can
 * never import half a file, and leftover parts are aborted when staging starts again.
 */
final class S3Staging implements StagingArea {

  private static final Logger log = LoggerFactory.getLogger(S3Staging.class);
  /** S3's minimum part size is 5 MiB; larger parts mean fewer requests. */
  static final int PART_SIZE = 8 * 1024 * 1024;

  private final S3Client s3;
  private final String bucket;
  private final String prefix;

  S3Staging(S3Client s3, URI location) {
    this.s3 = s3;
    this.bucket = location.getHost();
    String path = location.getPath() == null ? "" : location.getPath().replaceAll("^/+|/+$", "");
    this.prefix = path.isEmpty() ? "" : path + "/";
  }

  private String key(String path) {
    return prefix + path;
  }

  /** Parts of uploads a killed run never completed would otherwise be billed for ever. */
  @Override
  public void abortUnfinished() {
    s3.listMultipartUploadsPaginator(ListMultipartUploadsRequest.builder().bucket(bucket).prefix(prefix).build())
        .uploads()
        .forEach(upload -> {
          log.info("Aborting an unfinished staging upload of s3://{}/{}", bucket, upload.key());
          s3.abortMultipartUpload(AbortMultipartUploadRequest.builder()
              .bucket(bucket).key(upload.key()).uploadId(upload.uploadId()).build());
        });
  }

  @Override
  public StagedFile create(String path) {
    return new Upload(key(path));
  }

  @Override
  public void copy(String from, String to) {
    s3.copyObject(CopyObjectRequest.builder()
        .sourceBucket(bucket).sourceKey(key(from)).destinationBucket(bucket).destinationKey(key(to)).build());
  }

  @Override
  public String urlFor(String path) {
    return "s3a://" + bucket + "/" + key(path);
  }

  @Override
  public void deleteFolder(String folder) {
    // List first, delete after: deleting while paging through a listing can skip keys.
    List<ObjectIdentifier> keys = new ArrayList<>();
    for (S3Object object : s3.listObjectsV2Paginator(
        ListObjectsV2Request.builder().bucket(bucket).prefix(key(folder) + "/").build()).contents()) {
      keys.add(ObjectIdentifier.builder().key(object.key()).build());
    }
    for (int from = 0; from < keys.size(); from += 1000) {
      deleteAll(new ArrayList<>(keys.subList(from, Math.min(keys.size(), from + 1000))));
    }
  }

  private void deleteAll(List<ObjectIdentifier> keys) {
    if (!keys.isEmpty()) {
      s3.deleteObjects(DeleteObjectsRequest.builder().bucket(bucket)
          .delete(Delete.builder().objects(List.copyOf(keys)).build()).build());
      keys.clear();
    }
  }

  /** One object being uploaded, a part at a time. */
  private final class Upload implements StagedFile {
    private final String key;
    private final ByteArrayOutputStream buffer = new ByteArrayOutputStream(PART_SIZE + 64 * 1024);
    private final Writer writer;
    private final List<CompletedPart> parts = new ArrayList<>();
    private String uploadId;
    private boolean committed;

    Upload(String key) {
      this.key = key;
      this.writer = new OutputStreamWriter(new OutputStream() {
        @Override
        public void write(int b) throws IOException {
          buffer.write(b);
          flushPartIfFull();
        }

        @Override
        public void write(byte[] bytes, int offset, int length) throws IOException {
          buffer.write(bytes, offset, length);
          flushPartIfFull();
        }
      }, StandardCharsets.UTF_8);
    }

    private void flushPartIfFull() {
      if (buffer.size() >= PART_SIZE) {
        uploadPart();
      }
    }

    private void uploadPart() {
      if (uploadId == null) {
        uploadId = s3.createMultipartUpload(CreateMultipartUploadRequest.builder()
            .bucket(bucket).key(key).contentType("application/fhir+ndjson").build()).uploadId();
      }
      int number = parts.size() + 1;
      String etag = s3.uploadPart(UploadPartRequest.builder()
              .bucket(bucket).key(key).uploadId(uploadId).partNumber(number).build(),
          RequestBody.fromBytes(buffer.toByteArray())).eTag();
      parts.add(CompletedPart.builder().partNumber(number).eTag(etag).build());
      buffer.reset();
    }

    @Override
    public Writer writer() {
      return writer;
    }

    @Override
    public void commit() throws IOException {
      writer.flush();
      if (uploadId == null) {
        // Small enough for one request.
        s3.putObject(PutObjectRequest.builder().bucket(bucket).key(key).contentType("application/fhir+ndjson").build(),
            RequestBody.fromBytes(buffer.toByteArray()));
      } else {
        if (buffer.size() > 0) {
          uploadPart();
        }
        s3.completeMultipartUpload(CompleteMultipartUploadRequest.builder().bucket(bucket).key(key).uploadId(uploadId)
            .multipartUpload(CompletedMultipartUpload.builder().parts(parts).build()).build());
      }
      committed = true;
    }

    @Override
    public void close() {
      if (!committed && uploadId != null) {
        s3.abortMultipartUpload(AbortMultipartUploadRequest.builder().bucket(bucket).key(key).uploadId(uploadId).build());
      }
    }
  }
}
