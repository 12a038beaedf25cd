package org.pathlingrelay.testing;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Builds the exact bytes of an HTTP/1.1 request, including ones a real client would refuse to
 * send: any header, any target, any body bytes. {@code Content-Length} is added for a body unless
 * the request says otherwise; {@code Connection: close} is always sent.
 */
public final class RawRequest {

  private final String method;
  private final String target;
  private final List<String> headers = new ArrayList<>();
  private byte[] body = new byte[0];
  private boolean declareLength = true;

  private RawRequest(String method, String target) {
    this.method = method;
    this.target = target;
  }

  public static RawRequest of(String method, String target) {
    return new RawRequest(method, target);
  }

  public RawRequest header(String name, String value) {
    headers.add(name + ": " + value);
    return this;
  }

  /** A header line exactly as given, even one that is not {@code name: value}. */
  public RawRequest rawHeaderLine(String line) {
    headers.add(line);
    return this;
  }

  public RawRequest body(String text) {
    return body(text.getBytes(StandardCharsets.UTF_8));
  }

  public RawRequest body(byte[] bytes) {
    this.body = bytes.clone();
    return this;
  }

  /** Sends the body without a {@code Content-Length} (for chunked or hand-declared lengths). */
  public RawRequest withoutContentLength() {
    this.declareLength = false;
    return this;
  }

  public byte[] bytes() {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    StringBuilder head = new StringBuilder(method).append(' ').append(target).append(" HTTP/1.1\r\n");
    head.append("Host: localhost\r\n");
    headers.forEach(h -> head.append(h).append("\r\n"));
    if (declareLength && body.length > 0) {
      head.append("Content-Length: ").append(body.length).append("\r\n");
    }
    head.append("Connection: close\r\n\r\n");
    out.writeBytes(head.toString().getBytes(StandardCharsets.ISO_8859_1));
    out.writeBytes(body);
    return out.toByteArray();
  }

  @Override
  public String toString() {
    return method + " " + (target.length() > 60 ? target.substring(0, 60) + "…" : target);
  }
}
