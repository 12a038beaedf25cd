package org.pathlingrelay.outbox;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * A resource as FHIR JSON, held as the UTF-8 bytes it arrives, is stored and is forwarded in:
 * a backlog of hundreds of megabytes then goes from the outbox into a Bundle without being decoded
 * into text and encoded back. Immutable: the bytes are never handed out for writing.
 */
public final class ResourceJson {

  private final byte[] utf8;

  private ResourceJson(byte[] utf8) {
    this.utf8 = utf8;
  }

  public static ResourceJson of(String json) {
    return new ResourceJson(json.getBytes(StandardCharsets.UTF_8));
  }

  /** Takes ownership of {@code utf8}: the caller must not change the array afterwards. */
  public static ResourceJson ofUtf8(byte[] utf8) {
    return new ResourceJson(utf8);
  }

  public String text() {
    return new String(utf8, StandardCharsets.UTF_8);
  }

  public InputStream read() {
    return new ByteArrayInputStream(utf8);
  }

  /** Bytes for a binder or a writer that only reads them. */
  byte[] utf8() {
    return utf8;
  }

  public int length() {
    return utf8.length;
  }

  /** Writes the bytes out, e.g. into a Bundle being written. */
  public void writeTo(OutputStream out) throws IOException {
    out.write(utf8);
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof ResourceJson that && Arrays.equals(utf8, that.utf8);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(utf8);
  }

  @Override
  public String toString() {
    return text();
  }
}
