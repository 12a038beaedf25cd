package org.pathlingrelay.bench;

import java.util.List;

/** What one part of the bench measured, and what a reader must know about how. */
record PartResult(List<Figure> figures, List<String> notes) {

  PartResult {
    figures = List.copyOf(figures);
    notes = List.copyOf(notes);
  }
}
