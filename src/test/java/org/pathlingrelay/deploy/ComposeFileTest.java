package org.pathlingrelay.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The demo stack in {@code docker-compose.yml}, checked as a file: no Docker engine is needed, and
 * none is started. What it cannot check (that the images exist and the stack comes up) is listed
 * in the README.
 */
class ComposeFileTest {

  private static final Path COMPOSE = Path.of("docker-compose.yml");
  private static final Path ENV_EXAMPLE = Path.of(".env.example");

  /** The relay's documented environment names: the README's configuration tables. */
  private static final Set<String> RELAY_ENV_NAMES = Set.of(
      "RELAY_PORT", "RELAY_BIND", "RELAY_DATA_DIR", "PATHLING_URL", "PATHLING_TOKEN",
      "PATHLING_TIMEOUT", "RELAY_SECRET", "RELAY_NO_AUTH", "RELAY_FORWARD_MODE", "RELAY_BATCH_MAX",
      "RELAY_LINGER", "RELAY_MAX_BODY", "RELAY_PARALLEL_TYPES", "RELAY_LOAD", "RELAY_STAGING_DIR",
      "RELAY_STAGING_URL", "RELAY_SAVE_MODE", "SOURCE_URL", "SOURCE_TOKEN",
      "RELAY_DOWNLOAD_CONCURRENCY", "RELAY_CATCH_UP_INTERVAL", "RELAY_CONFIG",
      // read by the JVM itself, not by the relay
      "JAVA_TOOL_OPTIONS");

  private static final Pattern VARIABLE = Pattern.compile("\\$\\{([A-Za-z_][A-Za-z0-9_]*)([^}]*)}");

  private final JsonNode compose = parse(read(COMPOSE));
  private final Map<String, String> envExample = dotEnv(read(ENV_EXAMPLE));

  @Test
  void services_areTheFourOfTheStack() {
    assertThat(fieldNames(compose.path("services")))
        .containsExactlyInAnyOrder("hapi", "pathling", "relay", "subscribe");
  }

  @Test
  void relay_isBuiltFromThisRepository() {
    assertThat(buildContext(service("relay"))).isEqualTo(".");
  }

  @Test
  void subscribe_runsTheRelayImage_soItIsBuiltFromThisRepositoryToo() {
    assertThat(buildContext(service("subscribe"))).isEqualTo(".");
    assertThat(service("subscribe").path("image").asText())
        .isEqualTo(service("relay").path("image").asText())
        .isNotEmpty();
  }

  @Test
  void ports_arePublishedOnLoopbackAsTheReadmeSays_withTheDefaultsAndWithEnvExample() {
    Map<String, String> expected = Map.of(
        "hapi", "127.0.0.1:8080->8080",
        "pathling", "127.0.0.1:8081->8080",
        "relay", "127.0.0.1:8082->8080");
    for (Map<String, String> variables : List.of(Map.<String, String>of(), envExample)) {
      for (Map.Entry<String, String> entry : expected.entrySet()) {
        assertThat(publishedPorts(entry.getKey(), variables))
            .as("ports of %s with %s", entry.getKey(), variables.isEmpty() ? "defaults" : ".env.example")
            .containsExactly(entry.getValue());
      }
    }
    assertThat(service("subscribe").has("ports")).isFalse();
  }

  @Test
  void relay_healthcheck_asksReadyzOnItsOwnPort() {
    JsonNode healthcheck = service("relay").path("healthcheck");
    assertThat(healthcheck.path("disable").asBoolean(false)).isFalse();
    assertThat(testCommand(healthcheck)).contains("http://127.0.0.1:8080/readyz");
  }

  @Test
  void hapi_healthcheck_usesCurl_soTheImageIsTheTomcatVariant_whichHasIt() {
    JsonNode hapi = service("hapi");
    List<String> test = testCommand(hapi.path("healthcheck"));
    assertThat(test).contains("curl", "http://localhost:8080/fhir/metadata");
    // The default hapiproject/hapi image is distroless: no shell, no curl.
    assertThat(hapi.path("image").asText()).isEqualTo("hapiproject/hapi:v8.8.0-1-tomcat");
  }

