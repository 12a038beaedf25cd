package org.pathlingrelay.source;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.pathlingrelay.auth.AccessTokens;
import org.pathlingrelay.testing.FakeBulkExportSource;

/**
 * Status polls back off as the Bulk Data spec advises, from 2 s doubling to 60 s, and come sooner
 * when the server's Retry-After says so: HAPI asks for 120 s yet finishes a job a step per
 * maintenance pass. The waits are recorded instead of slept.
 */
class BulkExportPollingTest {

  @RegisterExtension static final FakeBulkExportSource source = new FakeBulkExportSource();

  private final List<Duration> waits = new CopyOnWriteArrayList<>();
  private BulkExportClient client;

  @BeforeEach
  void connect() {
    client = new BulkExportClient(
        source.baseUrl(), AccessTokens.NONE, BulkExportClient.Settings.DEFAULTS, 2, waits::add);
  }

  @AfterEach
  void close() throws Exception {
    client.close();
  }

  private ExportManifest export() throws InterruptedException {
    URI status = client.kickOff(ExportRequest.system(List.of("Patient"), Optional.empty()));
    return client.awaitManifest(status, progress -> {});
  }

  @Test
  void hapisRetryAfterOf120s_doesNotStretchTheWaits_whichDoubleFrom2sUpTo60s() throws Exception {
    source.setPollsUntilComplete(8);

    ExportManifest manifest = export();

    assertThat(manifest.output()).isNotEmpty();
    assertThat(waits).containsExactly(
        Duration.ofSeconds(2), Duration.ofSeconds(4), Duration.ofSeconds(8), Duration.ofSeconds(16),
        Duration.ofSeconds(32), Duration.ofSeconds(60), Duration.ofSeconds(60), Duration.ofSeconds(60));
    assertThat(source.pollCount()).isEqualTo(9);
  }

  @Test
  void aRetryAfterSoonerThanTheBackOff_shortensTheWait() throws Exception {
    source.setRetryAfter("5");
    source.setPollsUntilComplete(4);

    export();

    assertThat(waits).containsExactly(
        Duration.ofSeconds(2), Duration.ofSeconds(4), Duration.ofSeconds(5), Duration.ofSeconds(5));
  }

  @Test
  void aRetryAfterBelowTheFloor_waitsTheFloor() throws Exception {
    source.setRetryAfter("0");
    source.setPollsUntilComplete(2);

    export();

    assertThat(waits).containsExactly(Duration.ofSeconds(1), Duration.ofSeconds(1));
  }
}
