package org.pathlingrelay.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.hl7.fhir.instance.model.api.IIdType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.pathlingrelay.cli.Relay;
import org.pathlingrelay.forward.ForwardMode;
import org.pathlingrelay.testing.FakePathling;
import org.pathlingrelay.testing.HapiJpaServer;
import org.pathlingrelay.testing.RelayHarness;

/**
 * The live path against a real HAPI FHIR JPA 8.8.0: Subscriptions from the repository's templates,
 * writes through HAPI's REST API, and HAPI's own delivery (its threads, headers, If-Match,
 * retries) into the relay and on to the fake Pathling. No notification is made by hand.
 */
class LiveFromHapiTest {

  @RegisterExtension static final HapiJpaServer hapi = new HapiJpaServer();
  @RegisterExtension static final FakePathling pathling = new FakePathling();

  @TempDir Path dataDir;
  private Relay relay;
  private final List<IIdType> subscriptions = new ArrayList<>();

  @AfterEach
  void tearDown() {
    HapiWorkload cleanup = new HapiWorkload(hapi);
    subscriptions.forEach(cleanup::unsubscribe); // the server outlives this class
    if (relay != null) {
      relay.close();
    }
  }

  @Test
  void writesInHapi_fromSeveralThreads_endInPathlingExactly() throws Exception {
    relay = RelayHarness.start(RelayHarness.config(dataDir, pathling.baseUrl(), ForwardMode.BATCH));
    HapiWorkload hapiWrites = new HapiWorkload(hapi);
    for (String type : List.of("Patient", "Observation")) {
      subscriptions.add(hapiWrites.subscribe(type, RelayHarness.fhirBase(relay), RelayHarness.SECRET));
    }

    int count = 24;
    hapiWrites.write(count, 0, 2, 4); // creates and two updates each
    awaitPathlingMatches(hapiWrites);
    hapiWrites.delete(count, 3, 4); // then deletes of resources Pathling holds
    hapiWrites.write(count, 3, 4, 4); // more updates; the deleted ones come back as new versions
    hapiWrites.delete(count, 4, 4); // and deletes again
    awaitPathlingMatches(hapiWrites);

    assertThat(pathling.duplicateIds()).as("ids held twice").isEmpty();
    for (HapiWorkload.Truth truth : hapiWrites.truth()) {
      if (!truth.deleted()) {
        assertThat(truth.version())
            .as("the test's bookkeeping agrees with HAPI for %s/%s", truth.type(), truth.id())
            .isEqualTo(hapiWrites.versionInHapi(truth.type(), truth.id()));
      }
    }
  }

  private static void awaitPathlingMatches(HapiWorkload workload) {
    workload.awaitHeldBy(pathling, Duration.ofSeconds(120));
  }
}
