package org.pathlingrelay.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Clock;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.pathlingrelay.forward.ForwardMode;
import org.pathlingrelay.hosting.TlsSettings;
import org.pathlingrelay.testing.HapiNotifier;
import org.pathlingrelay.testing.RelayHarness;
import org.pathlingrelay.wiring.ReceiverSettings;

/** The receiver over HTTPS, from a keystore or PEM files, optionally requiring client certificates. */
class TlsReceiverTest {

  @TempDir Path dir;

  private static final char[] PASSWORD = "changeit".toCharArray();

  private Path keystore() throws Exception {
    Path store = dir.resolve("relay.p12");
    Process keytool = new ProcessBuilder("keytool", "-genkeypair", "-alias", "relay", "-keyalg", "RSA", "-keysize", "2048",
        "-dname", "CN=localhost", "-ext", "SAN=dns:localhost,ip:127.0.0.1", "-validity", "2",
        "-storetype", "PKCS12", "-keystore", store.toString(), "-storepass", new String(PASSWORD))
        .redirectErrorStream(true).start();
    assertThat(keytool.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(keytool.exitValue()).as(new String(keytool.getInputStream().readAllBytes())).isZero();
    return store;
  }

  private static KeyStore load(Path store) throws Exception {
    KeyStore keyStore = KeyStore.getInstance("PKCS12");
    try (InputStream in = Files.newInputStream(store)) {
      keyStore.load(in, PASSWORD);
    }
    return keyStore;
  }

  private static HttpClient client(KeyStore trust, KeyStore clientKeys) throws Exception {
    TrustManagerFactory trustManagers = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    trustManagers.init(trust);
    SSLContext ssl = SSLContext.getInstance("TLS");
    KeyManagerFactory keyManagers = null;
    if (clientKeys != null) {
      keyManagers = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      keyManagers.init(clientKeys, PASSWORD);
    }
    ssl.init(keyManagers == null ? null : keyManagers.getKeyManagers(), trustManagers.getTrustManagers(), null);
    return HttpClient.newBuilder().sslContext(ssl).build();
  }

  private Relay start(TlsSettings tls) throws Exception {
    ReceiverSettings receiver = RelayHarness.receiver();
    return Relay.start(new RelayConfig(
            new ReceiverSettings(receiver.bind(), receiver.port(), receiver.secrets(), receiver.noAuth(),
                receiver.maxBodyBytes(), receiver.httpLimits(), Optional.of(tls)),
            dir.resolve("data"), RelayHarness.forwarding("http://127.0.0.1:1/fhir", ForwardMode.BATCH)),
        Clock.systemUTC());
  }

  private static HttpResponse<String> put(HttpClient client, Relay relay) throws Exception {
    return client.send(HttpRequest.newBuilder(URI.create("https://localhost:" + relay.port() + "/fhir/Patient/tls1"))
            .header("Authorization", "Bearer " + RelayHarness.SECRET)
            .header("Content-Type", "application/fhir+json")
            .PUT(HttpRequest.BodyPublishers.ofString(HapiNotifier.resource("Patient", "tls1", 1))).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void aKeystore_servesHttps() throws Exception {
    Path store = keystore();
    try (Relay relay = start(TlsSettings.fromKeyStore(store, PASSWORD, Optional.empty()))) {
      assertThat(put(client(load(store), null), relay).statusCode()).isEqualTo(200);
      assertThat(relay.outbox().stats().pending()).isEqualTo(1);
    }
  }

  @Test
  void pemCertificateAndKey_serveHttps() throws Exception {
    assumeTrue(Files.isExecutable(Path.of("/usr/bin/openssl")), "openssl makes the PEM files");
    Process openssl = new ProcessBuilder("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
        "-keyout", dir.resolve("key.pem").toString(), "-out", dir.resolve("cert.pem").toString(), "-days", "1",
        "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1")
        .redirectErrorStream(true).start();
    assertThat(openssl.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(openssl.exitValue()).isZero();
    TlsSettings tls = TlsSettings.fromPem(dir.resolve("cert.pem"), dir.resolve("key.pem"), Optional.empty());
    try (Relay relay = start(tls)) {
      KeyStore trust = KeyStore.getInstance("PKCS12");
      trust.load(null, null);
      trust.setCertificateEntry("relay", java.security.cert.CertificateFactory.getInstance("X.509")
          .generateCertificate(Files.newInputStream(dir.resolve("cert.pem"))));
      assertThat(put(client(trust, null), relay).statusCode()).isEqualTo(200);
    }
  }

  @Test
  void withAClientCa_aClientWithoutACertificateIsRefused_andOneWithACertificateIsServed() throws Exception {
    Path store = keystore();
    Path ca = dir.resolve("ca.pem");
    Process export = new ProcessBuilder("keytool", "-exportcert", "-rfc", "-alias", "relay", "-keystore", store.toString(),
        "-storepass", new String(PASSWORD), "-file", ca.toString()).redirectErrorStream(true).start();
    assertThat(export.waitFor(60, TimeUnit.SECONDS)).isTrue();
    try (Relay relay = start(TlsSettings.fromKeyStore(store, PASSWORD, Optional.of(ca)))) {
      assertThatThrownBy(() -> put(client(load(store), null), relay)).isInstanceOf(java.io.IOException.class);
      assertThat(put(client(load(store), load(store)), relay).statusCode()).isEqualTo(200);
    }
  }
}
