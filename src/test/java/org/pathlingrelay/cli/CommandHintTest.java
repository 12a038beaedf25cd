package org.pathlingrelay.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class CommandHintTest {

  private final CommandHint hint = new CommandHint("java -jar /opt/pathling-relay.jar");

  @Test
  void command_carriesTheRunsOptions_andLeavesOutThoseNotSet() {
    assertThat(hint.command(List.of("dead-letters", "list"), "--data-dir", "/var/relay", "--pathling-url", null))
        .isEqualTo("java -jar /opt/pathling-relay.jar dead-letters list --data-dir /var/relay");
  }

  @Test
  void command_quotesWordsAShellWouldSplit() {
    assertThat(hint.command(List.of("dead-letters", "list"), "--data-dir", "/tmp/my data", "--x", "it's"))
        .isEqualTo("java -jar /opt/pathling-relay.jar dead-letters list --data-dir '/tmp/my data' --x 'it'\\''s'");
  }

  @Test
  void ofThisProcess_namesAWayToStartTheRelayAgain() {
    assertThat(CommandHint.ofThisProcess().launcher()).startsWith("java ");
  }
}
