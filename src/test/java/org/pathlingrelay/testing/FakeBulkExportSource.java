package org.pathlingrelay.testing;

import ca.uhn.fhir.context.FhirContext;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.URLDecoder;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import java.util.zip.GZIPOutputStream;
import org.eclipse.jetty.ee10.servlet.ServletContextRequest;
import org.eclipse.jetty.ee10.servlet.ServletContextResponse;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.ConnectionFactory;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.HttpConnectionFactory;

/**
 * A fake FHIR Bulk Data {@code $export} source over real HTTP, shaped like HAPI FHIR JPA 8.8.0
 * (see {@code ../shared/fixtures/hapi-8.8.0-wire/08-*}, {@code 09-*}, {@code 10-*}), serving an
 * NDJSON dataset such as {@code ../shared/fixtures/synthea-10}.
 *
 * <h2>Registering it</h2>
 *
 * <pre>{@code
 * @RegisterExtension
 * static final FakeBulkExportSource source = new FakeBulkExportSource(); // synthea-10
 *
 * @Test
 * void loadsHistory() {
 *   source.setRetryAfter("1");
 *   // point the code under test at source.baseUrl(), e.g. http://localhost:41234/fhir
 *   assertThat(source.kickOffs()).singleElement().satisfies(k -> k.header("Prefer") ...);
 *   assertThat(source.downloads()).allSatisfy(d -> assertThat(d.binaryResource()).isFalse());
 * }
 * }</pre>
 *
 * <p>Use a {@code static} field: the server then starts once before the class's
 * {@code @BeforeAll} methods (so {@link #baseUrl()} is usable there), keeps its port for the
 * whole class, is {@linkplain #reset() reset} and brought back up (if a test left it down) before
 * every test, and is stopped after the class (and after each {@code @Nested} class; it restarts
 * on the same port).
 *
 * <h2>Endpoints (base {@code http://localhost:PORT/fhir})</h2>
 *
 * <ul>
 *   <li><b>Kick-off</b>: {@code GET} or {@code POST} (FHIR {@code Parameters} body) of
 *       {@code [base]/$export}, {@code [base]/Patient/$export}, {@code [base]/Patient/[id]/$export}
 *       and {@code [base]/Group/[id]/$export}. Without {@code Prefer: respond-async}: 400
 *       {@code HAPI-0513: Must request async processing for $export}. Otherwise 202, empty body,
 *       {@code Content-Location: [base]/$export-poll-status?_jobId=<uuid>}. Parameters:
 *       {@code _type} (comma list, may repeat; unknown types and {@code Binary} answer 400 as
 *       HAPI does), {@code _since} (a FHIR instant with seconds and offset; anything else 400 —
 *       note that an unencoded {@code +} in a query decodes to a space and fails, as on HAPI),
 *       {@code _outputFormat} ({@code application/fhir+ndjson}, {@code application/ndjson} or
 *       {@code ndjson}; else 400). {@code _typeFilter} and everything else is only recorded. The
 *       export level (system, Patient, Group) is recorded but does not narrow the data: no
 *       compartment logic.
 *   <li><b>Status</b>: {@code GET [base]/$export-poll-status?_jobId=..}: 202 with
 *       {@code X-Progress: Build in progress - Status set to QUEUED at <kick-off time>} (then
 *       {@code IN_PROGRESS}) and {@code Retry-After: 120} ({@link #setRetryAfter}) until the job
 *       completes ({@link #setPollsUntilComplete}, {@link #setMinJobDuration}); then 200 with the
 *       manifest as {@code application/json;charset=ISO-8859-1}, pretty-printed exactly as HAPI's
 *       Jackson writes it: {@code transactionTime}, {@code request}, {@code requiresAccessToken:
 *       true} (always, as HAPI), {@code output} ({@code type}, {@code url}; no {@code count}),
 *       {@code error}, then {@code deleted} when there is one, then HAPI's {@code message} when
 *       {@linkplain #setManifestMessage set}. Unknown job: 404 OperationOutcome. A job that
 *       {@linkplain #failJobs fails}: 500 OperationOutcome.
 *   <li><b>Cancel</b>: {@code DELETE} of the status URL: a running job answers 202 with an
 *       OperationOutcome ({@code Job instance <id> successfully submitted for cancellation.}) and
 *       later polls answer 404 (the IG rule; real HAPI 8.8.0 instead keeps answering 202
 *       {@code Status set to CANCELLED} for ever: {@link #setHapiCancelQuirk}). A completed job
 *       answers 404 ({@code ... was already cancelled or has completed.  Nothing to do.}), as HAPI
 *       does; its files stay downloadable.
 *   <li><b>History</b>: {@code GET [base]/_history} and {@code [base]/[type]/_history}, with
 *       {@code _since}, {@code _count} and {@code _offset}, paged as HAPI pages them (see
 *       {@link FakeHistory}): every {@link #put} and {@link #delete} is an entry. Dataset lines
 *       have no history.
 *   <li><b>Files</b>: {@code GET [base]/Binary/<32 random chars>}. With an {@code Accept} (or
 *       {@code _format}) that asks for a FHIR encoding ({@code application/fhir+json},
 *       {@code application/json}, ...) before {@code application/fhir+ndjson}, HAPI answers the
 *       {@code Binary} resource ({@code contentType: application/fhir+ndjson}, base64
 *       {@code data}) — the trap for a naive client; with {@code *}{@code /*}, no
 *       {@code Accept} or {@code application/fhir+ndjson} first, the raw NDJSON ({@code Content-Type:
 *       application/fhir+ndjson}, {@code Content-Disposition: Attachment;}, exact
 *       {@code Content-Length}). Files hold at most {@link #setMaxResourcesPerFile} (default 1000,
 *       HAPI's {@code bulkExportFileMaximumCapacity}) resources, so big types get several
 *       entries. Bodies are streamed from the dataset files, never loaded whole.
 * </ul>
 *
 * <h2>Data and {@code _since}</h2>
 *
 * <p>The dataset is a directory of {@code Type.NNN.ndjson} files (the type is the name up to the
 * first dot; several files of one type are concatenated in name order). Dataset lines are served
 * byte for byte. Each line's {@code meta.lastUpdated} counts for {@code _since}; a line without one
 * (all of Synthea) counts as last updated at {@link #setUndatedLastUpdated} (default
 * {@link Instant#EPOCH}), so by default any {@code _since} export skips the whole dataset and
 * carries only what tests changed; set it to {@link Instant#MAX} to treat undated lines as always
 * changed. {@link #put} adds or replaces a resource (it is stamped with {@code meta.lastUpdated});
 * {@link #delete} removes one and, in a later {@code _since} export, lists it in a
 * {@code deleted} file. {@code _since} is inclusive ({@code lastUpdated >= _since}), as HAPI's
 * search is. The fake's clock is millisecond-grained and strictly increasing across puts,
 * deletes and kick-offs, so feeding a manifest's {@code transactionTime} back as the next
 * {@code _since} selects exactly what changed after that kick-off. An export is a snapshot taken
 * at kick-off; the manifest's {@code transactionTime} is the kick-off instant.
 *
 * <p><b>Deleted files</b> (not produced by real HAPI 8.8.0 at all: {@link #setReportDeletions}):
 * as the Bulk Data IG says, each line is a {@code Bundle} of type {@code transaction} whose
 * entries carry only {@code request.method = DELETE} and {@code request.url = Type/id}:
 * <pre>{@code
 * {"resourceType":"Bundle","id":"<uuid>","meta":{"lastUpdated":"..."},"type":"transaction",
 *  "entry":[{"request":{"method":"DELETE","url":"Patient/123"}}]}
 * }</pre>
 * listed in the manifest as {@code "deleted": [{"type": "Bundle", "url": ...}]}. One entry per
 * Bundle by default ({@link #setDeletedEntriesPerBundle}). Only with {@code _since}, only
 * deletions at or after it, only of requested types.
 *
 * <p><b>Error files</b> ({@link #addError}): NDJSON of OperationOutcome, listed in {@code error}
 * as {@code {"type": "OperationOutcome", "url": ...}}. HAPI itself always sends {@code []}.
 *
 * <h2>Failure injection and auth</h2>
 *
 * <p>{@link #failNextKickOffs}, {@link #failNextPolls}, {@link #failNextDownloads} answer a status
 * with an OperationOutcome and {@code Retry-After: 1}; a failed poll does not advance the job.
 * {@link #cutNextDownloads} sends the full headers (with the full {@code Content-Length}), then
 * only the first N body bytes, then aborts the connection. {@link #setRangeRequests} makes raw
 * downloads honour {@code Range: bytes=N-} with 206 (HAPI does not: it ignores Range).
 * {@link #setGzip} makes downloads honour {@code Accept-Encoding: gzip}. {@link #requireToken}
 * makes every request, downloads included, need {@code Authorization: Bearer <token>} (else 401
 * with {@code WWW-Authenticate: Bearer}).
 *
 * <p>Every answer carries HAPI's {@code X-Powered-By} (and no {@code Server} header). Error
 * answers are compact OperationOutcomes ({@code application/fhir+json;charset=utf-8}); their
 * diagnostics follow HAPI's source where known ({@code HAPI-0513}, {@code HAPI-2227}, the
 * cancellation texts) and are otherwise only close. All knobs and inspection methods are
 * thread-safe; records are added before the answer is sent.
 */
