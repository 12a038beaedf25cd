package org.pathlingrelay.cli;

/**
 * A set of options (a mixin) that {@code --help} shows under a heading of its own, so that a
 * command's help reads by concern (data dir, Pathling, source, ...) rather than as one long list.
 */
interface HelpSection {

  /** The heading, e.g. {@code "Pathling"}. */
  String heading();
}
