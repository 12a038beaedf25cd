package org.pathlingrelay.backfill;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Splitting an NDJSON download into lines of bytes. */
class NdjsonLinesTest {

  @Test
  void linesEndAtNewlines_withOrWithoutCarriageReturn_andTheLastNeedsNone() throws IOException {
    assertThat(lines("{\"a\":1}\n{\"b\":2}\r\n{\"c\":3}"))
        .containsExactly("{\"a\":1}", "{\"b\":2}", "{\"c\":3}");
  }

  @Test
  void aTrailingNewline_addsNoEmptyLine_butBlankLinesInBetweenAreKept() throws IOException {
    assertThat(lines("x\n\n  \ny\n")).containsExactly("x", "", "  ", "y");
  }

  @Test
  void anEmptyStream_hasNoLines() throws IOException {
    assertThat(lines("")).isEmpty();
  }

  @Test
  void aLineLongerThanTheBuffer_comesWhole() throws IOException {
    String longLine = "{\"text\":\"" + "é".repeat(200_000) + "\"}";

    assertThat(lines("short\n" + longLine + "\nafter")).containsExactly("short", longLine, "after");
  }

  @Test
  void aNewlineIsFound_atEveryPositionOfAWord_andBytesAbove0x7fAreNotMistakenForOne() throws IOException {
    List<String> expected = new ArrayList<>();
    StringBuilder text = new StringBuilder();
    for (int length = 0; length < 40; length++) {
      String line = "ÿ\u0009\u000b".repeat(length).substring(0, length); // ÿ is 0xC3 0xBF; tabs and 0x0B sit beside 0x0A
      expected.add(line);
      text.append(line).append('\n');
    }

    assertThat(lines(text.toString())).containsExactlyElementsOf(expected);
  }

  @Test
  void linesCutAcrossReads_comeWhole() throws IOException {
    StringBuilder text = new StringBuilder();
    List<String> expected = new ArrayList<>();
    for (int i = 0; i < 5_000; i++) {
      String line = "{\"id\":\"" + i + "\",\"name\":\"Ünïcødé " + "x".repeat(i % 97) + "\"}";
      expected.add(line);
      text.append(line).append('\n');
    }
    byte[] bytes = text.toString().getBytes(StandardCharsets.UTF_8);

    // a network stream hands out a few bytes at a time, cutting lines and characters anywhere
    InputStream trickle = new ByteArrayInputStream(bytes) {
      @Override
      public synchronized int read(byte[] b, int off, int len) {
        return super.read(b, off, Math.min(len, 1 + (pos % 333)));
      }
    };
    assertThat(read(new NdjsonLines(trickle))).containsExactlyElementsOf(expected);
  }

  @Test
  void blankMeansOnlyWhitespace() {
    assertThat(NdjsonLines.isBlank(" \t\r".getBytes(StandardCharsets.UTF_8))).isTrue();
    assertThat(NdjsonLines.isBlank(new byte[0])).isTrue();
    assertThat(NdjsonLines.isBlank(" {} ".getBytes(StandardCharsets.UTF_8))).isFalse();
  }

  private static List<String> lines(String text) throws IOException {
    return read(new NdjsonLines(new ByteArrayInputStream(text.getBytes(StandardCharsets.UTF_8))));
  }

  private static List<String> read(NdjsonLines in) throws IOException {
    List<String> lines = new ArrayList<>();
    try (in) {
      byte[] line;
      while ((line = in.next()) != null) {
        lines.add(new String(line, StandardCharsets.UTF_8));
      }
    }
    return lines;
  }
}
