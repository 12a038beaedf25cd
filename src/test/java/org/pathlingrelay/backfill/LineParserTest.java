package org.pathlingrelay.backfill;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ca.uhn.fhir.context.FhirContext;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.pathlingrelay.outbox.Change;
import org.pathlingrelay.outbox.Operation;

/** Reading exported NDJSON lines into outbox changes. */
class LineParserTest {

  private static final Path SYNTHEA = Path.of("src", "test", "fixtures", "synthea-10");
  private final LineParser parser = new LineParser(FhirContext.forR4Cached().getResourceTypes());

  @Test
  void everyLineOfTheSyntheaExport_becomesAnUpsertOfItsTypeAndId() throws Exception {
    long lines = 0;
    try (Stream<Path> files = Files.list(SYNTHEA)) {
      for (Path file : files.filter(f -> f.toString().endsWith(".ndjson")).toList()) {
        String type = file.getFileName().toString().replaceFirst("\\..*", "");
        for (String line : Files.readAllLines(file)) {
          Change change = parser.upsert(utf8(line));
          assertThat(change.operation()).isEqualTo(Operation.UPSERT);
          assertThat(change.key().type()).isEqualTo(type);
          assertThat(line).contains("\"id\":\"" + change.key().id() + "\"");
          assertThat(change.body()).as("the line is stored as it is").isEqualTo(line);
          lines++;
        }
      }
    }
    assertThat(lines).isEqualTo(7_160);
  }

  @Test
  void metaVersionAndLastUpdated_becomeTheStamp_wherePresent() throws Exception {
    Change change = parser.upsert(utf8(
        "{\"resourceType\":\"Patient\",\"name\":[{\"family\":\"X\"}],\"id\":\"p1\","
            + "\"meta\":{\"profile\":[\"x\"],\"versionId\":\"12\",\"lastUpdated\":\"2026-11-22T16:26:03.917+00:00\"}}"));
    assertThat(change.stamp().versionNumber()).isEqualTo(12L);
    assertThat(change.stamp().lastUpdatedMillis()).isEqualTo(java.time.Instant.parse("2026-11-22T16:26:03.917Z").toEpochMilli());
  }

  @Test
  void aMetaFieldHoldingAnObject_countsAsAbsent_andTheFieldsAfterItStillCount() throws Exception {
    Change change = parser.upsert(utf8(
        "{\"resourceType\":\"Patient\",\"meta\":{\"versionId\":{\"odd\":[1]},"
            + "\"lastUpdated\":\"2026-11-22T16:26:03.917+00:00\"},\"id\":\"p1\"}"));
    assertThat(change.key().toString()).isEqualTo("Patient/p1");
    assertThat(change.stamp().versionNumber()).isNull();
    assertThat(change.stamp().lastUpdatedMillis()).isEqualTo(java.time.Instant.parse("2026-11-22T16:26:03.917Z").toEpochMilli());
  }

  @Test
  void aDeletedFileBundle_becomesOneDeletePerEntry() throws Exception {
    List<Change> deletes = parser.deletes(utf8(
        "{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":["
            + "{\"request\":{\"method\":\"DELETE\",\"url\":\"Patient/p1\"}},"
            + "{\"request\":{\"method\":\"DELETE\",\"url\":\"Observation/o1\"}}]}"));
    assertThat(deletes).extracting(c -> c.key().toString()).containsExactly("Patient/p1", "Observation/o1");
    assertThat(deletes).allMatch(c -> c.operation() == Operation.DELETE);
  }

  @Test
  void linesThatCannotBeSynced_areRefusedWithAReason() {
    for (String bad : List.of("not json", "[1]", "{\"resourceType\":\"Foo\",\"id\":\"x\"}",
        "{\"resourceType\":\"Patient\"}", "{\"resourceType\":\"Patient\",\"id\":\"a$b\"}", "{\"resourceType\":")) {
      assertThatThrownBy(() -> parser.upsert(utf8(bad))).as(bad).isInstanceOf(LineParser.BadLineException.class);
    }
  }

  @Test
  void aLineThatIsNotValidUtf8_isRefused_ratherThanStoredAsItCame() {
    byte[] line = utf8("{\"resourceType\":\"Patient\",\"id\":\"p1\",\"name\":[{\"family\":\"M?ller\"}]}");
    line[new String(line, StandardCharsets.UTF_8).indexOf('?')] = (byte) 0xFC; // Latin-1 ü, not UTF-8

    assertThatThrownBy(() -> parser.upsert(line))
        .isInstanceOf(LineParser.BadLineException.class)
        .hasMessageContaining("UTF-8");
  }

  @Test
  void multiByteCharacters_areKeptAsTheyCame() throws Exception {
    String line = "{\"resourceType\":\"Patient\",\"id\":\"p1\",\"name\":[{\"family\":\"Müller 山田\"}]}";

    assertThat(parser.upsert(utf8(line)).body()).isEqualTo(line);
  }

  private static byte[] utf8(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }
}
