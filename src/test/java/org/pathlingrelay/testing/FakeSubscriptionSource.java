package org.pathlingrelay.testing;

import ca.uhn.fhir.context.RuntimeResourceDefinition;
import ca.uhn.fhir.i18n.Msg;
import ca.uhn.fhir.interceptor.api.Hook;
import ca.uhn.fhir.interceptor.api.Interceptor;
import ca.uhn.fhir.interceptor.api.Pointcut;
import ca.uhn.fhir.model.api.StorageResponseCodeEnum;
import ca.uhn.fhir.parser.IParser;
import ca.uhn.fhir.rest.annotation.Create;
import ca.uhn.fhir.rest.annotation.Delete;
import ca.uhn.fhir.rest.annotation.IdParam;
import ca.uhn.fhir.rest.annotation.OptionalParam;
import ca.uhn.fhir.rest.annotation.Read;
import ca.uhn.fhir.rest.annotation.ResourceParam;
import ca.uhn.fhir.rest.annotation.Search;
import ca.uhn.fhir.rest.annotation.Update;
import ca.uhn.fhir.rest.api.CacheControlDirective;
import ca.uhn.fhir.rest.api.Constants;
import ca.uhn.fhir.rest.api.EncodingEnum;
import ca.uhn.fhir.rest.api.MethodOutcome;
import ca.uhn.fhir.rest.api.server.IBundleProvider;
import ca.uhn.fhir.rest.api.server.RequestDetails;
import ca.uhn.fhir.rest.client.api.ServerValidationModeEnum;
import ca.uhn.fhir.rest.param.StringAndListParam;
import ca.uhn.fhir.rest.param.StringOrListParam;
import ca.uhn.fhir.rest.param.StringParam;
import ca.uhn.fhir.rest.param.TokenAndListParam;
import ca.uhn.fhir.rest.param.TokenOrListParam;
import ca.uhn.fhir.rest.param.TokenParam;
import ca.uhn.fhir.rest.param.TokenParamModifier;
import ca.uhn.fhir.rest.param.UriAndListParam;
import ca.uhn.fhir.rest.param.UriOrListParam;
import ca.uhn.fhir.rest.param.UriParam;
import ca.uhn.fhir.rest.param.UriParamQualifierEnum;
import ca.uhn.fhir.rest.server.FifoMemoryPagingProvider;
import ca.uhn.fhir.rest.server.IResourceProvider;
import ca.uhn.fhir.rest.server.exceptions.InvalidRequestException;
import ca.uhn.fhir.rest.server.exceptions.ResourceGoneException;
import ca.uhn.fhir.rest.server.exceptions.ResourceNotFoundException;
import ca.uhn.fhir.rest.server.exceptions.ResourceVersionConflictException;
import ca.uhn.fhir.rest.server.exceptions.UnprocessableEntityException;
import ca.uhn.fhir.subscription.SubscriptionConstants;
import ca.uhn.fhir.util.HapiExtensions;
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
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;
import org.hl7.fhir.instance.model.api.IBaseConformance;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.instance.model.api.IPrimitiveType;
import org.hl7.fhir.r4.model.CanonicalType;
import org.hl7.fhir.r4.model.CapabilityStatement;
import org.hl7.fhir.r4.model.Coding;
import org.hl7.fhir.r4.model.Extension;
import org.hl7.fhir.r4.model.IdType;
import org.hl7.fhir.r4.model.InstantType;
import org.hl7.fhir.r4.model.Meta;
import org.hl7.fhir.r4.model.OperationOutcome;
import org.hl7.fhir.r4.model.OperationOutcome.IssueSeverity;
import org.hl7.fhir.r4.model.OperationOutcome.IssueType;
import org.hl7.fhir.r4.model.Subscription;
import org.hl7.fhir.r4.model.Subscription.SubscriptionChannelType;
import org.hl7.fhir.r4.model.Subscription.SubscriptionStatus;

