package org.pathlingrelay.source;

import ca.uhn.fhir.context.FhirContext;
import com.fasterxml.jackson.core.io.JsonStringEncoder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.JarURLConnection;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.hl7.fhir.r4.model.Subscription;

/**
 * The rest-hook Subscription templates of {@code subscriptions/rest-hook/}: one file per resource
 * type, and {@code _template.json} for any other type. Read from a folder when there is one (so
 * users can edit them), else from the copy inside the jar.
 */
public final class SubscriptionTemplates {

  /** The tag that marks a Subscription as the relay's own. */
  public static final String TAG_SYSTEM = "urn:pathling-relay";
  public static final String TAG_CODE = "managed";
  private static final String GENERIC = "_template.json";
  private static final String PACKAGED = "subscriptions/rest-hook/";

  private final Map<String, String> byType;
  private final String generic;

  private SubscriptionTemplates(Map<String, String> byType, String generic) {
    this.byType = byType;
    this.generic = generic;
  }

  /** From {@code dir/rest-hook} if that folder exists, else from the templates in the jar. */
  public static SubscriptionTemplates load(Path dir) {
    Path restHook = dir.resolve("rest-hook");
    if (Files.isDirectory(restHook)) {
      return read(restHook);
    }
    return packaged();
  }

  /**
   * The copy on the class path: a folder when run from the build's classes, entries of the jar
   * when run from the packaged jar (where a jar: URI is opaque and has no folder to resolve).
   */
  public static SubscriptionTemplates packaged() {
    URL generic = SubscriptionTemplates.class.getClassLoader().getResource(PACKAGED + GENERIC);
    if (generic == null) {
      throw new IllegalStateException("no subscription templates on the class path (" + PACKAGED + ")");
    }
    try {
      if (generic.openConnection() instanceof JarURLConnection entry) {
        // A file system of our own on the jar file: closing it cannot close one someone else opened.
        Path jarFile = Path.of(entry.getJarFileURL().toURI());
        try (FileSystem jar = FileSystems.newFileSystem(jarFile)) {
          return read(jar.getPath("/" + PACKAGED));
        }
      }
      return read(Path.of(generic.toURI()).getParent());
    } catch (URISyntaxException | IOException e) {
      throw new IllegalStateException("cannot read the packaged subscription templates: " + e.getMessage(), e);
    }
  }

  private static SubscriptionTemplates read(Path folder) {
    Map<String, String> byType = new TreeMap<>();
    String generic = null;
    try (Stream<Path> files = Files.list(folder)) {
      for (Path file : files.filter(f -> f.getFileName().toString().endsWith(".json")).toList()) {
        String name = file.getFileName().toString();
        String text = Files.readString(file, StandardCharsets.UTF_8);
        if (name.equals(GENERIC)) {
          generic = text;
        } else {
          byType.put(name.substring(0, name.length() - ".json".length()), text);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the subscription templates in " + folder, e);
    }
    return new SubscriptionTemplates(byType, generic);
  }

  /** Values go into JSON strings: a quote or backslash in a secret must not break the document. */
  private static String jsonEscaped(String value) {
    return new String(JsonStringEncoder.getInstance().quoteAsString(value));
  }

  /** The types that have a template of their own. */
  public List<String> types() {
    return new ArrayList<>(byType.keySet());
  }

  /** Whether {@code type} has a file of its own (else {@code _template.json} is used). */
  public boolean hasOwn(String type) {
    return byType.containsKey(type);
  }

  /**
   * The Subscription for one type, placeholders filled in, tagged as the relay's own whatever the
   * template says.
   */
  public Subscription fill(FhirContext fhirContext, String type, String relayUrl, String secret) {
    String template = byType.get(type);
    if (template == null) {
      if (generic == null) {
        throw new IllegalArgumentException("no template for " + type + " and no " + GENERIC);
      }
      template = generic;
    }
    String json = template
        .replace("${TYPE}", type)
        .replace("${RELAY_URL}", jsonEscaped(relayUrl))
        .replace("${RELAY_SECRET}", jsonEscaped(secret));
    Subscription subscription = fhirContext.newJsonParser().parseResource(Subscription.class, json);
    if (subscription.getMeta().getTag(TAG_SYSTEM, TAG_CODE) == null) {
      subscription.getMeta().addTag(TAG_SYSTEM, TAG_CODE, "Managed by pathling-relay");
    }
    return subscription;
  }
}
