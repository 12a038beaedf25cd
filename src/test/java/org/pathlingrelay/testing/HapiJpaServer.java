package org.pathlingrelay.testing;

import ca.uhn.fhir.batch2.api.IJobMaintenanceService;
import ca.uhn.fhir.batch2.jobs.export.BulkDataExportProvider;
import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.context.support.IValidationSupport;
import ca.uhn.fhir.interceptor.api.IAnonymousInterceptor;
import ca.uhn.fhir.interceptor.api.IInterceptorService;
import ca.uhn.fhir.interceptor.api.Pointcut;
import ca.uhn.fhir.jpa.api.config.JpaStorageSettings;
import ca.uhn.fhir.jpa.api.dao.IFhirSystemDao;
import ca.uhn.fhir.jpa.provider.IJpaSystemProvider;
import ca.uhn.fhir.jpa.provider.JpaCapabilityStatementProvider;
import ca.uhn.fhir.jpa.search.DatabaseBackedPagingProvider;
import ca.uhn.fhir.jpa.subscription.model.ResourceDeliveryMessage;
import ca.uhn.fhir.jpa.topic.ISubscriptionTopicLoader;
import ca.uhn.fhir.jpa.topic.SubscriptionTopicRegistry;
import ca.uhn.fhir.rest.client.api.IGenericClient;
import ca.uhn.fhir.rest.client.api.ServerValidationModeEnum;
import ca.uhn.fhir.rest.server.RestfulServer;
import ca.uhn.fhir.rest.server.provider.ResourceProviderFactory;
import ca.uhn.fhir.rest.server.util.ISearchParamRegistry;
import java.time.Duration;
import java.time.Instant;
import java.util.function.Consumer;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.annotation.AnnotationConfigApplicationContext;

/**
 * A real HAPI FHIR JPA 8.8.0 server (R4, H2 in memory) on a free loopback port, as the source in
 * end-to-end tests: rest-hook subscriptions matched and delivered by HAPI's own threads, bulk
 * export through Batch2 jobs. Started once for the whole test run (the first class that registers
 * it starts it, JUnit closes it at the end), so tests use fresh ids instead of a fresh server.
 *
 * <p>HAPI advances a bulk export one step per job maintenance pass, which its scheduler runs once a
 * minute: {@link #runMaintenancePass()} runs one now.
 */
public final class HapiJpaServer implements BeforeAllCallback {

  private static final Logger log = LoggerFactory.getLogger(HapiJpaServer.class);
  private static final ExtensionContext.Namespace NAMESPACE =
      ExtensionContext.Namespace.create(HapiJpaServer.class);

  private Running running;

  @Override
  public void beforeAll(ExtensionContext context) {
    running =
        context
            .getRoot()
            .getStore(NAMESPACE)
            .getOrComputeIfAbsent(Running.class, key -> Running.start(), Running.class);
  }

  private Running running() {
    if (running == null) {
      throw new IllegalStateException("HapiJpaServer is used before JUnit started it");
    }
    return running;
  }

  /** The FHIR base, e.g. {@code http://127.0.0.1:41234/fhir}. */
  public String baseUrl() {
    return running().baseUrl();
  }

  /** How long the one start of this run took (Spring context, schema, Jetty). */
  public Duration startTime() {
    return running().startTime();
  }

  public FhirContext fhirContext() {
    return running().fhirContext();
  }

  /** A client for writing to and reading from the server over HTTP, as any client would. */
  public IGenericClient client() {
    FhirContext fhir = fhirContext();
    fhir.getRestfulClientFactory().setServerValidationMode(ServerValidationModeEnum.NEVER);
    return fhir.newRestfulGenericClient(baseUrl());
  }

  /** One Batch2 maintenance pass now, waiting for it: moves each job on by one step. */
  public void runMaintenancePass() {
    running().maintenance().forceMaintenancePass();
  }