/**
 * A fake FHIR R4 source server (over real HTTP) that manages {@code Subscription} resources the way
 * HAPI FHIR JPA 8.8.0 does, for testing the relay's {@code subscribe} and {@code unsubscribe}.
 *
 * <h2>Registering it</h2>
 *
 * <pre>{@code
 * @RegisterExtension
 * static final FakeSubscriptionSource source = new FakeSubscriptionSource();
 *
 * @Test
 * void subscribes() {
 *   run("subscribe", "--source", source.baseUrl(), ...);   // e.g. http://localhost:41234/fhir
 *   assertThat(source.subscriptionsTagged("urn:pathling-relay", "managed"))
 *       .extracting(s -> s.getStatus()).containsOnly(SubscriptionStatus.ACTIVE);
 * }
 * }</pre>
 *
 * <p>Use a {@code static} field, as for {@link FakePathling}: the server starts once before the
 * class's {@code @BeforeAll} methods, keeps its port for the whole class, is {@linkplain #reset()
 * reset} (and brought back up if a test left it down) before every test, and stops after the class.
 *
 * <h2>Storage (as HAPI FHIR JPA)</h2>
 *
 * <ul>
 *   <li>{@code POST Subscription}: 201, a server-assigned numeric id ({@code 1}, {@code 2}, ...;
 *       an id in the body is ignored), {@code meta.versionId} 1, {@code meta.lastUpdated}, {@code
 *       meta.source} {@code #<request id>} (or {@code <client source>#<request id>}; the request id
 *       is {@code X-Request-ID} when sent). The body of the answer is the stored resource.
 *   <li>{@code PUT Subscription/[id]}: 200 and version + 1 on an existing one; 201 with version 1
 *       for a new id ("update as create") but only for ids with a non-digit: a purely numeric new
 *       id is refused with 400 {@code HAPI-0960} (HAPI's default client-id strategy). A PUT on a
 *       deleted one brings it back (201, the version after the delete's). A PUT that changes
 *       nothing (everything but {@code meta.versionId/lastUpdated/source} equal after the tag
 *       merge below) keeps the version and {@code lastUpdated}, as HAPI's no-op detection. {@code
 *       If-Match: W/"n"} with a stale n: 409 {@code HAPI-0989}.
 *   <li>Tags, security labels and profiles are carried forward on update: those of the previous
 *       version stay even when the PUT omits them, unless {@code X-Meta-Snapshot-Mode} names them
 *       ({@code TAG}, {@code SECURITY_LABEL}, {@code PROFILE}).
 *   <li>HAPI tags every Subscription it validated with its matching strategy: {@code meta.tag}
 *       {@value #MATCHING_STRATEGY_SYSTEM} {@code |IN_MEMORY} ("In-memory"), {@code |DATABASE}
 *       ("Database", e.g. chained criteria or {@code _lastUpdated}) or {@code |TOPIC}
 *       ("SubscriptionTopic", R4 backport). So a relay Subscription read back has two tags. The
 *       in-memory/database split is an approximation of HAPI's {@code InMemoryResourceMatcher}.
 *   <li>{@code GET Subscription/[id]}: 404 {@code HAPI-2001 ... is not known} when never stored,
 *       410 {@code Resource was deleted at ...} when deleted. {@code GET
 *       Subscription/[id]/_history/[v]} reads an old version.
 *   <li>{@code DELETE Subscription/[id]}: always 200 with an informational OperationOutcome (details
 *       coded in {@link StorageResponseCodeEnum#SYSTEM}): {@code Successfully deleted 1
 *       resource(s). Took Nms.}; {@code Not deleted, resource Subscription/x does not exist.}; {@code
 *       Not deleted, resource Subscription/x/_history/n was already deleted.}. A delete is a new
 *       version.
 *   <li>{@code GET Subscription} with {@code _id}, {@code _tag} (token: {@code system|code},
 *       {@code code}, {@code |code}, {@code system|}, {@code :not}), {@code status}, {@code type}
 *       (channel type), {@code url} (channel endpoint; {@code :below}) and {@code criteria}
 *       (string: starts-with ignoring case, {@code :exact}, {@code :contains}); AND/OR as FHIR.
 *       Deleted ones are never found. Results in creation order, paged as HAPI JPA: 20 a page by
 *       default, {@code _count} up to 200, {@code next} links ({@code _getpages}). Later pages show
 *       the resources as they are when the page is fetched. {@code _summary=count} works; {@code
 *       _sort} is not supported.
 *   <li><b>Search results are cached, as HAPI JPA's {@code reuse_cached_search_results_millis}
 *       (default 60 s).</b> A search repeated with the same parameters within that window of the
 *       last search that ran is answered with that search's ids (the resources themselves as they
 *       are now; deleted ones are left out), so a Subscription created since is not found. A
 *       request with {@code Cache-Control: no-cache} runs the search afresh (and its result is
 *       what later searches reuse); {@code no-store} also runs it afresh but keeps nothing. The
 *       window is a knob: {@link #setSearchCacheWindow}.
 *   <li>{@code GET metadata}: a CapabilityStatement listing every concrete R4 resource type, as
 *       HAPI JPA's does (one JPA resource provider per type), although only {@code Subscription}
 *       is stored here.
 * </ul>
 *
 * <h2>Validation (HAPI's SubscriptionValidatingInterceptor, at create and update)</h2>
 *
 * <p>An invalid Subscription is refused with 422 and an OperationOutcome and nothing is stored:
 * HAPI does <em>not</em> store it with {@code status=error}. Checked in HAPI's order, with HAPI's
 * messages ({@code HAPI-nnnn: } prefix included):
 *
 * <ul>
 *   <li>no status: {@code HAPI-0008: Can not process submitted Subscription - Subscription.status
 *       must be populated on this server}. Status {@code error} or {@code off}: nothing else is
 *       checked (garbage criteria are accepted) and no strategy tag is added.
 *   <li>the cross-partition extension set to true: {@code HAPI-2009} (not enabled, as by default).
 *   <li>the payload-search-criteria extension, then the criteria (for an R4 backport topic
 *       Subscription, i.e. {@code meta.profile} {@value #BACKPORT_PROFILE}: each {@value
 *       #BACKPORT_FILTER_CRITERIA} extension on {@code criteria} instead; the topic URL is not
 *       checked): blank {@code HAPI-0011 ... must be populated}; not starting with a letter (or a
 *       {@code [Type,...]} list) {@code HAPI-0012 ... can not be parsed}; unknown type ({@code Foo?},
 *       {@code Patient/1?x}) {@code HAPI-0013 ... contains invalid/unsupported resource type: X};
 *       no {@code ?} ({@code Patient}) {@code HAPI-0014 ... must be in the form
 *       "{Resource Type}?[params]"}; a parameter the type does not have {@code HAPI-0009: Invalid
 *       subscription criteria submitted: <criteria> HAPI-0488: Failed to parse match URL[...] -
 *       Resource type X does not have a parameter with name: y}. {@code [*]} and {@code [Patient,
 *       Observation]} are accepted. Parameter values are not checked.
 *   <li>no {@code channel.type}: {@code HAPI-0020}. rest-hook: a {@code payload} that is not a
 *       FHIR mime type ({@link EncodingEnum#forContentType}) {@code HAPI-1985}; no endpoint {@code
 *       HAPI-0021}. message: endpoint must be {@code channel:name} ({@code HAPI-0016..0019}).
 *       websocket, email, sms: accepted.
 * </ul>
 *
 * <p>An unknown code ({@code "status": "foo"}, {@code "type": "foo"}) never reaches the fake: HAPI's
 * parser refuses the body with 400, as the real server does.
 *
 * <h2>Activation (HAPI's SubscriptionActivatingListener)</h2>
 *
 * <ul>
 *   <li>A Subscription stored with status {@code requested} is activated asynchronously by a
 *       <em>system update</em>: status {@code active}, a new version (so an activated one created
 *       by POST is at version 2) and a new {@code lastUpdated}; tags, source, everything else kept.
 *       The create or update answer itself always shows {@code requested}.
 *   <li>When it happens is a knob (HAPI takes a few seconds): by default, after the first read; see
 *       {@link #setActivationReads}, {@link #setActivationAfter}, {@link #holdActivation}, {@link
 *       #activatePending}. A read is a {@code GET Subscription/[id]} or a search page returning it.
 *   <li>Only Subscriptions whose channel type the server supports are activated ({@link
 *       #setSupportedChannelTypes}; default rest-hook only, as the JPA starter with {@code
 *       resthook_enabled}). Others stay {@code requested} for good, with no error.
 *   <li>When the activation update fails, HAPI sets {@code status=error} and puts the exception
 *       message in {@code Subscription.reason} (SubscriptionUtil.setReason), overwriting the
 *       client's reason; {@code Subscription.error} stays empty. See {@link #failCriteria}.
 *   <li>A client may store {@code active} directly: HAPI accepts it as is (no activation, version
 *       1). {@code error} and {@code off} are stored as sent. A PUT with {@code requested} on an
 *       active one makes it pending again.
 * </ul>
 *
 * <p>Other HAPI channel behaviour is only stored: e.g. the channel extension {@value
 * #SEND_DELETE_MESSAGES} ({@code valueBoolean}) is kept and returned as sent.
 *
 * <p>{@link #failNext} acts in a HAPI interceptor once HAPI has routed the request, for any
 * method. All knobs and inspection methods are thread-safe; inspection neither counts as a read nor
 * is recorded.
 */
public final class FakeSubscriptionSource extends FakeFhirServer {

