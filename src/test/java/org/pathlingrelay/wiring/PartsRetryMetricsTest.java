package org.pathlingrelay.wiring;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.InstantSource;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.pathlingrelay.auth.AccessTokens;
import org.pathlingrelay.source.BulkExportClient;
import org.pathlingrelay.source.ExportRequest;
import org.pathlingrelay.testing.FakeBulkExportSource;

/** The source client's retries count in the parts' registry, so that they show in the metrics. */
class PartsRetryMetricsTest {

  @RegisterExtension static final FakeBulkExportSource source = new FakeBulkExportSource();

  @Test
  void aKickOffRetriedAfterA503_isCountedInTheRetryMetrics() throws Exception {
    SimpleMeterRegistry meters = new SimpleMeterRegistry();
    Parts parts = new Parts(InstantSource.system(), meters);
    source.failNextKickOffs(1, 503);

    try (BulkExportClient client = parts.sourceClient(new SourceSettings(source.baseUrl(), AccessTokens.NONE, 2))) {
      client.kickOff(ExportRequest.system(List.of("Patient"), Optional.empty()));
    }

    FunctionCounter retried = meters.find("resilience4j.retry.calls")
        .tag("name", BulkExportClient.RETRY).tag("kind", "successful_with_retry").functionCounter();
    assertThat(retried).isNotNull();
    assertThat(retried.count()).isEqualTo(1);
  }
}