public final class FakeBulkExportSource extends FakeServer {

  /** The 10-patient Synthea set: 7,160 resources in 13 types. */
  public static final Path SYNTHEA_10 = Path.of("src", "test", "fixtures", "synthea-10");

  public static final String NDJSON = "application/fhir+ndjson";
  /** HAPI JPA's default {@code bulkExportFileMaximumCapacity}: resources per file. */
  public static final int HAPI_FILE_CAPACITY = 1000;
  public static final String POWERED_BY =
      "HAPI FHIR 8.8.0 REST Server (FHIR Server; FHIR 4.0.1/R4)";

  static final String MANIFEST_CONTENT_TYPE = "application/json;charset=ISO-8859-1";
  static final String FHIR_JSON = "application/fhir+json;charset=utf-8";

  private static final String SERVLET_PATH = "/fhir";
  private static final ObjectMapper JSON = new ObjectMapper();
  /** How HAPI renders instants: millisecond precision and a {@code +00:00} offset. */
  private static final DateTimeFormatter HAPI_INSTANT =
      DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSxxx").withZone(ZoneOffset.UTC);
  private static final DateTimeFormatter HTTP_DATE =
      DateTimeFormatter.RFC_1123_DATE_TIME.withZone(ZoneOffset.UTC);
  private static final Set<String> OUTPUT_FORMATS =
      Set.of("application/fhir+ndjson", "application/ndjson", "ndjson");
  private static final Pattern KICK_OFF =
      Pattern.compile("/(?:(Patient|Group)(?:/([^/]+))?/)?\\$export");
  private static final Pattern BINARY = Pattern.compile("/Binary/([^/]+)");
  private static final Pattern HISTORY = Pattern.compile("/(?:([A-Z][A-Za-z]*)/)?_history");
  private static final Pattern TYPE = Pattern.compile("[A-Z][A-Za-z]*");
  private static final Pattern RANGE = Pattern.compile("bytes=(\\d+)-(\\d*)");
  private static final String ID_CHARS =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  private static final SecureRandom RANDOM = new SecureRandom();
  /** Indexed datasets, shared by all instances: the fixtures are read-only. */
  private static final ConcurrentMap<DatasetKey, Dataset> DATASETS = new ConcurrentHashMap<>();

  private final Path defaultDataset;
  private final JettyServer server = new JettyServer();

  private final Object lock = new Object();
  // Everything below up to the volatile knobs is guarded by lock.
  private Path datasetDir;
  /** Type → id → the latest put or delete, in first-change order. */
  private final Map<String, LinkedHashMap<String, Change>> changes = new HashMap<>();
  private final FakeHistory history = new FakeHistory();
  private Instant undatedLastUpdated = Instant.EPOCH;
  private Instant lastStamp = Instant.EPOCH; // never reset: the clock only moves forward
  private final Map<String, Job> jobs = new LinkedHashMap<>();
  private final Map<String, ExportFile> files = new HashMap<>();
  private final List<String> errors = new ArrayList<>();
  private final InjectedFailures kickOffFailures = new InjectedFailures();
  private final InjectedFailures pollFailures = new InjectedFailures();
  private final InjectedFailures downloadFailures = new InjectedFailures();
  private int cutsLeft;
  private long cutAfterBytes;
  private String jobFailure;

  private volatile int pollsUntilComplete = 1;
  private volatile Duration minJobDuration = Duration.ZERO;
  private volatile String retryAfter = "120";
  private volatile int maxResourcesPerFile = HAPI_FILE_CAPACITY;
  private volatile String manifestMessage;
  private volatile int deletedEntriesPerBundle = 1;
  private volatile boolean reportDeletions = true;
  private volatile boolean hapiCancelQuirk;
  private volatile boolean historyServed = true;
  private volatile boolean gzip;
  private volatile Duration downloadDelay = Duration.ZERO;
  private volatile boolean rangeRequests;
  private volatile String requiredToken;

  private final ConcurrentLinkedQueue<KickOff> kickOffs = new ConcurrentLinkedQueue<>();
  private final ConcurrentLinkedQueue<HistoryRead> historyReads = new ConcurrentLinkedQueue<>();
  private final ConcurrentLinkedQueue<Poll> polls = new ConcurrentLinkedQueue<>();
  private final ConcurrentLinkedQueue<Download> downloads = new ConcurrentLinkedQueue<>();
  private final ConcurrentLinkedQueue<Cancellation> cancellations = new ConcurrentLinkedQueue<>();

  /** Serves {@link #SYNTHEA_10}. */
  public FakeBulkExportSource() {
    this(SYNTHEA_10);
  }

  /** Serves the NDJSON files in {@code datasetDir} (indexed once, on first use). */
  public FakeBulkExportSource(Path datasetDir) {
    super("fake bulk export source");
    this.defaultDataset = Objects.requireNonNull(datasetDir, "datasetDir");
    this.datasetDir = datasetDir;
    server.withServletPath(SERVLET_PATH + "/*").keepAliveBetweenTests()
        .withServerBeforeStarted(jetty -> { // HAPI behind Tomcat sends no Server header
          for (Connector connector : jetty.getConnectors()) {
            for (ConnectionFactory factory : connector.getConnectionFactories()) {
              if (factory instanceof HttpConnectionFactory http) {
                http.getHttpConfiguration().setSendServerVersion(false);
              }
            }
          }
        });
  }

  // ---------------------------------------------------------------- JUnit lifecycle

  @Override
  Restartable server() {
    return server;
  }

  // ---------------------------------------------------------------- data

  /** Serves another dataset directory from now on (until {@link #reset()}). */
  public void useDataset(Path dir) {
    Dataset dataset = dataset(dir); // index (and fail) now, not on the next kick-off
    synchronized (lock) {
      datasetDir = dataset.dir();
    }
  }

  public Path datasetDir() {
    synchronized (lock) {
      return datasetDir;
    }
  }

  /**
   * Adds or replaces {@code type/id} (the id comes from the JSON), stamped with a fresh
   * {@code meta.lastUpdated} of the fake's clock, which is returned. Replacing keeps the dataset
   * line's position in the export; a new resource comes after the dataset's.
   */
  public Instant put(String type, String json) {
    synchronized (lock) {
      return putAt(type, json, stamp());
    }
  }

  /** As {@link #put(String, String)} with a chosen {@code meta.lastUpdated}. */
  public Instant put(String type, String json, Instant lastUpdated) {
    Objects.requireNonNull(lastUpdated, "lastUpdated");
    synchronized (lock) {
      return putAt(type, json, lastUpdated.truncatedTo(ChronoUnit.MILLIS));
    }
  }

  /**
   * Deletes {@code type/id} (known or not) at a fresh instant of the fake's clock, which is
   * returned: later exports leave it out, and {@code _since} exports up to that instant list it
   * in a {@code deleted} file.
   */
  public Instant delete(String type, String id) {
    synchronized (lock) {
      return deleteAt(type, id, stamp());
    }
  }

  /** As {@link #delete(String, String)} at a chosen instant. */
  public Instant delete(String type, String id, Instant when) {
    Objects.requireNonNull(when, "when");
    synchronized (lock) {
      return deleteAt(type, id, when.truncatedTo(ChronoUnit.MILLIS));
    }
  }

  /** What dataset lines without {@code meta.lastUpdated} count as for {@code _since}. */
  public void setUndatedLastUpdated(Instant instant) {
    synchronized (lock) {
      undatedLastUpdated = Objects.requireNonNull(instant, "instant");
    }
  }

  /** The ids a full export would carry now for {@code type}, in export order. */
  public List<String> ids(String type) {
    synchronized (lock) {
      Dataset dataset = dataset(datasetDir);
      Map<String, Change> typeChanges = changes.getOrDefault(type, new LinkedHashMap<>());
      List<String> ids = new ArrayList<>();
      for (Line line : dataset.lines(type)) {
        Change change = typeChanges.get(line.id());
        if (change == null || change.json() != null) {
          ids.add(line.id());
        }
      }
      Set<String> base = dataset.ids(type);
      typeChanges.values().stream()
          .filter(c -> c.json() != null && !base.contains(c.id()))
          .forEach(c -> ids.add(c.id()));
      return ids;
    }
  }

  /** Type → number of resources a full export would carry now; sorted by type. */
  public Map<String, Integer> resourceCounts() {
    Map<String, Integer> counts = new TreeMap<>();
    for (String type : types()) {
      int n = ids(type).size();
      if (n > 0) {
        counts.put(type, n);
      }
    }
    return counts;
  }

  public int totalResources() {
    return resourceCounts().values().stream().mapToInt(Integer::intValue).sum();
  }

  // ---------------------------------------------------------------- knobs

  /** How many polls of a job answer 202 before the manifest (default 1; 0: at once). Live. */
  public void setPollsUntilComplete(int polls) {
    if (polls < 0) {
      throw new IllegalArgumentException("polls >= 0 required");
    }
    pollsUntilComplete = polls;
  }

  /** A job also stays in progress until this long after its kick-off (default zero). Live. */
  public void setMinJobDuration(Duration duration) {
    minJobDuration = Objects.requireNonNull(duration, "duration");
  }

