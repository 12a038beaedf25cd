package org.pathlingrelay.source;

import ca.uhn.fhir.rest.client.api.IGenericClient;
import java.util.List;
import java.util.TreeSet;
import org.hl7.fhir.r4.model.CapabilityStatement;
import org.hl7.fhir.r4.model.CapabilityStatement.CapabilityStatementRestComponent;
import org.hl7.fhir.r4.model.CapabilityStatement.CapabilityStatementRestResourceOperationComponent;
import org.hl7.fhir.r4.model.CapabilityStatement.RestfulCapabilityMode;

/**
 * The resource types the source serves, from its CapabilityStatement: what a system {@code
 * $export} without {@code _type} (the backfill's default) can hand over, so what {@code subscribe}
 * must cover for Pathling to stay in step between catch-ups.
 */
public final class SourceResourceTypes {

  private SourceResourceTypes() {}

  /** The types of the server-mode {@code rest} entries, sorted; empty when it lists none. */
  public static List<String> served(IGenericClient client) {
    CapabilityStatement statement = client.capabilities().ofType(CapabilityStatement.class).execute();
    TreeSet<String> types = new TreeSet<>();
    for (CapabilityStatementRestComponent rest : statement.getRest()) {
      if (rest.getMode() == null || rest.getMode() == RestfulCapabilityMode.SERVER) {
        rest.getResource().forEach(resource -> {
          if (resource.hasType()) {
            types.add(resource.getType());
          }
        });
      }
    }
    return List.copyOf(types);
  }

  /**
   * Whether the CapabilityStatement lists a system-level {@code $export} (by name, or by the Bulk
   * Data IG's OperationDefinition): the one a listing of several types can use.
   */
  public static boolean exportsSystem(CapabilityStatement statement) {
    for (CapabilityStatementRestComponent rest : statement.getRest()) {
      if (rest.getMode() == null || rest.getMode() == RestfulCapabilityMode.SERVER) {
        for (CapabilityStatementRestResourceOperationComponent operation : rest.getOperation()) {
          String definition = operation.hasDefinition() ? operation.getDefinition() : "";
          if ("export".equals(operation.getName()) || definition.endsWith("/OperationDefinition/export")) {
            return true;
          }
        }
      }
    }
    return false;
  }
}
