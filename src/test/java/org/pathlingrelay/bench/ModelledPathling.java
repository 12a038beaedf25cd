package org.pathlingrelay.bench;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import org.pathlingrelay.testing.IdFilter;
import org.pathlingrelay.testing.PathlingCost;

/**
 * A cheap model of Pathling's write side over real HTTP, for the bench: batch Bundles, PUT,
 * DELETE and {@code $import} with its {@code $job} polling, each write costing what {@link
 * PathlingCost} says (the thread parks; no CPU is spent), overlapping writes to one type failing
 * with 500. It never parses resources with HAPI: batch entries are counted with Jackson's
 * streaming parser, so its own CPU use stays small beside the relay's.
 */
public final class ModelledPathling implements AutoCloseable {

  private static final String FHIR_JSON = "application/fhir+json;charset=utf-8";

  private final WriteModel writes;
  private final ImportJobs imports;
  private final JettyHost host;

  private ModelledPathling(WriteModel writes, ImportJobs imports, JettyHost host) {
    this.writes = writes;
    this.imports = imports;
    this.host = host;
  }

  /** @param recordCompletions remember when each resource was written (for lag) */
  public static ModelledPathling start(PathlingCost cost, boolean recordCompletions) throws Exception {
    WriteModel writes = new WriteModel(cost, recordCompletions);
    ImportJobs imports = new ImportJobs(writes);
    try {
      return new ModelledPathling(writes, imports, JettyHost.start("modelled-pathling", new Endpoint(writes, imports)));
    } catch (Exception e) {
      imports.close();
      throw e;
    }
  }

  public String fhirBase() {
    return host.fhirBase();
  }

  WriteModel.Stats stats() {
    return writes.stats();
  }

  boolean awaitWritten(long count, Duration timeout) throws InterruptedException {
    return writes.awaitWritten(count, timeout);
  }

  OptionalLong completedAt(String key) {
    return writes.completedAt(key);
  }

  /** Resources the model holds before the run, as an earlier load would have left them. */
  void hold(Collection<String> keys) {
    writes.hold(keys);
  }

  @Override
  public void close() throws Exception {
    imports.close();
    host.close();
  }

  /** The HTTP side: routes each request to the model and answers as Pathling does. */
  private static final class Endpoint extends HttpServlet {
    private final WriteModel writes;
    private final ImportJobs imports;
    private final BatchEntries batches = new BatchEntries();
    private final JsonFactory jsonFactory = new JsonFactory();
    private final ObjectMapper json = new ObjectMapper();

    Endpoint(WriteModel writes, ImportJobs imports) {
      this.writes = writes;
      this.imports = imports;
    }

    @Override
    protected void service(HttpServletRequest request, HttpServletResponse response) throws IOException {
      String path = request.getPathInfo() == null ? "/" : request.getPathInfo();
      String method = request.getMethod();
      if (path.equals("/") && method.equals("POST")) {
        batch(request, response);
      } else if (path.equals("/$import") && method.equals("POST")) {
        kickOffImport(request, response);
      } else if (path.equals("/$job")) {
        job(request, response, method.equals("DELETE"));
      } else if (path.equals("/metadata")) {
        send(response, 200, "{\"resourceType\":\"CapabilityStatement\",\"status\":\"active\",\"kind\":\"instance\","
            + "\"fhirVersion\":\"4.0.1\",\"format\":[\"json\"]}");
      } else if (path.split("/").length == 2 && method.equals("GET") && "fhirPath".equals(request.getParameter("_query"))) {
        searchById(request, response, path.substring(1));
      } else if (path.split("/").length == 3 && (method.equals("PUT") || method.equals("DELETE"))) {
        single(request, response, path.substring(1), method.equals("PUT"));
      } else {
        send(response, 404, outcome("error", "not-found", "The modelled Pathling does not serve " + method + " " + path));
      }
    }

    private void batch(HttpServletRequest request, HttpServletResponse response) throws IOException {
      // The cost is charged from when the whole body is in, as a server that reads the body
      // before working on it (as HAPI's does) would see it: a sender that streams slowly gains nothing.
      byte[] body = request.getInputStream().readAllBytes();
      long arrived = System.nanoTime();
      BatchEntries.Read bundle;
      try {
        bundle = batches.read(new ByteArrayInputStream(body));
      } catch (IOException e) {
        send(response, 400, outcome("error", "invalid", "The body is not a Bundle: " + e.getMessage()));
        return;
      }
      if (!"batch".equals(bundle.bundleType())) {
        send(response, 400, outcome("error", "invalid", "Only batch Bundles are accepted"));
        return;
      }
      WriteModel.Outcome outcome = writes.write(bundle.types(), bundle.upserts(), bundle.deletes(), arrived);
      if (outcome == WriteModel.Outcome.CONFLICT) {
        conflict(response, bundle.types());
        return;
      }
      if (outcome == WriteModel.Outcome.NOT_FOUND) {
        send(response, 404, outcome("error", "not-found", "A resource this batch deletes is not known;"
            + " nothing in this batch was applied"));
        return;
      }
      sendBundle(response, "batch-response", bundle.entries(), (out, entry) -> {
        out.writeObjectFieldStart("response");
        out.writeStringField("status", entry.delete() ? "204" : "200");
        out.writeStringField("location", entry.key());
        out.writeEndObject();
      });
    }

    /** A type of entry's fields, written into its object. */
    private interface EntryWriter<T> {
      void write(JsonGenerator out, T entry) throws IOException;
    }

