package org.pathlingrelay.bench;

import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.DoubleAdder;

/**
 * A reverse proxy in front of a real Pathling, for {@code bench --pathling-url}: forwards every
 * request as it is and records, for each resource a write names, when Pathling's answer for it came
 * back (as {@link ModelledPathling#completedAt} does for the model), and how long each write took
 * Pathling. Whatever passes through also updates the run's {@link RunLedger}, so that cleanup knows
 * which of the run's resources Pathling may still hold.
 */
final class RecordingProxy implements AutoCloseable {

  /** Headers a FHIR client sends that matter to Pathling; the rest (Host, Connection, ...) are the client's own. */
  private static final List<String> REQUEST_HEADERS = List.of("Content-Type", "Accept", "Authorization", "Prefer");
  private static final List<String> RESPONSE_HEADERS =
      List.of("Content-Type", "Location", "Content-Location", "Retry-After", "X-Progress", "ETag");

  private final JettyHost host;
  private final Endpoint endpoint;

  private RecordingProxy(JettyHost host, Endpoint endpoint) {
    this.host = host;
    this.endpoint = endpoint;
  }

  static RecordingProxy start(String targetFhirBase, RunLedger ledger) throws Exception {
    Endpoint endpoint = new Endpoint(stripSlash(targetFhirBase), ledger);
    return new RecordingProxy(JettyHost.start("recording-proxy", endpoint), endpoint);
  }

  /** The proxy's FHIR base: point the relay (or a direct writer) here. */
  String fhirBase() {
    return host.fhirBase();
  }

  /** Starts a fresh recording: what passes through from now on, until the next call. */
  Recording record() {
    Recording recording = new Recording();
    endpoint.current = recording;
    return recording;
  }

  @Override
  public void close() throws Exception {
    host.close();
  }

  private static String stripSlash(String url) {
    return url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
  }

  /**
   * What one measurement saw. {@code pathlingSeconds} sums the writes' own times (request sent to
   * answer): Pathling's time the writes took. {@code deletes} counts each DELETE Pathling ran, alone or
   * in a batch (it runs a batch's deletes one by one); {@code failedWrites} any write answered with an error.
   */
  record Stats(long writeRequests, long entries, long deletes, long absentDeletes, long failedWrites,
      double pathlingSeconds) {}

  /** One measurement's records. */
  static final class Recording {
    private final Map<String, Long> completedAt = new ConcurrentHashMap<>();
    private final AtomicLong writeRequests = new AtomicLong();
    private final AtomicLong entries = new AtomicLong();
    private final AtomicLong deletes = new AtomicLong();
    private final AtomicLong absentDeletes = new AtomicLong();
    private final AtomicLong failedWrites = new AtomicLong();
    private final DoubleAdder pathlingSeconds = new DoubleAdder();

    /** When (System.nanoTime) Pathling last answered a write of {@code key} with success. */
    OptionalLong completedAt(String key) {
      Long at = completedAt.get(key);
      return at == null ? OptionalLong.empty() : OptionalLong.of(at);
    }

    Stats stats() {
      return new Stats(writeRequests.get(), entries.get(), deletes.get(), absentDeletes.get(), failedWrites.get(),
          pathlingSeconds.sum());
    }

    /** Waits until Pathling has confirmed {@code count} entries. */
    boolean awaitEntries(long count, Duration timeout) throws InterruptedException {
      long end = System.nanoTime() + timeout.toNanos();
      while (entries.get() < count) {
        if (System.nanoTime() > end) {
          return false;
        }
        TimeUnit.MILLISECONDS.sleep(10);
      }
      return true;
    }

    void written(BatchEntries.Read write, int status, long sentNanos, long answeredNanos) {
      writeRequests.incrementAndGet();
      pathlingSeconds.add((answeredNanos - sentNanos) / 1e9);
      long deleting = write.entries().stream().filter(BatchEntries.Entry::delete).count();
      deletes.addAndGet(deleting);
      boolean singleDelete = write.entries().size() == 1 && deleting == 1;
      if (singleDelete && status == 404) {
        absentDeletes.incrementAndGet();
      }
      boolean done = status / 100 == 2 || (singleDelete && status == 404); // a DELETE's 404: gone, as asked
      if (!done) {
        failedWrites.incrementAndGet();
        return;
      }
      write.entries().forEach(entry -> completedAt.put(entry.key(), answeredNanos));
      entries.addAndGet(write.entries().size());
    }
  }

  /** Forwards a request to Pathling, records the writes. */
  private static final class Endpoint extends HttpServlet {
    private final String target;
    private final RunLedger ledger;
    private final BatchEntries batches = new BatchEntries();
    private final HttpClient http = HttpClient.newBuilder()
        .version(HttpClient.Version.HTTP_1_1)
        .connectTimeout(Duration.ofSeconds(10))
        .build();
    private volatile Recording current = new Recording();

    Endpoint(String target, RunLedger ledger) {
      this.target = target;
      this.ledger = ledger;
    }

    @Override
    protected void service(HttpServletRequest request, HttpServletResponse response) throws IOException {
      String path = request.getPathInfo() == null ? "" : request.getPathInfo();
      String query = request.getQueryString() == null ? "" : "?" + request.getQueryString();
      String method = request.getMethod();
      byte[] body = request.getInputStream().readAllBytes();
      BatchEntries.Read write = write(method, path, body);
      HttpRequest.Builder forward = HttpRequest.newBuilder(URI.create(target + path + query))
          .timeout(Duration.ofMinutes(10))
          .method(method, body.length == 0 ? HttpRequest.BodyPublishers.noBody()
              : HttpRequest.BodyPublishers.ofByteArray(body));
      for (String header : REQUEST_HEADERS) {
        String value = request.getHeader(header);
        if (value != null) {
          forward.header(header, value);
        }
      }
      if (write != null) {
        ledger.mayHold(write.upserts()); // before it is sent: a write that fails may still have landed
      }
      Recording recording = current;
      long sent = System.nanoTime();
      HttpResponse<byte[]> answer;
      try {
        answer = http.send(forward.build(), HttpResponse.BodyHandlers.ofByteArray());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        response.sendError(502, "interrupted");
        return;
      } catch (IOException e) {
        response.sendError(502, "Pathling did not answer: " + e.getMessage());
        return;
      }
      long answered = System.nanoTime();
      if (write != null) {
        recording.written(write, answer.statusCode(), sent, answered);
        boolean singleDelete = write.entries().size() == 1 && write.entries().get(0).delete();
        if (answer.statusCode() / 100 == 2 || (singleDelete && answer.statusCode() == 404)) {
          ledger.gone(write.deletes());
        }
      }
      response.setStatus(answer.statusCode());
      for (String header : RESPONSE_HEADERS) {
        answer.headers().firstValue(header).ifPresent(value -> response.setHeader(header, value));
      }
      response.getOutputStream().write(answer.body());
    }

    /** The resources a write names, or null when the request writes nothing. */
    private BatchEntries.Read write(String method, String path, byte[] body) throws IOException {
      String[] parts = path.split("/");
      if ((method.equals("PUT") || method.equals("DELETE")) && parts.length == 3 && !parts[2].startsWith("$")) {
        return new BatchEntries.Read(null, List.of(new BatchEntries.Entry(parts[1] + "/" + parts[2],
            method.equals("DELETE"))));
      }
      if (method.equals("POST") && (path.isEmpty() || path.equals("/"))) {
        try {
          return batches.read(new ByteArrayInputStream(body));
        } catch (IOException e) {
          return new BatchEntries.Read(null, List.of()); // Pathling will refuse it; still a write
        }
      }
      return null;
    }
  }
}
