package org.pathlingrelay.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Sends exact bytes to a server on a fresh socket and reads what comes back, for requests no
 * well-behaved HTTP client would send. Each request should carry {@code Connection: close}, so
 * the answer ends where the stream ends.
 */
public final class RawHttp {

  private final String host;
  private final int port;

  public RawHttp(String host, int port) {
    this.host = host;
    this.port = port;
  }

  /**
   * What came back: the status ({@code -1} when the server closed the connection without an
   * answer), the headers (lower-case names), the body, and how long it took.
   */
  public record Answer(int status, Map<String, String> headers, String body, Duration elapsed) {
    public boolean closedWithoutAnswer() {
      return status == -1;
    }
  }

  /** Sends the request at once and reads the answer, waiting at most {@code timeout}. */
  public Answer exchange(byte[] request, Duration timeout) throws IOException {
    long start = System.nanoTime();
    try (Socket socket = new Socket(host, port)) {
      socket.setSoTimeout((int) timeout.toMillis());
      OutputStream out = socket.getOutputStream();
      try {
        out.write(request);
        out.flush();
      } catch (SocketException refusedMidway) {
        // The server may answer and close before a large or refused body is sent in full.
      }
      return read(socket.getInputStream(), start);
    }
  }

  /** Opens a connection for a test that writes in its own rhythm. */
  public Socket open(Duration readTimeout) throws IOException {
    Socket socket = new Socket(host, port);
    socket.setSoTimeout((int) readTimeout.toMillis());
    return socket;
  }

  /** Reads an answer to its end; a timeout here means the server hung, which is a failure. */
  public static Answer read(InputStream in, long startNanos) throws IOException {
    ByteArrayOutputStream received = new ByteArrayOutputStream();
    byte[] buffer = new byte[8192];
    try {
      for (int n; (n = in.read(buffer)) >= 0; ) {
        received.write(buffer, 0, n);
      }
    } catch (SocketTimeoutException hung) {
      throw new AssertionError("the server neither answered nor closed the connection in time", hung);
    } catch (SocketException reset) {
      // A reset after (or instead of) the answer: keep whatever arrived.
    }
    return parse(received.toString(StandardCharsets.ISO_8859_1), Duration.ofNanos(System.nanoTime() - startNanos));
  }

  /**
   * Reads exactly one answer from a connection that stays open (keep-alive): the head, then a body
   * framed by {@code Content-Length} or chunked encoding.
   */
  public static Answer readOne(InputStream in, long startNanos) throws IOException {
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    while (!head.toString(StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) {
      int b = in.read();
      if (b < 0) {
        return parse(head.toString(StandardCharsets.ISO_8859_1), Duration.ofNanos(System.nanoTime() - startNanos));
      }
      head.write(b);
    }
    String headText = head.toString(StandardCharsets.ISO_8859_1);
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    java.util.regex.Matcher length = java.util.regex.Pattern.compile("(?i)\r\ncontent-length:\\s*(\\d+)").matcher(headText);
    if (length.find()) {
      body.writeBytes(in.readNBytes(Integer.parseInt(length.group(1))));
    } else if (headText.toLowerCase(Locale.ROOT).contains("transfer-encoding: chunked")) {
      while (true) {
        String sizeLine = readLine(in);
        body.writeBytes((sizeLine + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
        int size = Integer.parseInt(sizeLine.split(";")[0].trim(), 16);
        body.writeBytes(in.readNBytes(size + 2));
        if (size == 0) {
          break;
        }
      }
    }
    return parse(headText + body.toString(StandardCharsets.ISO_8859_1), Duration.ofNanos(System.nanoTime() - startNanos));
  }

  private static String readLine(InputStream in) throws IOException {
    StringBuilder line = new StringBuilder();
    for (int b; (b = in.read()) >= 0 && b != '\n'; ) {
      if (b != '\r') {
        line.append((char) b);
      }
    }
    return line.toString();
  }

  private static Answer parse(String raw, Duration elapsed) {
    if (!raw.startsWith("HTTP/")) {
      return new Answer(-1, Map.of(), raw, elapsed);
    }
    int headEnd = raw.indexOf("\r\n\r\n");
    String head = headEnd < 0 ? raw : raw.substring(0, headEnd);
    String body = headEnd < 0 ? "" : raw.substring(headEnd + 4);
    String[] lines = head.split("\r\n");
    int status = Integer.parseInt(lines[0].split(" ")[1]);
    Map<String, String> headers = new TreeMap<>();
    for (int i = 1; i < lines.length; i++) {
      int colon = lines[i].indexOf(':');
      if (colon > 0) {
        headers.put(lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT), lines[i].substring(colon + 1).trim());
      }
    }
    if ("chunked".equalsIgnoreCase(headers.get("transfer-encoding"))) {
      body = dechunk(body);
    }
    return new Answer(status, headers, new String(body.getBytes(StandardCharsets.ISO_8859_1), StandardCharsets.UTF_8), elapsed);
  }

  private static String dechunk(String chunked) {
    StringBuilder body = new StringBuilder();
    int at = 0;
    while (at < chunked.length()) {
      int lineEnd = chunked.indexOf("\r\n", at);
      if (lineEnd < 0) {
        break;
      }
      int size = Integer.parseInt(chunked.substring(at, lineEnd).split(";")[0].trim(), 16);
      if (size == 0) {
        break;
      }
      int end = Math.min(lineEnd + 2 + size, chunked.length());
      body.append(chunked, lineEnd + 2, end);
      at = end + 2;
    }
    return body.toString();
  }
}
