package org.pathlingrelay.bench;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.parser.IParser;
import ca.uhn.fhir.parser.LenientErrorHandler;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * The backfill baseline, run in a JVM of its own with the same heap limit as the relay's: HAPI's
 * JSON parser reading every line of the export's NDJSON files, on one thread, with nothing else.
 * Prints {@code parsed <resources> resources in <nanoseconds> ns}; the timing starts once the
 * FHIR context is built, as the relay's own report does.
 */
public final class ParseCeilingMain {

  private ParseCeilingMain() {}

  public static void main(String[] args) throws IOException {
    if (args.length != 1) {
      System.err.println("usage: ParseCeilingMain <folder of NDJSON files>");
      return;
    }
    FhirContext fhirContext = FhirContext.forR4();
    fhirContext.setParserErrorHandler(new LenientErrorHandler(false));
    IParser parser = fhirContext.newJsonParser();
    List<Path> files;
    try (Stream<Path> listed = Files.list(Path.of(args[0]))) {
      files = listed.filter(path -> path.toString().endsWith(".ndjson")).sorted().toList();
    }
    long started = System.nanoTime();
    long parsed = 0;
    for (Path file : files) {
      try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
        String line;
        while ((line = in.readLine()) != null) {
          if (!line.isBlank()) {
            parser.parseResource(line);
            parsed++;
          }
        }
      }
    }
    System.out.println("parsed " + parsed + " resources in " + (System.nanoTime() - started) + " ns");
  }
}
