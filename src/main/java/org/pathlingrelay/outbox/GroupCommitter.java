package org.pathlingrelay.outbox;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one thread that writes the outbox. Work that arrives while a commit is syncing waits in a
 * bounded queue and goes into the next transaction together, so concurrent requests share one
 * fsync instead of paying one each.
 */
final class GroupCommitter implements AutoCloseable {

  @FunctionalInterface
  interface Work<T> {
    T apply(WriteSide side, long nowMillis) throws SQLException;
  }

  private record Task<T>(Work<T> work, CompletableFuture<T> result) {

    T run(WriteSide side, long nowMillis) throws SQLException {
      return work.apply(side, nowMillis);
    }

    @SuppressWarnings("unchecked")
    void complete(Object value) {
      result.complete((T) value);
    }
  }

  private static final Logger log = LoggerFactory.getLogger(GroupCommitter.class);
  /** How long the queue may stay empty before a group is committed without more. */
  private static final long GATHER_QUIET_NANOS = TimeUnit.MICROSECONDS.toNanos(200);
  /** The most a group waits for company: far below what a sender's timeout notices. */
  private static final long GATHER_MAX_NANOS = TimeUnit.MILLISECONDS.toNanos(2);

  private final Connection connection;
  private final WriteSide side;
  private final InstantSource clock;
  private final BlockingQueue<Task<?>> queue;
  private final int maxGroup;
  private final Runnable afterCommit;
  private final Thread thread;
  private volatile boolean running = true;
  /** Why the latest commit failed, null after one succeeded; only the writer thread writes these. */
  private String failure;
  private int failedCommits;
  private long failingSince;

  /**
   * {@code afterCommit} runs on the writer thread once per committed group, after its callers have
   * been answered: once per group rather than once per change keeps it off the per-request path.
   */
  GroupCommitter(
      Connection connection, WriteSide side, InstantSource clock, int queueCapacity, int maxGroup,
      Runnable afterCommit) {
    this.connection = connection;
    this.afterCommit = afterCommit;
    this.side = side;
    this.clock = clock;
    this.queue = new ArrayBlockingQueue<>(queueCapacity);
    this.maxGroup = maxGroup;
    this.thread = new Thread(this::run, "outbox-writer");
    thread.setDaemon(true);
    thread.start();
  }

  <T> CompletableFuture<T> submit(Work<T> work) {
    CompletableFuture<T> result = new CompletableFuture<>();
    if (!running) {
      result.completeExceptionally(new OutboxUnavailableException("the outbox is closed", null));
    } else if (!queue.offer(new Task<>(work, result))) {
      result.completeExceptionally(
          new OutboxUnavailableException("the outbox is overloaded; try again", null));
    }
    return result;
  }

  private void run() {
    List<Task<?>> group = new ArrayList<>(maxGroup);
    while (running || !queue.isEmpty()) {
      try {
        Task<?> first = queue.poll(100, TimeUnit.MILLISECONDS);
        if (first == null) {
          continue;
        }
        group.add(first);
        gather(group);
        commit(group);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      } finally {
        group.clear();
      }
    }
    Task<?> left;
    while ((left = queue.poll()) != null) {
      left.result().completeExceptionally(
          new OutboxUnavailableException("the outbox is closed", null));
    }
  }

  /**
   * Takes what else is queued, and waits a moment for more while changes keep arriving: every
   * commit rewrites the same few index pages and fsyncs, so a commit of many changes costs far
   * less per change than one of a few. The wait ends as soon as the queue stays empty for
   * {@link #GATHER_QUIET_NANOS}, so a lone notification is not held back. The writer sleeps
   * rather than waiting on the queue: a waiter would be woken by every request that arrives while
   * it gathers, and that wake-up was a tenth of the receiving threads' CPU.
   */
  private void gather(List<Task<?>> group) {
    queue.drainTo(group, maxGroup - group.size());
    long deadline = System.nanoTime() + GATHER_MAX_NANOS;
    while (group.size() < maxGroup && System.nanoTime() < deadline) {
      LockSupport.parkNanos(GATHER_QUIET_NANOS);
      if (queue.drainTo(group, maxGroup - group.size()) == 0) {
        return;
      }
    }
  }

  private void commit(List<Task<?>> group) {
    long now = clock.millis();
    List<Object> results = new ArrayList<>(group.size());
    try {
      execute("BEGIN IMMEDIATE");
      side.beginGroup();
      for (Task<?> task : group) {
        results.add(task.run(side, now));
      }
      side.endGroup();
      execute("COMMIT");
      succeeded();
    } catch (SQLException | RuntimeException e) {
      rollback();
      if (group.size() > 1) {
        // One bad task must not fail the others that shared its transaction.
        for (Task<?> task : group) {
          commit(List.of(task));
        }
        return;
      }
      failed(String.valueOf(e.getMessage()), now);
      group.get(0).result().completeExceptionally(
          new OutboxUnavailableException("the outbox could not store the change: " + e.getMessage(), e));
      return;
    }
    for (int i = 0; i < group.size(); i++) {
      group.get(i).complete(results.get(i));
    }
    afterCommit.run();
  }

  /**
   * Logs when commits start failing, or fail differently, and when they succeed again; not every
   * failed commit: on a full disk every notification fails alike, and one line each would flood
   * the log (perhaps on that very disk). Whoever waited for the commit hears the cause.
   */
  private void failed(String cause, long now) {
    failedCommits++;
    if (failure == null) {
      failingSince = now;
    }
    if (!cause.equals(failure)) {
      log.error("Outbox commits are failing: {}; notifications are answered 503 until one succeeds", cause);
    }
    failure = cause;
  }

  private void succeeded() {
    if (failure != null) {
      log.info("Outbox commits succeed again, after {} failed since {}", failedCommits,
          Instant.ofEpochMilli(failingSince));
      failure = null;
      failedCommits = 0;
    }
  }

  private void rollback() {
    try {
      execute("ROLLBACK");
    } catch (SQLException e) {
      // Expected when BEGIN itself failed: there is no transaction to roll back.
      log.debug("Outbox rollback: {}", e.getMessage());
    }
  }

  private void execute(String sql) throws SQLException {
    try (var statement = connection.createStatement()) {
      statement.execute(sql);
    }
  }

  @Override
  public void close() throws InterruptedException {
    running = false;
    thread.join(TimeUnit.SECONDS.toMillis(30));
  }
}