  /** The tag system HAPI uses to record a Subscription's matching strategy. */
  public static final String MATCHING_STRATEGY_SYSTEM =
      HapiExtensions.EXT_SUBSCRIPTION_MATCHING_STRATEGY;
  /** HAPI's channel extension asking for DELETE notifications. */
  public static final String SEND_DELETE_MESSAGES = HapiExtensions.EX_SEND_DELETE_MESSAGES;
  public static final String CROSS_PARTITION = HapiExtensions.EXTENSION_SUBSCRIPTION_CROSS_PARTITION;
  public static final String PAYLOAD_SEARCH_CRITERIA =
      HapiExtensions.EXT_SUBSCRIPTION_PAYLOAD_SEARCH_CRITERIA;
  /** The {@code meta.profile} of an R4 topic-based (Subscriptions Backport IG) Subscription. */
  public static final String BACKPORT_PROFILE = SubscriptionConstants.SUBSCRIPTION_TOPIC_PROFILE_URL;
  public static final String BACKPORT_FILTER_CRITERIA =
      SubscriptionConstants.SUBSCRIPTION_TOPIC_FILTER_URL;
  public static final int DEFAULT_PAGE_SIZE = 20;
  public static final int MAX_PAGE_SIZE = 200;

  private static final String TYPE = "Subscription";
  private static final String SERVLET_PATH = "/fhir";
  private static final Set<String> WRITE_METHODS = Set.of("PUT", "POST", "DELETE", "PATCH");
  /** Modifiers HAPI's in-memory matcher cannot evaluate (approximation). */
  private static final Set<String> DATABASE_MODIFIERS = Set.of(":above", ":below", ":text");
  private static final char[] ID_CHARS =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".toCharArray();

  private final Set<String> resourceTypes;
  private final FifoMemoryPagingProvider pagingProvider = new FifoMemoryPagingProvider(100);
  private final SecureRandom random = new SecureRandom();

  private final Object lock = new Object();
  /** By id, in creation order; guarded by {@link #lock}. */
  private final Map<String, Stored> store = new LinkedHashMap<>();
  private long nextId = 1; // guarded by lock

  private final AtomicInteger creates = new AtomicInteger();
  private final AtomicInteger updates = new AtomicInteger();
  private final AtomicInteger deletes = new AtomicInteger();
  private final AtomicInteger activations = new AtomicInteger();
  private final AtomicInteger activationFailures = new AtomicInteger();
  private final ConcurrentLinkedQueue<RecordedRequest> requests = new ConcurrentLinkedQueue<>();

  private volatile Activation activation = Activation.DEFAULT;
  /** HAPI JPA's default reuse_cached_search_results_millis. */
  public static final Duration DEFAULT_SEARCH_CACHE_WINDOW = Duration.ofSeconds(60);
  private volatile Duration searchCacheWindow = DEFAULT_SEARCH_CACHE_WINDOW;
  /** The last search that ran, by normalised query; guarded by {@link #lock}. */
  private final Map<String, CachedSearch> searchCache = new HashMap<>();
  private final AtomicInteger cachedSearchAnswers = new AtomicInteger();
  private volatile Set<SubscriptionChannelType> supportedChannelTypes =
      EnumSet.of(SubscriptionChannelType.RESTHOOK);
  private final Map<String, String> failingCriteria = new ConcurrentHashMap<>();
  private final InjectedFailures failures = new InjectedFailures();

  public FakeSubscriptionSource() {
    super("fake source");
    resourceTypes = concreteResourceTypes();
    pagingProvider.setDefaultPageSize(DEFAULT_PAGE_SIZE);
    pagingProvider.setMaximumPageSize(MAX_PAGE_SIZE);
    server.withServletPath(SERVLET_PATH + "/*")
        .withServletFilter(new RecordingFilter())
        .withValidationMode(ServerValidationModeEnum.NEVER)
        .withPagingProvider(pagingProvider)
        .keepAliveBetweenTests();
    server.registerInterceptor(new FailureGate());
    server.registerInterceptor(new EveryTypeInCapabilityStatement());
    server.registerProvider(new SubscriptionProvider());
  }

  // ---------------------------------------------------------------- JUnit lifecycle

  // ---------------------------------------------------------------- knobs

  /**
   * Read-driven activation (the default, with 1): a pending Subscription answers {@code requested}
   * to its first {@code reads} reads and is activated right after the last of them, so read
   * {@code reads + 1} sees {@code active}. 0 activates right after the write (the write's own answer
   * still shows {@code requested}). Turns time-driven activation off.
   */
  public void setActivationReads(int reads) {
    if (reads < 0) {
      throw new IllegalArgumentException("reads must be >= 0");
    }
    activation = new Activation(reads, null);
  }

  /**
   * Time-driven activation: a pending Subscription is activated {@code after} the write that made
   * it pending (its {@code lastUpdated} is then the write's plus {@code after}), whether anyone
   * reads it or not. Turns read-driven activation off. Awaitility-friendly: every read and every
   * inspection method sees the activation once it is due.
   */
  public void setActivationAfter(Duration after) {
    Objects.requireNonNull(after, "after");
    if (after.isNegative()) {
      throw new IllegalArgumentException("after must not be negative");
    }
    activation = new Activation(-1, after);
  }

  /** No automatic activation: pending Subscriptions stay {@code requested} until {@link #activatePending()}. */
  public void holdActivation() {
    activation = new Activation(-1, null);
  }

  /**
   * Activates every pending Subscription now, as HAPI's SubscriptionLoader sweep does (those with
   * an unsupported channel type stay pending). Returns how many changed status.
   */
  public int activatePending() {
    synchronized (lock) {
      settle(Instant.now());
      int changed = 0;
      for (Stored stored : store.values()) {
        if (stored.pendingSince != null && activate(stored, Instant.now())) {
          changed++;
        }
      }
      return changed;
    }
  }

  /**
   * The channel types HAPI's SubscriptionSettings support (default: rest-hook only). Subscriptions
   * of other types are accepted but never activated.
   */
  public void setSupportedChannelTypes(SubscriptionChannelType... types) {
    EnumSet<SubscriptionChannelType> set = EnumSet.noneOf(SubscriptionChannelType.class);
    set.addAll(List.of(types));
    supportedChannelTypes = set;
  }

  /**
   * When a Subscription with exactly this {@code criteria} (the topic URL for a backport one) is
   * activated, the activation fails as HAPI's does when its system update throws: {@code
   * status=error} and {@code reason} = {@code errorMessage} (HAPI's would be the exception message,
   * e.g. {@code HAPI-0013: ...}), in a new version. {@code Subscription.error} is left alone.
   */
  public void failCriteria(String criteria, String errorMessage) {
    failingCriteria.put(Objects.requireNonNull(criteria, "criteria"),
        Objects.requireNonNull(errorMessage, "errorMessage"));
  }

  /**
   * The next {@code count} requests of any method answer {@code status} with an OperationOutcome;
   * nothing is applied. Replaces any earlier plan.
   */
  public void failNext(int count, int status) {
    failNext(count, status, null);
  }

  /** As {@link #failNext(int, int)}, with a {@code Retry-After} header (whole seconds) when given. */
  public void failNext(int count, int status, Duration retryAfter) {
    failures.failNext(count, status, retryAfter);
  }

