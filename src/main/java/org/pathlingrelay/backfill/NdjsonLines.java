package org.pathlingrelay.backfill;

import java.io.IOException;
import java.io.InputStream;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * Splits an NDJSON stream into its lines as UTF-8 bytes. The bytes are what the outbox stores and
 * Jackson's byte parser reads, so decoding each line into a String (and encoding it back) was a
 * tenth of the download threads' CPU for nothing. A line may be longer than the buffer: it grows.
 * Not thread-safe: one reader per stream.
 */
final class NdjsonLines implements AutoCloseable {

  private static final int BUFFER_BYTES = 1 << 16;
  // Little-endian, so the lowest set bit of the test below belongs to the earliest byte.
  private static final VarHandle LONGS = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
  private static final long NEWLINES = 0x0A0A0A0A0A0A0A0AL;
  private static final long ONES = 0x0101010101010101L;
  private static final long HIGH_BITS = 0x8080808080808080L;

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
      int newline = newline(start + scanned, end);
      if (newline >= 0) {
        byte[] line = line(start, newline);
        start = newline + 1;
        return line;
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

  /**
   * The index of the first {@code \n} in {@code buffer[from, to)}, or -1. Eight bytes at a time
   * (a newline byte becomes a zero byte, and the classic zero-byte test finds the first): a byte
   * at a time was a fifth of the download threads' CPU.
   */
  private int newline(int from, int to) {
    int i = from;
    for (; i + Long.BYTES <= to; i += Long.BYTES) {
      long word = (long) LONGS.get(buffer, i) ^ NEWLINES;
      long zeroBytes = (word - ONES) & ~word & HIGH_BITS;
      if (zeroBytes != 0) {
        return i + (Long.numberOfTrailingZeros(zeroBytes) >>> 3);
      }
    }
    for (; i < to; i++) {
      if (buffer[i] == '\n') {
        return i;
      }
    }
    return -1;
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
