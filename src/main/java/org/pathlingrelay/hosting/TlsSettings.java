package org.pathlingrelay.hosting;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.util.Collection;
import java.util.Optional;
import org.pathlingrelay.auth.Keys;

/**
 * TLS for the receiver: a PEM certificate chain and key, or a keystore; optionally a CA whose
 * client certificates are required (mutual TLS).
 */
public record TlsSettings(KeyStore keyStore, char[] keyPassword, Optional<KeyStore> clientCa) {

  public static TlsSettings fromPem(Path certificateChain, Path privateKey, Optional<Path> clientCa) {
    try {
      Collection<? extends Certificate> chain = certificates(certificateChain);
      if (chain.isEmpty()) {
        throw new IllegalArgumentException(certificateChain + " holds no certificate");
      }
      Keys.SigningKey key = Keys.fromPem(Files.readString(privateKey, StandardCharsets.UTF_8), Optional.empty());
      char[] password = new char[0];
      KeyStore store = KeyStore.getInstance("PKCS12");
      store.load(null, null);
      store.setKeyEntry("relay", key.key(), password, chain.toArray(Certificate[]::new));
      return new TlsSettings(store, password, clientCa.map(TlsSettings::trustStore));
    } catch (IOException | GeneralSecurityException e) {
      throw new IllegalArgumentException("cannot read the TLS certificate or key: " + e.getMessage(), e);
    }
  }

  public static TlsSettings fromKeyStore(Path file, char[] password, Optional<Path> clientCa) {
    try (InputStream in = Files.newInputStream(file)) {
      KeyStore store = KeyStore.getInstance(file.toString().endsWith(".jks") ? "JKS" : "PKCS12");
      store.load(in, password);
      return new TlsSettings(store, password, clientCa.map(TlsSettings::trustStore));
    } catch (IOException | GeneralSecurityException e) {
      throw new IllegalArgumentException("cannot open the keystore " + file + ": " + e.getMessage(), e);
    }
  }

  private static KeyStore trustStore(Path caPem) {
    try {
      KeyStore store = KeyStore.getInstance("PKCS12");
      store.load(null, null);
      int i = 0;
      for (Certificate certificate : certificates(caPem)) {
        store.setCertificateEntry("ca-" + i++, certificate);
      }
      return store;
    } catch (IOException | GeneralSecurityException e) {
      throw new IllegalArgumentException("cannot read the client CA " + caPem + ": " + e.getMessage(), e);
    }
  }

  private static Collection<? extends Certificate> certificates(Path pem) throws IOException, GeneralSecurityException {
    byte[] bytes = Files.readAllBytes(pem);
    return CertificateFactory.getInstance("X.509").generateCertificates(new ByteArrayInputStream(bytes));
  }

  @Override
  public String toString() {
    return "TlsSettings[clientAuth=" + clientCa.isPresent() + "]";
  }
}