  /**
   * How long a search's result is reused for the same query (default {@link
   * #DEFAULT_SEARCH_CACHE_WINDOW}, as HAPI JPA); {@link Duration#ZERO} turns the cache off.
   */
  public void setSearchCacheWindow(Duration window) {
    Objects.requireNonNull(window, "window");
    if (window.isNegative()) {
      throw new IllegalArgumentException("window must not be negative");
    }
    searchCacheWindow = window;
  }

  /** Page sizes for searches (defaults {@value #DEFAULT_PAGE_SIZE} and {@value #MAX_PAGE_SIZE}). */
  public void setPageSizes(int defaultSize, int maxSize) {
    pagingProvider.setDefaultPageSize(defaultSize);
    pagingProvider.setMaximumPageSize(maxSize);
  }

  /**
   * Stores Subscriptions directly, e.g. ones someone else made (no request recorded, no counts).
   * Nothing is validated and no strategy tag is added. Without an id one is assigned; {@code
   * meta.versionId} defaults to 1 and {@code meta.lastUpdated} to now. A seeded {@code requested}
   * one is pending like any other. Returns the ids, in order.
   *
   * @throws IllegalArgumentException when a live Subscription with that id is already stored
   */
  public List<String> seed(Subscription... subscriptions) {
    List<String> ids = new ArrayList<>();
    synchronized (lock) {
      Instant now = Instant.now();
      settle(now);
      for (Subscription subscription : subscriptions) {
        String id = subscription.getIdElement().getIdPart();
        if (id == null) {
          id = Long.toString(nextId++);
        } else if (id.chars().allMatch(Character::isDigit)) {
          nextId = Math.max(nextId, Long.parseLong(id) + 1);
        }
        Stored stored = store.get(id);
        if (stored != null && stored.live()) {
          throw new IllegalArgumentException("Subscription/" + id + " is already stored");
        }
        Subscription row = subscription.copy();
        long version = row.getMeta().hasVersionId() ? Long.parseLong(row.getMeta().getVersionId())
            : stored == null ? 1 : stored.lastVersion + 1;
        Instant lastUpdated = row.getMeta().hasLastUpdated()
            ? row.getMeta().getLastUpdated().toInstant() : now;
        if (stored == null) {
          stored = new Stored(id);
          store.put(id, stored);
        }
        stored.lastVersion = version - 1;
        append(stored, row, lastUpdated);
        ids.add(id);
      }
    }
    return ids;
  }

  /** Clears all Subscriptions (ids start at 1 again), counts, recorded requests and knobs. */
  public void reset() {
    synchronized (lock) {
      store.clear();
      nextId = 1;
      searchCache.clear();
    }
    searchCacheWindow = DEFAULT_SEARCH_CACHE_WINDOW;
    cachedSearchAnswers.set(0);
    creates.set(0);
    updates.set(0);
    deletes.set(0);
    activations.set(0);
    activationFailures.set(0);
    requests.clear();
    activation = Activation.DEFAULT;
    supportedChannelTypes = EnumSet.of(SubscriptionChannelType.RESTHOOK);
    failingCriteria.clear();
    pagingProvider.setDefaultPageSize(DEFAULT_PAGE_SIZE);
    pagingProvider.setMaximumPageSize(MAX_PAGE_SIZE);
    failures.clear();
  }

  // ---------------------------------------------------------------- inspection

  /** Copies of the live (not deleted) Subscriptions, current versions, in creation order. */
  public List<Subscription> subscriptions() {
    synchronized (lock) {
      settle(Instant.now());
      return store.values().stream().filter(Stored::live).map(s -> s.current().copy()).toList();
    }
  }

  /** A copy of the current version, unless never stored or deleted. */
  public Optional<Subscription> subscription(String id) {
    synchronized (lock) {
      settle(Instant.now());
      Stored stored = store.get(id);
      return stored == null || !stored.live() ? Optional.empty()
          : Optional.of(stored.current().copy());
    }
  }

  /** The live Subscriptions carrying the tag {@code system|code}. */
  public List<Subscription> subscriptionsTagged(String system, String code) {
    return subscriptions().stream().filter(s -> s.getMeta().getTag(system, code) != null).toList();
  }

  /** Copies of every stored version of {@code id}, oldest first (a delete stores no resource). */
  public List<Subscription> versions(String id) {
    synchronized (lock) {
      settle(Instant.now());
      Stored stored = store.get(id);
      return stored == null ? List.of() : stored.versions.stream().map(Subscription::copy).toList();
    }
  }

  /** Whether {@code id} was stored and is deleted now. */
  public boolean isDeleted(String id) {
    synchronized (lock) {
      Stored stored = store.get(id);
      return stored != null && !stored.live();
    }
  }

  /** How many live Subscriptions await activation. */
  public int pendingActivations() {
    synchronized (lock) {
      settle(Instant.now());
      return (int) store.values().stream().filter(s -> s.live() && s.pendingSince != null).count();
    }
  }

  /** Successful client creates: POSTs and PUTs that created (or brought back) a Subscription. */
  public int creates() {
    return creates.get();
  }

  /** Successful client PUTs on a live Subscription, no-op ones included. */
  public int updates() {
    return updates.get();
  }

  /** Client DELETEs that deleted something. */
  public int deletes() {
    return deletes.get();
  }

  /** Activations to {@code active}. */
  public int activations() {
    return activations.get();
  }

  /** Activations that ended in {@code error} ({@link #failCriteria}). */
  public int activationFailures() {
    return activationFailures.get();
  }

  /** Searches answered from the search cache (stale by design). */
  public int cachedSearchAnswers() {
    return cachedSearchAnswers.get();
  }

  /** Every request that reached the server, in arrival order. */
  public List<RecordedRequest> requests() {
    return List.copyOf(requests);
  }

  /** The recorded write requests (PUT/POST/DELETE/PATCH), in arrival order. */
  public List<RecordedRequest> writes() {
    return requests.stream().filter(RecordedRequest::isWrite).toList();
  }

  // ---------------------------------------------------------------- the HAPI provider

  /** Create, update, read, vread, delete and search of {@code Subscription}. */
  public final class SubscriptionProvider implements IResourceProvider {

    @Override
    public Class<? extends IBaseResource> getResourceType() {
      return Subscription.class;
    }

    @Create
    public MethodOutcome create(@ResourceParam Subscription body, RequestDetails details) {
      synchronized (lock) {
        Instant now = Instant.now();
        settle(now);
        Subscription incoming = body.copy();
        incoming.setIdElement(null);
        Subscription next = prepare(incoming, null, details);
        String id = Long.toString(nextId++);
        Stored stored = new Stored(id);
        store.put(id, stored);
        append(stored, next, now);
        creates.incrementAndGet();
        Subscription answer = stored.current().copy();
        afterWrite(stored);
        return outcome(answer, true);
      }
    }

