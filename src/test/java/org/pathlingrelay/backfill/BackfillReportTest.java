package org.pathlingrelay.backfill;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class BackfillReportTest {

  private static String summary(long exported, long forwarded, Duration elapsed) {
    BackfillReport report = new BackfillReport(Instant.parse("2026-12-03T12:45:01Z"),
        List.of(new BackfillReport.TypeCounts("Patient", exported, exported, 0, 0, 0)), List.of(), true, elapsed,
        forwarded, false, Optional.empty(), 0);
    StringWriter text = new StringWriter();
    report.print(new PrintWriter(text));
    return text.toString();
  }

  @Test
  void aSlowRun_saysItsRateWithTheDigitsItNeeds_notZero() {
    // 5 resources through HAPI's export in 262 s, as on the real pair
    assertThat(summary(5, 5, Duration.ofSeconds(262))).contains("262.0 s (0.019 resources/s)");
  }

  @Test
  void ratesFromOneToTen_haveOneDecimal_andFasterOnesNone() {
    assertThat(summary(15, 15, Duration.ofSeconds(4))).contains("(3.8 resources/s)");
    assertThat(summary(70_000, 70_000, Duration.ofSeconds(100))).contains("(700 resources/s)");
  }
}