  @Test
  void hapi_hasRestHookSubscriptionsAndBulkExportEnabled() {
    Map<String, String> env = environment("hapi");
    assertThat(env).containsEntry("hapi.fhir.subscription.resthook_enabled", "true");
    assertThat(env).containsEntry("hapi.fhir.bulk_export_enabled", "true");
  }

  @Test
  void subscribe_waitsForAHealthyHapiAndRelay_andRunsOnce() {
    JsonNode subscribe = service("subscribe");
    assertThat(subscribe.path("depends_on").path("hapi").path("condition").asText())
        .isEqualTo("service_healthy");
    assertThat(subscribe.path("depends_on").path("relay").path("condition").asText())
        .isEqualTo("service_healthy");
    assertThat(subscribe.path("restart").asText()).isEqualTo("no");
    assertThat(strings(subscribe.path("command"))).containsExactly(
        "subscribe",
        "--source-url", "http://hapi:8080/fhir",
        "--relay-url", "http://relay:8080/fhir",
        "--all");
    assertThat(environment("subscribe")).containsKey("RELAY_SECRET");
  }

  @Test
  void relay_dependsOnPathling_andPointsAtTheOtherServicesByName() {
    JsonNode relay = service("relay");
    assertThat(fieldNames(relay.path("depends_on"))).contains("pathling");
    assertThat(environment("relay"))
        .containsEntry("PATHLING_URL", "http://pathling:8080/fhir")
        .containsEntry("SOURCE_URL", "http://hapi:8080/fhir")
        .containsKey("RELAY_CATCH_UP_INTERVAL");
  }

  @Test
  void relayData_isANamedVolume_mountedAtTheRelaysDataDir() {
    String dataDir = environment("relay").get("RELAY_DATA_DIR");
    assertThat(dataDir).isEqualTo("/data");
    assertThat(mounts("relay")).containsEntry(dataDir, "relay-data");
    assertThat(fieldNames(compose.path("volumes"))).contains("relay-data");
  }

  @Test
  void staging_isOneVolume_writtenByTheRelay_readByPathling_atTheUrlPathlingAllows() {
    Map<String, String> relayEnv = environment("relay");
    String stagingDir = relayEnv.get("RELAY_STAGING_DIR");
    String stagingVolume = mounts("relay").get(stagingDir);
    assertThat(stagingVolume).isEqualTo("staging");
    assertThat(fieldNames(compose.path("volumes"))).contains(stagingVolume);

    String pathlingTarget = null;
    for (Map.Entry<String, String> mount : mounts("pathling").entrySet()) {
      if (mount.getValue().equals(stagingVolume)) {
        pathlingTarget = mount.getKey();
      }
    }
    assertThat(pathlingTarget).as("pathling mounts the staging volume").isNotNull();

    // The relay tells Pathling file URLs under RELAY_STAGING_URL; Pathling must see the same files
    // there and allow that prefix (it matches file:// sources by string prefix).
    String stagingUrl = relayEnv.get("RELAY_STAGING_URL");
    assertThat(stagingUrl).isEqualTo("file://" + pathlingTarget);
    String allowed = environment("pathling").get("pathling.import.allowableSources");
    assertThat(allowed).isNotNull();
    String sampleFile = stagingUrl + "/export-1/Patient.0000.ndjson";
    assertThat(List.of(allowed.split(","))).anySatisfy(prefix -> assertThat(sampleFile).startsWith(prefix.trim()));
  }