    @Update
    public MethodOutcome update(@IdParam IdType id, @ResourceParam Subscription body,
        RequestDetails details) {
      String idPart = id.getIdPart();
      synchronized (lock) {
        Instant now = Instant.now();
        settle(now);
        Stored stored = store.get(idPart);
        if (stored != null && stored.live() && id.hasVersionIdPart()
            && !id.getVersionIdPart().equals(Long.toString(stored.lastVersion))) {
          throw new ResourceVersionConflictException(Msg.code(989) + "Trying to update "
              + TYPE + "/" + idPart + "/_history/" + id.getVersionIdPart()
              + " but this is not the current version");
        }
        if (stored == null && idPart.chars().allMatch(Character::isDigit)) {
          throw new InvalidRequestException(Msg.code(960) + "Can not create resource with ID["
              + idPart + "], no resource with this ID exists and clients may only assign IDs which "
              + "contain at least one non-numeric character");
        }
        Subscription previous = stored != null && stored.live() ? stored.current() : null;
        Subscription next = prepare(body.copy(), previous, details);
        if (previous != null && sameContent(previous, next)) {
          updates.incrementAndGet();
          return outcome(previous.copy(), false);
        }
        boolean created = previous == null;
        if (stored == null) {
          stored = new Stored(idPart);
          store.put(idPart, stored);
        }
        append(stored, next, now);
        (created ? creates : updates).incrementAndGet();
        Subscription answer = stored.current().copy();
        afterWrite(stored);
        return outcome(answer, created);
      }
    }

    @Read(version = true)
    public Subscription read(@IdParam IdType id) {
      String idPart = id.getIdPart();
      synchronized (lock) {
        Instant now = Instant.now();
        settle(now);
        Stored stored = store.get(idPart);
        if (stored == null) {
          throw new ResourceNotFoundException(
              Msg.code(2001) + "Resource " + TYPE + "/" + idPart + " is not known");
        }
        if (id.hasVersionIdPart()) {
          String version = id.getVersionIdPart();
          Optional<Subscription> old = stored.versions.stream()
              .filter(v -> version.equals(v.getMeta().getVersionId())).findFirst();
          if (old.isPresent()) {
            return old.get().copy();
          }
          if (!stored.live() && version.equals(Long.toString(stored.lastVersion))) {
            throw gone(stored);
          }
          throw new ResourceNotFoundException("Version \"" + version
              + "\" is not valid for resource " + TYPE + "/" + idPart);
        }
        if (!stored.live()) {
          throw gone(stored);
        }
        Subscription answer = stored.current().copy();
        countRead(stored, now);
        return answer;
      }
    }

    @Delete
    public MethodOutcome delete(@IdParam IdType id) {
      String idPart = id.getIdPart();
      long start = System.nanoTime();
      synchronized (lock) {
        Instant now = Instant.now();
        settle(now);
        Stored stored = store.get(idPart);
        if (stored == null) {
          return deleteOutcome(new IdType(TYPE, idPart), "Not deleted, resource " + TYPE + "/"
              + idPart + " does not exist.", StorageResponseCodeEnum.SUCCESSFUL_DELETE_NOT_FOUND);
        }
        if (!stored.live()) {
          IdType versioned = new IdType(TYPE, idPart, Long.toString(stored.lastVersion));
          return deleteOutcome(versioned, "Not deleted, resource " + versioned.getValue()
              + " was already deleted.", StorageResponseCodeEnum.SUCCESSFUL_DELETE_ALREADY_DELETED);
        }
        stored.lastVersion++;
        stored.deletedAt = now;
        stored.pendingSince = null;
        stored.pendingReads = 0;
        deletes.incrementAndGet();
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        return deleteOutcome(new IdType(TYPE, idPart, Long.toString(stored.lastVersion)),
            "Successfully deleted 1 resource(s). Took " + millis + "ms.",
            StorageResponseCodeEnum.SUCCESSFUL_DELETE);
      }
    }

    @Search
    public IBundleProvider search(
        @OptionalParam(name = "_id") TokenAndListParam ids,
        @OptionalParam(name = "_tag") TokenAndListParam tags,
        @OptionalParam(name = "status") TokenAndListParam status,
        @OptionalParam(name = "type") TokenAndListParam type,
        @OptionalParam(name = "url") UriAndListParam url,
        @OptionalParam(name = "criteria") StringAndListParam criteria,
        RequestDetails details) {
      List<Predicate<Subscription>> filters = new ArrayList<>();
      addTokenFilter(filters, ids, (s, t) -> tokenCode(t, s.getIdElement().getIdPart()));
      addTokenFilter(filters, tags, (s, t) -> s.getMeta().getTag().stream()
          .anyMatch(tag -> tokenMatches(t, tag.getSystem(), tag.getCode())));
      addTokenFilter(filters, status, (s, t) -> s.getStatus() != null
          && tokenMatches(t, s.getStatus().getSystem(), s.getStatus().toCode()));
      addTokenFilter(filters, type, (s, t) -> s.getChannel().getType() != null
          && tokenMatches(t, s.getChannel().getType().getSystem(), s.getChannel().getType().toCode()));
      if (url != null) {
        for (UriOrListParam or : url.getValuesAsQueryTokens()) {
          filters.add(s -> or.getValuesAsQueryTokens().stream()
              .anyMatch(u -> uriMatches(u, s.getChannel().getEndpoint())));
        }
      }
      if (criteria != null) {
        for (StringOrListParam or : criteria.getValuesAsQueryTokens()) {
          filters.add(s -> or.getValuesAsQueryTokens().stream()
              .anyMatch(p -> stringMatches(p, s.getCriteria())));
        }
      }
      String query = normalisedQuery(details);
      CacheControlDirective cacheControl = new CacheControlDirective()
          .parse(details.getHeaders(Constants.HEADER_CACHE_CONTROL));
      List<String> matched;
      synchronized (lock) {
        Instant now = Instant.now();
        settle(now);
        CachedSearch cached = searchCache.get(query);
        if (!cacheControl.isNoCache() && !cacheControl.isNoStore() && cached != null
            && now.isBefore(cached.ranAt().plus(searchCacheWindow))) {
          cachedSearchAnswers.incrementAndGet();
          return new LiveBundleProvider(cached.ids());
        }
        matched = store.values().stream()
            .filter(Stored::live)
            .filter(s -> filters.stream().allMatch(f -> f.test(s.current())))
            .map(s -> s.id)
            .toList();
        if (!cacheControl.isNoStore()) {
          searchCache.put(query, new CachedSearch(matched, now));
        }
      }
      return new LiveBundleProvider(matched);
    }
  }

  /** HAPI's search cache key: the type and the parameters, in a stable order. */
  private static String normalisedQuery(RequestDetails details) {
    Map<String, String[]> parameters = details.getParameters();
    StringBuilder key = new StringBuilder(TYPE).append('?');
    new TreeMap<>(parameters).forEach((name, values) -> {
      String[] sorted = values.clone();
      java.util.Arrays.sort(sorted);
      for (String value : sorted) {
        key.append(name).append('=').append(value).append('&');
      }
    });
    return key.toString();
  }

  private record CachedSearch(List<String> ids, Instant ranAt) {}

