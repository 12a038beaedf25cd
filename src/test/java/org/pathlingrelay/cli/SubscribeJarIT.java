package org.pathlingrelay.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.hl7.fhir.r4.model.CapabilityStatement;
import org.hl7.fhir.r4.model.Subscription;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.pathlingrelay.source.SubscriptionTemplates;
import org.pathlingrelay.testing.FakeSubscriptionSource;

/**
 * The packaged jar's {@code subscribe} and {@code unsubscribe}, run as a user runs them: {@code java
 * -jar} from a folder that has no {@code subscriptions/} (as the image's {@code /app}), so the
 * templates must come from inside the jar; against a source that caches searches as HAPI JPA.
 */
class SubscribeJarIT {

  @RegisterExtension static final FakeSubscriptionSource source = new FakeSubscriptionSource();

  private static final String SECRET = "jar-secret";
  private static final Path FIGURES = Path.of("target", "subscribe-jar.txt");

  @TempDir Path workDir;
  private int runs;

  private record Finished(int exitCode, String out, long millis) {}

  private Finished run(String... args) throws IOException, InterruptedException {
    Path jar = Path.of("target", "pathling-relay.jar").toAbsolutePath();
    assertThat(jar).as("the packaged jar (failsafe runs after package)").exists();
    List<String> command = new ArrayList<>(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx256m", "-jar", jar.toString()));
    command.addAll(List.of(args));
    Path log = workDir.resolve("run-" + (++runs) + ".log");
    ProcessBuilder builder = new ProcessBuilder(command).directory(workDir.toFile())
        .redirectErrorStream(true).redirectOutput(log.toFile());
    builder.environment().put("RELAY_SECRET", SECRET);
    long started = System.nanoTime();
    Process process = builder.start();
    if (!process.waitFor(2, TimeUnit.MINUTES)) {
      process.destroyForcibly().waitFor();
      throw new AssertionError("still running after 2 minutes: " + String.join(" ", args) + "\n" + Files.readString(log));
    }
    long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
    return new Finished(process.exitValue(), Files.readString(log, StandardCharsets.UTF_8), millis);
  }

  private static List<Subscription> ours() {
    return source.subscriptionsTagged(SubscriptionTemplates.TAG_SYSTEM, SubscriptionTemplates.TAG_CODE);
  }

  @Test
  void theJar_runFromAFolderWithoutTemplates_subscribesEveryServedTypeTwiceWithoutDuplicates_andUnsubscribesThemAll()
      throws Exception {
    assertThat(workDir.resolve("subscriptions")).doesNotExist();
    List<String> expected = source.newClient().capabilities().ofType(CapabilityStatement.class).execute()
        .getRestFirstRep().getResource().stream().map(CapabilityStatement.CapabilityStatementRestResourceComponent::getType)
        .filter(type -> !type.equals("Subscription")).map(type -> type + "?").toList();

    Finished subscribed = run("subscribe", "--source-url", source.baseUrl(), "--relay-url", "http://relay:8080/fhir", "--all");
    assertThat(subscribed.exitCode()).as(subscribed.out()).isZero();
    assertThat(subscribed.out()).doesNotContain("Exception").doesNotContain(SECRET);
    assertThat(ours()).extracting(Subscription::getCriteria).containsExactlyInAnyOrderElementsOf(expected);
    assertThat(ours()).allSatisfy(s -> {
      assertThat(s.getStatus()).isEqualTo(Subscription.SubscriptionStatus.ACTIVE);
      assertThat(s.getChannel().getEndpoint()).isEqualTo("http://relay:8080/fhir");
      assertThat(s.getChannel().getHeader()).extracting(h -> h.getValue()).containsExactly("Authorization: Bearer " + SECRET);
    });

    // Within the source's 60 s search cache: a cached search would find none of them.
    Finished again = run("subscribe", "--source-url", source.baseUrl(), "--relay-url", "http://relay:8080/fhir", "--all");
    assertThat(again.exitCode()).as(again.out()).isZero();
    assertThat(ours()).hasSize(expected.size());

    Finished removed = run("unsubscribe", "--source-url", source.baseUrl());
    assertThat(removed.exitCode()).as(removed.out()).isZero();
    assertThat(ours()).isEmpty();
    assertThat(removed.out()).contains("Removed " + expected.size() + " Subscription(s).");

    Files.writeString(FIGURES, String.format(
        "subscribe-jar: %d types; subscribe --all (create + activation) %.1f s, again (all unchanged) %.1f s,"
            + " unsubscribe %.1f s, java -jar against the fake source on loopback%n",
        expected.size(), subscribed.millis() / 1000.0, again.millis() / 1000.0, removed.millis() / 1000.0));
  }
}
