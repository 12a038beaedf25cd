package org.pathlingrelay.verify;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** What the scheduled checks settle: gauges, the counts-only check beside a full one, the log once per state. */
class StandingDifferencesTest {

  private static final Instant AT = Instant.parse("2026-01-01T00:00:00Z");

  private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
  private final StandingDifferences standing = new StandingDifferences(meters, "relay verify --repair");
  private final ListAppender<ILoggingEvent> log = new ListAppender<>();

  @BeforeEach
  void listen() {
    log.start();
    ((Logger) LoggerFactory.getLogger(ScheduledVerify.class)).addAppender(log);
  }

  @AfterEach
  void stop() {
    ((Logger) LoggerFactory.getLogger(ScheduledVerify.class)).detachAppender(log);
  }

  @Test
  void aFullFinding_standsWhileTheCountsStay_andIsDroppedOnceTheyMove() {
    standing.settle("Patient", 3, 3, full(0, 1, 0, 1, 0), AT);
    assertThat(gauges("Patient")).isEqualTo(Map.of("count", 0L, "missing", 1L, "stale", 0L, "extra", 1L,
        "duplicated", 0L));

    standing.settle("Patient", 3, 3, Map.of("count", 0L), AT.plusSeconds(1));
    assertThat(gauges("Patient")).as("same counts: the full finding stands").containsEntry("missing", 1L);
    assertThat(standing.differing()).extracting(TypeStanding::type).containsExactly("Patient");

    standing.settle("Patient", 4, 4, Map.of("count", 0L), AT.plusSeconds(2));
    assertThat(gauges("Patient")).as("moved: only what was measured").isEqualTo(Map.of("count", 0L));
    assertThat(standing.differing()).isEmpty();
    assertThat(messages()).containsExactly(
        "Verify: Patient differs from the source: missing 1, extra 1 (source 3, Pathling 3). The relay does not"
            + " mend it by itself; to mend it: relay verify --repair --type Patient",
        "Verify: Patient is equal again: Pathling holds as many as the source (counts only) (4 resource(s))");
  }

  @Test
  void theLog_saysEachStateOnce_andAgainOnlyWhenTheNumbersChange() {
    for (int run = 0; run < 3; run++) {
      standing.settle("Observation", 10, 8, Map.of("count", 2L), AT.plusSeconds(run));
    }
    standing.settle("Observation", 10, 9, Map.of("count", 1L), AT.plusSeconds(5));
    standing.settle("Observation", 10, 9, Map.of("count", 1L), AT.plusSeconds(6));
    standing.settle("Observation", 10, 10, Map.of("count", 0L), AT.plusSeconds(7));
    standing.settle("Observation", 10, 10, Map.of("count", 0L), AT.plusSeconds(8));
    standing.settle("Encounter", 5, 5, Map.of("count", 0L), AT);

    assertThat(messages()).hasSize(3);
    assertThat(messages().get(0)).startsWith("Verify: Observation differs from the source: count 2 (source 10,"
        + " Pathling 8)");
    assertThat(messages().get(1)).startsWith("Verify: Observation differs from the source: count 1 (source 10,"
        + " Pathling 9)");
    assertThat(messages().get(2)).startsWith("Verify: Observation is equal again");
    assertThat(gauges("Encounter")).isEqualTo(Map.of("count", 0L));
  }

  @Test
  void unsettledTypes_areListed_untilSettled() {
    standing.unsettled("Patient");
    assertThat(standing.unsettled()).containsExactly("Patient");
    assertThat(gauges("Patient")).isEmpty();

    standing.settle("Patient", 1, 1, Map.of("count", 0L), AT);
    assertThat(standing.unsettled()).isEmpty();
    assertThat(standing.settledTypes()).isEqualTo(1);
  }

  private static Map<String, Long> full(long count, long missing, long stale, long extra, long duplicated) {
    return Map.of("count", count, "missing", missing, "stale", stale, "extra", extra, "duplicated", duplicated);
  }

  private Map<String, Long> gauges(String type) {
    Map<String, Long> values = new TreeMap<>();
    for (Gauge gauge : meters.find(StandingDifferences.GAUGE).tag("type", type).gauges()) {
      values.put(gauge.getId().getTag("kind"), (long) gauge.value());
    }
    return values;
  }

  private List<String> messages() {
    return log.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
  }
}
