package org.pathlingrelay.verify;

import java.sql.SQLException;
import java.util.List;

/** Where a listing's rows go: one side of the {@link ComparisonStore}. */
@FunctionalInterface
interface RowSink {
  void add(List<ListedRow> rows) throws SQLException;
}
