package org.pathlingrelay.auth;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.RSAKey;
import java.security.KeyFactory;
import java.security.NoSuchAlgorithmException;
import java.security.PrivateKey;
import java.security.spec.InvalidKeySpecException;
import java.security.spec.PKCS8EncodedKeySpec;
import java.text.ParseException;
import java.util.Base64;
import java.util.Optional;

/** Reads signing keys: a private JWK (JSON), or a PKCS#8 PEM key. */
public final class Keys {

  /** A private key and the kid to put in the assertion's header. */
  public record SigningKey(PrivateKey key, Optional<String> keyId) {}

  private Keys() {}

  public static SigningKey fromJwk(String json) {
    try {
      JWK jwk = JWK.parse(json.trim());
      if (!jwk.isPrivate()) {
        throw new IllegalArgumentException("the JWK holds no private key");
      }
      PrivateKey key;
      if (jwk instanceof RSAKey rsa) {
        key = rsa.toPrivateKey();
      } else if (jwk instanceof ECKey ec) {
        key = ec.toPrivateKey();
      } else {
        throw new IllegalArgumentException("the JWK must be an RSA or EC key, not " + jwk.getKeyType());
      }
      return new SigningKey(key, Optional.ofNullable(jwk.getKeyID()));
    } catch (ParseException | JOSEException e) {
      throw new IllegalArgumentException("not a valid private JWK: " + e.getMessage(), e);
    }
  }

  /** {@code -----BEGIN PRIVATE KEY-----} (PKCS#8), RSA or EC. */
  public static SigningKey fromPem(String pem, Optional<String> keyId) {
    String base64 = pem.replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
    if (pem.contains("BEGIN RSA PRIVATE KEY") || pem.contains("BEGIN EC PRIVATE KEY")) {
      throw new IllegalArgumentException(
          "the PEM key is in a legacy format; convert it with: openssl pkcs8 -topk8 -nocrypt -in key.pem");
    }
    byte[] der;
    try {
      der = Base64.getDecoder().decode(base64);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("not a PEM private key", e);
    }
    for (String algorithm : new String[] {"RSA", "EC"}) {
      try {
        return new SigningKey(KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(der)), keyId);
      } catch (InvalidKeySpecException | NoSuchAlgorithmException tryNext) {
        // not this algorithm
      }
    }
    throw new IllegalArgumentException("the PEM file holds no PKCS#8 RSA or EC private key");
  }
}
