package org.pathlingrelay.http;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class RetryAfterTest {

  private static final Instant NOW = Instant.parse("2026-11-22T10:00:00Z");

  @Test
  void delaySeconds_areTheWait() {
    assertThat(RetryAfter.parse(" 120 ", NOW)).contains(Duration.ofMinutes(2));
  }

  @Test
  void anHttpDate_isTheWaitFromNow_andOneInThePastMeansNow() {
    assertThat(RetryAfter.parse("Sun, 22 Nov 2026 10:00:30 GMT", NOW)).contains(Duration.ofSeconds(30));
    assertThat(RetryAfter.parse("Sun, 22 Nov 2026 09:00:00 GMT", NOW)).contains(Duration.ZERO);
  }

  @Test
  void negativeSeconds_meanNow_andAnythingElseIsNoAdvice() {
    assertThat(RetryAfter.parse("-5", NOW)).contains(Duration.ZERO);
    assertThat(RetryAfter.parse("soon", NOW)).isEmpty();
    assertThat(RetryAfter.parse(null, NOW)).isEmpty();
  }
}
