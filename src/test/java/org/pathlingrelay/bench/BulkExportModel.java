package org.pathlingrelay.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A cheap FHIR Bulk Data source for the backfill part: kick-off answers 202 with a status URL,
 * the first poll 202 ({@code Retry-After: 1}), the next the manifest; the NDJSON files are served
 * raw from disk, as they are. Nothing is parsed or generated while the relay downloads.
 */
public final class BulkExportModel implements AutoCloseable {

  private final JettyHost host;

  private BulkExportModel(JettyHost host) {
    this.host = host;
  }

  public static BulkExportModel start(List<BackfillDataset.ExportFile> files) throws Exception {
    return new BulkExportModel(JettyHost.start("bulk-export-model", new Endpoint(List.copyOf(files))));
  }

  public String fhirBase() {
    return host.fhirBase();
  }

  @Override
  public void close() throws Exception {
    host.close();
  }

  private static final class Endpoint extends HttpServlet {
    private final List<BackfillDataset.ExportFile> files;
    /** Polls answered so far, per job. */
    private final Map<String, Integer> jobs = new ConcurrentHashMap<>();
    private final ObjectMapper json = new ObjectMapper();

    Endpoint(List<BackfillDataset.ExportFile> files) {
      this.files = files;
    }

    @Override
    protected void service(HttpServletRequest request, HttpServletResponse response) throws IOException {
      String path = request.getPathInfo() == null ? "/" : request.getPathInfo();
      String base = request.getScheme() + "://" + request.getServerName() + ":" + request.getServerPort()
          + request.getContextPath() + request.getServletPath();
      if (path.endsWith("/$export")) {
        String job = UUID.randomUUID().toString();
        jobs.put(job, 0);
        response.setHeader("Content-Location", base + "/$export-poll-status?_jobId=" + job);
        response.setStatus(202);
      } else if (path.equals("/$export-poll-status")) {
        poll(request, response, base);
      } else if (path.startsWith("/files/") && request.getMethod().equals("GET")) {
        download(path.substring("/files/".length()), response);
      } else {
        response.setStatus(404);
      }
    }

    private void poll(HttpServletRequest request, HttpServletResponse response, String base) throws IOException {
      String job = request.getParameter("_jobId");
      Integer polls = job == null ? null : jobs.get(job);
      if (polls == null) {
        response.setStatus(404);
      } else if (request.getMethod().equals("DELETE")) {
        jobs.remove(job);
        response.setStatus(202);
      } else if (polls == 0) {
        jobs.put(job, 1);
        response.setHeader("Retry-After", "1");
        response.setHeader("X-Progress", "Build in progress");
        response.setStatus(202);
      } else {
        ObjectNode manifest = json.createObjectNode();
        manifest.put("transactionTime", Instant.now().toString());
        manifest.put("request", base + "/$export");
        manifest.put("requiresAccessToken", false);
        ArrayNode output = manifest.putArray("output");
        for (int i = 0; i < files.size(); i++) {
          output.addObject().put("type", files.get(i).type()).put("url", base + "/files/" + i);
        }
        manifest.putArray("error");
        response.setStatus(200);
        response.setContentType("application/json");
        response.getOutputStream().write(json.writeValueAsString(manifest).getBytes(StandardCharsets.UTF_8));
      }
    }

    private void download(String index, HttpServletResponse response) throws IOException {
      int file;
      try {
        file = Integer.parseInt(index);
      } catch (NumberFormatException e) {
        response.setStatus(404);
        return;
      }
      if (file < 0 || file >= files.size()) {
        response.setStatus(404);
        return;
      }
      java.nio.file.Path path = files.get(file).path();
      response.setStatus(200);
      response.setContentType("application/fhir+ndjson");
      response.setContentLengthLong(Files.size(path));
      Files.copy(path, response.getOutputStream());
    }
  }
}