  @Test
  void volumes_declaredAreAllUsed_andUsedAreAllDeclared() {
    Set<String> used = new LinkedHashSet<>();
    for (String name : fieldNames(compose.path("services"))) {
      used.addAll(mounts(name).values());
    }
    Set<String> named = new LinkedHashSet<>();
    for (String source : used) {
      if (!source.startsWith(".") && !source.startsWith("/") && !source.startsWith("~")) {
        named.add(source);
      }
    }
    assertThat(fieldNames(compose.path("volumes"))).containsExactlyInAnyOrderElementsOf(named);
    assertThat(named).contains("relay-data", "staging");
  }

  @Test
  void everyVariableTheComposeFileReads_isDefinedInEnvExample() {
    Set<String> referenced = new LinkedHashSet<>();
    for (String scalar : scalars()) {
      Matcher matcher = VARIABLE.matcher(scalar);
      while (matcher.find()) {
        referenced.add(matcher.group(1));
      }
      // No "$NAME" form (without braces) that the pattern above would miss.
      assertThat(VARIABLE.matcher(scalar.replace("$$", "")).replaceAll(""))
          .as("bare $ in %s", scalar)
          .doesNotContain("$");
    }
    assertThat(referenced).contains("RELAY_SECRET", "RELAY_CATCH_UP_INTERVAL", "HAPI_HOST_PORT");
    assertThat(envExample.keySet()).containsAll(referenced);
  }

  @Test
  void relayEnvironment_usesOnlyTheRelaysDocumentedNames() {
    for (String service : List.of("relay", "subscribe")) {
      assertThat(environment(service).keySet()).as(service).isSubsetOf(RELAY_ENV_NAMES);
    }
  }

  @Test
  void secrets_comeFromEnv_neverLiteral() {
    Pattern secretName = Pattern.compile("(?i).*(secret|token|password|passwd|api_?key|credential).*");
    int checked = 0;
    for (String service : fieldNames(compose.path("services"))) {
      for (Map.Entry<String, String> entry : environment(service).entrySet()) {
        if (secretName.matcher(entry.getKey()).matches()) {
          checked++;
          assertThat(entry.getValue())
              .as("%s in %s", entry.getKey(), service)
              .matches("\\$\\{" + Pattern.quote(entry.getKey()) + "(:?\\?[^}]*)?}");
        }
      }
    }
    assertThat(checked).as("RELAY_SECRET in relay and subscribe").isEqualTo(2);
    assertThat(scalars()).noneSatisfy(scalar -> assertThat(scalar).containsIgnoringCase("Bearer "));
    assertThat(environment("relay")).doesNotContainKey("RELAY_NO_AUTH");
  }

  @Test
  void envExample_holdsNoSecret_soComposeRefusesToStartUntilOneIsSet() {
    assertThat(envExample).containsEntry("RELAY_SECRET", "");
    // ":?" fails `docker compose` when the variable is unset or empty.
    assertThat(environment("relay").get("RELAY_SECRET")).startsWith("${RELAY_SECRET:?");
  }

  // ---- reading the files ----

  private JsonNode service(String name) {
    JsonNode service = compose.path("services").path(name);
    assertThat(service.isObject()).as("service %s", name).isTrue();
    return service;
  }

  /** {@code environment:} as a map, whether written as a map or as a list of NAME=value. */
  private Map<String, String> environment(String service) {
    JsonNode env = service(service).path("environment");
    Map<String, String> values = new LinkedHashMap<>();
    if (env.isObject()) {
      env.fields().forEachRemaining(field -> values.put(field.getKey(), field.getValue().asText()));
    } else if (env.isArray()) {
      for (JsonNode item : env) {
        String[] pair = item.asText().split("=", 2);
        values.put(pair[0], pair.length > 1 ? pair[1] : "");
      }
    }
    return values;
  }

  /** Volume mounts of a service: container path to source (volume name or host path). */
  private Map<String, String> mounts(String service) {
    Map<String, String> mounts = new LinkedHashMap<>();
    for (JsonNode volume : service(service).path("volumes")) {
      if (volume.isObject()) {
        mounts.put(volume.path("target").asText(), volume.path("source").asText());
      } else {
        String[] parts = volume.asText().split(":");
        if (parts.length >= 2) {
          mounts.put(parts[1], parts[0]);
        }
      }
    }
    return mounts;
  }

