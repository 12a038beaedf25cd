package org.pathlingrelay.backfill;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LocalStagingTest {

  @TempDir Path dir;

  private LocalStaging staging() {
    return new LocalStaging(dir, "file://" + dir);
  }

  private void stage(String path, String content) throws Exception {
    try (StagingArea.StagedFile file = staging().create(path)) {
      file.writer().write(content);
      file.commit();
    }
  }

  @Test
  void aCopyForAnImport_isTheWholeStagedFile() throws Exception {
    stage("run/Patient.0000.ndjson", "{\"resourceType\":\"Patient\",\"id\":\"a\"}\n");

    staging().copy("run/Patient.0000.ndjson", "run/import-1/Patient.0000.ndjson");

    assertThat(dir.resolve("run/import-1/Patient.0000.ndjson"))
        .hasSameTextualContentAs(dir.resolve("run/Patient.0000.ndjson"));
  }

  @Test
  void aCopyCutShortByAKill_isMadeAgainOnTheNextRun_notImportedCutOff() throws Exception {
    String whole = "{\"resourceType\":\"Patient\",\"id\":\"a\"}\n{\"resourceType\":\"Patient\",\"id\":\"b\"}\n";
    stage("run/Patient.0000.ndjson", whole);
    // Where there are no hard links the file is copied; a SIGKILL mid-copy leaves the start of it.
    Path cut = Files.createDirectories(dir.resolve("run/import-1")).resolve("Patient.0000.ndjson");
    Files.writeString(cut, whole.substring(0, 20));

    staging().copy("run/Patient.0000.ndjson", "run/import-1/Patient.0000.ndjson");

    assertThat(Files.readString(cut)).isEqualTo(whole);
  }
}
