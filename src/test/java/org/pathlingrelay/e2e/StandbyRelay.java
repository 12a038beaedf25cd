package org.pathlingrelay.e2e;

import ca.uhn.fhir.context.FhirContext;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.hl7.fhir.r4.model.Patient;
import org.pathlingrelay.cli.Main;

/**
 * The packaged relay's {@code main}, in a JVM started ahead of need: it loads the classes a start
 * spends most of its time on, says so by creating the file named by {@code -Dstandby.ready}, and
 * waits for a line on stdin before it runs {@code main} with its arguments. A restart then takes the
 * relay's own start-up, not a JVM's and HAPI's class loading, which under a loaded machine can take
 * longer than a source's retries last. Touches neither the data dir nor the port before the line.
 */
public final class StandbyRelay {

  private StandbyRelay() {}

  public static void main(String[] args) throws Exception {
    FhirContext warm = FhirContext.forR4();
    warm.newJsonParser().parseResource(Patient.class, "{\"resourceType\":\"Patient\",\"id\":\"warm\"}");
    Files.createFile(Path.of(System.getProperty("standby.ready")));
    new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
    Main.main(args);
  }
}