  /** Published ports as {@code ip:host->container}, with ${...} resolved against the variables. */
  private List<String> publishedPorts(String service, Map<String, String> variables) {
    List<String> ports = new ArrayList<>();
    for (JsonNode port : service(service).path("ports")) {
      String[] parts = interpolate(port.asText(), variables).split(":");
      assertThat(parts).as("%s port %s written as ip:host:container", service, port).hasSize(3);
      ports.add(parts[0] + ":" + parts[1] + "->" + parts[2]);
    }
    return ports;
  }

  /** Compose's ${VAR}, ${VAR:-default}, ${VAR-default} and ${VAR:?error}, for these tests. */
  private static String interpolate(String value, Map<String, String> variables) {
    Matcher matcher = VARIABLE.matcher(value);
    StringBuilder out = new StringBuilder();
    while (matcher.find()) {
      String name = matcher.group(1);
      String modifier = matcher.group(2);
      String set = variables.get(name);
      String replacement;
      if (modifier.startsWith(":-")) {
        replacement = set == null || set.isEmpty() ? modifier.substring(2) : set;
      } else if (modifier.startsWith("-")) {
        replacement = set == null ? modifier.substring(1) : set;
      } else {
        replacement = set == null ? "" : set;
      }
      matcher.appendReplacement(out, Matcher.quoteReplacement(replacement));
    }
    matcher.appendTail(out);
    return out.toString();
  }

  private static String buildContext(JsonNode service) {
    JsonNode build = service.path("build");
    return build.isObject() ? build.path("context").asText() : build.asText();
  }

  private static List<String> testCommand(JsonNode healthcheck) {
    JsonNode test = healthcheck.path("test");
    assertThat(test.isMissingNode()).as("healthcheck.test").isFalse();
    return test.isArray() ? strings(test) : List.of(test.asText().split("\\s+"));
  }

  /** Every key and value in the file; comments are not interpolated by compose, so not these. */
  private List<String> scalars() {
    List<String> scalars = new ArrayList<>();
    collectScalars(compose, scalars);
    return scalars;
  }

  private static void collectScalars(JsonNode node, List<String> into) {
    if (node.isObject()) {
      node.fields().forEachRemaining(field -> {
        into.add(field.getKey());
        collectScalars(field.getValue(), into);
      });
    } else if (node.isArray()) {
      node.forEach(item -> collectScalars(item, into));
    } else if (!node.isNull()) {
      into.add(node.asText());
    }
  }

  private static List<String> strings(JsonNode array) {
    List<String> values = new ArrayList<>();
    array.forEach(item -> values.add(item.asText()));
    return values;
  }

  private static List<String> fieldNames(JsonNode node) {
    List<String> names = new ArrayList<>();
    node.fieldNames().forEachRemaining(names::add);
    return names;
  }

  /** NAME=value lines; comments and blank lines skipped, as compose reads .env. */
  private static Map<String, String> dotEnv(String content) {
    Map<String, String> values = new LinkedHashMap<>();
    for (String line : content.split("\n")) {
      String trimmed = line.trim();
      if (trimmed.isEmpty() || trimmed.startsWith("#")) {
        continue;
      }
      int equals = trimmed.indexOf('=');
      assertThat(equals).as(".env.example line %s", trimmed).isPositive();
      values.put(trimmed.substring(0, equals).trim(), trimmed.substring(equals + 1).trim());
    }
    return values;
  }

  private static JsonNode parse(String yaml) {
    try {
      return new ObjectMapper(new YAMLFactory()).readTree(yaml);
    } catch (IOException e) {
      throw new AssertionError("docker-compose.yml is not valid YAML", e);
    }
  }

  private static String read(Path path) {
    try {
      return Files.readString(path);
    } catch (IOException e) {
      throw new AssertionError(path + " is missing", e);
    }
  }
}
