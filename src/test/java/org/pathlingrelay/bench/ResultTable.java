package org.pathlingrelay.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The one table {@code bench} prints: every figure beside its baseline and their ratio, as
 * markdown (readable as plain text too: the columns are padded), with the machine above it and
 * the set-up below.
 */
public final class ResultTable {

  private static final String[] HEADER = {
    "part", "figure", "relay", "baseline", "ratio", "better", "baseline is"
  };

  private final String machine;
  private final List<Figure> figures;
  private final List<String> notes;

  public ResultTable(String machine, List<Figure> figures, List<String> notes) {
    this.machine = machine;
    this.figures = List.copyOf(figures);
    this.notes = List.copyOf(notes);
  }

  public List<Figure> figures() {
    return figures;
  }

  public String markdown() {
    List<String[]> rows = new ArrayList<>();
    rows.add(HEADER);
    for (Figure figure : figures) {
      rows.add(new String[] {
        figure.part(),
        figure.name(),
        number(figure.relayMedian(), figure.decimals()),
        number(figure.baselineMedian(), figure.decimals()),
        ratio(figure.ratio()),
        figure.better().name().toLowerCase(Locale.ROOT),
        figure.baselineIs()
      });
    }
    int[] widths = new int[HEADER.length];
    for (String[] row : rows) {
      for (int i = 0; i < row.length; i++) {
        widths[i] = Math.max(widths[i], row[i].length());
      }
    }
    StringBuilder out = new StringBuilder();
    out.append("## pathling-relay bench\n\n").append(machine).append("\n\n");
    appendRow(out, rows.get(0), widths);
    String[] rule = new String[HEADER.length];
    for (int i = 0; i < rule.length; i++) {
      rule[i] = (i >= 2 && i <= 4 ? "-".repeat(Math.max(1, widths[i] - 1)) + ":" : "-".repeat(widths[i]));
    }
    appendRow(out, rule, widths);
    for (String[] row : rows.subList(1, rows.size())) {
      appendRow(out, row, widths);
    }
    if (!notes.isEmpty()) {
      out.append('\n');
      for (String note : notes) {
        out.append("- ").append(note).append('\n');
      }
    }
    return out.toString();
  }

  private static void appendRow(StringBuilder out, String[] cells, int[] widths) {
    out.append('|');
    for (int i = 0; i < cells.length; i++) {
      boolean right = i >= 2 && i <= 4;
      String cell = cells[i];
      String pad = " ".repeat(widths[i] - cell.length());
      out.append(' ').append(right ? pad + cell : cell + pad).append(" |");
    }
    out.append('\n');
  }

  static String number(double value, int decimals) {
    if (Double.isNaN(value) || Double.isInfinite(value)) {
      return "n/a";
    }
    // Decimals only where they carry information.
    int shown = Math.abs(value) >= 100 ? 0 : decimals;
    return String.format(Locale.ROOT, "%,." + shown + "f", value);
  }

  static String ratio(double value) {
    if (Double.isNaN(value) || Double.isInfinite(value)) {
      return "n/a";
    }
    return String.format(Locale.ROOT, value < 0.01 ? "%.4f" : "%.2f", value);
  }
}