  /** Search results as ids; each page shows the Subscriptions as they are when it is fetched. */
  private final class LiveBundleProvider implements IBundleProvider {

    private final List<String> ids;
    private final InstantType published = InstantType.now();

    LiveBundleProvider(List<String> ids) {
      this.ids = List.copyOf(ids);
    }

    @Override
    public IPrimitiveType<Date> getPublished() {
      return published;
    }

    @Override
    public List<IBaseResource> getResources(int fromIndex, int toIndex) {
      List<IBaseResource> page = new ArrayList<>();
      synchronized (lock) {
        Instant now = Instant.now();
        settle(now);
        for (String id : ids.subList(Math.min(fromIndex, ids.size()), Math.min(toIndex, ids.size()))) {
          Stored stored = store.get(id);
          if (stored != null && stored.live()) {
            page.add(stored.current().copy());
            countRead(stored, now);
          }
        }
      }
      return page;
    }

    @Override
    public String getUuid() {
      return null;
    }

    @Override
    public Integer preferredPageSize() {
      return null;
    }

    @Override
    public Integer size() {
      return ids.size();
    }
  }

  // ---------------------------------------------------------------- storage and activation

  private static final class Stored {

    final String id;
    /** Stored versions, oldest first; a delete adds a version number but no resource. */
    final List<Subscription> versions = new ArrayList<>();
    long lastVersion;
    Instant deletedAt;
    /** When the write that made it pending happened; null when not awaiting activation. */
    Instant pendingSince;
    int pendingReads;

    Stored(String id) {
      this.id = id;
    }

    Subscription current() {
      return versions.get(versions.size() - 1);
    }

    boolean live() {
      return deletedAt == null && !versions.isEmpty();
    }
  }

  /** reads: -1 off; after: null off. */
  private record Activation(int reads, Duration after) {

    static final Activation DEFAULT = new Activation(1, null);
  }

  /** Adds a new version (id, versionId, lastUpdated set) and the pending state its status implies. */
  private void append(Stored stored, Subscription next, Instant at) {
    long version = ++stored.lastVersion;
    next.setIdElement(new IdType(TYPE, stored.id, Long.toString(version)));
    next.getMeta().setVersionId(Long.toString(version));
    next.getMeta().setLastUpdated(Date.from(at));
    stored.versions.add(next);
    stored.deletedAt = null;
    stored.pendingReads = 0;
    stored.pendingSince = next.getStatus() == SubscriptionStatus.REQUESTED ? at : null;
  }

  /** Called after a write's answer is made: activation "right after the write". */
  private void afterWrite(Stored stored) {
    if (stored.pendingSince != null && activation.reads() == 0) {
      activate(stored, Instant.now());
    }
  }

  /** Applies every time-driven activation that is due by {@code now}. Under the lock. */
  private void settle(Instant now) {
    Duration after = activation.after();
    if (after == null) {
      return;
    }
    for (Stored stored : store.values()) {
      if (stored.live() && stored.pendingSince != null) {
        Instant due = stored.pendingSince.plus(after);
        if (!now.isBefore(due)) {
          activate(stored, due);
        }
      }
    }
  }

  /** A read answered with this Subscription (already copied into the answer). Under the lock. */
  private void countRead(Stored stored, Instant now) {
    int reads = activation.reads();
    if (reads < 0 || stored.pendingSince == null) {
      return;
    }
    stored.pendingReads++;
    if (stored.pendingReads >= reads) {
      activate(stored, now);
    }
  }

  /** HAPI's activation: a system update to active (or error); false when the channel type is not supported. */
  private boolean activate(Stored stored, Instant at) {
    Subscription current = stored.current();
    SubscriptionChannelType channelType = current.getChannel().getType();
    if (channelType == null || !supportedChannelTypes.contains(channelType)) {
      return false;
    }
    Subscription next = current.copy();
    String failure = failingCriteria.get(current.getCriteria() == null ? "" : current.getCriteria());
    if (failure != null) {
      next.setStatus(SubscriptionStatus.ERROR);
      next.setReason(failure);
      activationFailures.incrementAndGet();
    } else {
      next.setStatus(SubscriptionStatus.ACTIVE);
      activations.incrementAndGet();
    }
    Instant lastUpdated = current.getMeta().getLastUpdated().toInstant();
    append(stored, next, at.isBefore(lastUpdated) ? lastUpdated : at);
    return true;
  }

  private static ResourceGoneException gone(Stored stored) {
    return new ResourceGoneException(
        "Resource was deleted at " + new InstantType(Date.from(stored.deletedAt)).getValueAsString());
  }

  private static MethodOutcome outcome(Subscription answer, boolean created) {
    MethodOutcome outcome = new MethodOutcome(answer.getIdElement());
    outcome.setCreated(created);
    outcome.setResource(answer);
    return outcome;
  }

  private static MethodOutcome deleteOutcome(IdType id, String message,
      StorageResponseCodeEnum code) {
    OperationOutcome oo = new OperationOutcome();
    oo.addIssue()
        .setSeverity(IssueSeverity.INFORMATION)
        .setCode(IssueType.INFORMATIONAL)
        .setDiagnostics(message)
        .getDetails().addCoding(new Coding(code.getSystem(), code.getCode(), code.getDisplay()));
    return new MethodOutcome(id, oo);
  }

  /** Validates and builds the version to store: tags merged, strategy tag, source. */
  private Subscription prepare(Subscription incoming, Subscription previous,
      RequestDetails details) {
    String strategy = validate(incoming);
    Meta meta = incoming.getMeta();
    meta.getTag().removeIf(tag -> MATCHING_STRATEGY_SYSTEM.equals(tag.getSystem()));
    if (previous != null) {
      Set<String> snapshot = snapshotModes(details);
      Meta old = previous.getMeta();
      if (!snapshot.contains("TAG")) {
        mergeCodings(meta.getTag(), old.getTag());
      }
      if (!snapshot.contains("SECURITY_LABEL")) {
        mergeCodings(meta.getSecurity(), old.getSecurity());
      }
      if (!snapshot.contains("PROFILE")) {
        for (CanonicalType profile : old.getProfile()) {
          if (!meta.hasProfile(profile.getValue())) {
            meta.addProfile(profile.getValue());
          }
        }
      }
    }
    if (strategy != null) {
      meta.getTag().removeIf(tag -> MATCHING_STRATEGY_SYSTEM.equals(tag.getSystem()));
      meta.addTag(MATCHING_STRATEGY_SYSTEM, strategy, strategyDisplay(strategy));
    }
    String clientSource = meta.getSource();
    if (clientSource != null && clientSource.contains("#")) {
      clientSource = clientSource.substring(0, clientSource.indexOf('#'));
    }
    meta.setSource((clientSource == null ? "" : clientSource) + "#" + requestId(details));
    return incoming;
  }

