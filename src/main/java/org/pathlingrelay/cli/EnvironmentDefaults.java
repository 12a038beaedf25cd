package org.pathlingrelay.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.StringJoiner;
import org.apache.commons.text.similarity.LevenshteinDistance;
import picocli.CommandLine.IDefaultValueProvider;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * Gives each option its value when the command line does not: first the environment variable,
 * then the YAML config file (keys are the option names without dashes, e.g. {@code pathling-url}),
 * and otherwise the option's own default. So: flag > env > file > default.
 */
final class EnvironmentDefaults implements IDefaultValueProvider {

  /** The public contract: scripts and docs use these names. */
  static final Map<String, String> ENV_NAMES =
      Map.ofEntries(
          Map.entry("port", "RELAY_PORT"),
          Map.entry("bind", "RELAY_BIND"),
          Map.entry("data-dir", "RELAY_DATA_DIR"),
          Map.entry("pathling-url", "PATHLING_URL"),
          Map.entry("pathling-token", "PATHLING_TOKEN"),
          Map.entry("pathling-timeout", "PATHLING_TIMEOUT"),
          Map.entry("receiver-secret", "RELAY_SECRET"),
          Map.entry("no-auth", "RELAY_NO_AUTH"),
          Map.entry("forward-mode", "RELAY_FORWARD_MODE"),
          Map.entry("batch-max", "RELAY_BATCH_MAX"),
          Map.entry("linger", "RELAY_LINGER"),
          Map.entry("linger-max", "RELAY_LINGER_MAX"),
          Map.entry("max-body", "RELAY_MAX_BODY"),
          Map.entry("idle-timeout", "RELAY_IDLE_TIMEOUT"),
          Map.entry("request-read-timeout", "RELAY_REQUEST_READ_TIMEOUT"),
          Map.entry("max-concurrent-requests", "RELAY_MAX_CONCURRENT_REQUESTS"),
          Map.entry("parallel-types", "RELAY_PARALLEL_TYPES"),
          Map.entry("source-url", "SOURCE_URL"),
          Map.entry("source-token", "SOURCE_TOKEN"),
          Map.entry("download-concurrency", "RELAY_DOWNLOAD_CONCURRENCY"),
          Map.entry("catch-up-interval", "RELAY_CATCH_UP_INTERVAL"),
          Map.entry("verify-interval", "RELAY_VERIFY_INTERVAL"),
          Map.entry("verify-full-interval", "RELAY_VERIFY_FULL_INTERVAL"),
          Map.entry("verify-type", "RELAY_VERIFY_TYPE"),
          Map.entry("load", "RELAY_LOAD"),
          Map.entry("staging-dir", "RELAY_STAGING_DIR"),
          Map.entry("staging-url", "RELAY_STAGING_URL"),
          Map.entry("save-mode", "RELAY_SAVE_MODE"),
          Map.entry("forward-stall-timeout", "RELAY_FORWARD_STALL_TIMEOUT"),
          Map.entry("relay-url", "RELAY_URL"),
          Map.entry("keep-staged", "RELAY_KEEP_STAGED"),
          Map.entry("s3-endpoint", "RELAY_S3_ENDPOINT"),
          Map.entry("s3-region", "RELAY_S3_REGION"),
          Map.entry("s3-path-style", "RELAY_S3_PATH_STYLE"),
          Map.entry("pathling-client-id", "PATHLING_CLIENT_ID"),
          Map.entry("pathling-client-secret", "PATHLING_CLIENT_SECRET"),
          Map.entry("pathling-client-secret-file", "PATHLING_CLIENT_SECRET_FILE"),
          Map.entry("pathling-private-key-jwk", "PATHLING_PRIVATE_KEY_JWK"),
          Map.entry("pathling-private-key-jwk-file", "PATHLING_PRIVATE_KEY_JWK_FILE"),
          Map.entry("pathling-key-id", "PATHLING_KEY_ID"),
          Map.entry("pathling-token-endpoint", "PATHLING_TOKEN_ENDPOINT"),
          Map.entry("pathling-scope", "PATHLING_SCOPE"),
          Map.entry("pathling-client-auth", "PATHLING_CLIENT_AUTH"),
          Map.entry("source-client-id", "SOURCE_CLIENT_ID"),
          Map.entry("source-client-secret", "SOURCE_CLIENT_SECRET"),
          Map.entry("source-client-secret-file", "SOURCE_CLIENT_SECRET_FILE"),
          Map.entry("source-private-key-jwk", "SOURCE_PRIVATE_KEY_JWK"),
          Map.entry("source-private-key-jwk-file", "SOURCE_PRIVATE_KEY_JWK_FILE"),
          Map.entry("source-key-id", "SOURCE_KEY_ID"),
          Map.entry("source-token-endpoint", "SOURCE_TOKEN_ENDPOINT"),
          Map.entry("source-scope", "SOURCE_SCOPE"),
          Map.entry("source-client-auth", "SOURCE_CLIENT_AUTH"),
          Map.entry("receiver-secret-file", "RELAY_SECRET_FILE"),
          Map.entry("tls-cert", "RELAY_TLS_CERT"),
          Map.entry("tls-key", "RELAY_TLS_KEY"),
          Map.entry("tls-keystore", "RELAY_TLS_KEYSTORE"),
          Map.entry("tls-keystore-password-file", "RELAY_TLS_KEYSTORE_PASSWORD_FILE"),
          Map.entry("tls-client-ca", "RELAY_TLS_CLIENT_CA"),
          Map.entry("config", "RELAY_CONFIG"));

