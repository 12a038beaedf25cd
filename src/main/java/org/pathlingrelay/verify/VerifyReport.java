package org.pathlingrelay.verify;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintWriter;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * What a check found, per type, as a table for the terminal or as JSON for scripts; with what a
 * repair queued, and the check after it, when there was one.
 *
 * @param after the check of the differing types once the repair was delivered
 */
public record VerifyReport(List<TypeComparison> types, Optional<Repair.Counts> repair, List<TypeComparison> after) {

  private static final ObjectMapper JSON = new ObjectMapper();

  public VerifyReport {
    types = List.copyOf(types);
    after = List.copyOf(after);
  }

  public static VerifyReport of(List<TypeComparison> types) {
    return new VerifyReport(types, Optional.empty(), List.of());
  }

  /** Whether Pathling now holds what the source holds: after the repair, when there was one. */
  public boolean equal() {
    return (repair.isPresent() ? after : types).stream().noneMatch(TypeComparison::differs);
  }

  public void print(PrintWriter out) {
    table(out, types);
    repair.ifPresent(counts -> {
      out.printf(Locale.ROOT, "Repair: queued %d upsert(s) and %d delete(s) through the outbox; %d already on their"
              + " way; %d gone from the source meanwhile.%n",
          counts.upserts(), counts.deletes(), counts.alreadyPending(), counts.goneFromSource());
      if (!after.isEmpty()) {
        out.println("After the repair:");
        table(out, after);
      }
    });
    List<TypeComparison> last = repair.isPresent() ? after : types;
    if (last.stream().anyMatch(t -> t.duplicated() > 0)) {
      out.println("Duplicated: Pathling holds these ids in more than one row (a merge of two copies of a new"
          + " resource appends both). Delete each one in Pathling (DELETE [type]/[id] removes every row), then"
          + " run verify --repair to send the source's copy again.");
    }
    if (types.stream().anyMatch(t -> !t.pathlingServes())) {
      out.println("Not compared: Pathling does not serve these types, so it cannot hold them.");
    }
    out.println(equal() ? "Pathling holds what the source holds." : "Pathling differs from the source.");
    out.flush();
  }

  private static void table(PrintWriter out, List<TypeComparison> types) {
    int width = Math.max(4, types.stream().mapToInt(t -> t.type().length()).max().orElse(4));
    String row = "%-" + width + "s %10s %10s %9s %9s %9s %11s  %s%n";
    out.printf(Locale.ROOT, row, "type", "source", "Pathling", "missing", "stale", "extra", "duplicated", "listing");
    for (TypeComparison t : types) {
      if (!t.pathlingServes()) {
        out.printf(Locale.ROOT, row, t.type(), t.sourceCount(), "-", "-", "-", "-", "-", "-");
        continue;
      }
      out.printf(Locale.ROOT, row, t.type(), t.sourceCount(), t.pathlingCount(), t.missing(), t.stale(), t.extra(),
          t.duplicated(), t.listing().label());
    }
    for (TypeComparison t : types) {
      for (DifferenceKind kind : DifferenceKind.values()) {
        List<String> some = t.examples().getOrDefault(kind, List.of());
        if (!some.isEmpty()) {
          long more = t.count(kind) - some.size();
          out.println("  " + t.type() + " " + kind.name().toLowerCase(Locale.ROOT) + ": " + String.join(", ", some)
              + (more > 0 ? " and " + more + " more" : ""));
        }
      }
    }
  }

  public String json() {
    ObjectNode root = JSON.createObjectNode();
    root.put("equal", equal());
    root.set("types", typesJson(types));
    repair.ifPresent(counts -> {
      ObjectNode node = root.putObject("repair");
      node.put("upserts", counts.upserts());
      node.put("deletes", counts.deletes());
      node.put("alreadyPending", counts.alreadyPending());
      node.put("goneFromSource", counts.goneFromSource());
      node.set("after", typesJson(after));
    });
    return root.toPrettyString();
  }

  private static ArrayNode typesJson(List<TypeComparison> types) {
    ArrayNode array = JSON.createArrayNode();
    for (TypeComparison t : types) {
      ObjectNode node = array.addObject();
      node.put("type", t.type());
      node.put("source", t.sourceCount());
      node.put("pathling", t.pathlingCount());
      node.put("pathlingServes", t.pathlingServes());
      if (t.pathlingServes()) {
        node.put("listing", t.listing().label());
      }
      for (DifferenceKind kind : DifferenceKind.values()) {
        node.put(kind.name().toLowerCase(Locale.ROOT), t.count(kind));
      }
      ObjectNode examples = node.putObject("examples");
      t.examples().forEach((kind, ids) -> {
        ArrayNode list = examples.putArray(kind.name().toLowerCase(Locale.ROOT));
        ids.forEach(list::add);
      });
    }
    return array;
  }
}
