package org.pathlingrelay.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.pathlingrelay.auth.AccessTokens;
import org.pathlingrelay.auth.ClientAuthentication;
import org.pathlingrelay.auth.OAuthTokens;
import org.pathlingrelay.forward.ForwardMode;
import org.pathlingrelay.testing.FakeAuthServer;
import org.pathlingrelay.testing.FakePathling;
import org.pathlingrelay.testing.FakeSubscriptionSource;
import org.pathlingrelay.testing.HapiNotifier;
import org.pathlingrelay.testing.RelayHarness;
import org.pathlingrelay.testing.RequireBearerToken;
import org.pathlingrelay.wiring.ForwardingSettings;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;

/** Outbound OAuth2: client credentials to Pathling, SMART Backend Services to the source. */
class OutboundAuthTest {

  @RegisterExtension static final FakeAuthServer auth = new FakeAuthServer();
  @RegisterExtension static final FakePathling pathling = new FakePathling();
  @RegisterExtension static final FakeSubscriptionSource source = new FakeSubscriptionSource();

  private static final String PATHLING_CLIENT = "relay-to-pathling";
  private static final String PATHLING_SECRET = "pathling-client-secret-value";

  @TempDir Path dataDir;
  private RequireBearerToken pathlingGuard;
  private RequireBearerToken sourceGuard;
  private Relay relay;
  private ListAppender<ILoggingEvent> logs;

