package org.pathlingrelay.testing;

import ca.uhn.fhir.interceptor.api.Hook;
import ca.uhn.fhir.interceptor.api.Interceptor;
import ca.uhn.fhir.interceptor.api.Pointcut;
import ca.uhn.fhir.parser.DataFormatException;
import ca.uhn.fhir.parser.IParser;
import ca.uhn.fhir.rest.annotation.Delete;
import ca.uhn.fhir.rest.annotation.IdParam;
import ca.uhn.fhir.rest.annotation.Operation;
import ca.uhn.fhir.rest.annotation.OperationParam;
import ca.uhn.fhir.rest.annotation.Read;
import ca.uhn.fhir.rest.annotation.RequiredParam;
import ca.uhn.fhir.rest.annotation.ResourceParam;
import ca.uhn.fhir.rest.annotation.Search;
import ca.uhn.fhir.rest.annotation.Transaction;
import ca.uhn.fhir.rest.annotation.TransactionParam;
import ca.uhn.fhir.rest.annotation.Update;
import ca.uhn.fhir.rest.param.StringParam;
import ca.uhn.fhir.rest.api.EncodingEnum;
import ca.uhn.fhir.rest.api.MethodOutcome;
import ca.uhn.fhir.rest.api.server.IBundleProvider;
import ca.uhn.fhir.rest.api.server.RequestDetails;
import ca.uhn.fhir.rest.client.api.ServerValidationModeEnum;
import ca.uhn.fhir.rest.server.FifoMemoryPagingProvider;
import ca.uhn.fhir.rest.server.IResourceProvider;
import ca.uhn.fhir.rest.server.SimpleBundleProvider;
import ca.uhn.fhir.rest.server.exceptions.BaseServerResponseException;
import ca.uhn.fhir.rest.server.exceptions.InternalErrorException;
import ca.uhn.fhir.rest.server.exceptions.InvalidRequestException;
import ca.uhn.fhir.rest.server.exceptions.ResourceNotFoundException;
import ca.uhn.fhir.test.utilities.server.RestfulServerExtension;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.Filter;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletOutputStream;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import jakarta.servlet.http.HttpServletResponseWrapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringReader;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.hl7.fhir.exceptions.FHIRException;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.r4.model.Bundle;
import org.hl7.fhir.r4.model.Bundle.BundleEntryComponent;
import org.hl7.fhir.r4.model.Bundle.BundleEntryRequestComponent;
import org.hl7.fhir.r4.model.Bundle.BundleType;
import org.hl7.fhir.r4.model.Bundle.HTTPVerb;
import org.hl7.fhir.r4.model.CodeType;
import org.hl7.fhir.r4.model.Enumerations;
import org.hl7.fhir.r4.model.IdType;
import org.hl7.fhir.r4.model.InstantType;
import org.hl7.fhir.r4.model.OperationOutcome;
import org.hl7.fhir.r4.model.OperationOutcome.IssueSeverity;
import org.hl7.fhir.r4.model.OperationOutcome.IssueType;
import org.hl7.fhir.r4.model.Parameters;
import org.hl7.fhir.r4.model.Parameters.ParametersParameterComponent;
import org.hl7.fhir.r4.model.Resource;
import org.hl7.fhir.r4.model.StringType;
import org.hl7.fhir.r4.model.Type;
import org.hl7.fhir.r4.model.UrlType;

/**
 * A fake Pathling FHIR server (R4) over real HTTP, for testing the relay against Pathling's
 * behaviour, quirks included.
 *
 * <h2>Registering it</h2>
 *
 * <pre>{@code
 * @RegisterExtension
 * static final FakePathling pathling = new FakePathling();
 *
 * @Test
 * void forwards() {
 *   relay.start(pathling.baseUrl());          // e.g. http://localhost:41234/fhir
 *   ...
 *   assertThat(pathling.rowCount("Patient", "1")).isEqualTo(1);
 * }
 * }</pre>
 *
 * <p>Use a {@code static} field: the server then starts once before the class's
 * {@code @BeforeAll} methods (so {@link #baseUrl()} is usable there), keeps its port for the whole
 * class, is {@linkplain #reset() reset} and brought back up (if a test left it down) before every
 * test, and is stopped after the class (and after each {@code @Nested} class; it restarts on the
 * same port). An instance field would never be stopped.
 *
 * <p>{@link #extension()} exposes the underlying HAPI {@link RestfulServerExtension}; registering
 * that instead of this class works too, but then nothing is reset between tests.
 *
 * <h2>Behaviour (as Pathling)</h2>
 *
 * <ul>
 *   <li>{@code PUT [type]/[id]}: body id must equal the URL id (HAPI answers 400 before the
 *       provider runs), always 200, no versioning ({@code meta} stored as sent). Rows are stored
 *       per type like a Delta table: an update replaces every row with that id, or appends one
 *       row when there is none. Ids are checked only as far as HAPI does: it accepts e.g. 65
 *       characters or {@code a$b}, which a batch refuses.
 *   <li>{@code DELETE [type]/[id]}: 204 and all rows with that id removed; 404 when absent.
 *   <li>{@code POST [base]} with a {@code batch} Bundle of POST/PUT/DELETE entries (entry URLs
 *       {@code Type} or {@code Type/id}, id {@code [A-Za-z0-9\-.]{1,64}}, as Pathling checks): all
 *       DELETEs first, then all POST/PUT entries as one merge. Any error fails the whole request
 *       and applies nothing. POST entries get new random ids. Two PUTs of one id that is not
 *       stored yet append two rows (for good); two PUTs of one id that <em>is</em> stored fail
 *       with 500, as Delta's merge does ("multiple source rows matched"). Response entries: status
 *       {@code 200} (PUT, POST, with the resource) or {@code 204} (DELETE), location
 *       {@code Type/id}. Other bundle types: 400.
 *   <li>A write that overlaps another write to the same resource type fails with 500 (a Delta
 *       write conflict) and applies nothing; see {@link #conflicts()}.
 *   <li>{@code GET [type]?_summary=count} (every row: an id held twice counts twice),
 *       {@code GET [type]?_elements=id&_count=N} (id and meta of every row, duplicates included,
 *       {@code N} a page with a {@code next} link to the rest), {@code GET [type]/[id]} (first row),
 *       {@code GET [type]?_query=fhirPath&filter=id = 'a' or id = 'b'} (the rows of those ids, at a
 *       count's cost; Pathling ignores {@code _id}), {@code GET metadata}.
 * </ul>
 *
 * <h2>Bulk import (as Pathling's server module: ImportProvider, ImportPnpProvider, AsyncAspect,
 * JobProvider)</h2>
 *
 * <ul>
 *   <li>{@code POST [base]/$import}, a {@code Parameters} body: one or more {@code input} with
 *       parts {@code resourceType} ({@code valueCode}) and {@code url} ({@code valueUrl}); optional
 *       {@code saveMode} ({@code valueCode}: {@code merge} (default), {@code overwrite}, {@code
 *       append}, {@code ignore}, {@code error}) and {@code inputFormat} ({@code valueCode}). A value
 *       of another type (e.g. {@code valueCoding}, as Pathling's own docs show) is refused with
 *       400. Headers {@code Prefer: respond-async} and {@code Accept: application/fhir+json} (or
 *       {@code *}{@code /*}, matched literally: HAPI's {@code ...;q=1.0} list does not pass) are
 *       required, else 400. Bad parameters and unknown or unsupported types: 400.
 *   <li>{@code POST [base]/$import-pnp}: {@code exportUrl} ({@code valueUrl}, the source's FHIR
 *       base: Pathling appends {@code /$export}), {@code exportType}, {@code saveMode}, {@code
 *       inputFormat} ({@code valueCode}), {@code _type}, {@code _elements}, {@code _typeFilter}
 *       ({@code valueString}), {@code _since}, {@code _until} ({@code valueInstant} only; others
 *       are silently ignored). The fake exports nothing: it loads what {@link #onPnp} supplies.
 *   <li>Accepted kick-offs answer {@code 202} with {@code Content-Location: [base]/$job?id=<uuid>}
 *       and an informational OperationOutcome. A kick-off identical to an earlier one (same URL,
 *       {@code Prefer}/{@code Authorization} headers and parameters) while the data is unchanged
 *       gets the earlier job back, even a failed one: only a successful write changes the data
 *       version.
 *   <li>{@code GET [base]/$job?id=}: {@code 202} ({@code X-Progress: n%}) while queued or running;
 *       {@code 200} with a Parameters ({@code transactionTime} and {@code request} as
 *       {@code valueString}, one {@code output} with an {@code inputUrl} part per input URL) when
 *       done; a failed job answers its error status with an OperationOutcome, every time it is
 *       polled. Unknown id: 404. {@code DELETE} forgets the job (202) but, as Pathling, does not
 *       stop it.
 *   <li>Job failures: a URL outside {@link #setAllowableSources} (default {@code file://}, any
 *       local file; plain {@code http} only with {@link #setAllowInsecureUrls}) → 403; a missing or unreadable file → 500 (nothing
 *       applied); an invalid line → 400; any $import-pnp failure → 400 {@code Ping and pull import
 *       failed: ...}. URLs not ending in {@code .ndjson} are silently skipped (yet listed in the
 *       result), as Pathling's NDJSON source filters by extension.
 *   <li>Imports run one at a time (Pathling's ImportLock is {@code synchronized}): a second import
 *       waits and then runs; it does not get a 503. While loading, an import holds the in-flight
 *       markers of its types for {@link #setImportDuration}, so it conflicts with overlapping
 *       PUTs and batches as they conflict with each other (an import that comes second fails with
 *       500). Types are written one after another: a failure in a later type leaves the earlier
 *       ones written.
 * </ul>
 *
 * <p>{@link #failNext} acts in a HAPI interceptor once HAPI has routed the request, so a request
 * HAPI cannot route (unknown type, {@code PUT Patient/$x}) gets HAPI's own answer and does not
 * use up the plan. Note that HAPI 8.8.0's client exceptions carry no response headers: read
 * {@code Retry-After} with a client interceptor.
 *
 * <p>All knobs and inspection methods are thread-safe.
 */