  private final Map<String, String> environment;
  private final Map<String, String> file;
  private final Optional<Path> fileName;

  private EnvironmentDefaults(Map<String, String> environment, Map<String, String> file, Optional<Path> fileName) {
    this.environment = environment;
    this.file = file;
    this.fileName = fileName;
  }

  /**
   * The first key of the config file that no command has as an option, explained with the
   * nearest option name. A key of another command is accepted: one file can serve them all.
   */
  Optional<String> unknownKey(Set<String> optionNames) {
    return file.keySet().stream()
        .filter(key -> !optionNames.contains(key))
        .sorted()
        .findFirst()
        .map(key -> "unknown key '" + key + "' in " + fileName.map(Path::getFileName).orElse(Path.of("the config file"))
            + nearest(key, optionNames)
                .map(option -> "; did you mean '" + option + "'?")
                .orElse("; keys are the long option names without the dashes, e.g. 'pathling-url'"));
  }

  /** The option a key was probably meant as: same words spelt otherwise, or a typo away. */
  private static Optional<String> nearest(String key, Set<String> optionNames) {
    String kebab = key.replaceAll("([a-z0-9])([A-Z])", "$1-$2").replace('_', '-').toLowerCase(Locale.ROOT)
        .replaceFirst("^-+", "");
    if (optionNames.contains(kebab)) {
      return Optional.of(kebab);
    }
    // A typo or two in a long name, one in a short one; beyond that a guess would mislead.
    LevenshteinDistance distance = new LevenshteinDistance(Math.min(3, kebab.length() / 4 + 1));
    return optionNames.stream()
        .filter(name -> distance.apply(kebab, name) >= 0)
        .min(Comparator.comparingInt((String name) -> distance.apply(kebab, name)).thenComparing(name -> name));
  }

  /** Reads the config file named by {@code --config} in {@code args}, or by RELAY_CONFIG. */
  static EnvironmentDefaults from(String[] args, Map<String, String> environment)
      throws IOException {
    Optional<String> configFile = configArgument(args);
    if (configFile.isEmpty()) {
      configFile = Optional.ofNullable(environment.get(ENV_NAMES.get("config")));
    }
    Map<String, String> file = new HashMap<>();
    if (configFile.isPresent()) {
      file = readYaml(Path.of(configFile.get()));
    }
    return new EnvironmentDefaults(Map.copyOf(environment), file, configFile.map(Path::of));
  }

  private static Optional<String> configArgument(String[] args) {
    for (int i = 0; i < args.length; i++) {
      if ("--config".equals(args[i]) && i + 1 < args.length) {
        return Optional.of(args[i + 1]);
      }
      if (args[i].startsWith("--config=")) {
        return Optional.of(args[i].substring("--config=".length()));
      }
    }
    return Optional.empty();
  }

  private static Map<String, String> readYaml(Path path) throws IOException {
    if (!Files.isRegularFile(path)) {
      throw new IOException("config file " + path + " does not exist");
    }
    JsonNode root = new ObjectMapper(new YAMLFactory()).readTree(path.toFile());
    Map<String, String> values = new HashMap<>();
    if (root == null || root.isNull() || root.isMissingNode()) {
      return values;
    }
    if (!root.isObject()) {
      throw new IOException("config file " + path + " must be a YAML mapping of option: value");
    }
    Iterator<Map.Entry<String, JsonNode>> fields = root.fields();
    while (fields.hasNext()) {
      Map.Entry<String, JsonNode> field = fields.next();
      JsonNode value = field.getValue();
      if (value.isNull()) {
        continue; // "key:" with nothing after it means unset, not the word "null"
      }
      if (value.isObject()) {
        throw new IOException(
            "config file " + path + ": '" + field.getKey() + "' must be a value or a list, not a mapping");
      }
      values.put(field.getKey(), text(value));
    }
    return values;
  }

  private static String text(JsonNode node) {
    if (node.isArray()) {
      StringJoiner joined = new StringJoiner(",");
      node.forEach(
          element -> {
            if (!element.isNull()) {
              joined.add(element.asText());
            }
          });
      return joined.toString();
    }
    return node.asText();
  }

  /** The config file keys (and names in {@link #ENV_NAMES}) of an option: its long names without dashes. */
  static List<String> keys(OptionSpec option) {
    return Arrays.stream(option.names())
        .filter(name -> name.startsWith("--"))
        .map(name -> name.substring(2))
        .toList();
  }

  @Override
  public String defaultValue(ArgSpec argSpec) {
    if (!(argSpec instanceof OptionSpec option)) {
      return null;
    }
    for (String name : keys(option)) {
      String envName = ENV_NAMES.get(name);
      if (envName != null) {
        String fromEnv = environment.get(envName);
        if (fromEnv != null && !fromEnv.isEmpty()) {
          return fromEnv;
        }
      }
    }
    for (String name : keys(option)) {
      if (file.containsKey(name)) {
        return file.get(name);
      }
    }
    return null;
  }
}
