package org.pathlingrelay.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * The {@code _history} of a fake source, shaped like HAPI FHIR JPA 8.8.0's (measured with
 * {@code SourceHistoryTest} on the real server): newest entry first; a page holds {@code _count}
 * entries, 10 when absent and at most 50 however many are asked for; the {@code next} link pages
 * with {@code _offset}; {@code _since} is inclusive. A write is an entry with the resource,
 * {@code request.method} {@code POST} for a first version and {@code PUT} after, and
 * {@code request.url = Type/id/_history/N}; a delete is an entry without a resource,
 * {@code request.method = DELETE}, its version the next number. Not thread-safe: the fake
 * calls it under its lock.
 */
final class FakeHistory {

  static final int DEFAULT_PAGE = 10;
  static final int MAX_PAGE = 50;

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final DateTimeFormatter HAPI_INSTANT =
      DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSxxx").withZone(ZoneOffset.UTC);

  private record Entry(String type, String id, long version, byte[] json, Instant at) {}

  private final List<Entry> entries = new ArrayList<>(); // oldest first
  private final Map<String, Long> versions = new HashMap<>();

  /** Records a write ({@code json != null}) or a delete of {@code type/id}. */
  void record(String type, String id, byte[] json, Instant at, boolean existedBefore) {
    long version = versions.merge(type + "/" + id, existedBefore ? 2L : 1L, (old, first) -> old + 1);
    entries.add(new Entry(type, id, version, json, at));
  }

  void clear() {
    entries.clear();
    versions.clear();
  }

  /**
   * One page of the system's ({@code type == null}) or a type's history.
   *
   * @param base the server's base URL, for {@code fullUrl} and links
   */
  byte[] page(String base, String type, Instant since, Integer count, int offset) {
    int size = count == null ? DEFAULT_PAGE : Math.max(1, Math.min(MAX_PAGE, count));
    List<Entry> matching = new ArrayList<>();
    for (int i = entries.size() - 1; i >= 0; i--) {
      Entry entry = entries.get(i);
      if ((type == null || type.equals(entry.type())) && (since == null || !entry.at().isBefore(since))) {
        matching.add(entry);
      }
    }
    String path = base + (type == null ? "" : "/" + type) + "/_history";
    String sinceParam = since == null ? "" : "&_since=" + URLEncoder.encode(since.toString(), StandardCharsets.UTF_8);
    ObjectNode bundle = JSON.createObjectNode();
    bundle.put("resourceType", "Bundle");
    bundle.put("id", UUID.randomUUID().toString());
    bundle.putObject("meta").put("lastUpdated", HAPI_INSTANT.format(Instant.now()));
    bundle.put("type", "history");
    ArrayNode links = bundle.putArray("link");
    links.addObject().put("relation", "self").put("url", path + "?_count=" + size + "&_offset=" + offset + sinceParam);
    if (offset + size < matching.size()) {
      links.addObject().put("relation", "next")
          .put("url", path + "?_count=" + size + "&_offset=" + (offset + size) + sinceParam);
    }
    ArrayNode out = bundle.putArray("entry");
    for (Entry entry : matching.subList(Math.min(offset, matching.size()), Math.min(offset + size, matching.size()))) {
      ObjectNode node = out.addObject();
      node.put("fullUrl", base + "/" + entry.type() + "/" + entry.id());
      String method;
      if (entry.json() == null) {
        method = "DELETE";
      } else {
        node.set("resource", versioned(entry));
        method = entry.version() == 1 ? "POST" : "PUT";
      }
      node.putObject("request").put("method", method)
          .put("url", entry.type() + "/" + entry.id() + "/_history/" + entry.version());
      node.putObject("response").put("status", method.equals("POST") ? "201 Created" : "200 OK")
          .put("etag", "W/\"" + entry.version() + "\"");
    }
    try {
      return JSON.writeValueAsBytes(bundle);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static JsonNode versioned(Entry entry) {
    try {
      ObjectNode resource = (ObjectNode) JSON.readTree(entry.json());
      JsonNode meta = resource.get("meta");
      ObjectNode metaNode = meta instanceof ObjectNode m ? m : resource.putObject("meta");
      metaNode.put("versionId", Long.toString(entry.version()));
      return resource;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
