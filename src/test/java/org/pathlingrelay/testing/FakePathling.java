package org.pathlingrelay.testing;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.interceptor.api.Hook;
import ca.uhn.fhir.interceptor.api.Interceptor;
import ca.uhn.fhir.interceptor.api.Pointcut;
import ca.uhn.fhir.parser.IParser;
import ca.uhn.fhir.rest.annotation.Delete;
import ca.uhn.fhir.rest.annotation.IdParam;
import ca.uhn.fhir.rest.annotation.Read;
import ca.uhn.fhir.rest.annotation.ResourceParam;
import ca.uhn.fhir.rest.annotation.Search;
import ca.uhn.fhir.rest.annotation.Transaction;
import ca.uhn.fhir.rest.annotation.TransactionParam;
import ca.uhn.fhir.rest.annotation.Update;
import ca.uhn.fhir.rest.api.EncodingEnum;
import ca.uhn.fhir.rest.api.MethodOutcome;
import ca.uhn.fhir.rest.api.server.IBundleProvider;
import ca.uhn.fhir.rest.api.server.RequestDetails;
import ca.uhn.fhir.rest.client.api.IGenericClient;
import ca.uhn.fhir.rest.client.api.ServerValidationModeEnum;
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
import java.io.IOException;
import java.io.PrintWriter;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
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
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.r4.model.Bundle;
import org.hl7.fhir.r4.model.Bundle.BundleEntryComponent;
import org.hl7.fhir.r4.model.Bundle.BundleEntryRequestComponent;
import org.hl7.fhir.r4.model.Bundle.BundleType;
import org.hl7.fhir.r4.model.Bundle.HTTPVerb;
import org.hl7.fhir.r4.model.IdType;
import org.hl7.fhir.r4.model.Resource;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

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
 *   <li>{@code GET [type]?_summary=count}, {@code GET [type]/[id]} (first row),
 *       {@code GET metadata}.
 * </ul>
 *
 * <p>{@link #failNext} acts in a HAPI interceptor once HAPI has routed the request, so a request
 * HAPI cannot route (unknown type, {@code PUT Patient/$x}) gets HAPI's own answer and does not
 * use up the plan. Note that HAPI 8.8.0's client exceptions carry no response headers: read
 * {@code Retry-After} with a client interceptor.
 *
 * <p>All knobs and inspection methods are thread-safe.
 */
public final class FakePathling
    implements BeforeAllCallback, BeforeEachCallback, AfterEachCallback, AfterAllCallback {

  /** The FHIR id syntax; Pathling's batch applies the same rule to entry URLs. */
  private static final Pattern ID = Pattern.compile("[A-Za-z0-9\\-.]{1,64}");

  private static final Pattern TYPE = Pattern.compile("[A-Za-z]+");
  private static final Set<String> WRITE_METHODS = Set.of("PUT", "POST", "DELETE", "PATCH");
  private static final String ENTRIES_ATTRIBUTE = FakePathling.class.getName() + ".entries";
  private static final String SERVLET_PATH = "/fhir";

  // A private context: RestfulServerExtension reconfigures its context's client factory (socket
  // timeout, server validation mode) on every start, which must not leak into the relay's context.
  private final FhirContext ctx = FhirContext.forR4();
  private final Set<String> resourceTypes;
  private final StartableServer server;

  private final Object dataLock = new Object();
  /** Rows per resource type, in insertion order; guarded by {@link #dataLock}. */
  private final Map<String, List<Resource>> tables = new HashMap<>();

  /** One in-flight marker per resource type; a write holds the markers of the types it touches. */
  private final ConcurrentMap<String, Semaphore> inFlight = new ConcurrentHashMap<>();

  private final ConcurrentLinkedQueue<RecordedRequest> requests = new ConcurrentLinkedQueue<>();
  private final AtomicInteger conflicts = new AtomicInteger();

  private volatile WriteCost writeCost = WriteCost.FREE;
  private volatile Predicate<IBaseResource> rejection = resource -> false;
  private final Object failureLock = new Object();
  private FailurePlan failurePlan = FailurePlan.NONE; // guarded by failureLock

  public FakePathling() {
    server = new StartableServer(ctx);
    server.withServletPath(SERVLET_PATH + "/*")
        .withServletFilter(new RecordingFilter())
        .withValidationMode(ServerValidationModeEnum.NEVER)
        .keepAliveBetweenTests();
    server.registerInterceptor(new WriteGate());
    Set<String> types = new TreeSet<>();
    for (String name : ctx.getResourceTypes()) {
      Class<? extends IBaseResource> type = ctx.getResourceDefinition(name).getImplementingClass();
      if (!Modifier.isAbstract(type.getModifiers())) {
        types.add(name);
        server.registerProvider(new TypeProvider(type, name));
      }
    }
    resourceTypes = Set.copyOf(types);
    server.registerProvider(new BatchProvider());
  }

  // ---------------------------------------------------------------- JUnit lifecycle

  @Override
  public void beforeAll(ExtensionContext context) throws Exception {
    server.beforeEach(context);
  }

  @Override
  public void beforeEach(ExtensionContext context) throws Exception {
    // Starts the server if a previous test left it down; the port stays the same.
    server.beforeEach(context);
    reset();
  }

  @Override
  public void afterEach(ExtensionContext context) throws Exception {
    server.afterEach(context); // keeps running: keepAliveBetweenTests
  }

  @Override
  public void afterAll(ExtensionContext context) throws Exception {
    server.afterAll(context);
  }

  /** The underlying HAPI extension, for tests that prefer to register it themselves. */
  public RestfulServerExtension extension() {
    return server;
  }

  /** The FHIR base URL, e.g. {@code http://localhost:41234/fhir}. Valid once started. */
  public String baseUrl() {
    return server.getBaseUrl();
  }

  public int port() {
    return server.getPort();
  }

  /**
   * A new HAPI client for this server, built on the fake's own context (no metadata check), so
   * the shared {@code FhirContext.forR4Cached()} is left untouched.
   */
  public IGenericClient newClient() {
    return ctx.newRestfulGenericClient(baseUrl());
  }

  // ---------------------------------------------------------------- knobs

  /**
   * Each write request then takes {@code perRequest + perResource × resources} while holding the
   * in-flight markers of its types, so overlapping writes to one type really conflict.
   */
  public void setWriteDelay(Duration perRequest, Duration perResource) {
    writeCost = new WriteCost(perRequest, perResource);
  }

  /**
   * The next {@code count} write requests (PUT/POST/DELETE/PATCH) answer {@code status} with an
   * OperationOutcome, plus a {@code Retry-After} header (whole seconds, rounded up) when {@code
   * retryAfter} is given; nothing is applied. Replaces any earlier plan.
   */
  public void failNext(int count, int status, Duration retryAfter) {
    if (count < 0 || status < 400 || status > 599) {
      throw new IllegalArgumentException("count >= 0 and an error status required");
    }
    synchronized (failureLock) {
      failurePlan = new FailurePlan(count, status, retryAfter);
    }
  }

  /**
   * A write containing a resource matching {@code predicate} answers 400 with an OperationOutcome
   * naming it, and applies nothing (for a batch: nothing of the whole bundle). Replaces any
   * earlier predicate.
   */
  public void rejectWhen(Predicate<IBaseResource> predicate) {
    rejection = Objects.requireNonNull(predicate, "predicate");
  }

  /** Stops the server: connections are refused until {@link #comeBack()}. Data is kept. */
  public void goDown() {
    try {
      server.stopServer();
    } catch (Exception e) {
      throw new IllegalStateException("Could not stop the fake Pathling", e);
    }
  }

  /** Starts the server again on the same port, with the same data. */
  public void comeBack() {
    try {
      server.start();
    } catch (Exception e) {
      throw new IllegalStateException("Could not restart the fake Pathling on port " + port(), e);
    }
  }

  public boolean isUp() {
    return server.isUp();
  }

  /** Stores rows directly (appends, no request recorded). A resource without an id gets one. */
  public void seed(IBaseResource... resources) {
    synchronized (dataLock) {
      for (IBaseResource resource : resources) {
        String id = resource.getIdElement().getIdPart();
        Resource row = asRow(resource, id == null ? UUID.randomUUID().toString() : id);
        table(row.fhirType()).add(row);
      }
    }
  }

  /** Clears data, recorded requests, the conflict count and all knobs. */
  public void reset() {
    synchronized (dataLock) {
      tables.clear();
    }
    requests.clear();
    conflicts.set(0);
    writeCost = WriteCost.FREE;
    rejection = resource -> false;
    synchronized (failureLock) {
      failurePlan = FailurePlan.NONE;
    }
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
    Semaphore marker = inFlight.get(type);
    return marker != null && marker.availablePermits() == 0;
  }

  /** How many writes failed with 500 because they overlapped a write to the same type. */
  public int conflicts() {
    return conflicts.get();
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
      return write(List.of(type), 1, () -> {
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
      return write(List.of(type), 1, () -> {
        if (!table(type).removeIf(row -> idPart.equals(idOf(row)))) {
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

    /** Lists every row; HAPI turns {@code _summary=count} into a total-only searchset. */
    @Search
    public IBundleProvider search() {
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
      return write(types, ops.size(), () -> applyBatch(ops));
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

  /** Runs under the data lock: validates everything, applies to copies, commits at the end. */
  private Bundle applyBatch(List<BatchOp> ops) {
    for (BatchOp op : ops) {
      if (op.resource() != null) {
        checkNotRejected(op.resource(), op.reference() + " (Bundle.entry[" + op.index() + "])");
      }
    }
    Map<String, List<Resource>> working = new HashMap<>();
    ops.forEach(op -> working.computeIfAbsent(op.type(), t -> new ArrayList<>(table(t))));

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

  // ---------------------------------------------------------------- write machinery

  /**
   * Runs one write: takes the in-flight markers of {@code types} (500 when another write holds
   * one), pays the write cost, then applies atomically. {@code apply} must validate before it
   * mutates, so a failing write leaves nothing behind.
   */
  private <T> T write(Collection<String> types, int resources, Supplier<T> apply) {
    List<Semaphore> held = new ArrayList<>();
    try {
      for (String type : new TreeSet<>(types)) {
        Semaphore marker = inFlight.computeIfAbsent(type, t -> new Semaphore(1));
        if (!marker.tryAcquire()) {
          conflicts.incrementAndGet();
          throw new InternalErrorException("Concurrent write conflict on " + type
              + ": another write to this resource type is in progress "
              + "(io.delta.exceptions.ConcurrentAppendException); nothing was applied");
        }
        held.add(marker);
      }
      pause(writeCost.of(resources));
      synchronized (dataLock) {
        return apply.get();
      }
    } finally {
      held.forEach(Semaphore::release);
    }
  }

  private static void pause(Duration duration) {
    if (duration.isZero() || duration.isNegative()) {
      return;
    }
    try {
      TimeUnit.NANOSECONDS.sleep(duration.toNanos()); // models the cost of a Delta write
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

  private record WriteCost(Duration perRequest, Duration perResource) {

    static final WriteCost FREE = new WriteCost(Duration.ZERO, Duration.ZERO);

    WriteCost {
      Objects.requireNonNull(perRequest, "perRequest");
      Objects.requireNonNull(perResource, "perResource");
    }

    Duration of(int resources) {
      return perRequest.plus(perResource.multipliedBy(resources));
    }
  }

  private record FailurePlan(int remaining, int status, Duration retryAfter) {

    static final FailurePlan NONE = new FailurePlan(0, 500, null);

    BaseServerResponseException exception() {
      BaseServerResponseException e = BaseServerResponseException.newInstance(status,
          "Injected failure (HTTP " + status + "); nothing was applied");
      if (retryAfter != null) {
        long seconds = Math.max(0, (retryAfter.toMillis() + 999) / 1000);
        e.addResponseHeader("Retry-After", Long.toString(seconds));
      }
      return e;
    }
  }

  private Optional<FailurePlan> takeFailure() {
    synchronized (failureLock) {
      if (failurePlan.remaining() <= 0) {
        return Optional.empty();
      }
      FailurePlan current = failurePlan;
      failurePlan = new FailurePlan(current.remaining() - 1, current.status(),
          current.retryAfter());
      return Optional.of(current);
    }
  }

  /** Notes what a write carries and injects {@link #failNext} failures before HAPI handles it. */
  @Interceptor
  public final class WriteGate {

    @Hook(Pointcut.SERVER_INCOMING_REQUEST_POST_PROCESSED)
    public boolean beforeHandling(RequestDetails details, HttpServletRequest request) {
      if (!WRITE_METHODS.contains(request.getMethod())) {
        return true;
      }
      request.setAttribute(ENTRIES_ATTRIBUTE, carried(details, request));
      Optional<FailurePlan> failure = takeFailure();
      if (failure.isPresent()) {
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

  /** Opens the protected start so {@link #comeBack()} can restart on the kept port. */
  private static final class StartableServer extends RestfulServerExtension {

    StartableServer(FhirContext ctx) {
      super(ctx);
    }

    void start() throws Exception {
      startServer();
    }

    boolean isUp() {
      return isRunning();
    }
  }

  @Override
  public String toString() {
    return "FakePathling[" + baseUrl() + ", " + totalRows() + " rows]";
  }
}
