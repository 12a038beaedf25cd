package org.pathlingrelay.backfill;

/** How exported data gets into Pathling. */
public enum LoadMode {
  /** Every NDJSON line becomes a change in the outbox; the forwarder sends large batches. */
  RELAY,
  /** Files are staged where Pathling can read them, and Pathling's {@code $import} loads them. */
  IMPORT,
  /** Pathling's {@code $import-pnp} exports from the source itself; the relay orchestrates. */
  PNP
}