  private static void mergeCodings(List<Coding> into, List<Coding> previous) {
    for (Coding old : previous) {
      boolean present = into.stream().anyMatch(c -> Objects.equals(c.getSystem(), old.getSystem())
          && Objects.equals(c.getCode(), old.getCode()));
      if (!present) {
        into.add(old.copy());
      }
    }
  }

  private static Set<String> snapshotModes(RequestDetails details) {
    Set<String> modes = new TreeSet<>();
    List<String> headers = details == null ? null : details.getHeaders("X-Meta-Snapshot-Mode");
    if (headers != null) {
      for (String header : headers) {
        for (String mode : header.split(",")) {
          modes.add(mode.trim().toUpperCase(Locale.ROOT));
        }
      }
    }
    return modes;
  }

  private String requestId(RequestDetails details) {
    String id = details == null ? null : details.getRequestId();
    if (id != null && !id.isBlank()) {
      return id;
    }
    char[] chars = new char[16];
    for (int i = 0; i < chars.length; i++) {
      chars[i] = ID_CHARS[random.nextInt(ID_CHARS.length)];
    }
    return new String(chars);
  }

  /** Equal but for versionId, lastUpdated and source: HAPI's no-op update. */
  private boolean sameContent(Subscription a, Subscription b) {
    return comparable(a).equals(comparable(b));
  }

  private String comparable(Subscription subscription) {
    Subscription copy = subscription.copy();
    copy.setIdElement(null);
    copy.getMeta().setVersionIdElement(null);
    copy.getMeta().setLastUpdatedElement(null);
    copy.getMeta().setSourceElement(null);
    return ctx.newJsonParser().encodeResourceToString(copy);
  }

  private static String strategyDisplay(String strategy) {
    return switch (strategy) {
      case "DATABASE" -> "Database";
      case "TOPIC" -> "SubscriptionTopic";
      default -> "In-memory";
    };
  }

  // ---------------------------------------------------------------- validation

  /**
   * HAPI's SubscriptionValidatingInterceptor; returns the matching strategy, or null when the
   * status needs no validation (error, off).
   */
  private String validate(Subscription subscription) {
    if (!subscription.hasStatus() || subscription.getStatus() == null) {
      throw unprocessable(8, "Can not process submitted Subscription - Subscription.status must be "
          + "populated on this server");
    }
    boolean finished = switch (subscription.getStatus()) {
      case REQUESTED, ACTIVE -> false;
      default -> true;
    };
    Extension crossPartition = subscription.getExtensionByUrl(CROSS_PARTITION);
    if (crossPartition != null && crossPartition.getValue() != null
        && "true".equals(crossPartition.getValue().primitiveValue())) {
      throw unprocessable(2009, "Cross partition subscription is not enabled on this server");
    }
    if (finished) {
      return null;
    }
    Extension payloadCriteria = subscription.getExtensionByUrl(PAYLOAD_SEARCH_CRITERIA);
    if (payloadCriteria != null && payloadCriteria.getValue() != null) {
      validateQuery(payloadCriteria.getValue().primitiveValue(),
          "Subscription.extension(url='" + PAYLOAD_SEARCH_CRITERIA + "')");
    }
    boolean topic = subscription.getMeta().hasProfile(BACKPORT_PROFILE);
    if (topic) {
      List<String> filters = subscription.getCriteriaElement().getExtensionsByUrl(
          BACKPORT_FILTER_CRITERIA).stream()
          .filter(e -> e.getValue() != null)
          .map(e -> e.getValue().primitiveValue())
          .toList();
      String field = "Subscription.criteria.extension with url " + BACKPORT_FILTER_CRITERIA;
      if (filters.isEmpty()) {
        validateQuery(null, field);
      }
      filters.forEach(filter -> validateQuery(filter, field));
    } else {
      validateQuery(subscription.getCriteria(), "Subscription.criteria");
    }
    Subscription.SubscriptionChannelComponent channel = subscription.getChannel();
    SubscriptionChannelType channelType = channel.getType();
    if (channelType == null || channelType == SubscriptionChannelType.NULL) {
      throw unprocessable(20, "Subscription.channel.type must be populated");
    }
    if (channelType == SubscriptionChannelType.RESTHOOK) {
      String payload = channel.getPayload();
      if (payload != null && !payload.isBlank() && EncodingEnum.forContentType(payload) == null) {
        throw unprocessable(1985, "Invalid value for Subscription.channel.payload: " + payload);
      }
      if (channel.getEndpoint() == null || channel.getEndpoint().isBlank()) {
        throw unprocessable(21,
            "Rest-hook subscriptions must have Subscription.channel.endpoint defined");
      }
    }
    String strategy = topic ? "TOPIC" : strategy(subscription.getCriteria());
    if (channelType == SubscriptionChannelType.MESSAGE) {
      validateMessageEndpoint(channel.getEndpoint());
    }
    return strategy;
  }

  /** HAPI's SubscriptionQueryValidator.validateCriteria and SubscriptionCriteriaParser. */
  private void validateQuery(String query, String field) {
    if (query == null || query.isBlank()) {
      throw unprocessable(11, field + " must be populated");
    }
    String criteria = query.trim();
    if (criteria.startsWith("[") && criteria.endsWith("]")) {
      List<String> types = new ArrayList<>();
      for (String type : criteria.substring(1, criteria.length() - 1).split(",")) {
        if (!type.isBlank()) {
          types.add(type.trim());
        }
      }
      if (types.isEmpty()) {
        throw unprocessable(12, field + " can not be parsed");
      }
      if (types.contains("*")) {
        return;
      }
      for (String type : types) {
        requireType(type, field);
      }
      return;
    }
    if (!Character.isLetter(criteria.charAt(0))) {
      throw unprocessable(12, field + " can not be parsed");
    }
    int question = criteria.indexOf('?');
    requireType(question > 0 ? criteria.substring(0, question) : criteria, field);
    int sep = query.indexOf('?');
    if (sep <= 1 || query.substring(0, sep).contains("/")) {
      throw unprocessable(sep <= 1 ? 14 : 15,
          field + " must be in the form \"{Resource Type}?[params]\"");
    }
  }

  private void requireType(String type, String field) {
    if (!resourceTypes.contains(type)) {
      throw unprocessable(13, field + " contains invalid/unsupported resource type: " + type);
    }
  }

