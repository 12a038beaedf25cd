package org.pathlingrelay.verify;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** An exported NDJSON file read into listing rows: id and meta only, in batches. */
class ExportRowsTest {

  @Test
  void eachLine_becomesItsIdWithVersionAndLastUpdated_whateverElseItHolds() throws Exception {
    String ndjson = String.join("\n",
        "{\"resourceType\":\"Patient\",\"id\":\"a\",\"meta\":{\"versionId\":\"3\","
            + "\"lastUpdated\":\"2026-01-02T03:04:05.678+00:00\",\"tag\":[{\"code\":\"x\"}]},"
            + "\"name\":[{\"family\":\"Whole\",\"given\":[\"Resource\"]}],\"id2\":{\"id\":\"not-this\"}}",
        "",
        "{\"resourceType\":\"Patient\",\"id\":\"b\"}",
        "{\"meta\":{\"lastUpdated\":\"2026-01-02T03:04:05Z\"},\"resourceType\":\"Patient\",\"id\":\"c\"}\r",
        "{\"resourceType\":\"Patient\",\"id\":\"d\",\"meta\":{\"versionId\":\"v-7\"}}");
    List<List<ListedRow>> batches = new ArrayList<>();

    long read = new ExportRows(2).read(stream(ndjson), batches::add);

    assertThat(read).isEqualTo(4);
    long millis = Instant.parse("2026-01-02T03:04:05.678Z").toEpochMilli();
    assertThat(batches).containsExactly(
        List.of(new ListedRow("a", 3L, millis), new ListedRow("b", null, null)),
        List.of(new ListedRow("c", null, Instant.parse("2026-01-02T03:04:05Z").toEpochMilli()),
            new ListedRow("d", null, null)));
  }

  @Test
  void aLineWithoutAnId_orNotJson_stopsTheListing_namingTheLine() {
    assertThatThrownBy(() -> new ExportRows(10).read(stream("{\"id\":\"a\"}\n{\"resourceType\":\"Patient\"}"),
        rows -> {}))
        .isInstanceOf(ExportRows.BadLineException.class).hasMessageContaining("line 2 has no id");
    assertThatThrownBy(() -> new ExportRows(10).read(stream("{\"id\":\"a\""), rows -> {}))
        .isInstanceOf(ExportRows.BadLineException.class).hasMessageContaining("line 1 is not valid JSON");
  }

  private static ByteArrayInputStream stream(String text) {
    return new ByteArrayInputStream(text.getBytes(StandardCharsets.UTF_8));
  }
}
