package org.pathlingrelay.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class OneWritePerTypeTest {

  private final OneWritePerType rule = new OneWritePerType();

  @Test
  void aWriteOverlappingAnotherOnOneType_isRefused_namesThatType_andClaimsNothing() {
    try (OneWritePerType.Claim first = rule.claim(Set.of("Patient", "Observation"))) {
      assertThat(first.conflict()).isEmpty();

      try (OneWritePerType.Claim second = rule.claim(List.of("Condition", "Observation"))) {
        assertThat(second.conflict()).contains("Observation");
      }
      assertThat(rule.inProgress("Condition")).as("a refused write holds nothing").isFalse();
      assertThat(rule.inProgress("Observation")).as("the refused write's close leaves the first's types").isTrue();
      assertThat(rule.conflicts()).isEqualTo(1);
    }
    assertThat(rule.inProgress("Patient")).isFalse();
    assertThat(rule.inProgress("Observation")).isFalse();
  }

  @Test
  void writesToOtherTypes_goAhead_andAClosedWriteFreesItsTypes() {
    try (OneWritePerType.Claim patient = rule.claim(Set.of("Patient"))) {
      try (OneWritePerType.Claim observation = rule.claim(Set.of("Observation"))) {
        assertThat(observation.conflict()).isEmpty();
      }
    }
    try (OneWritePerType.Claim again = rule.claim(Set.of("Patient"))) {
      assertThat(again.conflict()).isEmpty();
    }
    assertThat(rule.conflicts()).isZero();
  }

  @Test
  void theConflictingTypeNamed_isTheFirstAlphabetically_whateverTheOrderGiven() {
    try (OneWritePerType.Claim held = rule.claim(Set.of("Encounter", "Condition"))) {
      try (OneWritePerType.Claim refused = rule.claim(List.of("Encounter", "Patient", "Condition"))) {
        assertThat(refused.conflict()).contains("Condition");
      }
    }
    rule.clearConflicts();
    assertThat(rule.conflicts()).isZero();
  }
}
