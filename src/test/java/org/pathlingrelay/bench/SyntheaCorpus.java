package org.pathlingrelay.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

/**
 * Resource templates to send with fresh ids: Synthea's NDJSON (one file per type) when the folder
 * is there, else a small built-in generator. Every template carries {@code meta.versionId} 1, as
 * HAPI sends it. The list is interleaved so that any prefix mixes the types in the corpus's
 * proportions.
 */
public final class SyntheaCorpus {

  private static final String PLACEHOLDER = "BENCHIDPLACEHOLDER0";
  private static final String LAST_UPDATED = "2026-01-01T00:00:00.000+00:00";
  /** FHIR R4 types that pad {@link #types} beyond the corpus. */
  private static final List<String> EXTRA_TYPES = List.of("Observation", "DiagnosticReport", "CarePlan", "CareTeam",
      "Claim", "ExplanationOfBenefit", "MedicationAdministration", "Provenance", "SupplyDelivery", "ImagingStudy",
      "Goal", "Medication", "Specimen", "ServiceRequest", "Appointment", "Coverage", "FamilyMemberHistory",
      "RiskAssessment", "Media", "Composition", "Flag", "Consent", "Communication", "Task", "Basic");

  /** One resource with a hole where its id goes. */
  public record Template(String type, String prefix, String suffix) {
    public String body(String id) {
      return prefix + id + suffix;
    }
  }

  private final List<Template> templates;
  private final Map<String, List<Template>> byType;
  private final String source;
  private final Map<String, List<Template>> minimal = new ConcurrentHashMap<>();

  private SyntheaCorpus(List<Template> templates, String source) {
    if (templates.isEmpty()) {
      throw new IllegalArgumentException("the corpus holds no resources");
    }
    this.templates = interleave(templates);
    this.byType = byType(this.templates);
    this.source = source;
  }