    /** A 200 with a Bundle of {@code bundleType}, one entry object per item. */
    private <T> void sendBundle(HttpServletResponse response, String bundleType, Collection<T> entries,
        EntryWriter<T> entry) throws IOException {
      response.setStatus(200);
      response.setContentType(FHIR_JSON);
      try (JsonGenerator out = jsonFactory.createGenerator(response.getOutputStream())) {
        out.writeStartObject();
        out.writeStringField("resourceType", "Bundle");
        out.writeStringField("type", bundleType);
        if (bundleType.equals("searchset")) {
          out.writeNumberField("total", entries.size());
        }
        out.writeArrayFieldStart("entry");
        for (T item : entries) {
          out.writeStartObject();
          entry.write(out, item);
          out.writeEndObject();
        }
        out.writeEndArray();
        out.writeEndObject();
      }
    }

    private void single(HttpServletRequest request, HttpServletResponse response, String key, boolean put)
        throws IOException {
      byte[] body = request.getInputStream().readAllBytes();
      long arrived = System.nanoTime();
      String type = key.substring(0, key.indexOf('/'));
      WriteModel.Outcome outcome = writes.write(Set.of(type), put ? List.of(key) : List.of(),
          put ? List.of() : List.of(key), arrived);
      if (outcome == WriteModel.Outcome.CONFLICT) {
        conflict(response, Set.of(type));
        return;
      }
      if (outcome == WriteModel.Outcome.NOT_FOUND) {
        send(response, 404, outcome("error", "not-found", "Resource " + key + " is not known"));
        return;
      }
      if (put) {
        response.setStatus(200);
        response.setContentType(FHIR_JSON);
        response.getOutputStream().write(body);
      } else {
        response.setStatus(204);
      }
    }

    /** Pathling's answer to {@code filter=id = 'a' or id = 'b'}: the rows of the ids it holds. */
    private void searchById(HttpServletRequest request, HttpServletResponse response, String type) throws IOException {
      long arrived = System.nanoTime();
      Optional<List<String>> ids = IdFilter.ids(request.getParameter("filter"));
      if (ids.isEmpty()) {
        send(response, 400, outcome("error", "invalid", "The modelled Pathling filters only by id = '..' or .."));
        return;
      }
      List<String> keys = ids.get().stream().map(id -> type + "/" + id).toList();
      Set<String> found = writes.search(keys, arrived);
      sendBundle(response, "searchset", found, (out, key) -> {
        out.writeObjectFieldStart("resource");
        out.writeStringField("resourceType", type);
        out.writeStringField("id", key.substring(key.indexOf('/') + 1));
        out.writeEndObject();
      });
    }

    private void kickOffImport(HttpServletRequest request, HttpServletResponse response) throws IOException {
      List<ImportJobs.Input> inputs = new ArrayList<>();
      JsonNode parameters = json.readTree(request.getInputStream());
      for (JsonNode parameter : parameters.path("parameter")) {
        if (!"input".equals(parameter.path("name").asText())) {
          continue;
        }
        String type = null;
        String url = null;
        for (JsonNode part : parameter.path("part")) {
          switch (part.path("name").asText()) {
            case "resourceType" -> type = part.path("valueCode").asText(null);
            case "url" -> url = part.path("valueUrl").asText(null);
            default -> { }
          }
        }
        if (type == null || url == null) {
          send(response, 400, outcome("error", "invalid", "Each input needs resourceType (valueCode) and url (valueUrl)"));
          return;
        }
        inputs.add(new ImportJobs.Input(type, url));
      }
      if (inputs.isEmpty()) {
        send(response, 400, outcome("error", "invalid", "No input"));
        return;
      }
      ImportJobs.Job job = imports.start(inputs);
      response.setHeader("Content-Location", base(request) + "/$job?id=" + job.id);
      send(response, 202, outcome("information", "informational", "Job accepted for processing"));
    }

    private void job(HttpServletRequest request, HttpServletResponse response, boolean delete) throws IOException {
      Optional<ImportJobs.Job> found = imports.find(request.getParameter("id"));
      if (found.isEmpty()) {
        send(response, 404, outcome("error", "not-found", "Job ID not found"));
        return;
      }
      ImportJobs.Job job = found.get();
      if (delete) {
        imports.forget(job.id);
        send(response, 202, outcome("information", "informational", "The job and its resources will be deleted."));
      } else if (!job.done || !job.polled) {
        job.polled = true;
        response.setHeader("X-Progress", job.done ? "100%" : "50%");
        send(response, 202, outcome("information", "informational", "Job currently processing"));
      } else if (job.failure != null) {
        send(response, 500, outcome("error", "exception", job.failure));
      } else {
        send(response, 200, "{\"resourceType\":\"Parameters\",\"parameter\":[{\"name\":\"transactionTime\","
            + "\"valueString\":\"" + Instant.now() + "\"},{\"name\":\"request\",\"valueString\":\""
            + base(request) + "/$import\"}]}");
      }
    }

    private void conflict(HttpServletResponse response, Set<String> types) throws IOException {
      send(response, 500, outcome("error", "exception",
          "Concurrent write to " + String.join(",", types) + ": the Delta commit conflicted"));
    }

    private static String base(HttpServletRequest request) {
      return request.getScheme() + "://" + request.getServerName() + ":" + request.getServerPort()
          + request.getContextPath() + request.getServletPath();
    }

    private String outcome(String severity, String code, String diagnostics) throws IOException {
      return "{\"resourceType\":\"OperationOutcome\",\"issue\":[{\"severity\":\"" + severity + "\",\"code\":\""
          + code + "\",\"diagnostics\":" + json.writeValueAsString(diagnostics) + "}]}";
    }

    private static void send(HttpServletResponse response, int status, String body) throws IOException {
      response.setStatus(status);
      response.setContentType(FHIR_JSON);
      response.getOutputStream().write(body.getBytes(StandardCharsets.UTF_8));
    }
  }
}
