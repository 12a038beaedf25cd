package org.pathlingrelay.source;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ca.uhn.fhir.rest.client.api.IClientInterceptor;
import ca.uhn.fhir.rest.client.api.IGenericClient;
import ca.uhn.fhir.rest.client.api.IHttpRequest;
import ca.uhn.fhir.rest.client.api.IHttpResponse;
import ca.uhn.fhir.rest.client.exceptions.FhirClientConnectionException;
import ca.uhn.fhir.rest.server.exceptions.InvalidRequestException;
import io.github.resilience4j.retry.Retry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.hl7.fhir.r4.model.Patient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.pathlingrelay.testing.FakePathling;

/**
 * The listing's paging and retries, against a HAPI RestfulServer that pages with {@code next}
 * links (the fake Pathling's; HAPI JPA's own is in {@code VerifyCommandTest}).
 */
class SourceListingTest {

  @RegisterExtension static final FakePathling server = new FakePathling();

  private final Retry retry = Retry.of("test", SourceListing.retryConfig(Duration.ofMillis(10)));

  @Test
  void aPageThatFailsForNow_isAskedAgain_andTheListingCompletes() {
    for (int n = 0; n < 5; n++) {
      server.seed(new Patient().setId("p" + n));
    }
    AtomicInteger requests = new AtomicInteger();
    IGenericClient client = server.newClient();
    client.registerInterceptor(new FailingRequest(requests, 2, true));
    List<String> ids = new ArrayList<>();

    new SourceListing(client, retry).ids("Patient", 2, page -> page.forEach(r -> ids.add(r.getIdElement().getIdPart())));

    assertThat(ids).containsExactly("p0", "p1", "p2", "p3", "p4");
    assertThat(server.requests()).as("the failed attempt never left; one request a page").hasSize(3);
    assertThat(requests.get()).isEqualTo(4);
  }

  @Test
  void aRefusal_isNotAskedAgain() {
    IGenericClient client = server.newClient();
    AtomicInteger requests = new AtomicInteger();
    client.registerInterceptor(new FailingRequest(requests, 1, false));

    assertThatThrownBy(() -> new SourceListing(client, retry).count("Patient"))
        .isInstanceOf(InvalidRequestException.class);
    assertThat(requests.get()).isEqualTo(1);
  }

  /** Fails the {@code nth} request before it is sent: for now (no connection), or for good (400). */
  private record FailingRequest(AtomicInteger requests, int nth, boolean forNow) implements IClientInterceptor {
    @Override
    public void interceptRequest(IHttpRequest request) {
      if (requests.incrementAndGet() == nth) {
        throw forNow ? new FhirClientConnectionException("connection refused") : new InvalidRequestException("no");
      }
    }

    @Override
    public void interceptResponse(IHttpResponse response) {}
  }
}