  /**
   * HAPI's SubscriptionStrategyEvaluator for a criteria that passed {@link #validateQuery}: unknown
   * parameters are refused (as MatchUrlService); chains, {@code _has}, {@code _lastUpdated} and some
   * modifiers need the database. An approximation of InMemoryResourceMatcher.
   */
  private String strategy(String criteria) {
    String trimmed = criteria.trim();
    if (trimmed.startsWith("[")) {
      return "IN_MEMORY";
    }
    int question = trimmed.indexOf('?');
    String type = trimmed.substring(0, question);
    RuntimeResourceDefinition definition = ctx.getResourceDefinition(type);
    String strategy = "IN_MEMORY";
    for (String pair : trimmed.substring(question + 1).split("&")) {
      if (pair.isEmpty()) {
        continue;
      }
      String rawName = pair.contains("=") ? pair.substring(0, pair.indexOf('=')) : pair;
      String name = URLDecoder.decode(rawName, StandardCharsets.UTF_8);
      String qualifier = "";
      for (int i = 0; i < name.length(); i++) {
        if (name.charAt(i) == '.' || name.charAt(i) == ':') {
          qualifier = name.substring(i);
          name = name.substring(0, i);
          break;
        }
      }
      if (name.equals("_has") || name.equals("_lastUpdated")) {
        strategy = "DATABASE";
        continue;
      }
      if (name.startsWith("_")) {
        continue; // _id, _tag, _profile, _security, _source: in memory; the rest is ignored
      }
      if (definition.getSearchParam(name) == null) {
        String parseFailure = Msg.code(488) + "Failed to parse match URL[" + trimmed
            + "] - Resource type " + type + " does not have a parameter with name: " + name;
        throw unprocessable(9, "Invalid subscription criteria submitted: " + criteria + " "
            + parseFailure);
      }
      if (qualifier.startsWith(".") || DATABASE_MODIFIERS.contains(qualifier)) {
        strategy = "DATABASE";
      }
    }
    return strategy;
  }

  private static void validateMessageEndpoint(String endpoint) {
    if (endpoint == null) {
      throw unprocessable(16, "No endpoint defined for message subscription");
    }
    URI uri;
    try {
      uri = new URI(endpoint);
    } catch (URISyntaxException e) {
      throw unprocessable(19, "Invalid subscription endpoint uri " + endpoint);
    }
    if (!"channel".equals(uri.getScheme())) {
      throw unprocessable(17,
          "Only 'channel' protocol is supported for Subscriptions with channel type 'message'");
    }
    if (uri.getSchemeSpecificPart() == null || uri.getSchemeSpecificPart().isBlank()) {
      throw unprocessable(18,
          "A channel name must appear after channel: in a message Subscription endpoint");
    }
  }

  private static UnprocessableEntityException unprocessable(int code, String message) {
    return new UnprocessableEntityException(Msg.code(code) + message);
  }

  // ---------------------------------------------------------------- search matching

  private interface TokenTest {
    boolean test(Subscription subscription, TokenParam token);
  }

  private static void addTokenFilter(List<Predicate<Subscription>> filters, TokenAndListParam and,
      TokenTest test) {
    if (and == null) {
      return;
    }
    for (TokenOrListParam or : and.getValuesAsQueryTokens()) {
      List<TokenParam> tokens = or.getValuesAsQueryTokens();
      boolean not = !tokens.isEmpty() && tokens.get(0).getModifier() == TokenParamModifier.NOT;
      Predicate<Subscription> any = s -> tokens.stream().anyMatch(t -> test.test(s, t));
      filters.add(not ? any.negate() : any);
    }
  }

  private static boolean tokenCode(TokenParam token, String value) {
    return token.getValue() != null && token.getValue().equals(value);
  }

  /** {@code code}: any system; {@code |code}: no system; {@code system|}: any code of system. */
  private static boolean tokenMatches(TokenParam token, String system, String code) {
    String wantedSystem = token.getSystem();
    String wantedCode = token.getValue();
    if (wantedSystem != null) {
      boolean systemOk = wantedSystem.isEmpty()
          ? system == null || system.isEmpty() : wantedSystem.equals(system);
      if (!systemOk) {
        return false;
      }
    }
    return wantedCode == null || wantedCode.isEmpty() || wantedCode.equals(code);
  }

  private static boolean uriMatches(UriParam param, String value) {
    if (value == null || param.getValue() == null) {
      return false;
    }
    return param.getQualifier() == UriParamQualifierEnum.BELOW
        ? value.startsWith(param.getValue()) : value.equals(param.getValue());
  }

  private static boolean stringMatches(StringParam param, String value) {
    if (value == null || param.getValue() == null) {
      return false;
    }
    if (param.isExact()) {
      return value.equals(param.getValue());
    }
    String haystack = value.toLowerCase(Locale.ROOT);
    String needle = param.getValue().toLowerCase(Locale.ROOT);
    return param.isContains() ? haystack.contains(needle) : haystack.startsWith(needle);
  }

  // ---------------------------------------------------------------- failure injection, recording

  /** HAPI JPA has a resource provider for every type, so its CapabilityStatement lists them all. */
  @Interceptor
  public final class EveryTypeInCapabilityStatement {

    @Hook(Pointcut.SERVER_CAPABILITY_STATEMENT_GENERATED)
    public void listEveryType(IBaseConformance generated) {
      CapabilityStatement statement = (CapabilityStatement) generated;
      CapabilityStatement.CapabilityStatementRestComponent rest = statement.getRestFirstRep();
      Set<String> listed = new TreeSet<>();
      rest.getResource().forEach(r -> listed.add(r.getType()));
      for (String type : resourceTypes) {
        if (listed.add(type)) {
          rest.addResource().setType(type)
              .addInteraction(new CapabilityStatement.ResourceInteractionComponent()
                  .setCode(CapabilityStatement.TypeRestfulInteraction.READ));
        }
      }
    }
  }

  /** Injects {@link #failNext} failures before HAPI handles a routed request. */
  @Interceptor
  public final class FailureGate {

    @Hook(Pointcut.SERVER_INCOMING_REQUEST_POST_PROCESSED)
    public boolean beforeHandling(RequestDetails details, HttpServletRequest request) {
      Optional<InjectedFailures.Failure> failure = failures.take();
      if (failure.isPresent()) {
        // Read the body first: left unread, Jetty closes the connection after the answer, and a
        // client reusing it fails with an I/O error instead of seeing the injected status.
        details.loadRequestContents();
        throw failure.get().exception();
      }
      return true;
    }
  }

  private static String pathOf(HttpServletRequest request) {
    String uri = request.getRequestURI();
    String prefix = request.getContextPath() + SERVLET_PATH;
    String path = uri.startsWith(prefix) ? uri.substring(prefix.length()) : uri;
    return path.startsWith("/") ? path.substring(1) : path;
  }

  /** Records every request when its answer is about to be sent (the status is set by then). */
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
          String method = httpRequest.getMethod();
          String path = pathOf(httpRequest);
          List<RecordedRequest.Entry> entries = WRITE_METHODS.contains(method) && !path.isEmpty()
              ? List.of(new RecordedRequest.Entry(method, path)) : List.of();
          requests.add(new RecordedRequest(method, path, httpRequest.getQueryString(),
              httpResponse.getStatus(), entries, start, Instant.now()));
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

  /** For debugging: the stored Subscriptions as JSON. */
  String dump() {
    IParser parser = ctx.newJsonParser().setPrettyPrint(true);
    return String.join("\n", subscriptions().stream().map(parser::encodeResourceToString).toList());
  }

  @Override
  public String toString() {
    return "FakeSubscriptionSource[" + baseUrl() + "]";
  }
}