public final class FakePathling extends FakeFhirServer {

  /** The FHIR id syntax; Pathling's batch applies the same rule to entry URLs. */
  private static final Pattern ID = Pattern.compile("[A-Za-z0-9\\-.]{1,64}");

  private static final Pattern TYPE = Pattern.compile("[A-Za-z]+");
  private static final Set<String> WRITE_METHODS = Set.of("PUT", "POST", "DELETE", "PATCH");
  private static final String ENTRIES_ATTRIBUTE = FakePathling.class.getName() + ".entries";
  private static final String SERVLET_PATH = "/fhir";
  /** Searches whose later pages are kept at once (HAPI's in-memory paging drops the oldest). */
  private static final int PAGED_SEARCHES = 100;
  /** More rows than any test stores (and far from int overflow in HAPI's offset sums). */
  private static final int ONE_PAGE = 1_000_000;

  private static final String IMPORT = "$import";
  private static final String IMPORT_PNP = "$import-pnp";
  private static final String JOB = "$job";
  private static final Set<String> SAVE_MODES =
      Set.of("error", "overwrite", "append", "ignore", "merge");
  private static final String NDJSON_FORMAT = "application/fhir+ndjson";
  private static final String PARQUET_FORMAT = "application/vnd.apache.parquet";
  /** Types Pathling's encoders cannot hold (ResourceTypes.UNSUPPORTED_RESOURCES). */
  private static final Set<String> UNSUPPORTED_TYPES =
      Set.of("Parameters", "StructureDefinition", "StructureMap", "Bundle");
  /** The job id syntax Pathling's JobProvider accepts. */
  private static final Pattern JOB_ID = Pattern.compile(
      "[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  /** How Pathling's PnP executor tells a downloaded file's type from its name. */
  private static final Pattern PNP_FILE_TYPE = Pattern.compile("[A-Za-z]+");
  /** Where Pathling stages $import-pnp downloads by default (warehouse + /staging/pnp). */
  private static final String PNP_STAGING = "file:///usr/share/warehouse/default/staging/pnp/";
  private static final List<String> DEFAULT_ALLOWABLE_SOURCES = List.of("file://");
  private static final Function<ImportPnpRequest, Map<String, List<String>>> NO_PNP_SOURCE =
      request -> Map.of();

  private final Set<String> resourceTypes;

  private final Object dataLock = new Object();
  /** Rows per resource type, in insertion order; guarded by {@link #dataLock}. */
  private final Map<String, List<Resource>> tables = new HashMap<>();

  /** A write holds the in-flight markers of the types it touches. */
  private final OneWritePerType inFlight = new OneWritePerType();

  private final ConcurrentLinkedQueue<RecordedRequest> requests = new ConcurrentLinkedQueue<>();

  private volatile PathlingCost writeCost = PathlingCost.FREE;
  /** Pathling's CPU, shared by the requests in progress; replaced with the cost. */
  private volatile PathlingCpu cpu = new PathlingCpu(0);
  /** Whether imports cost what {@link #writeCost} says when no import duration is set. */
  private volatile boolean importsCharged;
  private volatile Predicate<IBaseResource> rejection = resource -> false;
  private final InjectedFailures writeFailures = new InjectedFailures();
  private final InjectedFailures jobFailures = new InjectedFailures();

  /** Bumped by every successful write; part of a job's identity, as Pathling's cache key. */
  private final AtomicLong dataVersion = new AtomicLong();

  // Bulk import: jobs, the one-import-at-a-time lock, records and knobs.
  private final String instanceId = UUID.randomUUID().toString().substring(0, 8);
  private final ExecutorService jobRunner = Executors.newCachedThreadPool(runnable -> {
    Thread thread = new Thread(runnable, "fake-pathling-job");
    thread.setDaemon(true);
    return thread;
  });
  private final ReentrantLock importLock = new ReentrantLock(true);
  private final Object jobsLock = new Object();
  private final Map<String, Job> jobsById = new HashMap<>(); // guarded by jobsLock
  private final Map<JobTag, Job> jobsByTag = new HashMap<>(); // guarded by jobsLock
  private final List<Job> jobHistory = new ArrayList<>(); // guarded by jobsLock
  /** Bumped by {@link #reset()} and {@link #forgetJobs()}: older jobs then apply nothing. */
  private final AtomicLong jobGeneration = new AtomicLong();
  private final ConcurrentLinkedQueue<ImportRequest> importRequests =
      new ConcurrentLinkedQueue<>();
  private final ConcurrentLinkedQueue<ImportPnpRequest> pnpRequests =
      new ConcurrentLinkedQueue<>();
  private volatile Duration importDuration = Duration.ZERO;
  private volatile List<String> allowableSources = DEFAULT_ALLOWABLE_SOURCES;
  private volatile List<String> allowableExportUrls = null; // null: any exportUrl
  private volatile boolean allowInsecureUrls = false;
  private volatile Function<ImportPnpRequest, Map<String, List<String>>> pnpSource =
      NO_PNP_SOURCE;

  public FakePathling() {
    super("fake Pathling");
    server.withServletPath(SERVLET_PATH + "/*")
        .withPagingProvider(pagingProvider())
        .withServletFilter(new RecordingFilter())
        .withValidationMode(ServerValidationModeEnum.NEVER)
        .keepAliveBetweenTests();
    server.registerInterceptor(new WriteGate());
    resourceTypes = concreteResourceTypes();
    for (String name : resourceTypes) {
      server.registerProvider(
          new TypeProvider(ctx.getResourceDefinition(name).getImplementingClass(), name));
    }
    server.registerProvider(new BatchProvider());
    server.registerProvider(new ImportProvider());
  }

  /**
   * Searches page as Pathling's HAPI server pages them: {@code _count} rows a page, the rest kept
   * in memory behind a {@code next} link ({@code ?_getpages=..&_getpagesoffset=..}). Without
   * {@code _count}, one page holds every row, as the fake always answered.
   */
  private static FifoMemoryPagingProvider pagingProvider() {
    FifoMemoryPagingProvider paging = new FifoMemoryPagingProvider(PAGED_SEARCHES);
    paging.setDefaultPageSize(ONE_PAGE);
    paging.setMaximumPageSize(ONE_PAGE);
    return paging;
  }

  // ---------------------------------------------------------------- JUnit lifecycle

  // ---------------------------------------------------------------- knobs

  /**
   * Each write request then takes {@code perRequest + perResource × resources} while holding the
   * in-flight markers of its types, so overlapping writes to one type really conflict.
   */
  public void setWriteDelay(Duration perRequest, Duration perResource) {
    applyCost(PathlingCost.of(perRequest, perResource), false);
  }

  /**
   * Every request then costs what {@code cost} charges: a write of upserts its merge plus a time
   * per resource, each DELETE its own (more for a resource the fake holds than for a {@code 404}),
   * a search a count, an import a time per line unless {@link #setImportDuration} says otherwise;
   * concurrent requests share the cost's cores. {@link PathlingCost#PATHLING_2_0_1} is a real
   * Pathling's; the default ({@link PathlingCost#FREE}) keeps the tests fast.
   */
  public void setCost(PathlingCost cost) {
    applyCost(Objects.requireNonNull(cost, "cost"), true);
  }

  private void applyCost(PathlingCost cost, boolean chargeImports) {
    cpu = new PathlingCpu(cost.cores());
    writeCost = cost;
    importsCharged = chargeImports;
  }

  /**
   * The next {@code count} write requests (PUT/POST/DELETE/PATCH) answer {@code status} with an
   * OperationOutcome, plus a {@code Retry-After} header (whole seconds, rounded up) when {@code
   * retryAfter} is given; nothing is applied. {@code $import} and {@code $import-pnp} kick-offs
   * count (they are POSTs; a refused one starts no job and is not in {@link #imports()}); {@code
   * $job} polls and deletes do not. Replaces any earlier plan.
   */
  public void failNext(int count, int status, Duration retryAfter) {
    writeFailures.failNext(count, status, retryAfter);
  }

  /**
   * A write containing a resource matching {@code predicate} answers 400 with an OperationOutcome
   * naming it, and applies nothing (for a batch: nothing of the whole bundle). Replaces any
   * earlier predicate.
   */
  public void rejectWhen(Predicate<IBaseResource> predicate) {
    rejection = Objects.requireNonNull(predicate, "predicate");
  }

  /**
   * How long each import job spends loading, while it holds the in-flight markers of the types it
   * writes (default zero). Polls meanwhile answer 202.
   */
  public void setImportDuration(Duration duration) {
    Objects.requireNonNull(duration, "duration");
    if (duration.isNegative()) {
      throw new IllegalArgumentException("duration must not be negative");
    }
    importDuration = duration;
  }

  /**
   * The URL prefixes {@code $import} may read from ({@code pathling.import.allowableSources});
   * other URLs fail the job with 403. A bare scheme such as {@code file://} admits every URL of
   * that scheme (but never {@code http(s)://}); an {@code http(s)} prefix must match scheme, host,
   * port and leading path segments; any other prefix is a plain string prefix (so
   * {@code file:/x} does not match {@code file:///x}). Plain {@code http} URLs are refused unless
   * {@link #setAllowInsecureUrls}. No prefixes: everything refused. Default: {@code file://}.
   */
  public void setAllowableSources(String... prefixes) {
    allowableSources = List.of(prefixes);
  }

  /**
   * The prefixes an {@code $import-pnp} {@code exportUrl} must match
   * ({@code pathling.import.pnp.allowableExportUrls}, same matching as {@link
   * #setAllowableSources}); others answer 400 at kick-off. No prefixes: every request refused, as
   * Pathling. Default (unlike Pathling, which refuses all): any exportUrl. The fake does not
   * check {@code allowInternalUrls} (Pathling refuses loopback and private addresses unless
   * {@code pathling.import.pnp.allowInternalUrls} is set).
   */
  public void setAllowableExportUrls(String... prefixes) {
    allowableExportUrls = List.of(prefixes);
  }

  /** Whether plain-{@code http} URLs may match the allowlists ({@code pathling.allowInsecureUrls}). */
  public void setAllowInsecureUrls(boolean allow) {
    allowInsecureUrls = allow;
  }

  /**
   * What an {@code $import-pnp} job "downloads": the function gets the request and answers NDJSON
   * lines per resource type, one file per type. A type with no lines gets no file, as a bulk
   * export server omits empty outputs. Nothing at all fails the job with 400, as Pathling's
   * ({@code No files with extension .ndjson were downloaded}); so does an exception thrown here.
   * Called in the job's thread, once per job. Default: nothing.
   */
  public void onPnp(Function<ImportPnpRequest, Map<String, List<String>>> source) {
    pnpSource = Objects.requireNonNull(source, "source");
  }

  /**
   * The next {@code count} import jobs fail with {@code status} and an OperationOutcome once they
   * get their turn, applying nothing (e.g. 500 for a Spark failure). Replaces any earlier plan.
   */
  public void failNextImportJobs(int count, int status) {
    jobFailures.failNext(count, status, null);
  }

  /**
   * Models a Pathling restart for jobs: the in-memory job registry is lost (polls answer 404) and
   * running jobs are abandoned; what they had not written yet is never written. Data stays.
   * {@link #goDown()}/{@link #comeBack()} alone keep jobs (a network outage).
   */
  public void forgetJobs() {
    abandonJobs();
  }

  /** Stores rows directly (appends, no request recorded). A resource without an id gets one. */
  public void seed(IBaseResource... resources) {
    synchronized (dataLock) {
      for (IBaseResource resource : resources) {
        String id = resource.getIdElement().getIdPart();
        Resource row = asRow(resource, id == null ? UUID.randomUUID().toString() : id);
        table(row.fhirType()).add(row);
      }
      dataVersion.incrementAndGet();
    }
  }

  /** Clears data, recorded requests, jobs, the conflict count and all knobs. */
  public void reset() {
    abandonJobs();
    synchronized (jobsLock) {
      jobHistory.clear();
    }
    synchronized (dataLock) {
      tables.clear();
    }
    requests.clear();
    importRequests.clear();
    pnpRequests.clear();
    inFlight.clearConflicts();
    applyCost(PathlingCost.FREE, false);
    rejection = resource -> false;
    importDuration = Duration.ZERO;
    allowableSources = DEFAULT_ALLOWABLE_SOURCES;
    schemeReaders.clear();
    allowableExportUrls = null;
    allowInsecureUrls = false;
    pnpSource = NO_PNP_SOURCE;
    writeFailures.clear();
    jobFailures.clear();
  }

  // ---------------------------------------------------------------- inspection

  /** Copies of all rows of {@code type}, in storage order. */
  public List<IBaseResource> rows(String type) {
    synchronized (dataLock) {
      return tables.getOrDefault(type, List.of()).stream()
          .<IBaseResource>map(Resource::copy)
          .toList();
    }
  }

  public int rowCount(String type, String id) {
    synchronized (dataLock) {
      return (int) tables.getOrDefault(type, List.of()).stream()
          .filter(row -> id.equals(idOf(row)))
          .count();
    }
  }

  /** A copy of the first row with that id, as {@code GET [type]/[id]} would answer. */
  public Optional<IBaseResource> current(String type, String id) {
    synchronized (dataLock) {
      return tables.getOrDefault(type, List.of()).stream()
          .filter(row -> id.equals(idOf(row)))
          .findFirst()
          .map(Resource::copy);
    }
  }

  /** The distinct ids stored for {@code type}, in storage order. */
  public Set<String> ids(String type) {
    synchronized (dataLock) {
      return tables.getOrDefault(type, List.of()).stream()
          .map(FakePathling::idOf)
          .collect(Collectors.toCollection(LinkedHashSet::new));
    }
  }

  public int totalRows() {
    synchronized (dataLock) {
      return tables.values().stream().mapToInt(List::size).sum();
    }
  }

  /** {@code Type/id} → number of rows, for every id stored in more than one row; sorted. */
  public Map<String, Integer> duplicateIds() {
    synchronized (dataLock) {
      Map<String, Integer> counts = new TreeMap<>();
      tables.forEach((type, rows) -> rows.forEach(
          row -> counts.merge(type + "/" + idOf(row), 1, Integer::sum)));
      counts.values().removeIf(count -> count < 2);
      return counts;
    }
  }

  /** Every request that reached the server, in arrival order. */
  public List<RecordedRequest> requests() {
    return List.copyOf(requests);
  }

  /** The recorded write requests (PUT/POST/DELETE/PATCH), in arrival order. */
  public List<RecordedRequest> writes() {
    return requests.stream().filter(RecordedRequest::isWrite).toList();
  }

  /** Whether a write touching {@code type} is in progress right now (for awaiting overlap). */
  public boolean writeInProgress(String type) {
    return inFlight.inProgress(type);
  }

  /**
   * How many writes failed with 500 because they overlapped a write to the same type (imports
   * included).
   */
  public int conflicts() {
    return (int) inFlight.conflicts();
  }

  /** Every {@code $import} kick-off whose body parsed, accepted or not, in arrival order. */
  public List<ImportRequest> imports() {
    return List.copyOf(importRequests);
  }

  /** Every {@code $import-pnp} kick-off whose body parsed, accepted or not, in arrival order. */
  public List<ImportPnpRequest> pnpRequests() {
    return List.copyOf(pnpRequests);
  }

  /** Snapshots of every job since the last reset (deleted and forgotten ones too), oldest first. */
  public List<ImportJob> jobs() {
    synchronized (jobsLock) {
      return jobHistory.stream().map(Job::snapshot).toList();
    }
  }

  /** A snapshot of the job with that id, if it was created since the last reset. */
  public Optional<ImportJob> job(String id) {
    synchronized (jobsLock) {
      return jobHistory.stream().filter(job -> job.id.equals(id)).findFirst().map(Job::snapshot);
    }
  }

  /** Whether some import job is queued or running (deleted ones included: they keep running). */
  public boolean importInProgress() {
    synchronized (jobsLock) {
      return jobHistory.stream().anyMatch(job -> !job.isDone() && !job.abandoned());
    }
  }

  // ---------------------------------------------------------------- HAPI providers

  /** Update, delete, read and search for one resource type. */
  public final class TypeProvider implements IResourceProvider {

    private final Class<? extends IBaseResource> resourceClass;
    private final String type;

    TypeProvider(Class<? extends IBaseResource> resourceClass, String type) {
      this.resourceClass = resourceClass;
      this.type = type;
    }

    @Override
    public Class<? extends IBaseResource> getResourceType() {
      return resourceClass;
    }

    @Update
    public MethodOutcome update(@IdParam IdType id, @ResourceParam IBaseResource resource) {
      String idPart = id.getIdPart();
      // HAPI checks this before calling us; kept so the fake does not depend on it.
      if (!idPart.equals(resource.getIdElement().getIdPart())) {
        throw new InvalidRequestException("Resource ID missing or does not match supplied ID");
      }
      Resource row = asRow(resource, idPart);
      return write(List.of(type), writeCost.writeDuration(1, 0, 0), () -> {
        checkNotRejected(row, type + "/" + idPart);
        List<Resource> table = table(type);
        if (!replaceRows(table, idPart, row)) {
          table.add(row);
        }
        MethodOutcome outcome = new MethodOutcome(new IdType(type, idPart));
        outcome.setResource(row.copy());
        return outcome; // created stays unset: Pathling answers 200 even for a new resource
      });
    }

    @Delete
    public MethodOutcome delete(@IdParam IdType id) {
      String idPart = id.getIdPart();
      boolean held = current(type, idPart).isPresent(); // stays so: the write claims the type
      Duration cost = held ? writeCost.writeDuration(0, 1, 0) : writeCost.writeDuration(0, 0, 1);
      return write(List.of(type), cost, () -> {
        // No table is created for a type that has none (it matters to import's ignore/error).
        if (!tables.getOrDefault(type, new ArrayList<>()).removeIf(
            row -> idPart.equals(idOf(row)))) {
          throw new ResourceNotFoundException(new IdType(type, idPart));
        }
        return new MethodOutcome(); // no OperationOutcome: HAPI answers 204
      });
    }

    @Read
    public IBaseResource read(@IdParam IdType id) {
      return current(type, id.getIdPart())
          .orElseThrow(() -> new ResourceNotFoundException(new IdType(type, id.getIdPart())));
    }

    /**
     * Pathling's FHIRPath search, as far as the relay uses it: {@code filter=id = 'a' or id = 'b'},
     * every row of those ids, at a count's cost. Any other filter is refused here (Pathling would
     * evaluate it).
     */
    @Search(queryName = "fhirPath")
    public IBundleProvider searchByFilter(@RequiredParam(name = "filter") StringParam filter) {
      List<String> ids = IdFilter.ids(filter.getValue()).orElseThrow(() -> new InvalidRequestException(
          "The fake Pathling filters only by id = '..' or ..: " + filter.getValue()));
      pause(writeCost.countDuration());
      Set<String> wanted = Set.copyOf(ids);
      return new SimpleBundleProvider(rows(type).stream().filter(row -> wanted.contains(idOf(row))).toList());
    }

    /** Lists every row; HAPI turns {@code _summary=count} into a total-only searchset. */
    @Search
    public IBundleProvider search() {
      pause(writeCost.countDuration()); // a Spark job over the type's table
      return new SimpleBundleProvider(rows(type));
    }
  }

  /** The system-level batch ({@code POST [base]}). */
  public final class BatchProvider {

    @Transaction
    public Bundle batch(@TransactionParam Bundle bundle) {
      if (bundle == null) {
        throw new InvalidRequestException("Bundle must be provided");
      }
      if (bundle.getType() != BundleType.BATCH) {
        throw new InvalidRequestException("Only bundles of type batch are supported, not "
            + (bundle.getType() == null ? "none" : bundle.getType().toCode()));
      }
      List<BatchOp> ops = new ArrayList<>();
      for (int i = 0; i < bundle.getEntry().size(); i++) {
        ops.add(parseEntry(i, bundle.getEntry().get(i)));
      }
      Set<String> types = ops.stream().map(BatchOp::type).collect(Collectors.toSet());
      return write(types, batchCost(ops), () -> applyBatch(ops));
    }
  }

  private record BatchOp(int index, HTTPVerb verb, String type, String id, Resource resource) {

    String reference() {
      return id == null ? type : type + "/" + id;
    }
  }

  private BatchOp parseEntry(int index, BundleEntryComponent entry) {
    BundleEntryRequestComponent request = entry.getRequest();
    String where = "Bundle.entry[" + index + "]";
    if (request == null || request.getMethod() == null || !request.hasUrl()) {
      throw new InvalidRequestException(where + " must have a request with a method and a url");
    }
    String url = request.getUrl();
    Resource resource = entry.getResource();
    switch (request.getMethod()) {
      case POST -> {
        requireType(where, url, TYPE.matcher(url).matches() ? url : null);
        requireResourceOfType(where, resource, url);
        return new BatchOp(index, HTTPVerb.POST, url, null, asRow(resource, null));
      }
      case PUT, DELETE -> {
        String[] parts = url.split("/", -1);
        boolean wellFormed = parts.length == 2 && TYPE.matcher(parts[0]).matches()
            && ID.matcher(parts[1]).matches();
        requireType(where, url, wellFormed ? parts[0] : null);
        if (request.getMethod() == HTTPVerb.DELETE) {
          return new BatchOp(index, HTTPVerb.DELETE, parts[0], parts[1], null);
        }
        requireResourceOfType(where, resource, parts[0]);
        String bodyId = resource.getIdElement().getIdPart();
        if (bodyId != null && bodyId.startsWith("urn:uuid:")) {
          bodyId = bodyId.substring("urn:uuid:".length()); // as Pathling: fullUrl-derived ids
        }
        if (!parts[1].equals(bodyId)) {
          throw new InvalidRequestException(
              where + ": Resource ID missing or does not match supplied ID (" + url + ")");
        }
        return new BatchOp(index, HTTPVerb.PUT, parts[0], parts[1], asRow(resource, parts[1]));
      }
      default -> throw new InvalidRequestException(where
          + ": only POST, PUT and DELETE entries are supported in a batch, not "
          + request.getMethod().toCode());
    }
  }

  private void requireType(String where, String url, String type) {
    if (type == null || !resourceTypes.contains(type)) {
      throw new InvalidRequestException(where + ": the URL '" + url + "' must look like "
          + "[resource type] (POST) or [resource type]/[id] (PUT, DELETE)");
    }
  }

  private static void requireResourceOfType(String where, Resource resource, String type) {
    if (resource == null) {
      throw new InvalidRequestException(where + " must have a resource");
    }
    if (!type.equals(resource.fhirType())) {
      throw new InvalidRequestException(where + ": Resource in URL does not match resource type");
    }
  }

  /**
   * The merge of the upserts plus each delete on its own, in order until the first one of an
   * absent resource, which fails the batch (Pathling runs the deletes first).
   */
  private Duration batchCost(List<BatchOp> ops) {
    long held = 0;
    long absent = 0;
    synchronized (dataLock) {
      for (BatchOp op : ops) {
        if (op.verb() == HTTPVerb.DELETE) {
          if (tables.getOrDefault(op.type(), List.of()).stream().noneMatch(row -> op.id().equals(idOf(row)))) {
            absent = 1;
            break;
          }
          held++;
        }
      }
    }
    long upserts = absent > 0 ? 0 : ops.stream().filter(op -> op.verb() != HTTPVerb.DELETE).count();
    return writeCost.writeDuration(upserts, held, absent);
  }

  /** Runs under the data lock: validates everything, applies to copies, commits at the end. */
  private Bundle applyBatch(List<BatchOp> ops) {
    for (BatchOp op : ops) {
      if (op.resource() != null) {
        checkNotRejected(op.resource(), op.reference() + " (Bundle.entry[" + op.index() + "])");
      }
    }
    Map<String, List<Resource>> working = new HashMap<>();
    ops.forEach(op -> working.computeIfAbsent(op.type(),
        t -> new ArrayList<>(tables.getOrDefault(t, List.of()))));

    for (BatchOp op : ops) {
      if (op.verb() == HTTPVerb.DELETE
          && !working.get(op.type()).removeIf(row -> op.id().equals(idOf(row)))) {
        throw new ResourceNotFoundException("Bundle.entry[" + op.index() + "]: Resource "
            + op.reference() + " is not known; nothing in this batch was applied");
      }
    }

    // The PUTs are one Delta merge against the table as it is after the deletes.
    Map<String, Set<String>> stored = new HashMap<>();
    working.forEach((type, rows) -> stored.put(type,
        rows.stream().map(FakePathling::idOf).collect(Collectors.toSet())));
    Map<String, Integer> matches = new HashMap<>();
    for (BatchOp op : ops) {
      if (op.verb() == HTTPVerb.PUT && stored.get(op.type()).contains(op.id())
          && matches.merge(op.reference(), 1, Integer::sum) > 1) {
        throw new InternalErrorException("Cannot perform Merge as multiple source rows matched "
            + "and attempted to modify the same target row in the Delta table (" + op.reference()
            + "); nothing in this batch was applied");
      }
    }

    Bundle response = new Bundle().setType(BundleType.BATCHRESPONSE);
    for (BatchOp op : ops) {
      BundleEntryComponent out = response.addEntry();
      switch (op.verb()) {
        case DELETE -> out.getResponse().setStatus("204").setLocation(op.reference());
        case POST -> {
          Resource row = op.resource().copy();
          row.setId(UUID.randomUUID().toString());
          working.get(op.type()).add(row);
          out.setResource(row.copy());
          out.getResponse().setStatus("200").setLocation(op.type() + "/" + row.getIdPart());
        }
        default -> {
          List<Resource> rows = working.get(op.type());
          if (!stored.get(op.type()).contains(op.id()) || !replaceRows(rows, op.id(), op.resource())) {
            rows.add(op.resource().copy()); // a new id appends, even twice: the duplicate quirk
          }
          out.setResource(op.resource().copy());
          out.getResponse().setStatus("200").setLocation(op.reference());
        }
      }
    }
    tables.putAll(working);
    return response;
  }

  // ---------------------------------------------------------------- bulk import: endpoints

  /** {@code $import}, {@code $import-pnp} and {@code $job}, at the system level. */
  public final class ImportProvider {

    @Operation(name = IMPORT)
    public Parameters kickOffImport(@ResourceParam Parameters parameters, RequestDetails details) {
      String json = encode(parameters);
      try {
        ImportSpec spec = parseImport(parameters, details);
        Job job = jobFor(spec.tag(details, dataVersion.get()), IMPORT, details.getCompleteUrl(),
            created -> runImport(created, spec));
        importRequests.add(recordImport(json, parameters, 202, job.id, null));
        throw accepted(details, job);
      } catch (Accepted accepted) {
        throw accepted;
      } catch (BaseServerResponseException refused) {
        importRequests.add(recordImport(json, parameters, refused.getStatusCode(), null,
            refused.getMessage()));
        throw refused;
      }
    }

    @Operation(name = IMPORT_PNP)
    public Parameters kickOffPnp(@ResourceParam Parameters parameters, RequestDetails details) {
      String json = encode(parameters);
      try {
        PnpSpec spec = parsePnp(parameters, details);
        PnpSpec sent = PnpSpec.lenient(parameters);
        Job job = jobFor(spec.tag(details, dataVersion.get()), IMPORT_PNP,
            details.getCompleteUrl(),
            created -> runPnp(created, sent.record(json, 202, created.id, null)));
        pnpRequests.add(sent.record(json, 202, job.id, null));
        throw accepted(details, job);
      } catch (Accepted accepted) {
        throw accepted;
      } catch (BaseServerResponseException refused) {
        pnpRequests.add(PnpSpec.lenient(parameters).record(json, refused.getStatusCode(), null,
            refused.getMessage()));
        throw refused;
      }
    }

    /** Polls ({@code GET}) or deletes ({@code DELETE}) a job. */
    @Operation(name = JOB, idempotent = true, deleteEnabled = true)
    public Parameters job(@OperationParam(name = "id") String id, HttpServletRequest request,
        HttpServletResponse response) {
      boolean delete = "DELETE".equals(request.getMethod());
      Job job;
      synchronized (jobsLock) {
        job = id == null || !JOB_ID.matcher(id).matches() ? null : jobsById.get(id);
        if (job != null && delete) {
          // As Pathling: Future.cancel(false), so the work carries on; the job is forgotten.
          jobsById.remove(id);
          jobsByTag.values().remove(job);
          job.deleted = true;
        }
      }
      if (job == null) {
        throw new ResourceNotFoundException("Job ID not found");
      }
      if (delete) {
        throw new Accepted("The job and its resources will be deleted.",
            information("The job and its resources will be deleted."));
      }
      JobFailure failure = job.failure;
      if (failure != null) {
        throw failure.exception().addResponseHeader("Cache-Control", "max-age=1");
      }
      Parameters result = job.result;
      if (result != null) {
        response.setHeader("Cache-Control", "max-age=1");
        return result.copy();
      }
      Accepted processing = new Accepted("Processing", information("Job currently processing"));
      processing.addResponseHeader("Cache-Control", "no-cache");
      job.progress().ifPresent(percent -> processing.addResponseHeader("X-Progress",
          percent + "%"));
      throw processing;
    }
  }

  /** A 202 carried by an exception, as Pathling's ProcessingNotCompletedException. */
  private static final class Accepted extends BaseServerResponseException {

    private static final long serialVersionUID = 1L;

    Accepted(String message, OperationOutcome outcome) {
      super(202, message, outcome);
    }
  }

  private Accepted accepted(RequestDetails details, Job job) {
    Accepted accepted = new Accepted("Accepted", information("Job accepted for processing, see "
        + "the Content-Location header for the URL at which status can be queried"));
    accepted.addResponseHeader("Content-Location",
        details.getFhirServerBase() + "/" + JOB + "?id=" + job.id);
    accepted.addResponseHeader("ETag", "W/\"~" + instanceId + "." + shortHash(job.id) + "\"");
    return accepted;
  }

  private static OperationOutcome information(String diagnostics) {
    OperationOutcome outcome = new OperationOutcome();
    outcome.addIssue().setSeverity(IssueSeverity.INFORMATION).setCode(IssueType.INFORMATIONAL)
        .setDiagnostics(diagnostics);
    return outcome;
  }

  private static String shortHash(String text) {
    try {
      byte[] hash = MessageDigest.getInstance("SHA-256")
          .digest(text.getBytes(StandardCharsets.UTF_8));
      return String.format("%02x%02x%02x%02x", hash[0], hash[1], hash[2], hash[3]);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private String encode(Parameters parameters) {
    return parameters == null ? "" : ctx.newJsonParser().encodeResourceToString(parameters);
  }

  // ---------------------------------------------------------------- bulk import: parameters

  /** A validated {@code $import}: URLs per type (a HashMap, as Pathling's groupingBy). */
  private record ImportSpec(Map<String, List<String>> input, String saveMode, String format,
      String requestUrl) {

    JobTag tag(RequestDetails details, long version) {
      String inputKey = new TreeMap<>(input).entrySet().stream()
          .map(e -> e.getKey() + ":" + e.getValue().stream().sorted().toList())
          .collect(Collectors.joining(","));
      return JobTag.of(IMPORT, details, version,
          "input={" + inputKey + "}|saveMode=" + saveMode + "|format=" + format);
    }

    List<String> inputUrls() {
      return input.values().stream().flatMap(List::stream).toList();
    }
  }

  /** Validates in Pathling's order: inputs (and their types), saveMode, format, headers. */
  private ImportSpec parseImport(Parameters parameters, RequestDetails details) {
    List<ParametersParameterComponent> all = parametersOf(parameters);
    List<ParametersParameterComponent> inputs = all.stream()
        .filter(p -> "input".equals(p.getName())).toList();
    if (inputs.isEmpty()) {
      throw new InvalidRequestException("The input may not be empty.");
    }
    Map<String, List<String>> input = new HashMap<>();
    for (ParametersParameterComponent part : inputs) {
      CodeType type = valueOf(part.getPart(), "resourceType", CodeType.class)
          .orElseThrow(() -> new InvalidRequestException(
              "Missing resourceType part in input parameter."));
      UrlType url = valueOf(part.getPart(), "url", UrlType.class)
          .orElseThrow(() -> new InvalidRequestException("Missing url part in input parameter."));
      String decoded = asPathlingReadsIt(url.getValue());
      requireSupportedType(type.getCode());
      input.computeIfAbsent(type.getCode(), t -> new ArrayList<>()).add(decoded);
    }
    String saveMode = saveModeOf(all);
    String format = formatOf(all);
    requireAsyncHeaders(details);
    if (format.equals(PARQUET_FORMAT)) {
      throw new InvalidRequestException("[FakePathling] Parquet import is not supported by the "
          + "fake (Pathling accepts it)");
    }
    return new ImportSpec(input, saveMode, format, details.getCompleteUrl());
  }

  /** Lenient, for the record: whatever Pathling could read, nothing thrown. */
  private static ImportRequest recordImport(String json, Parameters parameters, int status,
      String jobId, String error) {
    List<ParametersParameterComponent> all = parametersOf(parameters);
    List<ImportRequest.Input> inputs = new ArrayList<>();
    for (ParametersParameterComponent p : all) {
      if ("input".equals(p.getName())) {
        Optional<CodeType> type = valueOf(p.getPart(), "resourceType", CodeType.class);
        Optional<UrlType> url = valueOf(p.getPart(), "url", UrlType.class);
        if (type.isPresent() && url.isPresent()) {
          String decoded;
          try {
            decoded = asPathlingReadsIt(url.get().getValue());
          } catch (RuntimeException malformed) {
            decoded = url.get().getValue();
          }
          inputs.add(new ImportRequest.Input(type.get().getCode(), decoded));
        }
      }
    }
    return new ImportRequest(json, inputs, codeOf(all, "saveMode"), codeOf(all, "inputFormat"),
        status, jobId, error);
  }

  /** A validated {@code $import-pnp}. */
  private record PnpSpec(String exportUrl, String exportType, String saveMode, String format,
      List<String> types, Instant since, Instant until, List<String> elements,
      List<String> typeFilters, List<String> includeAssociatedData) {

    static PnpSpec lenient(Parameters parameters) {
      List<ParametersParameterComponent> all = parametersOf(parameters);
      return new PnpSpec(valueOf(all, "exportUrl", UrlType.class).map(UrlType::getValue)
          .orElse(null), codeOf(all, "exportType"), codeOf(all, "saveMode"),
          codeOf(all, "inputFormat"), strings(all, "_type"), instant(all, "_since"),
          instant(all, "_until"), strings(all, "_elements"), strings(all, "_typeFilter"),
          codes(all, "includeAssociatedData"));
    }

    ImportPnpRequest record(String json, int status, String jobId, String error) {
      return new ImportPnpRequest(json, exportUrl, exportType, saveMode, format, types, since,
          until, elements, typeFilters, includeAssociatedData, status, jobId, error);
    }

    JobTag tag(RequestDetails details, long version) {
      StringBuilder key = new StringBuilder("exportUrl=").append(exportUrl)
          .append("|exportType=").append(exportType).append("|saveMode=").append(saveMode)
          .append("|format=").append(format).append("|types=").append(types)
          .append("|since=").append(since).append("|until=").append(until)
          .append("|elements=").append(elements).append("|typeFilters=").append(typeFilters)
          .append("|includeAssociatedData=").append(includeAssociatedData);
      return JobTag.of(IMPORT_PNP, details, version, key.toString());
    }
  }

  private PnpSpec parsePnp(Parameters parameters, RequestDetails details) {
    List<ParametersParameterComponent> all = parametersOf(parameters);
    String exportUrl = valueOf(all, "exportUrl", UrlType.class).map(UrlType::getValue)
        .orElseThrow(() -> new InvalidRequestException("Missing required parameter: exportUrl"));
    String exportType = "dynamic";
    if (firstValue(all, "exportType").isPresent()) {
      exportType = valueOf(all, "exportType", CodeType.class).map(CodeType::getCode)
          .orElseThrow(() -> new InvalidRequestException("Invalid exportType"));
    }
    if (!exportType.equals("dynamic") && !exportType.equals("static")) {
      throw new InvalidRequestException(
          "Invalid exportType: " + exportType + ". Must be 'dynamic' or 'static'.");
    }
    String saveMode = saveModeOf(all);
    String format = formatOf(all);
    PnpSpec spec = new PnpSpec(exportUrl, exportType, saveMode, format, strings(all, "_type"),
        instant(all, "_since"), instant(all, "_until"), strings(all, "_elements"),
        strings(all, "_typeFilter"), codes(all, "includeAssociatedData"));
    List<String> allowed = allowableExportUrls;
    if (allowed != null && allowed.isEmpty()) {
      throw new InvalidRequestException("No trusted export URLs are configured. "
          + "Set pathling.import.pnp.allowableExportUrls to enable $import-pnp.");
    }
    if (allowed != null && !allowlisted(allowed, exportUrl, allowInsecureUrls)) {
      throw new InvalidRequestException("exportUrl not in allowableExportUrls: " + exportUrl);
    }
    requireAsyncHeaders(details);
    if (format.equals(PARQUET_FORMAT)) {
      throw new InvalidRequestException("[FakePathling] Parquet import is not supported by the "
          + "fake (Pathling accepts it)");
    }
    return spec;
  }

  private static List<ParametersParameterComponent> parametersOf(Parameters parameters) {
    return parameters == null ? List.of() : parameters.getParameter();
  }

  /** The value of the first parameter so named, as Pathling's ParamUtil looks it up. */
  private static Optional<Type> firstValue(List<ParametersParameterComponent> params,
      String name) {
    return params.stream().filter(p -> name.equals(p.getName())).findFirst()
        .map(ParametersParameterComponent::getValue);
  }

  /** That value if it is a {@code type}; Pathling refuses any other type as if missing. */
  private static <T extends Type> Optional<T> valueOf(List<ParametersParameterComponent> params,
      String name, Class<T> type) {
    return firstValue(params, name).filter(type::isInstance).map(type::cast);
  }

  private static String codeOf(List<ParametersParameterComponent> params, String name) {
    return valueOf(params, name, CodeType.class).map(CodeType::getCode).orElse(null);
  }

  private static String saveModeOf(List<ParametersParameterComponent> params) {
    if (firstValue(params, "saveMode").isEmpty()) {
      return "merge";
    }
    return valueOf(params, "saveMode", CodeType.class).map(CodeType::getCode)
        .filter(SAVE_MODES::contains)
        .orElseThrow(() -> new InvalidRequestException("Unknown saveMode."));
  }

  private static String formatOf(List<ParametersParameterComponent> params) {
    if (firstValue(params, "inputFormat").isEmpty()) {
      return NDJSON_FORMAT;
    }
    String code = valueOf(params, "inputFormat", CodeType.class).map(CodeType::getCode)
        .orElseThrow(() -> new InvalidRequestException("Unknown format."));
    if (code == null || code.isBlank()) {
      return NDJSON_FORMAT;
    }
    for (String format : List.of(NDJSON_FORMAT, PARQUET_FORMAT)) {
      if (format.equalsIgnoreCase(code)) {
        return format;
      }
    }
    throw new InvalidRequestException("Unsupported format: " + code);
  }

  /** Pathling's passthrough lists keep only values of the right type, silently. */
  private static List<String> strings(List<ParametersParameterComponent> params, String name) {
    return params.stream().filter(p -> name.equals(p.getName()))
        .filter(p -> p.getValue() instanceof StringType)
        .map(p -> ((StringType) p.getValue()).getValue()).toList();
  }

  private static List<String> codes(List<ParametersParameterComponent> params, String name) {
    return params.stream().filter(p -> name.equals(p.getName()))
        .filter(p -> p.getValue() instanceof CodeType)
        .map(p -> ((CodeType) p.getValue()).getCode()).toList();
  }

  private static Instant instant(List<ParametersParameterComponent> params, String name) {
    return params.stream().filter(p -> name.equals(p.getName()))
        .filter(p -> p.getValue() instanceof InstantType)
        .map(p -> ((InstantType) p.getValue()).getValue().toInstant())
        .findFirst().orElse(null);
  }

  /** As Pathling: URL-decoded (so {@code +} becomes a space), {@code s3://} read as s3a. */
  private static String asPathlingReadsIt(String url) {
    String decoded;
    try {
      decoded = URLDecoder.decode(url, StandardCharsets.UTF_8);
    } catch (IllegalArgumentException malformed) {
      throw new InternalErrorException("Unexpected error occurred (" + malformed.getMessage()
          + ")");
    }
    return decoded.startsWith("s3://") ? "s3a://" + decoded.substring("s3://".length()) : decoded;
  }

  private void requireSupportedType(String code) {
    Enumerations.ResourceType type;
    try {
      type = Enumerations.ResourceType.fromCode(code);
    } catch (FHIRException unknown) {
      throw new InvalidRequestException("Unknown resource type.");
    }
    if (type == null || type == Enumerations.ResourceType.NULL
        || UNSUPPORTED_TYPES.contains(code) || !resourceTypes.contains(code)) {
      throw new InvalidRequestException("The resource type '" + code + "' is not supported.");
    }
  }

  /** Pathling checks Accept and Prefer strictly for both imports, after the parameters. */
  private static void requireAsyncHeaders(RequestDetails details) {
    String accept = details.getHeader("Accept");
    if (!headerListContains(accept, "application/fhir+json") && !headerListContains(accept,
        "*/*")) {
      throw new InvalidRequestException("Unknown 'Accept' header value '" + accept
          + "'. Only [application/fhir+json] are allowed.");
    }
    List<String> prefer = Optional.ofNullable(details.getHeaders("Prefer")).orElse(List.of());
    if (prefer.stream().noneMatch(value -> headerListContains(value, "respond-async"))) {
      throw new InvalidRequestException(
          "Unknown 'Prefer' header value '" + prefer + "'. Only [respond-async] is allowed.");
    }
  }

  /** Whether a comma-separated header value has exactly {@code wanted} as one of its items. */
  private static boolean headerListContains(String header, String wanted) {
    if (header == null) {
      return false;
    }
    for (String item : header.split(",")) {
      if (item.trim().equals(wanted)) {
        return true;
      }
    }
    return false;
  }

  /** Pathling's UrlAllowlist semantics (see {@link #setAllowableSources}). */
  private static boolean allowlisted(List<String> prefixes, String url, boolean allowInsecure) {
    if (!allowInsecure && "http".equalsIgnoreCase(schemeOf(url))) {
      return false;
    }
    return prefixes.stream().anyMatch(prefix -> prefixMatches(prefix, url));
  }

  private static boolean prefixMatches(String prefix, String url) {
    int delimiter = prefix.indexOf("://");
    if (delimiter > 0 && delimiter == prefix.length() - 3) {
      String scheme = prefix.substring(0, delimiter).toLowerCase(Locale.ROOT);
      return !isHttp(scheme) && url.toLowerCase(Locale.ROOT).startsWith(scheme + "://");
    }
    URI prefixUri = parseUri(prefix);
    if (prefixUri == null || prefixUri.getScheme() == null) {
      return false;
    }
    if (!isHttp(prefixUri.getScheme())) {
      return url.startsWith(prefix);
    }
    URI candidate = parseUri(url);
    if (candidate == null || candidate.getRawUserInfo() != null
        || !prefixUri.getScheme().equalsIgnoreCase(candidate.getScheme())
        || prefixUri.getHost() == null
        || !prefixUri.getHost().equalsIgnoreCase(candidate.getHost())
        || port(prefixUri) != port(candidate)) {
      return false;
    }
    String base = trimSlash(prefixUri.getPath());
    String path = trimSlash(candidate.getPath());
    return base.isEmpty() || path.equals(base) || path.startsWith(base + "/");
  }

  private static String schemeOf(String url) {
    URI uri = parseUri(url);
    return uri == null ? null : uri.getScheme();
  }

  private static boolean isHttp(String scheme) {
    return scheme.equalsIgnoreCase("http") || scheme.equalsIgnoreCase("https");
  }

  private static int port(URI uri) {
    if (uri.getPort() != -1) {
      return uri.getPort();
    }
    return "https".equalsIgnoreCase(uri.getScheme()) ? 443
        : "http".equalsIgnoreCase(uri.getScheme()) ? 80 : -1;
  }

  private static String trimSlash(String path) {
    if (path == null || path.equals("/")) {
      return "";
    }
    return path.endsWith("/") ? path.substring(0, path.length() - 1) : path;
  }

  private static URI parseUri(String value) {
    try {
      return new URI(value);
    } catch (URISyntaxException e) {
      return null;
    }
  }

  // ---------------------------------------------------------------- bulk import: jobs

  /** What makes two kick-offs "the same request" to Pathling's job registry. */
  private record JobTag(String operation, String requestUrl, List<String> prefer,
      List<String> authorization, long dataVersion, String operationKey) {

    static JobTag of(String operation, RequestDetails details, long version, String key) {
      return new JobTag(operation, details.getCompleteUrl(), headers(details, "Prefer"),
          headers(details, "Authorization"), version, key);
    }

    private static List<String> headers(RequestDetails details, String name) {
      List<String> values = details.getHeaders(name);
      return values == null ? List.of() : List.copyOf(values);
    }
  }

  private record JobFailure(int status, String diagnostics) {

    BaseServerResponseException exception() {
      OperationOutcome outcome = new OperationOutcome();
      outcome.addIssue().setSeverity(IssueSeverity.ERROR)
          .setCode(status == 403 ? IssueType.FORBIDDEN : IssueType.PROCESSING)
          .setDiagnostics(diagnostics);
      BaseServerResponseException e = BaseServerResponseException.newInstance(status,
          diagnostics);
      e.setOperationOutcome(outcome);
      return e;
    }
  }

  /** Ends a job's work with a failure (possibly after some types were written). */
  private static final class JobFailed extends RuntimeException {

    private static final long serialVersionUID = 1L;
    final transient JobFailure failure;

    JobFailed(int status, String diagnostics) {
      super(diagnostics, null, false, false);
      this.failure = new JobFailure(status, diagnostics);
    }
  }

  /** Thrown inside a job that {@link #reset()} or {@link #forgetJobs()} abandoned. */
  private static final class Abandoned extends RuntimeException {

    private static final long serialVersionUID = 1L;

    Abandoned() {
      super("abandoned", null, false, false);
    }
  }

  private final class Job {

    final String id = UUID.randomUUID().toString();
    final String operation;
    final String requestUrl;
    final long generation;
    final Instant created = Instant.now();
    final CountDownLatch done = new CountDownLatch(1);
    /** Taken by the job's thread when it starts, or by {@link #abandonJobs()} to stop a start. */
    final AtomicBoolean claimed = new AtomicBoolean();
    volatile ImportJob.State state = ImportJob.State.QUEUED;
    volatile Instant loadingSince;
    volatile Instant finished;
    volatile Parameters result;
    volatile JobFailure failure;
    volatile boolean deleted;
    volatile Future<?> future;

    Job(String operation, String requestUrl, long generation) {
      this.operation = operation;
      this.requestUrl = requestUrl;
      this.generation = generation;
    }

    boolean abandoned() {
      return generation != jobGeneration.get();
    }

    boolean isDone() {
      return state.isDone();
    }

    /** Pathling reports Spark stage progress, never 100%; the fake reports elapsed time. */
    Optional<Integer> progress() {
      Instant since = loadingSince;
      if (state != ImportJob.State.RUNNING || since == null) {
        return Optional.empty();
      }
      Duration total = importDuration;
      if (total.isZero()) {
        return Optional.of(0);
      }
      long elapsed = Duration.between(since, Instant.now()).toMillis();
      return Optional.of((int) Math.min(99, elapsed * 100 / Math.max(1, total.toMillis())));
    }

    ImportJob snapshot() {
      ImportJob.State shown = deleted || (abandoned() && !isDone())
          ? ImportJob.State.DELETED : state;
      int pollStatus = switch (shown) {
        case QUEUED, RUNNING -> 202;
        case COMPLETED -> 200;
        case FAILED -> failure.status();
        case DELETED -> 404;
      };
      return new ImportJob(id, operation, shown, pollStatus,
          failure == null ? null : failure.diagnostics(), created, finished);
    }
  }

  /** The job an identical earlier kick-off created, or a new, started one. */
  private Job jobFor(JobTag tag, String operation, String requestUrl,
      Function<Job, Parameters> work) {
    synchronized (jobsLock) {
      Job existing = jobsByTag.get(tag);
      if (existing != null) {
        return existing;
      }
      Job job = new Job(operation, requestUrl, jobGeneration.get());
      jobsById.put(job.id, job);
      jobsByTag.put(tag, job);
      jobHistory.add(job);
      job.future = jobRunner.submit(() -> runJob(job, work));
      return job;
    }
  }

  private void runJob(Job job, Function<Job, Parameters> work) {
    if (!job.claimed.compareAndSet(false, true)) {
      return; // abandoned before it started
    }
    try {
      Parameters result = work.apply(job);
      finish(job, result, null);
    } catch (JobFailed failed) {
      finish(job, null, failed.failure);
    } catch (Abandoned abandoned) {
      // reset() or forgetJobs(): nothing more to do
    } catch (BaseServerResponseException e) { // a write conflict, an interrupted pause
      finish(job, null, new JobFailure(e.getStatusCode(), e.getMessage()));
    } catch (RuntimeException e) {
      finish(job, null, new JobFailure(500, "Unexpected error occurred (" + e + ")"));
    } finally {
      job.done.countDown();
    }
  }

  private void finish(Job job, Parameters result, JobFailure failure) {
    if (job.abandoned()) {
      return;
    }
    job.result = result;
    job.failure = failure;
    job.finished = Instant.now();
    job.state = failure == null ? ImportJob.State.COMPLETED : ImportJob.State.FAILED;
  }

  /** Forgets every job; running ones are interrupted and write nothing more. */
  private void abandonJobs() {
    List<Job> running;
    synchronized (jobsLock) {
      jobGeneration.incrementAndGet();
      jobsById.clear();
      jobsByTag.clear();
      running = jobHistory.stream().filter(job -> job.done.getCount() > 0).toList();
    }
    for (Job job : running) {
      job.future.cancel(true);
      if (job.claimed.compareAndSet(false, true)) {
        job.done.countDown(); // it will never run
      }
    }
    for (Job job : running) {
      try {
        // A job stuck in an onPnp function may outlive this; it still writes nothing.
        job.done.await(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  /** Runs {@code body} holding the one-import-at-a-time lock (Pathling's ImportLock). */
  private <T> T underImportLock(Job job, Supplier<T> body) {
    try {
      importLock.lockInterruptibly();
    } catch (InterruptedException e) {
      throw new Abandoned();
    }
    try {
      if (job.abandoned()) {
        throw new Abandoned();
      }
      job.loadingSince = Instant.now();
      job.state = ImportJob.State.RUNNING;
      Optional<InjectedFailures.Failure> injected = jobFailures.take();
      if (injected.isPresent()) {
        throw new JobFailed(injected.get().status(), "Injected failure (HTTP "
            + injected.get().status() + "); nothing was applied");
      }
      return body.get();
    } finally {
      importLock.unlock();
    }
  }

  private Parameters runImport(Job job, ImportSpec spec) {
    return underImportLock(job, () -> {
      for (String url : spec.inputUrls()) {
        if (!allowlisted(allowableSources, url, allowInsecureUrls)) {
          throw new JobFailed(403, "URL: '" + url + "' is not an allowed source for import.");
        }
      }
      // All files are opened before anything is written, as Spark resolves every path first.
      Map<String, List<String>> linesByType = new HashMap<>();
      spec.input().forEach((type, urls) -> {
        List<String> ndjson = new LinkedHashSet<>(urls).stream()
            .filter(FakePathling::hasNdjsonExtension).toList();
        if (!ndjson.isEmpty()) {
          List<String> lines = new ArrayList<>();
          ndjson.forEach(url -> lines.addAll(readNdjson(url)));
          linesByType.put(type, lines);
        }
      });
      load(job, linesByType, spec.saveMode());
      return importResult(job.requestUrl, spec.inputUrls());
    });
  }

  private Parameters runPnp(Job job, ImportPnpRequest request) {
    job.state = ImportJob.State.RUNNING; // exporting: outside the import lock, as Pathling
    Map<String, List<String>> files = new LinkedHashMap<>();
    try {
      if ("static".equals(request.exportType())) {
        throw new JobFailed(400,
            "Static export type is not currently supported. Please use dynamic mode.");
      }
      if (trimSlash(URI.create(request.exportUrl()).getPath()).endsWith("$export")) {
        throw new JobFailed(400, "[FakePathling] the export kick-off would go to "
            + request.exportUrl() + "/$export: exportUrl must be the source's FHIR base URL");
      }
      Map<String, List<String>> supplied;
      try {
        supplied = pnpSource.apply(request);
      } catch (RuntimeException e) {
        throw new JobFailed(400, rootMessage(e));
      }
      (supplied == null ? Map.<String, List<String>>of() : supplied).forEach((type, lines) -> {
        if (lines != null && !lines.isEmpty() && PNP_FILE_TYPE.matcher(type).matches()) {
          files.put(type, List.copyOf(lines));
        }
      });
      if (files.isEmpty()) {
        throw new JobFailed(400, "No files with extension .ndjson were downloaded");
      }
    } catch (JobFailed failed) {
      throw pnpFailure(failed.failure.diagnostics());
    } catch (IllegalArgumentException badUrl) {
      throw pnpFailure(rootMessage(badUrl));
    }
    job.state = ImportJob.State.QUEUED;
    String staging = PNP_STAGING + "pathling-pnp-import-" + job.id + "/export-output/";
    List<String> urls = files.keySet().stream().map(type -> staging + type + ".0000.ndjson")
        .toList();
    return underImportLock(job, () -> {
      Map<String, List<String>> linesByType = new HashMap<>();
      files.forEach((type, lines) -> {
        if (!UNSUPPORTED_TYPES.contains(type) && resourceTypes.contains(type)) {
          linesByType.put(type, lines); // other types are skipped silently, as Pathling
        }
      });
      try {
        load(job, linesByType, request.effectiveSaveMode());
      } catch (JobFailed failed) {
        throw pnpFailure(failed.failure.diagnostics());
      } catch (InternalErrorException conflict) {
        throw pnpFailure(conflict.getMessage());
      }
      return importResult(job.requestUrl, urls);
    });
  }

  /** Pathling's PnP executor turns every failure into a 400. */
  private static JobFailed pnpFailure(String message) {
    return new JobFailed(400, "Ping and pull import failed: " + message);
  }

  private static String rootMessage(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t.getMessage() != null && !t.getMessage().isBlank()) {
        return t.getMessage();
      }
    }
    return e.getClass().getSimpleName();
  }

  private static Parameters importResult(String requestUrl, List<String> inputUrls) {
    Parameters result = new Parameters();
    result.addParameter("transactionTime", InstantType.now().getValueAsString());
    result.addParameter("request", requestUrl);
    for (String url : inputUrls) {
      result.addParameter().setName("output").addPart().setName("inputUrl")
          .setValue(new UrlType(url));
    }
    return result;
  }

  /** Pathling's NDJSON source keeps only paths whose extension is exactly {@code ndjson}. */
  private static boolean hasNdjsonExtension(String url) {
    String name = url.substring(Math.max(url.lastIndexOf('/'), url.lastIndexOf('\\')) + 1);
    int dot = name.lastIndexOf('.');
    return dot >= 0 && name.substring(dot + 1).equals("ndjson");
  }

  /** Readers for schemes other than file:// (e.g. s3a:// backed by a test's S3). */
  private final Map<String, java.util.function.Function<String, List<String>>> schemeReaders =
      new ConcurrentHashMap<>();

  /**
   * Lets {@code $import} read URLs of another scheme, as Pathling reads {@code s3a://} through
   * Hadoop: the reader gets the URL and returns its lines (throw to fail the job).
   */
  public void readUrlsWith(String scheme, java.util.function.Function<String, List<String>> reader) {
    schemeReaders.put(scheme.toLowerCase(Locale.ROOT), reader);
  }

  private List<String> readNdjson(String url) {
    String scheme = schemeOf(url);
    java.util.function.Function<String, List<String>> schemeReader =
        scheme == null ? null : schemeReaders.get(scheme.toLowerCase(Locale.ROOT));
    if (schemeReader != null) {
      try {
        return schemeReader.apply(url);
      } catch (RuntimeException e) {
        throw new JobFailed(500, "Unexpected error occurred ([PATH_NOT_FOUND] " + url + ": " + e.getMessage() + ")");
      }
    }
    Path path = null;
    if (url.startsWith("file:///")) {
      path = Path.of(url.substring("file://".length()));
    } else if (url.startsWith("file:/") && !url.startsWith("file://")) {
      path = Path.of(url.substring("file:".length()));
    }
    if (path == null) {
      throw new JobFailed(500, "Unexpected error occurred ([FakePathling] cannot read " + url
          + ": the fake reads local file:/// URLs only)");
    }
    if (!Files.isRegularFile(path)) {
      throw new JobFailed(500, "Unexpected error occurred ([PATH_NOT_FOUND] Path does not exist: "
          + url + ")");
    }
    try (BufferedReader reader = new BufferedReader(
        new StringReader(Files.readString(path, StandardCharsets.UTF_8)))) {
      return reader.lines().toList();
    } catch (IOException | RuntimeException e) {
      throw new JobFailed(500, "Unexpected error occurred (" + e + ")");
    }
  }

  /**
   * Writes the types one after another, as Pathling's Delta sink: a failing type stops the job
   * and leaves the types before it written. Holds the types' in-flight markers for the import
   * duration first.
   */
  private void load(Job job, Map<String, List<String>> linesByType, String saveMode) {
    Duration duration = importDuration.isZero() && importsCharged
        ? linesByType.values().stream().map(lines -> writeCost.importDuration(lines.size()))
            .reduce(Duration.ZERO, Duration::plus)
        : importDuration;
    if (linesByType.isEmpty()) {
      pause(duration); // nothing to write: no markers, and the data version stays
      return;
    }
    write(linesByType.keySet(), duration, () -> {
      if (job.abandoned()) {
        throw new Abandoned();
      }
      linesByType.forEach((type, lines) -> tables.put(type,
          loaded(type, parseRows(type, lines), saveMode)));
      return null;
    });
  }

  private List<Resource> parseRows(String type, List<String> lines) {
    Class<? extends IBaseResource> resourceClass =
        ctx.getResourceDefinition(type).getImplementingClass();
    IParser parser = ctx.newJsonParser();
    List<Resource> rows = new ArrayList<>();
    for (String line : lines) {
      IBaseResource resource;
      try {
        resource = parser.parseResource(resourceClass, line);
      } catch (DataFormatException e) {
        throw new JobFailed(400, "Invalid FHIR content: " + e.getMessage());
      }
      Resource row = asRow(resource, resource.getIdElement().getIdPart());
      if (rejection.test(row.copy())) {
        throw new JobFailed(400, "Resource " + type + "/" + idOf(row)
            + " was rejected by the server");
      }
      rows.add(row);
    }
    return rows;
  }

  /** The type's table after writing {@code source} with {@code saveMode}; under the data lock. */
  private List<Resource> loaded(String type, List<Resource> source, String saveMode) {
    List<Resource> target = tables.get(type);
    if (target == null) {
      return new ArrayList<>(source); // every mode creates a missing table
    }
    switch (saveMode) {
      case "overwrite" -> {
        return new ArrayList<>(source);
      }
      case "append" -> {
        List<Resource> appended = new ArrayList<>(target);
        appended.addAll(source);
        return appended;
      }
      case "ignore" -> {
        return target;
      }
      case "error" -> throw new JobFailed(500, "Unexpected error occurred ([DELTA_PATH_EXISTS] "
          + "Cannot write to already existent path " + type + ".parquet without setting "
          + "OVERWRITE = 'true'.)");
      default -> {
        // A Delta merge on id: matched rows are replaced, the rest appended; two source rows
        // matching one stored row fail the whole type.
        Set<String> stored = target.stream().map(FakePathling::idOf).filter(Objects::nonNull)
            .collect(Collectors.toSet());
        Map<String, Integer> matches = new HashMap<>();
        for (Resource row : source) {
          String id = idOf(row);
          if (id != null && stored.contains(id) && matches.merge(id, 1, Integer::sum) > 1) {
            throw new JobFailed(500, "Cannot perform Merge as multiple source rows matched and "
                + "attempted to modify the same target row in the Delta table (" + type + "/" + id
                + ")");
          }
        }
        List<Resource> merged = new ArrayList<>(target);
        for (Resource row : source) {
          String id = idOf(row);
          if (id == null || !stored.contains(id) || !replaceRows(merged, id, row)) {
            merged.add(row.copy());
          }
        }
        return merged;
      }
    }
  }

  // ---------------------------------------------------------------- write machinery

  /**
   * Runs one write: takes the in-flight markers of {@code types} (500 when another write holds
   * one), pays {@code cost}, then applies atomically. {@code apply} must validate before it
   * mutates, so a failing write leaves nothing behind.
   */
  private <T> T write(Collection<String> types, Duration cost, Supplier<T> apply) {
    try (OneWritePerType.Claim claim = inFlight.claim(types)) {
      Optional<String> conflict = claim.conflict();
      if (conflict.isPresent()) {
        throw new InternalErrorException("Concurrent write conflict on " + conflict.get()
            + ": another write to this resource type is in progress "
            + "(io.delta.exceptions.ConcurrentAppendException); nothing was applied");
      }
      pause(cost);
      synchronized (dataLock) {
        T result = apply.get();
        dataVersion.incrementAndGet();
        return result;
      }
    }
  }

  private void pause(Duration duration) {
    if (duration.isZero() || duration.isNegative()) {
      return;
    }
    try {
      cpu.spend(duration); // models the cost of a Spark job, on Pathling's shared CPU
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InternalErrorException("Interrupted while writing; nothing was applied");
    }
  }

  private void checkNotRejected(Resource row, String what) {
    if (rejection.test(row.copy())) {
      throw new InvalidRequestException("Resource " + what + " was rejected by the server");
    }
  }

  /** Guarded by {@link #dataLock}. */
  private List<Resource> table(String type) {
    return tables.computeIfAbsent(type, t -> new ArrayList<>());
  }

  /** Replaces every row with {@code id} by a copy of {@code row}; false when there was none. */
  private static boolean replaceRows(List<Resource> rows, String id, Resource row) {
    boolean replaced = false;
    for (int i = 0; i < rows.size(); i++) {
      if (id.equals(idOf(rows.get(i)))) {
        rows.set(i, row.copy());
        replaced = true;
      }
    }
    return replaced;
  }

  /** A private copy holding a bare id (no base, type or version), meta untouched. */
  private static Resource asRow(IBaseResource resource, String id) {
    if (!(resource instanceof Resource r4)) {
      throw new IllegalArgumentException("Not an R4 resource: " + resource);
    }
    Resource row = r4.copy();
    if (id != null) {
      row.setId(id);
    }
    return row;
  }

  private static String idOf(IBaseResource resource) {
    return resource.getIdElement().getIdPart();
  }

  /** Notes what a write carries and injects {@link #failNext} failures before HAPI handles it. */
  @Interceptor
  public final class WriteGate {

    @Hook(Pointcut.SERVER_INCOMING_REQUEST_POST_PROCESSED)
    public boolean beforeHandling(RequestDetails details, HttpServletRequest request) {
      if (!WRITE_METHODS.contains(request.getMethod()) || pathOf(request).equals(JOB)) {
        return true; // DELETE [base]/$job cancels a job: not a write
      }
      request.setAttribute(ENTRIES_ATTRIBUTE, carried(details, request));
      Optional<InjectedFailures.Failure> failure = writeFailures.take();
      if (failure.isPresent()) {
        // Read the body first: left unread, Jetty closes the connection after the answer, and
        // a client reusing it fails with an I/O error instead of seeing the injected status.
        details.loadRequestContents();
        throw failure.get().exception();
      }
      return true;
    }
  }

  private List<RecordedRequest.Entry> carried(RequestDetails details, HttpServletRequest request) {
    String path = pathOf(request);
    if (!path.isEmpty()) {
      return List.of(new RecordedRequest.Entry(request.getMethod(), path));
    }
    try {
      // HAPI caches the body in the RequestDetails, so reading it here does not consume it.
      byte[] body = details.loadRequestContents();
      if (body == null || body.length == 0) {
        return List.of();
      }
      String text = new String(body, StandardCharsets.UTF_8);
      EncodingEnum encoding = EncodingEnum.forContentType(request.getContentType());
      if (encoding == null) {
        encoding = text.stripLeading().startsWith("<") ? EncodingEnum.XML : EncodingEnum.JSON;
      }
      IParser parser = encoding.newParser(ctx);
      if (!(parser.parseResource(text) instanceof Bundle bundle)) {
        return List.of();
      }
      List<RecordedRequest.Entry> entries = new ArrayList<>();
      for (BundleEntryComponent entry : bundle.getEntry()) {
        BundleEntryRequestComponent r = entry.getRequest();
        String method = r.getMethod() == null ? "?" : r.getMethod().toCode();
        String reference = r.getUrl() == null ? "?" : r.getUrl();
        if (r.getMethod() == HTTPVerb.POST && entry.hasResource()
            && entry.getResource().getIdElement().getIdPart() != null) {
          reference = reference + "/" + entry.getResource().getIdElement().getIdPart();
        }
        entries.add(new RecordedRequest.Entry(method, reference));
      }
      return entries;
    } catch (RuntimeException unparseable) {
      return List.of(); // HAPI will answer 400 itself
    }
  }

  private static String pathOf(HttpServletRequest request) {
    String uri = request.getRequestURI();
    String prefix = request.getContextPath() + SERVLET_PATH;
    String path = uri.startsWith(prefix) ? uri.substring(prefix.length()) : uri;
    return path.startsWith("/") ? path.substring(1) : path;
  }

  /**
   * Records every request. It records when the response body is first requested (HAPI has set
   * the status by then) or when the chain returns, whichever comes first, so a record exists
   * before the client can see the answer.
   */
  private final class RecordingFilter implements Filter {

    @Override
    public void doFilter(ServletRequest request, ServletResponse response, FilterChain chain)
        throws IOException, ServletException {
      if (request.getDispatcherType() != DispatcherType.REQUEST
          || !(request instanceof HttpServletRequest httpRequest)
          || !(response instanceof HttpServletResponse httpResponse)) {
        chain.doFilter(request, response);
        return;
      }
      Instant start = Instant.now();
      AtomicBoolean recorded = new AtomicBoolean();
      Runnable record = () -> {
        if (recorded.compareAndSet(false, true)) {
          @SuppressWarnings("unchecked")
          List<RecordedRequest.Entry> entries = (List<RecordedRequest.Entry>)
              httpRequest.getAttribute(ENTRIES_ATTRIBUTE);
          requests.add(new RecordedRequest(httpRequest.getMethod(), pathOf(httpRequest),
              httpRequest.getQueryString(), httpResponse.getStatus(),
              entries == null ? List.of() : entries, start, Instant.now()));
        }
      };
      HttpServletResponseWrapper recording = new HttpServletResponseWrapper(httpResponse) {
        @Override
        public ServletOutputStream getOutputStream() throws IOException {
          record.run();
          return super.getOutputStream();
        }

        @Override
        public PrintWriter getWriter() throws IOException {
          record.run();
          return super.getWriter();
        }
      };
      boolean completed = false;
      try {
        chain.doFilter(request, recording);
        completed = true;
      } finally {
        if (!completed && !recorded.get()) {
          httpResponse.setStatus(500); // the container turns an escaped exception into a 500
        }
        record.run();
      }
    }
  }

  @Override
  public String toString() {
    return "FakePathling[" + baseUrl() + ", " + totalRows() + " rows]";
  }
}