  /** The {@code Retry-After} value of in-progress polls, verbatim (default {@code 120}). */
  public void setRetryAfter(String value) {
    retryAfter = Objects.requireNonNull(value, "value");
  }

  /**
   * Each file download waits this long before it answers (default zero): a slow source, so that a
   * test can be sure to act while files are still coming. Live.
   */
  public void setDownloadDelay(Duration delay) {
    downloadDelay = Objects.requireNonNull(delay, "delay");
  }

  /** Resources per output file (default {@link #HAPI_FILE_CAPACITY}); for later kick-offs. */
  public void setMaxResourcesPerFile(int max) {
    if (max < 1) {
      throw new IllegalArgumentException("max >= 1 required");
    }
    maxResourcesPerFile = max;
  }

  /** HAPI's extra {@code message} field in later manifests; {@code null} leaves it out. */
  public void setManifestMessage(String message) {
    manifestMessage = message;
  }

  /** Later exports carry an error file with one OperationOutcome per call (until reset). */
  public void addError(String diagnostics) {
    synchronized (lock) {
      errors.add(Objects.requireNonNull(diagnostics, "diagnostics"));
    }
  }

  /** Deletions per Bundle line in a deleted file (default 1). */
  public void setDeletedEntriesPerBundle(int entries) {
    if (entries < 1) {
      throw new IllegalArgumentException("entries >= 1 required");
    }
    deletedEntriesPerBundle = entries;
  }

  /** Whether {@code _since} exports list deletions (default true; real HAPI 8.8.0: never). */
  public void setReportDeletions(boolean report) {
    reportDeletions = report;
  }

  /** Whether {@code _history} is served (default true, as HAPI); false answers 404, as a source without it. */
  public void setHistory(boolean served) {
    historyServed = served;
  }

  /**
   * Whether polling a cancelled job answers 202 {@code Status set to CANCELLED} for ever, as real
   * HAPI 8.8.0 does, instead of the IG's 404 (default false).
   */
  public void setHapiCancelQuirk(boolean quirk) {
    hapiCancelQuirk = quirk;
  }

  /** Whether downloads honour {@code Accept-Encoding: gzip} (default false). */
  public void setGzip(boolean enabled) {
    gzip = enabled;
  }

  /** Whether raw downloads honour {@code Range: bytes=N-[M]} with 206 (default false: HAPI). */
  public void setRangeRequests(boolean enabled) {
    rangeRequests = enabled;
  }

  /** Every request then needs {@code Authorization: Bearer <token>}; {@code null}: none. */
  public void requireToken(String token) {
    requiredToken = token;
  }

  /**
   * Jobs kicked off from now on fail instead of completing: their poll answers 500 with an
   * OperationOutcome carrying {@code message}, as HAPI does for a FAILED job. {@code null}: off.
   */
  public void failJobs(String message) {
    synchronized (lock) {
      jobFailure = message;
    }
  }

  /** The next {@code count} kick-offs answer {@code status} (OperationOutcome, Retry-After: 1). */
  public void failNextKickOffs(int count, int status) {
    kickOffFailures.failNext(count, status, null);
  }

  /** The next {@code count} polls answer {@code status} (OperationOutcome, Retry-After: 1). */
  public void failNextPolls(int count, int status) {
    pollFailures.failNext(count, status, null);
  }

  /** The next {@code count} downloads answer {@code status} (OperationOutcome, Retry-After: 1). */
  public void failNextDownloads(int count, int status) {
    downloadFailures.failNext(count, status, null);
  }

  /**
   * The next {@code count} successful downloads send their headers, then only {@code afterBytes}
   * body bytes (before any gzip), then abort the connection.
   */
  public void cutNextDownloads(int count, long afterBytes) {
    if (count < 0 || afterBytes < 0) {
      throw new IllegalArgumentException("count >= 0 and afterBytes >= 0 required");
    }
    synchronized (lock) {
      cutsLeft = count;
      cutAfterBytes = afterBytes;
    }
  }

  /**
   * Forgets every job and its files, as HAPI purges a finished export once
   * {@code bulkExportFileRetentionPeriodHours} (2 by default) have passed: later polls of its status
   * URL answer 404 {@code Unknown instance ID}, later downloads 404. Data, records and knobs stay.
   */
  public void expireJobs() {
    synchronized (lock) {
      jobs.clear();
      files.clear();
    }
  }

  /** Forgets jobs, files, changes, errors, records and plans; all knobs back to defaults. */
  public void reset() {
    synchronized (lock) {
      datasetDir = defaultDataset;
      changes.clear();
      history.clear();
      undatedLastUpdated = Instant.EPOCH;
      jobs.clear();
      files.clear();
      errors.clear();
      kickOffFailures.clear();
      pollFailures.clear();
      downloadFailures.clear();
      cutsLeft = 0;
      cutAfterBytes = 0;
      jobFailure = null;
    }
    pollsUntilComplete = 1;
    minJobDuration = Duration.ZERO;
    retryAfter = "120";
    maxResourcesPerFile = HAPI_FILE_CAPACITY;
    manifestMessage = null;
    deletedEntriesPerBundle = 1;
    reportDeletions = true;
    hapiCancelQuirk = false;
    historyServed = true;
    gzip = false;
    rangeRequests = false;
    requiredToken = null;
    kickOffs.clear();
    historyReads.clear();
    polls.clear();
    downloads.clear();
    cancellations.clear();
  }

  // ---------------------------------------------------------------- inspection

  /** Every {@code _history} request, in arrival order. */
  public List<HistoryRead> historyReads() {
    return List.copyOf(historyReads);
  }

  /** One {@code _history} request: of a type, or of the system ({@code type == null}). */
  public record HistoryRead(String type, Map<String, List<String>> params, String cacheControl, int status) {}

  /** Every kick-off request (also refused ones), in arrival order. */
  public List<KickOff> kickOffs() {
    return List.copyOf(kickOffs);
  }

  /** Every GET of the status URL (also failed ones), in arrival order. */
  public List<Poll> polls() {
    return List.copyOf(polls);
  }

  public int pollCount() {
    return polls.size();
  }

  /** Every GET of an output file (also refused ones), in arrival order. */
  public List<Download> downloads() {
    return List.copyOf(downloads);
  }

  /** Every DELETE of the status URL, in arrival order. */
  public List<Cancellation> cancellations() {
    return List.copyOf(cancellations);
  }

  /** The ids of all jobs kicked off since the last reset, oldest first. */
  public List<String> jobIds() {
    synchronized (lock) {
      return List.copyOf(jobs.keySet());
    }
  }

  public Optional<JobState> jobState(String jobId) {
    synchronized (lock) {
      return Optional.ofNullable(jobs.get(jobId)).map(job -> job.state);
    }
  }

  /** The state of an export job. */
  public enum JobState { RUNNING, COMPLETE, CANCELLED, FAILED }

  /**
   * One kick-off request as the fake saw it.
   *
   * @param method  {@code GET} or {@code POST}
   * @param path    below the base, e.g. {@code $export}, {@code Group/g1/$export}
   * @param params  query parameters plus, for a POST, the {@code Parameters} body's values
   *                (comma lists not split); in order
   * @param headers every request header, keys case-insensitive
   * @param status  the answer's status
   * @param jobId   the started job, or {@code null} when refused
   */
  public record KickOff(String method, String path, Map<String, List<String>> params,
      Map<String, List<String>> headers, int status, String jobId, Instant at) {

    /** The first value of a header, or {@code null}. */
    public String header(String name) {
      List<String> values = headers.get(name);
      return values == null || values.isEmpty() ? null : values.get(0);
    }

    /** All values of a parameter (empty when absent). */
    public List<String> param(String name) {
      return params.getOrDefault(name, List.of());
    }

    public String accept() {
      return header("Accept");
    }
  }

  /** One GET of a status URL. {@code state} is the job's state after it, or null if unknown. */
  public record Poll(String jobId, int status, String authorization, JobState state,
      Instant at) {}

  /** One DELETE of a status URL. */
  public record Cancellation(String jobId, int status, String authorization, Instant at) {}

  /**
   * One GET of an output file. {@link #bytesServed()} grows while the body is streamed: it counts
   * body bytes handed to the server (before gzip), so once the client has read the whole body it
   * equals {@link #plannedBytes()}; after a cut it equals the cut point.
   */
  public static final class Download {

    private final String fileId;
    private final String url;
    private final String accept;
    private final String acceptEncoding;
    private final String range;
    private final String authorization;
    private final int status;
    private final String contentType;
    private final boolean gzipped;
    private final long plannedBytes;
    private final long cutAfter;
    private final Instant at;
    private final AtomicLong served = new AtomicLong();

    Download(String fileId, String url, HttpServletRequest request, int status,
        String contentType, boolean gzipped, long plannedBytes, long cutAfter) {
      this.fileId = fileId;
      this.url = url;
      this.accept = request.getHeader("Accept");
      this.acceptEncoding = request.getHeader("Accept-Encoding");
      this.range = request.getHeader("Range");
      this.authorization = request.getHeader("Authorization");
      this.status = status;
      this.contentType = contentType;
      this.gzipped = gzipped;
      this.plannedBytes = plannedBytes;
      this.cutAfter = cutAfter;
      this.at = Instant.now();
    }