  @BeforeEach
  void protect() {
    auth.registerSecretClient(PATHLING_CLIENT, PATHLING_SECRET);
    pathlingGuard = new RequireBearerToken(auth);
    sourceGuard = new RequireBearerToken(auth);
    pathling.extension().registerInterceptor(pathlingGuard);
    source.extension().registerInterceptor(sourceGuard);
    logs = new ListAppender<>();
    logs.start();
    ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).addAppender(logs);
  }

  @AfterEach
  void unprotect() {
    if (relay != null) {
      relay.close();
    }
    pathling.extension().unregisterInterceptor(pathlingGuard);
    source.extension().unregisterInterceptor(sourceGuard);
    ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).detachAppender(logs);
  }

  private OAuthTokens pathlingTokens(String secret) {
    // No token endpoint given: it is discovered from Pathling's .well-known/smart-configuration.
    return new OAuthTokens(new ClientAuthentication(PATHLING_CLIENT, Optional.of(secret), Optional.empty(),
        Optional.empty(), Optional.empty(), Optional.empty(), ClientAuthentication.SecretMethod.BASIC,
        pathling.baseUrl()), Clock.systemUTC(), Duration.ofMillis(200), 3);
  }

  private HapiNotifier startRelay(AccessTokens tokens) throws Exception {
    ForwardingSettings forwarding = RelayHarness.forwarding(pathling.baseUrl(), ForwardMode.BATCH);
    relay = Relay.start(new RelayConfig(RelayHarness.receiver(), dataDir,
        new ForwardingSettings(forwarding.pathlingUrl(), tokens, forwarding.pathlingTimeout(), forwarding.mode(),
            forwarding.batchMax(), forwarding.linger(), forwarding.parallelTypes(), forwarding.resilience())),
        Clock.systemUTC());
    return new HapiNotifier(RelayHarness.fhirBase(relay), RelayHarness.SECRET);
  }

  private void assertNoSecretsLogged(String... secrets) {
    for (ILoggingEvent event : logs.list) {
      for (String secret : secrets) {
        assertThat(event.getFormattedMessage()).doesNotContain(secret);
      }
    }
  }

  @Test
  void forwarding_toAPathlingThatRequiresOAuth_reusesOneTokenAcrossRequests() throws Exception {
    HapiNotifier sender = startRelay(pathlingTokens(PATHLING_SECRET));
    for (int i = 0; i < 5; i++) {
      sender.put("Patient", "a" + i, 1);
      await().atMost(Duration.ofSeconds(20)).until(() -> relay.outbox().stats().pending() == 0);
    }
    assertThat(pathling.ids("Patient")).hasSize(5);
    assertThat(pathling.writes().size()).isGreaterThanOrEqualTo(5);
    assertThat(auth.tokenRequestCount()).isEqualTo(1);
    assertThat(pathlingGuard.accepted()).isGreaterThanOrEqualTo(5);
    assertNoSecretsLogged(PATHLING_SECRET);
    auth.issuedTokens().forEach(token -> assertNoSecretsLogged(token.value()));
  }

  @Test
  void anExpiringToken_isRefreshedBeforeItExpires() throws Exception {
    auth.setTokenLifetime(Duration.ofSeconds(31)); // refreshed 30 s early: after about 1 s
    HapiNotifier sender = startRelay(pathlingTokens(PATHLING_SECRET));
    sender.put("Patient", "before", 1);
    await().atMost(Duration.ofSeconds(20)).until(() -> pathling.ids("Patient").contains("before"));
    await().pollDelay(Duration.ofMillis(1500)).atMost(Duration.ofSeconds(5)).until(() -> true);
    sender.put("Patient", "after", 1);
    await().atMost(Duration.ofSeconds(20)).until(() -> pathling.ids("Patient").contains("after"));
    assertThat(auth.tokenRequestCount()).isEqualTo(2);
    assertThat(pathlingGuard.rejected()).isZero();
  }

  @Test
  void aRefusedToken_isReplacedOnce_andTheWriteRetried() throws Exception {
    HapiNotifier sender = startRelay(pathlingTokens(PATHLING_SECRET));
    sender.put("Patient", "first", 1);
    await().atMost(Duration.ofSeconds(20)).until(() -> pathling.ids("Patient").contains("first"));
    auth.revokeAllTokens();
    sender.put("Patient", "second", 1);
    await().atMost(Duration.ofSeconds(20)).until(() -> pathling.ids("Patient").contains("second"));
    assertThat(pathlingGuard.rejected()).isEqualTo(1);
    assertThat(auth.tokenRequestCount()).isEqualTo(2);
  }

  @Test
  void aTokenEndpointThatIsBrieflyDown_isRetriedWithBackOff() throws Exception {
    auth.failNextTokenRequests(2, 503);
    HapiNotifier sender = startRelay(pathlingTokens(PATHLING_SECRET));
    sender.put("Patient", "patient", 1);
    await().atMost(Duration.ofSeconds(20)).until(() -> pathling.ids("Patient").contains("patient"));
    assertThat(auth.tokenRequestCount()).isEqualTo(3);
    assertThat(auth.tokenRequests().get(2).succeeded()).isTrue();
  }

  @Test
  void aWrongSecret_isAClearError_notARetryStorm_andNothingIsLost() throws Exception {
    HapiNotifier sender = startRelay(pathlingTokens("not-the-secret"));
    assertThat(sender.put("Patient", "kept", 1).status()).isEqualTo(200);
    await().atMost(Duration.ofSeconds(10)).until(() -> logs.list.stream()
        .anyMatch(e -> e.getFormattedMessage().contains("Wrong client secret")));
    await().pollDelay(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(5)).until(() -> true);
    assertThat(auth.tokenRequestCount()).as("token requests in ~4 s").isLessThanOrEqualTo(8);
    assertThat(relay.outbox().stats().pending()).isEqualTo(1);
    assertNoSecretsLogged("not-the-secret");
  }

  @Test
  void subscribe_authenticatesToTheSourceWithSmartBackendServices(@TempDir Path keys) throws Exception {
    ECKey key = new ECKeyGenerator(Curve.P_384).keyID("relay-key-1").generate();
    auth.registerJwkClient("relay-to-source", key.toPublicJWK());
    Path jwkFile = keys.resolve("source-key.jwk");
    Files.writeString(jwkFile, key.toJSONString());

    String[] args = {"subscribe", "--source-url", source.baseUrl(), "--relay-url", "http://relay:8080/fhir",
        "--types", "Patient", "--dir", "subscriptions", "--activation-timeout", "10s",
        "--source-client-id", "relay-to-source", "--source-private-key-jwk-file", jwkFile.toString()};
    StringWriter out = new StringWriter();
    CommandLine commandLine = Main.commandLine(EnvironmentDefaults.from(args, Map.of("RELAY_SECRET", "s3cret-receiver")));
    commandLine.setOut(new PrintWriter(out));
    commandLine.setErr(new PrintWriter(out));
    int exit = commandLine.execute(args);

    assertThat(exit).as(out.toString()).isZero();
    assertThat(auth.tokenRequests()).singleElement().satisfies(request -> {
      assertThat(request.succeeded()).isTrue();
      assertThat(request.authMethod()).isEqualTo(FakeAuthServer.AuthMethod.PRIVATE_KEY_JWT);
      assertThat(request.requestedScope()).isEqualTo("system/*.read");
    });
    assertThat(sourceGuard.rejected()).isZero();
    assertThat(sourceGuard.accepted()).isGreaterThan(1);
    assertNoSecretsLogged(key.getD().toString(), "s3cret-receiver");
    assertThat(out.toString()).doesNotContain(key.getD().toString()).doesNotContain("s3cret-receiver");
  }
}
