package org.pathlingrelay.backfill;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.pathlingrelay.source.ExportManifest.ExportFile;

/**
 * Holds forwarding of each exported type until the last of its files is queued. A type's files
 * arrive one at a time; forwarding it meanwhile sends its early files in full batches and its
 * remainder in an extra partial one, and each request to Pathling costs seconds whatever its size.
 * Thread-safe: download threads report files as they finish.
 */
final class TypeHolds implements AutoCloseable {

  private final Map<String, Integer> filesLeft = new HashMap<>();
  private final Map<String, AutoCloseable> held = new HashMap<>();

  private TypeHolds() {}

  /** Holds every type with an output file in {@code files}, waiting for their requests in flight. */
  static TypeHolds of(List<ExportFile> files, ForwardingHold hold) throws InterruptedException {
    TypeHolds holds = new TypeHolds();
    for (ExportFile file : files) {
      holds.filesLeft.merge(file.type(), 1, Integer::sum);
    }
    try {
      for (String type : holds.filesLeft.keySet()) {
        holds.held.put(type, hold.hold(Set.of(type)));
      }
    } catch (InterruptedException | RuntimeException e) {
      holds.close();
      throw e;
    }
    return holds;
  }

  /** One of the type's files is queued: after its last, the type is forwarded again. */
  synchronized void queued(String type) {
    Integer left = filesLeft.computeIfPresent(type, (t, n) -> n - 1);
    if (left != null && left == 0) {
      filesLeft.remove(type);
      release(type);
    }
  }

  /** Types still held. */
  synchronized Set<String> holding() {
    return Set.copyOf(held.keySet());
  }

  @Override
  public synchronized void close() {
    for (String type : Set.copyOf(held.keySet())) {
      release(type);
    }
  }

  private void release(String type) {
    AutoCloseable hold = held.remove(type);
    if (hold != null) {
      ForwardingHold.release(hold);
    }
  }
}