    /** The Binary id, the last path segment of the URL. */
    public String fileId() {
      return fileId;
    }

    /** The request URL as received, without query. */
    public String url() {
      return url;
    }

    public String accept() {
      return accept;
    }

    public String acceptEncoding() {
      return acceptEncoding;
    }

    public String range() {
      return range;
    }

    /** The {@code Authorization} header as sent, or {@code null}. */
    public String authorization() {
      return authorization;
    }

    public int status() {
      return status;
    }

    /** The answer's content type, or {@code null} for error answers. */
    public String contentType() {
      return contentType;
    }

    /** Whether the fake answered the Binary resource (JSON) rather than raw NDJSON. */
    public boolean binaryResource() {
      return contentType != null && contentType.startsWith("application/fhir+json");
    }

    public boolean gzipped() {
      return gzipped;
    }

    /** Body bytes (before gzip) the answer would carry in full; 0 for error answers. */
    public long plannedBytes() {
      return plannedBytes;
    }

    public long bytesServed() {
      return served.get();
    }

    /**
     * Whether this download was cut off on purpose ({@link #cutNextDownloads}). A body no longer
     * than the cut point is served whole (and still uses up one cut).
     */
    public boolean cut() {
      return cutAfter >= 0 && cutAfter < plannedBytes;
    }

    public Instant at() {
      return at;
    }

    @Override
    public String toString() {
      return "GET " + url + " -> " + status + (binaryResource() ? " Binary" : "")
          + (cut() ? " cut@" + cutAfter : "") + " " + bytesServed() + "/" + plannedBytes;
    }
  }

  // ---------------------------------------------------------------- data internals

  private Instant stamp() {
    Instant now = Instant.now().truncatedTo(ChronoUnit.MILLIS);
    if (!now.isAfter(lastStamp)) {
      now = lastStamp.plusMillis(1);
    }
    lastStamp = now;
    return now;
  }

