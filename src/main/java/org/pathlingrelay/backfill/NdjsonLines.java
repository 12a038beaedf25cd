package org.pathlingrelay.backfill;

import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;

/**
 * Splits an NDJSON stream into its lines as UTF-8 bytes. The bytes are what the outbox stores and
 * Jackson's byte parser reads, so decoding each line into a String (and encoding it back) was a
 * tenth of the download threads' CPU for nothing. A line may be longer than the buffer: it grows.
 * Not thread-safe: one reader per stream.
 */
final class NdjsonLines implements AutoCloseable {

  private static final int BUFFER_BYTES = 1 << 16;

  private final InputStream in;
  private byte[] buffer = new byte[BUFFER_BYTES];
  /** The unread bytes are {@code buffer[start, end)}. */
  private int start;
  private int end;
  private boolean endOfStream;

  NdjsonLines(InputStream in) {
    this.in = in;
  }

  /** The next line without its {@code \n} (or {@code \r\n}), or null after the last one. */
  byte[] next() throws IOException {
    int scanned = 0; // bytes after start already known to hold no newline
    while (true) {
      for (int i = start + scanned; i < end; i++) {
        if (buffer[i] == '\n') {
          byte[] line = line(start, i);
          start = i + 1;
          return line;
        }
      }
      scanned = end - start;
      if (endOfStream) {
        if (scanned == 0) {
          return null;
        }
        byte[] last = line(start, end);
        start = end;
        return last;
      }
      fill();
    }
  }

  /** True when the line holds nothing but JSON whitespace. */
  static boolean isBlank(byte[] line) {
    for (byte b : line) {
      if (b != ' ' && b != '\t' && b != '\r' && b != '\n') {
        return false;
      }
    }
    return true;
  }

  private byte[] line(int from, int newline) {
    int to = newline > from && buffer[newline - 1] == '\r' ? newline - 1 : newline;
    return Arrays.copyOfRange(buffer, from, to);
  }

  /** Moves the unread bytes to the front (growing the buffer if they fill it) and reads more. */
  private void fill() throws IOException {
    int unread = end - start;
    if (start > 0) {
      System.arraycopy(buffer, start, buffer, 0, unread);
      start = 0;
      end = unread;
    }
    if (end == buffer.length) {
      buffer = Arrays.copyOf(buffer, buffer.length * 2);
    }
    int read = in.read(buffer, end, buffer.length - end);
    if (read < 0) {
      endOfStream = true;
    } else {
      end += read;
    }
  }

  @Override
  public void close() throws IOException {
    in.close();
  }
}
