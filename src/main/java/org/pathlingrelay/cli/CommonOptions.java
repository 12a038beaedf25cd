package org.pathlingrelay.cli;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/** Options every command that opens the data dir shares. */
final class CommonOptions implements HelpSection {

  @Override
  public String heading() {
    return "Data dir and config file";
  }

  @Option(
      names = "--data-dir",
      defaultValue = "./data",
      description = "Directory of the outbox (relay.db) and other state. Env RELAY_DATA_DIR. Default: ${DEFAULT-VALUE}")
  Path dataDir;

  @Option(
      names = "--config",
      description = "YAML file of option: value pairs (keys as the long option names). Env RELAY_CONFIG.")
  Path config;
}