  /** The NDJSON files of {@code dir}, or the built-in generator when there are none. */
  public static SyntheaCorpus load(Path dir) {
    if (!Files.isDirectory(dir)) {
      return generated();
    }
    ObjectMapper json = new ObjectMapper();
    List<Template> templates = new ArrayList<>();
    try (Stream<Path> files = Files.list(dir)) {
      for (Path file : files.filter(f -> f.getFileName().toString().endsWith(".ndjson")).sorted().toList()) {
        try (Stream<String> lines = Files.lines(file)) {
          lines.filter(line -> !line.isBlank()).forEach(line -> templates.add(template(json, line)));
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the corpus in " + dir, e);
    }
    return templates.isEmpty() ? generated() : new SyntheaCorpus(templates, "Synthea NDJSON from " + dir);
  }

  /** A few hundred small resources of five types, for machines without the Synthea fixtures. */
  public static SyntheaCorpus generated() {
    ObjectMapper json = new ObjectMapper();
    List<Template> templates = new ArrayList<>();
    for (int i = 0; i < 600; i++) {
      String patient = "Patient/p" + (i % 50);
      String line = switch (i % 12) {
        case 0 -> "{\"resourceType\":\"Patient\",\"id\":\"x\",\"gender\":\"" + (i % 24 == 0 ? "female" : "male")
            + "\",\"birthDate\":\"19" + (40 + i % 60) + "-0" + (1 + i % 9) + "-1" + (i % 10)
            + "\",\"name\":[{\"family\":\"Bench" + i + "\",\"given\":[\"Test\"]}]}";
        case 1, 2 -> "{\"resourceType\":\"Encounter\",\"id\":\"x\",\"status\":\"finished\",\"class\":{\"system\":"
            + "\"http://terminology.hl7.org/CodeSystem/v3-ActCode\",\"code\":\"AMB\"},\"subject\":{\"reference\":\""
            + patient + "\"},\"period\":{\"start\":\"2020-01-01T10:00:00Z\",\"end\":\"2020-01-01T10:30:00Z\"}}";
        case 3, 4 -> "{\"resourceType\":\"Condition\",\"id\":\"x\",\"clinicalStatus\":{\"coding\":[{\"system\":"
            + "\"http://terminology.hl7.org/CodeSystem/condition-clinical\",\"code\":\"active\"}]},\"code\":{\"coding\":"
            + "[{\"system\":\"http://snomed.info/sct\",\"code\":\"" + (44054006 + i) + "\"}]},\"subject\":{\"reference\":\""
            + patient + "\"}}";
        case 5, 6 -> "{\"resourceType\":\"Procedure\",\"id\":\"x\",\"status\":\"completed\",\"code\":{\"coding\":"
            + "[{\"system\":\"http://snomed.info/sct\",\"code\":\"" + (430193006 + i) + "\"}]},\"subject\":{\"reference\":\""
            + patient + "\"},\"performedDateTime\":\"2020-02-02T10:00:00Z\"}";
        default -> "{\"resourceType\":\"Observation\",\"id\":\"x\",\"status\":\"final\",\"code\":{\"coding\":"
            + "[{\"system\":\"http://loinc.org\",\"code\":\"8867-4\"}]},\"subject\":{\"reference\":\"" + patient
            + "\"},\"effectiveDateTime\":\"2020-03-03T10:00:00Z\",\"valueQuantity\":{\"value\":" + (60 + i % 40)
            + ",\"unit\":\"/min\",\"system\":\"http://unitsofmeasure.org\",\"code\":\"/min\"}}";
      };
      templates.add(template(json, line));
    }
    return new SyntheaCorpus(templates, "the built-in generator (the Synthea folder was not found)");
  }

  private static Template template(ObjectMapper json, String line) {
    try {
      ObjectNode resource = (ObjectNode) json.readTree(line);
      String type = resource.path("resourceType").asText();
      if (type.isEmpty()) {
        throw new IllegalArgumentException("a corpus line has no resourceType");
      }
      resource.put("id", PLACEHOLDER);
      ObjectNode meta = resource.has("meta") && resource.get("meta").isObject()
          ? (ObjectNode) resource.get("meta") : resource.putObject("meta");
      meta.put("versionId", "1");
      meta.put("lastUpdated", LAST_UPDATED);
      String text = json.writeValueAsString(resource);
      int hole = text.indexOf(PLACEHOLDER);
      return new Template(type, text.substring(0, hole), text.substring(hole + PLACEHOLDER.length()));
    } catch (IOException e) {
      throw new UncheckedIOException("a corpus line is not JSON", e);
    }
  }

  /** Spreads each type evenly over the list, so that any prefix has the corpus's mix. */
  private static List<Template> interleave(List<Template> templates) {
    Map<String, List<Template>> byType = byType(templates);
    record Placed(double position, int order, Template template) {}
    List<Placed> placed = new ArrayList<>();
    int order = 0;
    for (List<Template> ofType : byType.values()) {
      for (int i = 0; i < ofType.size(); i++) {
        placed.add(new Placed((i + 0.5) / ofType.size(), order++, ofType.get(i)));
      }
    }
    placed.sort(Comparator.comparingDouble(Placed::position).thenComparingInt(Placed::order));
    return placed.stream().map(Placed::template).toList();
  }

  private static Map<String, List<Template>> byType(List<Template> templates) {
    Map<String, List<Template>> byType = new LinkedHashMap<>();
    for (Template template : templates) {
      byType.computeIfAbsent(template.type(), t -> new ArrayList<>()).add(template);
    }
    byType.replaceAll((type, list) -> List.copyOf(list));
    return java.util.Collections.unmodifiableMap(byType);
  }

  public List<Template> templates() {
    return templates;
  }

  public int size() {
    return templates.size();
  }

  public String source() {
    return source;
  }

  /** The {@code count} types with the most resources, largest first. */
  public List<String> largestTypes(int count) {
    return byType.entrySet().stream()
        .sorted(Map.Entry.<String, List<Template>>comparingByValue(Comparator.comparingInt(List::size)).reversed()
            .thenComparing(Map.Entry.comparingByKey()))
        .limit(count)
        .map(Map.Entry::getKey)
        .toList();
  }

  /** The templates of one type; a type the corpus lacks gets a minimal resource of its own. */
  public List<Template> ofType(String type) {
    List<Template> templates = byType.get(type);
    return templates != null ? templates : minimal.computeIfAbsent(type, SyntheaCorpus::minimalOf);
  }

  private static List<Template> minimalOf(String type) {
    String div = "<div xmlns=\\\"http://www.w3.org/1999/xhtml\\\">bench</div>";
    return List.of(template(new ObjectMapper(),
        "{\"resourceType\":\"" + type + "\",\"text\":{\"status\":\"generated\",\"div\":\"" + div + "\"}}"));
  }

  /**
   * {@code count} types: the corpus's, largest first, then (as real sources write 20 and more,
   * and Synthea's 13 fixtures fall short) common FHIR types it lacks, each with a minimal resource.
   */
  public List<String> types(int count) {
    List<String> types = new ArrayList<>(largestTypes(count));
    for (String extra : EXTRA_TYPES) {
      if (types.size() >= count) {
        break;
      }
      if (!types.contains(extra)) {
        types.add(extra);
      }
    }
    if (types.size() < count) {
      throw new IllegalArgumentException("at most " + types.size() + " resource types are available");
    }
    return List.copyOf(types);
  }
}