  /**
   * Whether HAPI's topic registry holds a SubscriptionTopic with this canonical URL now: HAPI
   * matches writes only against topics it has loaded, and says so nowhere over HTTP.
   */
  public boolean topicRegistered(String url) {
    return running().spring().getBean(SubscriptionTopicRegistry.class).findSubscriptionTopicByUrl(url).isPresent();
  }

  /** Loads the stored topics (R4: Basic) into the registry now instead of at HAPI's next refresh. */
  public void refreshTopics() {
    running().spring().getBean(ISubscriptionTopicLoader.class).forceRefresh();
  }

  /**
   * Hands {@code listener} every payload HAPI's own threads are about to POST or PUT to a rest-hook
   * endpoint, as HAPI built it, until the returned handle is closed.
   */
  public AutoCloseable onRestHookDelivery(Consumer<IBaseResource> listener) {
    IInterceptorService interceptors = running().spring().getBean(IInterceptorService.class);
    FhirContext fhir = fhirContext();
    IAnonymousInterceptor hook =
        (pointcut, params) -> listener.accept(params.get(ResourceDeliveryMessage.class).getPayload(fhir));
    interceptors.registerAnonymousInterceptor(Pointcut.SUBSCRIPTION_BEFORE_REST_HOOK_DELIVERY, hook);
    return () -> interceptors.unregisterInterceptor(hook);
  }

  /** One started server: closed by JUnit when the whole run ends. */
  private record Running(
      AnnotationConfigApplicationContext spring,
      Server jetty,
      String baseUrl,
      Duration startTime)
      implements ExtensionContext.Store.CloseableResource {

    static Running start() {
      Instant begin = Instant.now();
      AnnotationConfigApplicationContext spring =
          new AnnotationConfigApplicationContext(HapiJpaServerConfig.class);
      try {
        Server jetty = new Server();
        ServerConnector connector = new ServerConnector(jetty);
        connector.setHost("127.0.0.1");
        connector.setPort(0);
        jetty.addConnector(connector);
        ServletContextHandler context = new ServletContextHandler();
        context.setContextPath("/");
        ServletHolder holder = new ServletHolder(restfulServer(spring));
        holder.setInitOrder(1);
        context.addServlet(holder, "/fhir/*");
        jetty.setHandler(context);
        jetty.start();
        String baseUrl = "http://127.0.0.1:" + connector.getLocalPort() + "/fhir";
        Duration took = Duration.between(begin, Instant.now());
        log.info("HAPI FHIR JPA server up at {} in {} ms", baseUrl, took.toMillis());
        return new Running(spring, jetty, baseUrl, took);
      } catch (Exception e) {
        spring.close();
        throw new IllegalStateException("Could not start the HAPI FHIR JPA server", e);
      }
    }

    /** The REST layer as the JPA starter builds it, with what the relay's tests use. */
    private static RestfulServer restfulServer(AnnotationConfigApplicationContext spring) {
      FhirContext fhir = spring.getBean(FhirContext.class);
      RestfulServer server = new RestfulServer(fhir);
      server.registerProviders(spring.getBean(ResourceProviderFactory.class).createProviders());
      server.registerProvider(spring.getBean(IJpaSystemProvider.class));
      server.registerProvider(spring.getBean(BulkDataExportProvider.class));
      server.setPagingProvider(spring.getBean(DatabaseBackedPagingProvider.class));
      server.setServerConformanceProvider(
          new JpaCapabilityStatementProvider(
              server,
              spring.getBean(IFhirSystemDao.class),
              spring.getBean(JpaStorageSettings.class),
              spring.getBean(ISearchParamRegistry.class),
              spring.getBean(IValidationSupport.class)));
      return server;
    }

    FhirContext fhirContext() {
      return spring.getBean(FhirContext.class);
    }

    IJobMaintenanceService maintenance() {
      return spring.getBean(IJobMaintenanceService.class);
    }

    @Override
    public void close() throws Exception {
      try {
        jetty.stop();
      } finally {
        spring.close();
      }
    }
  }
}
