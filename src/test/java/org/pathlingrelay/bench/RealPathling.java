package org.pathlingrelay.bench;

import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;

/**
 * The real Pathling of one {@code bench --pathling-url} run: the user's server behind a {@link
 * RecordingProxy} (relay and baselines both write through it, so both are timed alike), the run's
 * id prefix and {@link RunLedger}, and the cleanup at the end. If the run is interrupted before
 * cleanup, a shutdown hook prints the prefix and how to remove what the run wrote.
 */
final class RealPathling implements AutoCloseable {

  private final String url;
  private final RunLedger ledger;
  private final RecordingProxy proxy;
  private final Consumer<String> progress;
  private final Thread interrupted;

  private RealPathling(String url, RunLedger ledger, RecordingProxy proxy, Consumer<String> progress) {
    this.url = url;
    this.ledger = ledger;
    this.proxy = proxy;
    this.progress = progress;
    this.interrupted = new Thread(() -> System.err.println("bench interrupted: resources it wrote may be left in "
        + url + " with ids starting with " + ledger.prefix() + "; remove them with"
        + " bench --pathling-url " + url + " --pathling-cleanup " + ledger.prefix()), "bench-cleanup-hint");
  }

  static RealPathling start(String url, Consumer<String> progress) throws Exception {
    RunLedger ledger = RunLedger.fresh();
    RealPathling pathling = new RealPathling(url, ledger, RecordingProxy.start(url, ledger), progress);
    Runtime.getRuntime().addShutdownHook(pathling.interrupted);
    progress.accept("writing to " + url + " with ids starting with " + ledger.prefix()
        + " (deleted at the end of the run)");
    return pathling;
  }

  String prefix() {
    return ledger.prefix();
  }

  String url() {
    return url;
  }

  /** Where the relay and the baselines write: the proxy. */
  String fhirBase() {
    return proxy.fhirBase();
  }

  /** A hand-written client of Pathling, through the proxy. */
  PathlingDirect direct() {
    return new PathlingDirect(proxy.fhirBase());
  }

  RecordingProxy.Recording record() {
    return proxy.record();
  }

  /** Deletes what the run may have left in Pathling; returns a note for the table. */
  String cleanUp(int parallelTypes) throws Exception {
    List<String> held = ledger.held();
    PathlingCleanup.Result result = new PathlingCleanup(direct(), parallelTypes, progress).delete(held);
    Runtime.getRuntime().removeShutdownHook(interrupted);
    return String.format(Locale.ROOT,
        "cleanup: deleted the run's %,d resource(s) (ids %s*) from %s in %.0f s, %d type(s) at a time"
            + " (%d were gone already); Pathling has no bulk delete, each DELETE is a job of its own",
        held.size(), ledger.prefix(), url, result.seconds(), parallelTypes, result.absent());
  }

  @Override
  public void close() throws Exception {
    proxy.close();
  }
}
