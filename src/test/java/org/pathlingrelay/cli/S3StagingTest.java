package org.pathlingrelay.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.adobe.testing.s3mock.junit5.S3MockExtension;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.pathlingrelay.testing.FakeBulkExportSource;
import org.pathlingrelay.testing.FakePathling;
import picocli.CommandLine;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.GetObjectRequest;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Request;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * {@code backfill --load import --staging-url s3://...}: the export streams to a real S3 API
 * (Adobe's S3Mock in the test JVM), and Pathling imports the {@code s3a://} URLs.
 */
class S3StagingTest {

  @RegisterExtension
  static final S3MockExtension S3 = S3MockExtension.builder().silent().withInitialBuckets("staging").build();

  @RegisterExtension static final FakeBulkExportSource source = new FakeBulkExportSource();
  @RegisterExtension static final FakePathling pathling = new FakePathling();

  @TempDir Path dataDir;
  private static S3Client s3;

  @BeforeAll
  static void credentials() {
    // The relay takes credentials from the SDK's default chain; system properties are part of it.
    System.setProperty("aws.accessKeyId", "test-key");
    System.setProperty("aws.secretAccessKey", "test-secret");
    s3 = S3.createS3ClientV2();
  }

  @org.junit.jupiter.api.BeforeEach
  void emptyTheBucket() {
    for (S3Object object : staged()) {
      s3.deleteObject(b -> b.bucket("staging").key(object.key()));
    }
  }

  @AfterAll
  static void forget() {
    System.clearProperty("aws.accessKeyId");
    System.clearProperty("aws.secretAccessKey");
  }

  /** Pathling reads s3a:// through Hadoop; the fake reads it from the same S3. */
  private static List<String> readS3a(String url) {
    URI uri = URI.create(url);
    String key = uri.getPath().substring(1);
    String body = s3.getObjectAsBytes(GetObjectRequest.builder().bucket(uri.getHost()).key(key).build())
        .asString(StandardCharsets.UTF_8);
    return body.lines().toList();
  }

  private List<S3Object> staged() {
    return s3.listObjectsV2(ListObjectsV2Request.builder().bucket("staging").build()).contents();
  }

  private int backfill(String... extra) throws Exception {
    String[] base = {"backfill", "--source-url", source.baseUrl(), "--pathling-url", pathling.baseUrl(),
        "--data-dir", dataDir.toString(), "--load", "import", "--staging-url", "s3://staging/relay",
        "--s3-endpoint", "http://localhost:" + S3.getHttpPort(), "--s3-path-style", "--s3-region", "us-east-1"};
    String[] args = new String[base.length + extra.length];
    System.arraycopy(base, 0, args, 0, base.length);
    System.arraycopy(extra, 0, args, base.length, extra.length);
    StringWriter out = new StringWriter();
    CommandLine commandLine = Main.commandLine(EnvironmentDefaults.from(args, Map.of()));
    commandLine.setOut(new PrintWriter(out));
    commandLine.setErr(new PrintWriter(out));
    int exit = commandLine.execute(args);
    assertThat(exit).as(out.toString()).isZero();
    return exit;
  }

  @Test
  void importThroughS3_loadsEveryResource_withS3aUrls_andRemovesTheStagedObjects() throws Exception {
    source.setRetryAfter("1");
    pathling.setAllowableSources("s3a://staging/");
    pathling.readUrlsWith("s3a", S3StagingTest::readS3a);

    backfill();

    assertThat(pathling.totalRows()).isEqualTo(7_160);
    assertThat(pathling.duplicateIds()).isEmpty();
    assertThat(pathling.imports()).singleElement().satisfies(request ->
        assertThat(request.inputs()).allSatisfy(input ->
            assertThat(input.url()).startsWith("s3a://staging/relay/").endsWith(".ndjson")));
    assertThat(staged()).as("removed after success").isEmpty();
  }

  @Test
  void keepStaged_leavesTheObjectsForInspection() throws Exception {
    source.setRetryAfter("1");
    pathling.setAllowableSources("s3a://staging/");
    pathling.readUrlsWith("s3a", S3StagingTest::readS3a);

    backfill("--keep-staged", "--type", "Patient");

    assertThat(staged()).isNotEmpty().allSatisfy(object -> assertThat(object.key()).startsWith("relay/export-"));
  }
}
