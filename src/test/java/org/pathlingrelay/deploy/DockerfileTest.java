package org.pathlingrelay.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The {@code Dockerfile} and {@code .dockerignore}, checked as files (no Docker engine needed). */
class DockerfileTest {

  /** One Dockerfile instruction: keyword (upper case) and its arguments, continuations joined. */
  record Instruction(String keyword, String arguments) {}

  private final List<Instruction> instructions = parse(read(Path.of("Dockerfile")));

  @Test
  void build_isMultiStage_mavenJdk17ThenTemurinJre17() {
    List<Instruction> froms = all("FROM");
    assertThat(froms).hasSize(2);
    assertThat(froms.get(0).arguments()).matches("maven:3\\.9-eclipse-temurin-17 AS build");
    assertThat(froms.get(1).arguments()).startsWith("eclipse-temurin:17-jre");
  }

  @Test
  void dependencies_areFetchedInTheirOwnLayer_beforeTheSourcesAreCopied() {
    List<Instruction> build = stage(0);
    int copyPom = indexOf(build, "COPY", "pom.xml");
    int goOffline = indexOf(build, "RUN", "dependency:go-offline");
    int copySrc = indexOf(build, "COPY", "src");
    int packageJar = indexOf(build, "RUN", "package -DskipTests");
    assertThat(copyPom).isNotNegative();
    assertThat(goOffline).isGreaterThan(copyPom);
    assertThat(copySrc).isGreaterThan(goOffline);
    assertThat(packageJar).isGreaterThan(copySrc);
  }

  @Test
  void jar_isTheOneTheBuildProduces_pomFinalName() throws IOException {
    Matcher finalName = Pattern.compile("<finalName>([^<]+)</finalName>")
        .matcher(Files.readString(Path.of("pom.xml")));
    assertThat(finalName.find()).as("pom.xml has a <finalName>").isTrue();
    String jar = "target/" + finalName.group(1) + ".jar";
    assertThat(jar).isEqualTo("target/pathling-relay.jar");

    Instruction copy = stage(1).stream()
        .filter(i -> i.keyword().equals("COPY") && i.arguments().startsWith("--from=build"))
        .findFirst().orElseThrow();
    String[] parts = copy.arguments().split("\\s+");
    assertThat(parts[1]).endsWith("/" + jar);
    assertThat(parts[2]).isEqualTo("/app/pathling-relay.jar");
  }

  @Test
  void entrypoint_runsTheJar_andServesByDefault() {
    assertThat(one("ENTRYPOINT").arguments())
        .isEqualTo("[\"java\", \"-jar\", \"/app/pathling-relay.jar\"]");
    assertThat(one("CMD").arguments()).isEqualTo("[\"serve\"]");
  }

  @Test
  void user_isNotRoot() {
    List<Instruction> users = stage(1).stream().filter(i -> i.keyword().equals("USER")).toList();
    assertThat(users).isNotEmpty();
    String user = users.get(users.size() - 1).arguments().split(":")[0];
    assertThat(user).isNotIn("root", "0", "");
    // The user is created in the image, not assumed.
    assertThat(indexOf(stage(1), "RUN", "useradd")).isNotNegative();
  }

  @Test
  void port8080_isExposed_andIsTheRelaysPort() {
    assertThat(one("EXPOSE").arguments()).isEqualTo("8080");
    assertThat(env()).contains("RELAY_PORT=8080");
  }

  @Test
  void healthcheck_asksReadyz_withCurl() {
    String healthcheck = one("HEALTHCHECK").arguments();
    assertThat(healthcheck).contains("/readyz").contains("curl -f");
    assertThat(healthcheck).contains("${RELAY_PORT");
  }

  @Test
  void data_isAVolume_andTheRelaysDataDir() {
    assertThat(one("VOLUME").arguments()).isEqualTo("[\"/data\"]");
    assertThat(env()).contains("RELAY_DATA_DIR=/data");
    // Created and owned by the relay's user before the volume is declared, so that a fresh named
    // volume starts out writable by it.
    String run = stage(1).get(indexOf(stage(1), "RUN", "useradd")).arguments();
    assertThat(run).contains("mkdir -p /app /data /staging").contains("chown relay:relay /data /staging");
  }

  @Test
  void jvmOptions_comeFromJavaToolOptions() {
    assertThat(env()).containsPattern("JAVA_TOOL_OPTIONS=\"[^\"]*-XX:MaxRAMPercentage=75");
  }

  @Test
  void dockerignore_keepsSecretsBuildOutputAndGitOut_butNotTheSources() throws IOException {
    List<String> ignored = Files.readAllLines(Path.of(".dockerignore")).stream()
        .map(String::trim)
        .filter(line -> !line.isEmpty() && !line.startsWith("#"))
        .toList();
    assertThat(ignored).contains(".env", "target/", ".git/", "data/");
    assertThat(ignored).doesNotContain("pom.xml", "src", "src/", "*", "**");
    assertThat(ignored).noneMatch(line -> line.startsWith("!"));
  }

  // ---- reading the Dockerfile ----

  private Instruction one(String keyword) {
    List<Instruction> found = all(keyword);
    assertThat(found).as(keyword).hasSize(1);
    return found.get(0);
  }

  private List<Instruction> all(String keyword) {
    return instructions.stream().filter(i -> i.keyword().equals(keyword)).toList();
  }

  private String env() {
    return String.join("\n", stage(1).stream()
        .filter(i -> i.keyword().equals("ENV")).map(Instruction::arguments).toList());
  }

  /** The instructions of one build stage (0 = the first FROM), the FROM included. */
  private List<Instruction> stage(int index) {
    List<Instruction> stage = new ArrayList<>();
    int current = -1;
    for (Instruction instruction : instructions) {
      if (instruction.keyword().equals("FROM")) {
        current++;
      }
      if (current == index) {
        stage.add(instruction);
      }
    }
    assertThat(stage).as("stage %s", index).isNotEmpty();
    return stage;
  }

  private static int indexOf(List<Instruction> instructions, String keyword, String argumentPart) {
    for (int i = 0; i < instructions.size(); i++) {
      Instruction instruction = instructions.get(i);
      if (instruction.keyword().equals(keyword) && instruction.arguments().contains(argumentPart)) {
        return i;
      }
    }
    return -1;
  }

  /** Comments and blank lines dropped; lines ending in a backslash joined with the next. */
  static List<Instruction> parse(String dockerfile) {
    List<Instruction> instructions = new ArrayList<>();
    StringBuilder pending = new StringBuilder();
    for (String line : dockerfile.split("\n")) {
      String trimmed = line.trim();
      if (trimmed.startsWith("#") || (trimmed.isEmpty() && pending.length() == 0)) {
        continue;
      }
      if (trimmed.endsWith("\\")) {
        pending.append(trimmed, 0, trimmed.length() - 1).append(' ');
        continue;
      }
      pending.append(trimmed);
      String joined = pending.toString().trim().replaceAll("\\s+", " ");
      pending.setLength(0);
      if (joined.isEmpty()) {
        continue;
      }
      String[] split = joined.split(" ", 2);
      instructions.add(new Instruction(split[0].toUpperCase(Locale.ROOT), split.length > 1 ? split[1] : ""));
    }
    assertThat(pending.toString().trim()).as("a continuation left open at the end").isEmpty();
    return instructions;
  }

  private static String read(Path path) {
    try {
      return Files.readString(path);
    } catch (IOException e) {
      throw new AssertionError(path + " is missing", e);
    }
  }
}
