package org.pathlingrelay.cli;

import picocli.CommandLine.IVersionProvider;

/** The version from the jar's manifest (absent when run from classes). */
final class VersionProvider implements IVersionProvider {

  @Override
  public String[] getVersion() {
    String version = Main.class.getPackage().getImplementationVersion();
    return new String[] {"pathling-relay " + (version == null ? "(development build)" : version)};
  }
}
