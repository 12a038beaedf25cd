package org.pathlingrelay.verify;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The comparison itself: which listed rows make which difference, and the scratch file's life. */
class ComparisonStoreTest {

  @TempDir Path dir;

  private record Found(DifferenceKind kind, String id) {}

  @Test
  void versionsCompareByNumber_andByLastUpdatedWhereEitherHasNoNumber() throws Exception {
    List<Found> found = new ArrayList<>();
    ComparisonStore.Tally tally;
    try (ComparisonStore store = ComparisonStore.create(dir)) {
      store.clear();
      store.addSource(List.of(
          new ListedRow("same", 3L, 1000L),
          new ListedRow("older-number", 3L, 1000L),
          new ListedRow("newer-in-pathling", 3L, 1000L),
          new ListedRow("older-date", null, 2000L),
          new ListedRow("same-date", null, 2000L),
          new ListedRow("no-meta", null, null)));
      store.addPathling(List.of(
          new ListedRow("same", 3L, 1000L),
          new ListedRow("older-number", 2L, 5000L), // the number decides, not the date
          new ListedRow("newer-in-pathling", 4L, 1000L),
          new ListedRow("older-date", 7L, 1000L),
          new ListedRow("same-date", null, 2000L),
          new ListedRow("no-meta", null, null)));
      tally = store.compare("Patient", (type, kind, id) -> found.add(new Found(kind, id)));
    }

    assertThat(found).containsExactlyInAnyOrder(
        new Found(DifferenceKind.STALE, "older-number"), new Found(DifferenceKind.STALE, "older-date"));
    assertThat(tally).isEqualTo(new ComparisonStore.Tally(6, 6, 0, 2, 0, 0));
  }

  @Test
  void anIdTheSourceListsTwice_countsOnce_andEachTypeStartsEmpty() throws Exception {
    List<Found> found = new ArrayList<>();
    try (ComparisonStore store = ComparisonStore.create(dir)) {
      store.clear();
      store.addSource(List.of(new ListedRow("a", 1L, null), new ListedRow("gone", 1L, null)));
      store.addPathling(List.of(new ListedRow("x", 1L, null)));
      store.compare("Patient", (type, kind, id) -> {});

      store.clear();
      // A page boundary that moved under a write: the source lists "a" on two pages.
      store.addSource(List.of(new ListedRow("a", 1L, null)));
      store.addSource(List.of(new ListedRow("a", 1L, null), new ListedRow("b", 1L, null)));
      store.addPathling(List.of(new ListedRow("a", 1L, null), new ListedRow("a", 1L, null),
          new ListedRow("c", 1L, null)));
      ComparisonStore.Tally tally = store.compare("Observation", (type, kind, id) -> found.add(new Found(kind, id)));

      assertThat(tally).isEqualTo(new ComparisonStore.Tally(2, 3, 1, 0, 1, 1));
    }
    assertThat(found).containsExactly(new Found(DifferenceKind.MISSING, "b"), new Found(DifferenceKind.EXTRA, "c"),
        new Found(DifferenceKind.DUPLICATED, "a"));
  }

  @Test
  void theScratchFileIsGoneOnceClosed() throws Exception {
    try (ComparisonStore store = ComparisonStore.create(dir)) {
      store.clear();
      try (var files = Files.list(dir)) {
        assertThat(files.count()).isEqualTo(1);
      }
    }
    try (var files = Files.list(dir)) {
      assertThat(files.count()).isZero();
    }
  }
}