  private Instant putAt(String type, String json, Instant lastUpdated) {
    requireType(type);
    JsonNode node;
    try {
      node = JSON.readTree(json);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("Not JSON: " + json, e);
    }
    if (!(node instanceof ObjectNode resource)) {
      throw new IllegalArgumentException("Not a JSON object: " + json);
    }
    if (!type.equals(resource.path("resourceType").asText(null))) {
      throw new IllegalArgumentException("resourceType must be " + type + ": " + json);
    }
    String id = resource.path("id").asText(null);
    if (id == null || id.isBlank()) {
      throw new IllegalArgumentException("The resource needs an id: " + json);
    }
    JsonNode meta = resource.get("meta");
    ObjectNode metaNode = meta instanceof ObjectNode m ? m : JSON.createObjectNode();
    metaNode.put("lastUpdated", HAPI_INSTANT.format(lastUpdated));
    if (meta == null) {
      // keep the usual order: resourceType, id, meta, ...
      ObjectNode ordered = JSON.createObjectNode();
      ordered.set("resourceType", resource.get("resourceType"));
      ordered.set("id", resource.get("id"));
      ordered.set("meta", metaNode);
      resource.properties().forEach(e -> {
        if (!ordered.has(e.getKey())) {
          ordered.set(e.getKey(), e.getValue());
        }
      });
      resource = ordered;
    }
    byte[] bytes;
    try {
      bytes = JSON.writeValueAsBytes(resource); // one line
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
    record(new Change(type, id, bytes, lastUpdated));
    return lastUpdated;
  }

  private Instant deleteAt(String type, String id, Instant when) {
    requireType(type);
    Objects.requireNonNull(id, "id");
    record(new Change(type, id, null, when));
    return when;
  }

  private void record(Change change) {
    LinkedHashMap<String, Change> typeChanges =
        changes.computeIfAbsent(change.type(), t -> new LinkedHashMap<>());
    history.record(change.type(), change.id(), change.json(), change.at(),
        dataset(datasetDir).ids(change.type()).contains(change.id()));
    typeChanges.put(change.id(), change);
  }

  private static void requireType(String type) {
    if (type == null || !TYPE.matcher(type).matches()) {
      throw new IllegalArgumentException("Not a resource type: " + type);
    }
  }

  /** Dataset types plus changed types, sorted. */
  private Set<String> types() {
    synchronized (lock) {
      Set<String> types = new TreeSet<>(dataset(datasetDir).types());
      types.addAll(changes.keySet());
      return types;
    }
  }

  /** One change by a test: {@code json == null} is a deletion. */
  private record Change(String type, String id, byte[] json, Instant at) {}

  /** One dataset line: bytes {@code [offset, offset+length)} of {@code file}. */
  private record Line(Path file, long offset, int length, boolean bareNewline, String id,
      Instant lastUpdated) {}

  private record DatasetKey(Path dir, long size, long modified) {}

  private record Dataset(Path dir, Map<String, List<Line>> lines, Map<String, Set<String>> ids) {

    Set<String> types() {
      return lines.keySet();
    }

    List<Line> lines(String type) {
      return lines.getOrDefault(type, List.of());
    }

    Set<String> ids(String type) {
      return ids.getOrDefault(type, Set.of());
    }
  }

  private static Dataset dataset(Path dir) {
    Path normalized = dir.toAbsolutePath().normalize();
    List<Path> ndjson = ndjsonFiles(normalized);
    long size = 0;
    long modified = 0;
    try {
      for (Path file : ndjson) {
        size += Files.size(file);
        modified = Math.max(modified, Files.getLastModifiedTime(file).toMillis());
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return DATASETS.computeIfAbsent(new DatasetKey(normalized, size, modified),
        key -> index(normalized, ndjson));
  }

  private static List<Path> ndjsonFiles(Path dir) {
    if (!Files.isDirectory(dir)) {
      throw new IllegalArgumentException("No dataset directory: " + dir);
    }
    try (Stream<Path> list = Files.list(dir)) {
      return list.filter(p -> p.getFileName().toString().endsWith(".ndjson"))
          .filter(p -> TYPE.matcher(typeOf(p)).matches())
          .sorted()
          .toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static String typeOf(Path file) {
    String name = file.getFileName().toString();
    return name.substring(0, name.indexOf('.'));
  }

  /** Reads each file once, keeping offsets, ids and lastUpdated only, never the content. */
  private static Dataset index(Path dir, List<Path> ndjson) {
    Map<String, List<Line>> lines = new TreeMap<>();
    Map<String, Set<String>> ids = new HashMap<>();
    for (Path file : ndjson) {
      String type = typeOf(file);
      List<Line> typeLines = lines.computeIfAbsent(type, t -> new ArrayList<>());
      Set<String> typeIds = ids.computeIfAbsent(type, t -> new HashSet<>());
      try (InputStream in = Files.newInputStream(file)) {
        byte[] chunk = new byte[1 << 16];
        byte[] line = new byte[1 << 14];
        int lineLength = 0;
        long position = 0;
        long lineStart = 0;
        int n;
        while ((n = in.read(chunk)) > 0) {
          int from = 0;
          for (int i = 0; i < n; i++) {
            if (chunk[i] == '\n') {
              line = append(line, lineLength, chunk, from, i - from);
              lineLength += i - from;
              addLine(file, lineStart, line, lineLength, true, typeLines, typeIds);
              from = i + 1;
              lineStart = position + i + 1;
              lineLength = 0;
            }
          }
          line = append(line, lineLength, chunk, from, n - from);
          lineLength += n - from;
          position += n;
        }
        addLine(file, lineStart, line, lineLength, false, typeLines, typeIds);
      } catch (IOException e) {
        throw new UncheckedIOException("Cannot index " + file, e);
      }
    }
    lines.replaceAll((type, list) -> List.copyOf(list));
    ids.replaceAll((type, set) -> Set.copyOf(set));
    return new Dataset(dir, Collections.unmodifiableMap(lines), Map.copyOf(ids));
  }

  private static byte[] append(byte[] line, int length, byte[] chunk, int from, int count) {
    byte[] target = line;
    if (length + count > target.length) {
      target = java.util.Arrays.copyOf(line, Math.max(line.length * 2, length + count));
    }
    System.arraycopy(chunk, from, target, length, count);
    return target;
  }

  private static void addLine(Path file, long start, byte[] bytes, int length,
      boolean newlineEnded, List<Line> lines, Set<String> ids) throws IOException {
    boolean bare = newlineEnded;
    if (length > 0 && bytes[length - 1] == '\r') {
      length--;
      bare = false;
    }
    boolean blank = true;
    for (int i = 0; i < length && blank; i++) {
      blank = Character.isWhitespace(bytes[i]);
    }
    if (blank) {
      return;
    }
    String id = null;
    Instant lastUpdated = null;
    try (JsonParser parser = JSON.getFactory().createParser(bytes, 0, length)) {
      if (parser.nextToken() != JsonToken.START_OBJECT) {
        throw new IOException("Not a JSON object at byte " + start + " of " + file);
      }
      boolean metaSeen = false;
      while (parser.nextToken() == JsonToken.FIELD_NAME && !(id != null && metaSeen)) {
        String name = parser.currentName();
        JsonToken value = parser.nextToken();
        if ("id".equals(name) && value == JsonToken.VALUE_STRING) {
          id = parser.getText();
        } else if ("meta".equals(name) && value == JsonToken.START_OBJECT) {
          metaSeen = true;
          while (parser.nextToken() == JsonToken.FIELD_NAME) {
            String field = parser.currentName();
            JsonToken token = parser.nextToken();
            if ("lastUpdated".equals(field) && token == JsonToken.VALUE_STRING) {
              lastUpdated = parseInstant(parser.getText());
            } else {
              parser.skipChildren();
            }
          }
        } else {
          parser.skipChildren();
        }
      }
    }
    if (id == null) {
      throw new IOException("A resource without id at byte " + start + " of " + file);
    }
    lines.add(new Line(file, start, length, bare, id, lastUpdated));
    ids.add(id);
  }

  /** A FHIR instant (seconds and offset required), or {@code null} when it is none. */
  private static Instant parseInstant(String text) {
    try {
      return OffsetDateTime.parse(text, DateTimeFormatter.ISO_OFFSET_DATE_TIME).toInstant();
    } catch (DateTimeParseException e) {
      return null;
    }
  }

  // ---------------------------------------------------------------- jobs and files

  private static final class Job {
    final String id;
    final Instant transactionTime;
    final Instant started = Instant.now();
    final String request;
    final String message;
    final String failure;
    final List<FileEntry> output;
    final List<FileEntry> deleted;
    final List<FileEntry> error;
    JobState state = JobState.RUNNING;
    int inProgressPolls;

    Job(String id, Instant transactionTime, String request, String message, String failure,
        List<FileEntry> output, List<FileEntry> deleted, List<FileEntry> error) {
      this.id = id;
      this.transactionTime = transactionTime;
      this.request = request;
      this.message = message;
      this.failure = failure;
      this.output = output;
      this.deleted = deleted;
      this.error = error;
    }
  }

  /** A manifest entry: a file of one type. */
  private record FileEntry(String type, String fileId) {}

  /** An output file: what its body is made of, in order. */
  private record ExportFile(String id, Instant created, List<Segment> segments, long length) {}

  private sealed interface Segment permits FileSegment, InlineSegment {
    long length();
  }

  /** Bytes {@code [offset, offset+length)} of a file, then a newline if {@code newline}. */
  private record FileSegment(Path file, long offset, long length, boolean newline)
      implements Segment {
    @Override
    public long length() {
      return length + (newline ? 1 : 0);
    }

    long fileBytes() {
      return length;
    }
  }

  private record InlineSegment(byte[] bytes) implements Segment {
    @Override
    public long length() {
      return bytes.length;
    }
  }

  /** Collects resources into files of at most {@code capacity} lines. */
  private final class FileBuilder {
    private final String type;
    private final int capacity;
    private final Instant created;
    private final List<FileEntry> entries;
    private List<Segment> segments = new ArrayList<>();
    private int count;
    private Line lastLine; // the last dataset line appended, while it may still be extended

    FileBuilder(String type, int capacity, Instant created, List<FileEntry> entries) {
      this.type = type;
      this.capacity = capacity;
      this.created = created;
      this.entries = entries;
    }

    void add(Line line) {
      Segment last = segments.isEmpty() ? null : segments.get(segments.size() - 1);
      if (last instanceof FileSegment f && lastLine != null && lastLine.bareNewline()
          && lastLine.file().equals(line.file())
          && lastLine.offset() + lastLine.length() + 1 == line.offset()) {
        // contiguous lines of one file: one range, the file's own newline between them
        segments.set(segments.size() - 1,
            new FileSegment(f.file(), f.offset(), f.fileBytes() + 1 + line.length(), true));
      } else {
        segments.add(new FileSegment(line.file(), line.offset(), line.length(), true));
      }
      lastLine = line;
      counted();
    }

    void add(byte[] json) {
      byte[] withNewline = java.util.Arrays.copyOf(json, json.length + 1);
      withNewline[json.length] = '\n';
      segments.add(new InlineSegment(withNewline));
      lastLine = null;
      counted();
    }

    private void counted() {
      if (++count >= capacity) {
        finish();
      }
    }

    void finish() {
      if (count == 0) {
        return;
      }
      String id = randomId();
      long length = segments.stream().mapToLong(Segment::length).sum();
      files.put(id, new ExportFile(id, created, List.copyOf(segments), length));
      entries.add(new FileEntry(type, id));
      segments = new ArrayList<>();
      count = 0;
      lastLine = null;
    }
  }

  private static String randomId() {
    StringBuilder id = new StringBuilder(32);
    for (int i = 0; i < 32; i++) {
      id.append(ID_CHARS.charAt(RANDOM.nextInt(ID_CHARS.length())));
    }
    return id.toString();
  }

  /** Snapshots the data for a new job; runs under the lock. */
  private Job startJob(Set<String> requestedTypes, Instant since, String request) {
    Instant transactionTime = stamp();
    Dataset dataset = dataset(datasetDir);
    int capacity = maxResourcesPerFile;
    Set<String> types = new TreeSet<>(requestedTypes.isEmpty() ? types() : requestedTypes);

    List<FileEntry> output = new ArrayList<>();
    List<Change> deletions = new ArrayList<>();
    for (String type : types) {
      Map<String, Change> typeChanges = changes.getOrDefault(type, new LinkedHashMap<>());
      FileBuilder builder = new FileBuilder(type, capacity, transactionTime, output);
      for (Line line : dataset.lines(type)) {
        Change change = typeChanges.get(line.id());
        if (change != null) {
          if (change.json() != null && changedSince(change.at(), since)) {
            builder.add(change.json());
          }
          continue;
        }
        Instant lastUpdated = line.lastUpdated() != null ? line.lastUpdated() : undatedLastUpdated;
        if (changedSince(lastUpdated, since)) {
          builder.add(line);
        }
      }
      Set<String> base = dataset.ids(type);
      for (Change change : typeChanges.values()) {
        if (change.json() == null) {
          if (since != null && changedSince(change.at(), since)) {
            deletions.add(change);
          }
        } else if (!base.contains(change.id()) && changedSince(change.at(), since)) {
          builder.add(change.json());
        }
      }
      builder.finish();
    }

    List<FileEntry> deleted = new ArrayList<>();
    if (reportDeletions && !deletions.isEmpty()) {
      FileBuilder builder = new FileBuilder("Bundle", capacity, transactionTime, deleted);
      int perBundle = deletedEntriesPerBundle;
      for (int i = 0; i < deletions.size(); i += perBundle) {
        builder.add(deletedBundle(deletions.subList(i, Math.min(deletions.size(), i + perBundle))));
      }
      builder.finish();
    }

    List<FileEntry> error = new ArrayList<>();
    if (!errors.isEmpty()) {
      FileBuilder builder = new FileBuilder("OperationOutcome", capacity, transactionTime, error);
      errors.forEach(diagnostics -> builder.add(operationOutcome("error", "processing",
          diagnostics)));
      builder.finish();
    }

    Job job = new Job(UUID.randomUUID().toString(), transactionTime, request, manifestMessage,
        jobFailure, List.copyOf(output), List.copyOf(deleted), List.copyOf(error));
    jobs.put(job.id, job);
    return job;
  }

  private static boolean changedSince(Instant lastUpdated, Instant since) {
    return since == null || !lastUpdated.isBefore(since);
  }

  private static byte[] deletedBundle(List<Change> deletions) {
    ObjectNode bundle = JSON.createObjectNode();
    bundle.put("resourceType", "Bundle");
    bundle.put("id", UUID.randomUUID().toString());
    Instant latest = deletions.stream().map(Change::at).max(Instant::compareTo).orElseThrow();
    bundle.putObject("meta").put("lastUpdated", HAPI_INSTANT.format(latest));
    bundle.put("type", "transaction");
    ArrayNode entries = bundle.putArray("entry");
    for (Change deletion : deletions) {
      entries.addObject().putObject("request")
          .put("method", "DELETE")
          .put("url", deletion.type() + "/" + deletion.id());
    }
    return compact(bundle);
  }

  /** Advances a running job by one poll; runs under the lock. */
  private void advance(Job job) {
    if (job.state != JobState.RUNNING) {
      return;
    }
    boolean pollsDone = job.inProgressPolls >= pollsUntilComplete;
    boolean timeDone = !Instant.now().isBefore(job.started.plus(minJobDuration));
    if (pollsDone && timeDone) {
      job.state = job.failure != null ? JobState.FAILED : JobState.COMPLETE;
    }
  }

  /**
   * The manifest exactly as HAPI 8.8.0 writes it (Jackson's default pretty printer), with the
   * fake's {@code deleted} and HAPI's optional {@code message} after {@code error}.
   */
  static byte[] manifest(Instant transactionTime, String request, List<Map.Entry<String, String>>
      output, List<Map.Entry<String, String>> error, List<Map.Entry<String, String>> deleted,
      String message) {
    ObjectNode manifest = JSON.createObjectNode();
    manifest.put("transactionTime", HAPI_INSTANT.format(transactionTime));
    manifest.put("request", request);
    manifest.put("requiresAccessToken", true);
    ArrayNode outputNode = manifest.putArray("output");
    output.forEach(e -> outputNode.addObject().put("type", e.getKey()).put("url", e.getValue()));
    ArrayNode errorNode = manifest.putArray("error");
    error.forEach(e -> errorNode.addObject().put("type", e.getKey()).put("url", e.getValue()));
    if (!deleted.isEmpty()) {
      ArrayNode deletedNode = manifest.putArray("deleted");
      deleted.forEach(e -> deletedNode.addObject().put("type", e.getKey())
          .put("url", e.getValue()));
    }
    if (message != null) {
      manifest.put("message", message);
    }
    try {
      // HAPI writes it through a writer whose charset is ISO-8859-1
      return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(manifest)
          .getBytes(StandardCharsets.ISO_8859_1);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  private static List<Map.Entry<String, String>> urls(String base, List<FileEntry> entries) {
    return entries.stream()
        .map(e -> Map.entry(e.type(), base + "/Binary/" + e.fileId()))
        .toList();
  }

  // ---------------------------------------------------------------- failure plans

  /** Takes one failure of a plan; returns its status, or 0. */
  private static int statusOfNext(InjectedFailures failures) {
    return failures.take().map(InjectedFailures.Failure::status).orElse(0);
  }

  private long takeCut() {
    if (cutsLeft <= 0) {
      return -1;
    }
    cutsLeft--;
    return cutAfterBytes;
  }

  // ---------------------------------------------------------------- HTTP

  /** An answer without streaming. {@code contentType == null}: no Content-Type header. */
  private record Answer(int status, String contentType, byte[] body, Map<String, String> headers) {

    static Answer empty(int status, Map<String, String> headers) {
      return new Answer(status, null, new byte[0], headers);
    }

    static Answer outcome(int status, String severity, String code, String diagnostics) {
      Map<String, String> headers = new LinkedHashMap<>();
      if (status == 429 || status == 503) {
        headers.put("Retry-After", "1");
      }
      return new Answer(status, FHIR_JSON, operationOutcome(severity, code, diagnostics),
          headers);
    }

    static Answer error(int status, String diagnostics) {
      return outcome(status, "error", "processing", diagnostics);
    }

    static Answer injected(int status) {
      Answer answer = error(status, "Injected failure (HTTP " + status + ")");
      Map<String, String> headers = new LinkedHashMap<>(answer.headers());
      headers.put("Retry-After", "1");
      return new Answer(status, answer.contentType(), answer.body(), headers);
    }

    static Answer unauthorized() {
      Answer answer = error(401, "Access denied: a valid Bearer token is required");
      return new Answer(401, answer.contentType(), answer.body(),
          Map.of("WWW-Authenticate", "Bearer"));
    }
  }

  private static byte[] operationOutcome(String severity, String code, String diagnostics) {
    ObjectNode outcome = JSON.createObjectNode();
    outcome.put("resourceType", "OperationOutcome");
    outcome.putArray("issue").addObject()
        .put("severity", severity)
        .put("code", code)
        .put("diagnostics", diagnostics);
    return compact(outcome);
  }

  private static byte[] compact(JsonNode node) {
    try {
      return JSON.writeValueAsBytes(node);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  private static void send(HttpServletResponse response, Answer answer) throws IOException {
    response.setStatus(answer.status());
    answer.headers().forEach(response::setHeader);
    if (MANIFEST_CONTENT_TYPE.equals(answer.contentType())) {
      // The servlet API would lower-case the charset; HAPI (on Tomcat) sends it upper-case.
      // Jetty's servlet layer would too, so the header goes straight to the core response.
      ServletContextResponse.getServletContextResponse(response).getWrapped().getHeaders()
          .put(new HttpField(HttpHeader.CONTENT_TYPE, MANIFEST_CONTENT_TYPE));
    } else if (answer.contentType() != null) {
      response.setContentType(answer.contentType());
    }
    response.setContentLength(answer.body().length);
    if (answer.body().length > 0) {
      response.getOutputStream().write(answer.body());
    }
  }

  private boolean authorized(HttpServletRequest request) {
    String token = requiredToken;
    if (token == null) {
      return true;
    }
    String header = request.getHeader("Authorization");
    return header != null && header.regionMatches(true, 0, "Bearer ", 0, 7)
        && header.substring(7).trim().equals(token);
  }

  /** {@code http://host:port/fhir} as the client addressed it, as HAPI builds it. */
  private static String baseOf(HttpServletRequest request) {
    String host = request.getHeader("Host");
    if (host == null) {
      host = request.getServerName() + ":" + request.getServerPort();
    }
    return request.getScheme() + "://" + host + request.getContextPath() + SERVLET_PATH;
  }

  private static Map<String, List<String>> parseQuery(String query) {
    Map<String, List<String>> params = new LinkedHashMap<>();
    if (query == null || query.isEmpty()) {
      return params;
    }
    for (String pair : query.split("&")) {
      if (pair.isEmpty()) {
        continue;
      }
      int eq = pair.indexOf('=');
      String name = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq),
          StandardCharsets.UTF_8);
      String value = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1),
          StandardCharsets.UTF_8);
      params.computeIfAbsent(name, n -> new ArrayList<>()).add(value);
    }
    return params;
  }

  private static Map<String, List<String>> headersOf(HttpServletRequest request) {
    Map<String, List<String>> headers = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
    for (String name : Collections.list(request.getHeaderNames())) {
      headers.put(name, List.copyOf(Collections.list(request.getHeaders(name))));
    }
    return Collections.unmodifiableMap(headers);
  }

  private static Map<String, List<String>> frozen(Map<String, List<String>> params) {
    Map<String, List<String>> copy = new LinkedHashMap<>();
    params.forEach((name, values) -> copy.put(name, List.copyOf(values)));
    return Collections.unmodifiableMap(copy);
  }

  /** The values of a comma-list parameter, repeated or not. */
  private static List<String> commaList(Map<String, List<String>> params, String name) {
    List<String> values = new ArrayList<>();
    for (String value : params.getOrDefault(name, List.of())) {
      for (String part : value.split(",")) {
        if (!part.isBlank()) {
          values.add(part.trim());
        }
      }
    }
    return values;
  }

  private final class Servlet extends HttpServlet {

    @Override
    protected void service(HttpServletRequest request, HttpServletResponse response)
        throws IOException {
      response.setHeader("X-Powered-By", POWERED_BY);
      String path = request.getPathInfo() == null ? "" : request.getPathInfo();
      String method = request.getMethod();
      Matcher kickOff = KICK_OFF.matcher(path);
      Matcher binary = BINARY.matcher(path);
      Matcher historyPath = HISTORY.matcher(path);
      try {
        if (kickOff.matches() && (method.equals("GET") || method.equals("POST"))) {
          kickOff(request, response, path.substring(1), kickOff.group(1), kickOff.group(2));
        } else if (path.equals("/$export-poll-status") && method.equals("GET")) {
          poll(request, response);
        } else if (path.equals("/$export-poll-status") && method.equals("DELETE")) {
          cancel(request, response);
        } else if (binary.matches() && method.equals("GET")) {
          download(request, response, binary.group(1));
        } else if (historyPath.matches() && method.equals("GET") && historyServed) {
          history(request, response, historyPath.group(1));
        } else {
          send(response, Answer.error(kickOff.matches() || binary.matches()
                  || path.equals("/$export-poll-status") ? 405 : 404,
              "This fake bulk export source does not handle " + method + " " + path));
        }
      } catch (IllegalArgumentException malformed) { // e.g. a bad %-escape in the query
        if (!response.isCommitted()) {
          response.reset();
          response.setHeader("X-Powered-By", POWERED_BY);
          send(response, Answer.error(400, "Invalid request: " + malformed.getMessage()));
        }
      }
    }

    private void history(HttpServletRequest request, HttpServletResponse response, String type)
        throws IOException {
      Map<String, List<String>> params = parseQuery(request.getQueryString());
      Answer answer;
      synchronized (lock) {
        List<String> sinceValues = params.getOrDefault("_since", List.of());
        Instant since = sinceValues.isEmpty() ? null : parseInstant(sinceValues.get(0));
        if (!authorized(request)) {
          answer = Answer.unauthorized();
        } else if (!sinceValues.isEmpty() && since == null) {
          answer = Answer.error(400, "Invalid instant for _since: \"" + sinceValues.get(0) + "\"");
        } else {
          Integer count = integer(params, "_count");
          Integer offset = integer(params, "_offset");
          answer = new Answer(200, FHIR_JSON,
              history.page(baseOf(request), type, since, count, offset == null ? 0 : offset), Map.of());
        }
      }
      historyReads.add(new HistoryRead(type, frozen(params), request.getHeader("Cache-Control"), answer.status()));
      send(response, answer);
    }

    private static Integer integer(Map<String, List<String>> params, String name) {
      List<String> values = params.getOrDefault(name, List.of());
      return values.isEmpty() || !values.get(0).matches("\\d{1,9}") ? null : Integer.valueOf(values.get(0));
    }

    private void kickOff(HttpServletRequest request, HttpServletResponse response, String path,
        String level, String id) throws IOException {
      Map<String, List<String>> headers = headersOf(request);
      Map<String, List<String>> params = parseQuery(request.getQueryString());
      Answer answer;
      String jobId = null;
      String bodyProblem = null;
      if (request.getMethod().equals("POST")) {
        bodyProblem = addBodyParameters(request, params);
      }
      synchronized (lock) {
        int failure;
        if (!authorized(request)) {
          answer = Answer.unauthorized();
        } else if ((failure = statusOfNext(kickOffFailures)) != 0) {
          answer = Answer.injected(failure);
        } else if (!preferAsync(request)) {
          answer = Answer.error(400, "HAPI-0513: Must request async processing for $export");
        } else if (bodyProblem != null) {
          answer = Answer.error(400, bodyProblem);
        } else if ("Group".equals(level) && id == null) {
          answer = Answer.error(400, "Group/$export needs a Group id");
        } else {
          Object outcome = validateAndStart(request, params, path);
          if (outcome instanceof Job job) {
            jobId = job.id;
            answer = Answer.empty(202, Map.of("Content-Location",
                baseOf(request) + "/$export-poll-status?_jobId=" + job.id));
          } else {
            answer = (Answer) outcome;
          }
        }
      }
      kickOffs.add(new KickOff(request.getMethod(), path, frozen(params), headers,
          answer.status(), jobId, Instant.now()));
      send(response, answer);
    }

    /** The started {@link Job}, or the refusing {@link Answer}. Runs under the lock. */
    private Object validateAndStart(HttpServletRequest request, Map<String, List<String>> params,
        String path) {
      List<String> formats = params.getOrDefault("_outputFormat", List.of());
      if (!formats.isEmpty() && !OUTPUT_FORMATS.contains(formats.get(0))) {
        return Answer.error(400, "Failed to validate parameters for job of type "
            + "BULK_EXPORT: [The only allowed format for Bulk Export is currently NDJSON]");
      }
      Instant since = null;
      List<String> sinceValues = params.getOrDefault("_since", List.of());
      if (!sinceValues.isEmpty()) {
        since = parseInstant(sinceValues.get(0));
        if (since == null) {
          return Answer.error(400, "Invalid instant for _since: \""
              + sinceValues.get(0) + "\" (a FHIR instant with seconds and a time zone)");
        }
      }
      Set<String> types = new TreeSet<>(commaList(params, "_type"));
      List<String> problems = new ArrayList<>();
      Set<String> known = R4Types.ALL;
      for (String type : types) {
        if (type.equalsIgnoreCase("Binary")) {
          problems.add("Bulk export of Binary resources is forbidden");
        } else if (!known.contains(type)) {
          problems.add("Resource type " + type + " is not a supported resource type!");
        }
      }
      if (!problems.isEmpty()) {
        return Answer.error(400, "Failed to validate parameters for job of type "
            + "BULK_EXPORT: " + problems);
      }
      String requestUrl = baseOf(request) + "/" + path;
      if (request.getMethod().equals("GET") && request.getQueryString() != null) {
        requestUrl += "?" + request.getQueryString();
      }
      return startJob(types, since, requestUrl);
    }

    private boolean preferAsync(HttpServletRequest request) {
      for (String prefer : Collections.list(request.getHeaders("Prefer"))) {
        for (String token : prefer.split("[,;]")) {
          if (token.trim().equalsIgnoreCase("respond-async")) {
            return true;
          }
        }
      }
      return false;
    }

    /** Adds a POSTed Parameters body's values; returns a problem or {@code null}. */
    private String addBodyParameters(HttpServletRequest request,
        Map<String, List<String>> params) throws IOException {
      byte[] body = request.getInputStream().readNBytes(1 << 20);
      if (body.length == 0) {
        return null;
      }
      JsonNode parameters;
      try {
        parameters = JSON.readTree(body);
      } catch (JsonProcessingException e) {
        return "Failed to parse request body as JSON resource: "
            + e.getOriginalMessage();
      }
      if (!"Parameters".equals(parameters.path("resourceType").asText())) {
        return "The body of a POST $export must be a Parameters resource";
      }
      for (JsonNode parameter : parameters.path("parameter")) {
        String name = parameter.path("name").asText(null);
        if (name == null) {
          continue;
        }
        parameter.properties().forEach(field -> {
          if (!field.getKey().startsWith("value")) {
            return;
          }
          JsonNode value = field.getValue();
          String text = value.isObject() ? value.path("reference").asText(null) : value.asText();
          if (text != null) {
            params.computeIfAbsent(name, n -> new ArrayList<>()).add(text);
          }
        });
      }
      return null;
    }

    private void poll(HttpServletRequest request, HttpServletResponse response)
        throws IOException {
      String jobId = request.getParameter("_jobId");
      String authorization = request.getHeader("Authorization");
      Answer answer;
      JobState state = null;
      synchronized (lock) {
        Job job = jobId == null ? null : jobs.get(jobId);
        int failure;
        if (!authorized(request)) {
          answer = Answer.unauthorized();
        } else if ((failure = statusOfNext(pollFailures)) != 0) {
          answer = Answer.injected(failure);
        } else if (jobId == null) {
          answer = Answer.error(400, "HAPI-2227: $export-poll-status requires a job ID, "
              + "please provide the value of target jobId.");
        } else if (job == null) {
          answer = Answer.error(404, "Unknown instance ID: " + jobId
              + ". Please check if the input job ID is valid.");
        } else {
          advance(job);
          answer = switch (job.state) {
            case RUNNING -> {
              String status = job.inProgressPolls == 0 ? "QUEUED" : "IN_PROGRESS";
              job.inProgressPolls++;
              yield inProgress(job, status);
            }
            case CANCELLED -> hapiCancelQuirk ? inProgress(job, "CANCELLED")
                : Answer.error(404, "Job instance <" + jobId + "> was cancelled");
            case FAILED -> Answer.error(500, job.failure);
            case COMPLETE -> {
              String base = baseOf(request);
              yield new Answer(200, MANIFEST_CONTENT_TYPE, manifest(job.transactionTime,
                  job.request, urls(base, job.output), urls(base, job.error),
                  urls(base, job.deleted), job.message), Map.of());
            }
          };
          state = job.state;
        }
      }
      polls.add(new Poll(jobId, answer.status(), authorization, state, Instant.now()));
      send(response, answer);
    }

    private Answer inProgress(Job job, String status) {
      Map<String, String> headers = new LinkedHashMap<>();
      headers.put("X-Progress", "Build in progress - Status set to " + status + " at "
          + HAPI_INSTANT.format(job.transactionTime));
      headers.put("Retry-After", retryAfter);
      return Answer.empty(202, headers);
    }

    private void cancel(HttpServletRequest request, HttpServletResponse response)
        throws IOException {
      String jobId = request.getParameter("_jobId");
      Answer answer;
      synchronized (lock) {
        Job job = jobId == null ? null : jobs.get(jobId);
        if (!authorized(request)) {
          answer = Answer.unauthorized();
        } else if (job == null) {
          answer = Answer.error(404, "Unknown instance ID: " + jobId
              + ". Please check if the input job ID is valid.");
        } else {
          answer = switch (job.state) {
            case RUNNING -> {
              job.state = JobState.CANCELLED;
              yield Answer.outcome(202, "information", "informational",
                  "Job instance <" + jobId + "> successfully submitted for cancellation.");
            }
            case CANCELLED -> Answer.outcome(202, "information", "informational",
                "Job instance <" + jobId + "> was already cancelled.  Nothing to do.");
            case COMPLETE -> Answer.error(404, "Job instance <" + jobId
                + "> was already cancelled or has completed.  Nothing to do.");
            case FAILED -> Answer.error(500, job.failure); // HAPI's FAILED branch ignores DELETE
          };
        }
      }
      cancellations.add(new Cancellation(jobId, answer.status(),
          request.getHeader("Authorization"), Instant.now()));
      send(response, answer);
    }

    private void download(HttpServletRequest request, HttpServletResponse response, String id)
        throws IOException {
      String url = request.getRequestURL().toString();
      pauseFor(downloadDelay);
      ExportFile file;
      Answer refusal = null;
      long cutAfter = -1;
      synchronized (lock) {
        file = files.get(id);
        int failure;
        if (!authorized(request)) {
          refusal = Answer.unauthorized();
        } else if ((failure = statusOfNext(downloadFailures)) != 0) {
          refusal = Answer.injected(failure);
        } else if (file == null) {
          refusal = Answer.error(404, "Resource Binary/" + id + " is not known");
        } else {
          cutAfter = takeCut();
        }
      }
      if (refusal != null) {
        downloads.add(new Download(id, url, request, refusal.status(), null, false, 0, -1));
        send(response, refusal);
        return;
      }

      boolean wrapper = wantsBinaryResource(request);
      long skip = 0;
      long end = file.length(); // exclusive
      int status = 200;
      if (!wrapper && rangeRequests && request.getHeader("Range") != null) {
        Matcher range = RANGE.matcher(request.getHeader("Range").trim());
        if (!range.matches() || Long.parseLong(range.group(1)) >= file.length()) {
          downloads.add(new Download(id, url, request, 416, null, false, 0, -1));
          response.setHeader("Content-Range", "bytes */" + file.length());
          send(response, Answer.error(416, "Unsatisfiable range " + request.getHeader("Range")));
          return;
        }
        skip = Long.parseLong(range.group(1));
        if (!range.group(2).isEmpty()) {
          end = Math.min(file.length(), Long.parseLong(range.group(2)) + 1);
        }
        status = 206;
      }
      boolean gzipped = gzip && status == 200 && acceptsGzip(request);

      byte[] prefix = new byte[0];
      byte[] suffix = new byte[0];
      long planned;
      String contentType;
      if (wrapper) {
        prefix = ("{\"resourceType\":\"Binary\",\"id\":\"" + id + "\",\"meta\":{\"versionId\":"
            + "\"1\",\"lastUpdated\":\"" + HAPI_INSTANT.format(file.created())
            + "\"},\"contentType\":\"" + NDJSON + "\",\"data\":\"")
            .getBytes(StandardCharsets.UTF_8);
        suffix = "\"}".getBytes(StandardCharsets.UTF_8);
        planned = prefix.length + 4 * ((file.length() + 2) / 3) + suffix.length;
        contentType = FHIR_JSON;
      } else {
        planned = end - skip;
        contentType = NDJSON;
      }
      Download record = new Download(id, url, request, status, contentType, gzipped, planned,
          cutAfter);
      downloads.add(record);

      response.setStatus(status);
      response.setContentType(contentType);
      if (wrapper) {
        response.setHeader("ETag", "W/\"1\"");
        response.setHeader("Last-Modified", HTTP_DATE.format(file.created()));
      } else {
        response.setHeader("Content-Disposition", "Attachment;");
        if (rangeRequests) {
          response.setHeader("Accept-Ranges", "bytes");
        }
        if (status == 206) {
          response.setHeader("Content-Range",
              "bytes " + skip + "-" + (end - 1) + "/" + file.length());
        }
      }
      if (gzipped) {
        response.setHeader("Content-Encoding", "gzip");
        response.setHeader("Vary", "Accept-Encoding");
      } else {
        response.setContentLengthLong(planned);
      }

      OutputStream servletOut = response.getOutputStream();
      GZIPOutputStream gzipOut = gzipped
          ? new GZIPOutputStream(new KeepOpen(servletOut), 1 << 16, true) : null;
      Counting body = new Counting(gzipOut != null ? gzipOut : servletOut, record.served,
          cutAfter);
      try {
        if (wrapper) {
          body.write(prefix);
          try (OutputStream base64 = Base64.getEncoder().wrap(new KeepOpen(body))) {
            writeSegments(file.segments(), base64, 0, file.length());
          }
          body.write(suffix);
        } else {
          writeSegments(file.segments(), body, skip, end);
        }
        if (gzipOut != null) {
          gzipOut.finish();
        }
      } catch (CutOff cut) {
        if (gzipOut != null) {
          gzipOut.flush(); // sync flush: the client can inflate what it got
        }
        servletOut.flush();
        ServletContextRequest.getServletContextRequest(request).getServletChannel()
            .abort(new IOException("Download cut off on purpose after " + cutAfter + " bytes"));
      }
    }

    private boolean acceptsGzip(HttpServletRequest request) {
      for (String value : Collections.list(request.getHeaders("Accept-Encoding"))) {
        for (String coding : value.split(",")) {
          String[] parts = coding.trim().split(";");
          if (parts[0].trim().equalsIgnoreCase("gzip")
              && !(parts.length > 1 && parts[1].replace(" ", "").equals("q=0"))) {
            return true;
          }
        }
      }
      return false;
    }
  }

  /**
   * HAPI's choice for a Binary read: the first {@code Accept} media range (by quality, then
   * order) that is either the Binary's own content type or a FHIR encoding decides; none (or
   * {@code *}{@code /*} only): raw. {@code _format} wins over {@code Accept}.
   */
  static boolean wantsBinaryResource(HttpServletRequest request) {
    String format = request.getParameter("_format");
    if (format != null) {
      return isFhirEncoding(format.trim().toLowerCase(Locale.ROOT));
    }
    return wantsBinaryResource(Collections.list(request.getHeaders("Accept")));
  }

  static boolean wantsBinaryResource(List<String> acceptHeaders) {
    record Range(String type, double quality, int order) {}
    List<Range> ranges = new ArrayList<>();
    for (String header : acceptHeaders) {
      for (String part : header.split(",")) {
        String[] pieces = part.trim().split(";");
        double quality = 1;
        for (int i = 1; i < pieces.length; i++) {
          String param = pieces[i].trim();
          if (param.startsWith("q=")) {
            try {
              quality = Double.parseDouble(param.substring(2));
            } catch (NumberFormatException ignored) {
              quality = 0;
            }
          }
        }
        ranges.add(new Range(pieces[0].trim().toLowerCase(Locale.ROOT), quality, ranges.size()));
      }
    }
    ranges.sort((a, b) -> a.quality() != b.quality() ? Double.compare(b.quality(), a.quality())
        : Integer.compare(a.order(), b.order()));
    for (Range range : ranges) {
      if (range.quality() <= 0) {
        continue;
      }
      if (range.type().equals(NDJSON)) {
        return false;
      }
      if (isFhirEncoding(range.type())) {
        return true;
      }
    }
    return false;
  }

  private static boolean isFhirEncoding(String type) {
    return switch (type) {
      case "application/fhir+json", "application/json+fhir", "application/json", "json",
          "application/fhir+xml", "application/xml+fhir", "application/xml", "text/xml", "xml"
          -> true;
      default -> false;
    };
  }

  /** Streams bytes {@code [from, to)} of a file's body; reads dataset files in 64 KiB blocks. */
  private static void writeSegments(List<Segment> segments, OutputStream out, long from, long to)
      throws IOException {
    byte[] buffer = new byte[1 << 16];
    Map<Path, FileChannel> channels = new HashMap<>();
    try {
      long position = 0; // of the current segment's start within the body
      for (Segment segment : segments) {
        long start = Math.max(from, position);
        long stop = Math.min(to, position + segment.length());
        if (start < stop) {
          long within = start - position;
          long count = stop - start;
          if (segment instanceof InlineSegment inline) {
            out.write(inline.bytes(), (int) within, (int) count);
          } else if (segment instanceof FileSegment file) {
            long fileCount = Math.max(0, Math.min(count, file.fileBytes() - within));
            if (fileCount > 0) {
              FileChannel channel = channels.computeIfAbsent(file.file(),
                  FakeBulkExportSource::open);
              long at = file.offset() + within;
              long left = fileCount;
              while (left > 0) {
                ByteBuffer view = ByteBuffer.wrap(buffer, 0, (int) Math.min(buffer.length, left));
                int read = channel.read(view, at);
                if (read < 0) {
                  throw new IOException(file.file() + " changed while being served");
                }
                out.write(buffer, 0, read);
                at += read;
                left -= read;
              }
            }
            if (count > fileCount) {
              out.write('\n');
            }
          }
        }
        position += segment.length();
        if (position >= to) {
          break;
        }
      }
    } finally {
      for (FileChannel channel : channels.values()) {
        channel.close();
      }
    }
  }

  private static FileChannel open(Path file) {
    try {
      return FileChannel.open(file, StandardOpenOption.READ);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Thrown when a download reaches its cut-off point. */
  private static final class CutOff extends IOException {
    CutOff() {
      super("cut off");
    }

    @Override
    public synchronized Throwable fillInStackTrace() {
      return this; // control flow, not an error
    }
  }

  /** Counts body bytes before handing them on, and stops at the cut-off point. */
  private static final class Counting extends FilterOutputStream {
    private final AtomicLong counter;
    private final long limit;

    Counting(OutputStream out, AtomicLong counter, long limit) {
      super(out);
      this.counter = counter;
      this.limit = limit;
    }

    @Override
    public void write(int b) throws IOException {
      write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] bytes, int offset, int length) throws IOException {
      int allowed = length;
      if (limit >= 0) {
        allowed = (int) Math.max(0, Math.min(length, limit - counter.get()));
      }
      if (allowed > 0) {
        counter.addAndGet(allowed);
        out.write(bytes, offset, allowed);
      }
      if (allowed < length) {
        throw new CutOff();
      }
    }
  }

  /** Hides {@code close()} so wrapping streams can be closed without closing the response. */
  private static final class KeepOpen extends FilterOutputStream {
    KeepOpen(OutputStream out) {
      super(out);
    }

    @Override
    public void write(byte[] bytes, int offset, int length) throws IOException {
      out.write(bytes, offset, length);
    }

    @Override
    public void close() throws IOException {
      flush();
    }
  }

  /** The R4 resource types HAPI would accept in {@code _type}, loaded once. */
  private static final class R4Types {
    static final Set<String> ALL = Set.copyOf(FhirContext.forR4Cached().getResourceTypes());
  }

  private final class JettyServer extends RestartableJetty<JettyServer> {

    @Override
    protected HttpServlet provideServlet() {
      return new Servlet();
    }

  }

  @Override
  public String toString() {
    return "FakeBulkExportSource[" + (isUp() ? baseUrl() : "down") + ", " + datasetDir() + "]";
  }

  private static void pauseFor(Duration delay) throws IOException {
    if (delay.isZero()) {
      return;
    }
    try {
      Thread.sleep(delay.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while delaying a download", e);
    }
  }
}
